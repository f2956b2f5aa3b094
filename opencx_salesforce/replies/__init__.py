"""A rep's reply reaches the contact; a closed Case resolves its sessions.

* :mod:`.webhook` the doorbell Salesforce rings (the HTTP route)
* :mod:`.service` the notify job: read the Case, classify, deliver, follow closure
* :mod:`.ledger`  which replies were delivered, exactly once, in the store
* :mod:`.sweep`   the reconciliation sweep: what the webhooks missed
* :mod:`.status`  what the reply path has been doing, for the settings page
"""
