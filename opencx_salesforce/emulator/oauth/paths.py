"""The login host's addresses: the login page, the "Allow Access?" page, the
error page and logout, as Salesforce's own login host serves them.
[src: page addresses and element ids as public browser automation drives them, e.g.
jsforce's test/helper/webauth.js and forcedotcom CumulusCI robot keywords]"""

from __future__ import annotations

LOGIN_PATH = "/"
APPROVAL_PATH = "/setup/secur/RemoteAccessAuthorizationPage.apexp"
ERROR_PATH = "/setup/secur/RemoteAccessErrorPage.apexp"
LOGOUT_PATH = "/secur/logout.jsp"
