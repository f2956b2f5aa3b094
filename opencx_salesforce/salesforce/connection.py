"""What the plugin knows about its grant to one org, as stored and as shown:
the Connected App's credentials, the token set, and the connection's state.
:mod:`.tokens` keeps them in the store and refreshes them."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class ConnectionState(enum.StrEnum):
    NOT_CONFIGURED = "not_configured"  # no Client ID / Secret anywhere
    CREDENTIALS_SAVED = "credentials_saved"  # ready for Connect
    CONNECTED = "connected"
    NEEDS_REAUTHORIZATION = "needs_reauthorization"  # an admin must click Connect again


class Grant(enum.StrEnum):
    AUTHORIZATION_CODE = "authorization_code"  # web server flow: has a refresh token
    CLIENT_CREDENTIALS = "client_credentials"  # renewed by asking again


@dataclass(frozen=True)
class ClientCredentials:
    """The Connected App's Client ID (Consumer Key) and Secret, and where to log in."""

    login_url: str
    client_id: str
    client_secret: str = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientCredentials:
        return cls(str(data["login_url"]), str(data["client_id"]), str(data["client_secret"]))


@dataclass(frozen=True)
class Connection:
    """The stored grant. ``access_token`` and ``instance_url`` are what the REST
    client needs; the rest is for refreshing and for the settings page."""

    access_token: str = field(repr=False)
    instance_url: str
    refresh_token: str | None = field(repr=False)
    grant: Grant
    client_id: str
    id_url: str
    user_id: str
    org_id: str
    username: str
    display_name: str
    connected_at: float
    refreshed_at: float | None = None
    issued_at: str | None = None
    scope: str | None = None
    reauth_reason: str | None = None
    reauth_since: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["grant"] = str(self.grant)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Connection:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["grant"] = Grant(values.get("grant", Grant.AUTHORIZATION_CODE))
        return cls(**values)


@dataclass(frozen=True)
class ConnectionStatus:
    """What the settings page shows."""

    state: ConnectionState
    login_url: str | None = None
    client_id: str | None = None
    username: str | None = None
    display_name: str | None = None
    org_id: str | None = None
    user_id: str | None = None
    instance_url: str | None = None
    connected_at: float | None = None
    reason: str | None = None  # why it needs reauthorization
    since: float | None = None
