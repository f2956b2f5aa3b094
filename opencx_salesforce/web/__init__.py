"""The plugin's HTTP side: one aiohttp sub-application the host mounts.

* :mod:`.app`     builds the sub-application (the webhook and the settings routes)
* :mod:`.context` how a handler reaches the running plugin
* :mod:`.admin`   the settings page and its routes
"""
