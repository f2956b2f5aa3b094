"""What a step of the browser flow answers: a redirect, the login page, the
"Allow Access?" page or the error page (``routes.py`` turns each into HTTP,
``pages.py`` renders the pages)."""

from __future__ import annotations

from dataclasses import dataclass

from opencx_salesforce.emulator.oauth.realms import Realm
from opencx_salesforce.emulator.oauth.sessions import LoginSession


@dataclass(frozen=True)
class Redirect:
    location: str
    new_session: LoginSession | None = None
    end_session: bool = False


@dataclass(frozen=True)
class LoginPage:
    realm: Realm
    start_url: str
    username: str = ""
    error: str | None = None
    # The signed-in user, offered as "Continue" (prompt=select_account) or shown.
    remembered: str | None = None
    display: str = "page"
    app_name: str | None = None


@dataclass(frozen=True)
class ApprovalPage:
    realm: Realm
    request_id: str
    app_name: str
    scopes: tuple[str, ...]
    username: str
    display: str = "page"


@dataclass(frozen=True)
class ErrorPage:
    error: str
    description: str
    state: str | None = None


Outcome = Redirect | LoginPage | ApprovalPage | ErrorPage
