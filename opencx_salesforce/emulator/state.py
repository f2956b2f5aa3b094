"""The emulator's whole state: its clock, its orgs (data side) and its
authorization server (OAuth side).

The two sides agree on an :class:`OrgIdentity`: the org Id and the Id of each
seeded user are made here, once, so the User records the REST side serves and
the identities the OAuth side issues tokens for are the same people.
"""

from __future__ import annotations

from dataclasses import dataclass

from opencx_salesforce.emulator.clock import Clock
from opencx_salesforce.emulator.ids import IdFactory
from opencx_salesforce.emulator.oauth.server import AuthServer
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.rest.dispatch import Route
from opencx_salesforce.emulator.rest.route_table import CORE_ROUTES
from opencx_salesforce.emulator.seed import OrgSeed


@dataclass(frozen=True)
class OrgIdentity:
    org_id: str
    seed: OrgSeed
    user_ids: dict[str, str]  # username -> User Id (18 characters)


class EmulatorState:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.ids = IdFactory()
        # Where the emulator listens, e.g. "http://127.0.0.1:8765"; set on start.
        self.base_url = ""
        self.orgs: dict[str, Org] = {}
        self.auth = AuthServer(self)
        # The REST route table every org is served with (an org may add its own).
        self.rest_routes: tuple[Route, ...] = CORE_ROUTES

    def add_org(self, seed: OrgSeed) -> Org:
        identity = OrgIdentity(
            org_id=self.ids.new("00D"),
            seed=seed,
            user_ids={user.username: self.ids.new("005") for user in seed.users},
        )
        org = Org(identity, self)
        self.orgs[identity.org_id] = org
        self.auth.register_org(identity)
        return org
