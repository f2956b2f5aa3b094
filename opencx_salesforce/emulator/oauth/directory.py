"""Who the authorization server knows: each org's users and Connected Apps.

Seeds are frozen; what changes at run time (an app's callback URLs, a user being
deactivated, an app added while the emulator runs) lives on these entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opencx_salesforce.emulator.oauth.realms import Realm
from opencx_salesforce.emulator.seed import ConnectedAppSeed, UserSeed

if TYPE_CHECKING:
    from opencx_salesforce.emulator.state import OrgIdentity


@dataclass
class UserEntry:
    seed: UserSeed
    user_id: str
    org_id: str
    active: bool

    @property
    def username(self) -> str:
        return self.seed.username


@dataclass
class AppEntry:
    seed: ConnectedAppSeed
    org_id: str
    realm: Realm
    callback_urls: tuple[str, ...]
    # Clock time from which the app answers; before it, it is still propagating.
    usable_from: float

    @property
    def client_id(self) -> str:
        return self.seed.client_id

    @property
    def name(self) -> str:
        return self.seed.name

    def is_usable(self, now: float) -> bool:
        return now >= self.usable_from

    @property
    def admin_approved_only(self) -> bool:
        """ "Admin approved users are pre-authorized": no consent page, and users
        the admin has not approved are refused. [src: help.salesforce.com
        connected_app_manage_oauth.htm "Permitted Users"]"""
        return self.seed.admin_approved_users is not None

    def admits(self, user: UserEntry) -> bool:
        approved = self.seed.admin_approved_users
        return approved is None or user.username in approved


@dataclass
class OrgEntry:
    identity: OrgIdentity
    users: dict[str, UserEntry]  # username -> entry

    @property
    def org_id(self) -> str:
        return self.identity.org_id

    @property
    def realm(self) -> Realm:
        return Realm.of(self.identity.seed.is_sandbox)

    @property
    def session_timeout(self) -> float:
        return self.identity.seed.session_timeout

    @property
    def api_version(self) -> str:
        return self.identity.seed.api_version

    def user_by_id(self, user_id: str) -> UserEntry | None:
        for user in self.users.values():
            if user.user_id == user_id or user.user_id[:15] == user_id:
                return user
        return None


class Directory:
    def __init__(self) -> None:
        self.orgs: dict[str, OrgEntry] = {}
        self.apps: dict[str, AppEntry] = {}

    def add_org(self, identity: OrgIdentity, now: float) -> OrgEntry:
        users = {
            user.username: UserEntry(
                seed=user,
                user_id=identity.user_ids[user.username],
                org_id=identity.org_id,
                active=user.is_active,
            )
            for user in identity.seed.users
        }
        org = OrgEntry(identity, users)
        self.orgs[identity.org_id] = org
        for app in identity.seed.apps:
            self.add_app(identity.org_id, app, now)
        return org

    def add_app(self, org_id: str, app: ConnectedAppSeed, now: float) -> AppEntry:
        org = self.org(org_id)
        if app.client_id in self.apps and self.apps[app.client_id].org_id != org_id:
            # Consumer keys are unique across Salesforce.
            raise ValueError(f"client_id {app.client_id!r} already belongs to another org")
        entry = AppEntry(
            seed=app,
            org_id=org_id,
            realm=org.realm,
            callback_urls=tuple(app.callback_urls),
            usable_from=now + app.activation_delay,
        )
        self.apps[app.client_id] = entry
        return entry

    def org(self, org_id: str) -> OrgEntry:
        try:
            return self.orgs[org_id]
        except KeyError:
            raise KeyError(f"no org {org_id!r} is registered") from None

    def app(self, client_id: str) -> AppEntry:
        try:
            return self.apps[client_id]
        except KeyError:
            raise KeyError(f"no Connected App with client_id {client_id!r}") from None

    def app_at(self, realm: Realm, client_id: str | None, now: float) -> AppEntry | None:
        """The app a client names at a login realm, or None when that realm would
        not know it: unknown key, the other realm's app, or still propagating."""
        if not client_id:
            return None
        app = self.apps.get(client_id)
        if app is None or app.realm is not realm or not app.is_usable(now):
            return None
        return app

    def user(self, org_id: str, user_id: str) -> UserEntry | None:
        org = self.orgs.get(org_id)
        return org.user_by_id(user_id) if org else None

    def users_in(self, realm: Realm) -> Iterator[UserEntry]:
        for org in self.orgs.values():
            if org.realm is realm:
                yield from org.users.values()
