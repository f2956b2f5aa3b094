"""Login realms: where an org's users sign in and its Connected Apps are known.

Salesforce has two public login hosts: production and Developer Edition orgs log
in at ``login.salesforce.com``, sandboxes at ``test.salesforce.com``; an app's
Consumer Key presented at the other host is simply unknown there
(``invalid_client_id``). [src: api_rest intro_understanding_web_server_oauth_flow.htm
"test.salesforce.com for sandboxes"; github pozil/salesforce-react-integration
issue 15 and forcedotcom/postman-salesforce-apis issue 42: the mix-up shows as
"client identifier invalid"]

The emulator has one address, so the sandbox host lives under a path prefix:
``{base_url}`` plays login.salesforce.com and ``{base_url}/sandbox`` plays
test.salesforce.com. Everything under a realm (``/services/oauth2/...``, ``/id/...``,
the login page at ``/``) is the same route table mounted twice.
"""

from __future__ import annotations

import enum


class Realm(enum.Enum):
    PRODUCTION = ""
    SANDBOX = "/sandbox"

    @property
    def prefix(self) -> str:
        return self.value

    @property
    def cookie_name(self) -> str:
        """Salesforce's login cookie is ``sid``; two hosts keep two cookie jars, but
        one address (whose cookies browsers share across ports, with the plugin's
        own pages) needs distinct names."""
        return "sfemu_sid" if self is Realm.PRODUCTION else "sfemu_sid_sandbox"

    @property
    def cookie_path(self) -> str:
        return self.prefix or "/"

    def url(self, base_url: str, path: str = "") -> str:
        """``path`` (starting with ``/``) under this realm of the emulator."""
        return f"{base_url}{self.prefix}{path}"

    @classmethod
    def of(cls, is_sandbox: bool) -> Realm:
        return cls.SANDBOX if is_sandbox else cls.PRODUCTION
