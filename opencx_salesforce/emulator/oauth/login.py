"""The login host's own pages: the login form at its root (username and
password, or "Continue" as the account already signed in) and logout.

Pages and addresses follow Salesforce's: the login page is the login host's root
(``/?ec=302&startURL=...``) with ``#username``, ``#password`` (``name="pw"``) and
``#Login``. [src: page addresses and element ids as public browser automation
drives them, e.g. jsforce's test/helper/webauth.js and forcedotcom CumulusCI
robot keywords]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opencx_salesforce.emulator.oauth.directory import UserEntry
from opencx_salesforce.emulator.oauth.outcomes import LoginPage, Outcome, Redirect
from opencx_salesforce.emulator.oauth.paths import LOGIN_PATH
from opencx_salesforce.emulator.oauth.realms import Realm
from opencx_salesforce.emulator.oauth.sessions import (
    LoginHostMemory,
    LoginSession,
    PendingAuthorization,
)
from opencx_salesforce.emulator.oauth.tokens import new_session_id

if TYPE_CHECKING:
    from opencx_salesforce.emulator.oauth.server import AuthServer

# Salesforce's login page wording for a wrong username or password.
LOGIN_FAILED = (
    "Please check your username and password. If you still can't log in, "
    "contact your Salesforce administrator."
)


@dataclass
class LoginForm:
    server: AuthServer
    memory: LoginHostMemory

    def login_page(self, realm: Realm, start_url: str, session_id: str | None) -> LoginPage:
        with self.server.lock:
            pending = self._pending_for(realm, start_url)
            org_id = pending.org_id if pending else None
            session = self._session(realm, session_id, org_id)
            remembered = None
            if session is not None and (
                pending is None
                or ("select_account" in pending.prompts and "login" not in pending.prompts)
            ):
                remembered = self._username(session)
            return self._login_page(realm, start_url, pending, remembered=remembered)

    def login(self, realm: Realm, form: Mapping[str, str], session_id: str | None) -> Outcome:
        """The login form's POST: a username and password, or "Continue" as the
        account already signed in (the select_account chooser)."""
        with self.server.lock:
            start_url = form.get("startURL", "")
            pending = self._pending_for(realm, start_url)
            target = self.server.realm_url(realm, _safe_path(start_url))
            if (
                "continue" in form
                and pending is not None
                and self._session(realm, session_id, pending.org_id) is not None
            ):
                pending.account_chosen = True
                return Redirect(target)
            username = form.get("username", "").strip()
            user = self._authenticate(realm, username, form.get("pw", ""), pending)
            if user is None:
                return self._login_page(realm, start_url, pending, username, LOGIN_FAILED)
            org = self.server.org_of(user)
            session = LoginSession(
                session_id=new_session_id(),
                realm=realm,
                org_id=user.org_id,
                user_id=user.user_id,
                expires_at=self.server.now() + org.session_timeout,
            )
            self.memory.sessions[session.session_id] = session
            if pending is not None:
                pending.logged_in_here = True
                pending.account_chosen = True
            return Redirect(target, new_session=session)

    def logout(self, realm: Realm, session_id: str | None) -> Redirect:
        with self.server.lock:
            if session_id:
                self.memory.sessions.pop(session_id, None)
            return Redirect(self.server.realm_url(realm, LOGIN_PATH), end_session=True)

    def _login_page(
        self,
        realm: Realm,
        start_url: str,
        pending: PendingAuthorization | None,
        username: str | None = None,
        error: str | None = None,
        remembered: str | None = None,
    ) -> LoginPage:
        app = self.server.directory.apps.get(pending.client_id) if pending else None
        return LoginPage(
            realm=realm,
            start_url=start_url,
            username=username if username is not None else (pending.login_hint if pending else ""),
            error=error,
            remembered=remembered,
            display=pending.display if pending else "page",
            app_name=app.name if app else None,
        )

    def _authenticate(
        self, realm: Realm, username: str, password: str, pending: PendingAuthorization | None
    ) -> UserEntry | None:
        """Usernames are matched without regard to case, passwords exactly. During
        an authorize request, only the users of the app's own org can sign in."""
        directory = self.server.directory
        if pending is not None:
            candidates = list(directory.org(pending.org_id).users.values())
        else:
            candidates = list(directory.users_in(realm))
        for user in candidates:
            if user.username.lower() == username.lower() and user.seed.password == password:
                return user
        return None

    def _username(self, session: LoginSession) -> str | None:
        user = self.server.directory.user(session.org_id, session.user_id)
        return user.username if user else None

    def _session(
        self, realm: Realm, session_id: str | None, org_id: str | None
    ) -> LoginSession | None:
        return self.memory.session(realm, session_id, org_id, self.server.now())

    def _pending_for(self, realm: Realm, start_url: str) -> PendingAuthorization | None:
        return self.memory.pending_for(realm, start_url, self.server.now())


def _safe_path(start_url: str) -> str:
    """A startURL is a path on the login host; anything else goes to the root, so
    the login form cannot redirect elsewhere."""
    if start_url.startswith("/") and not start_url.startswith("//"):
        return start_url
    return LOGIN_PATH
