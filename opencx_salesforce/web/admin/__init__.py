"""The admin's side of connecting to Salesforce: the settings page and its
routes (credentials, Connect, the OAuth callback, status, the package download,
Disconnect, the outbox's dead letters).

:func:`opencx_salesforce.web.app.build_routes` adds :mod:`.routes` to the
plugin's sub-application; the host mounts it under ``/integrations/salesforce``,
so the page is ``/integrations/salesforce/admin``.
"""
