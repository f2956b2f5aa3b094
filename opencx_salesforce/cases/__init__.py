"""A handoff becomes a Salesforce Case; later messages are appended to it.

* :mod:`.service`    the handoff and append jobs (the Case lifecycle)
* :mod:`.transcript` the conversation as CaseComment bodies
* :mod:`.fields`     the Case's fields, the defaults plus the extension hooks'
* :mod:`.index`      what the plugin remembers about its Cases, in the store
"""
