"""What a ``postgresql://`` store URL says: where the server is (handed to
asyncpg as it is) and the store's own settings, read from query parameters and
removed before asyncpg sees the DSN.

* ``schema`` (default ``opencx``): the schema the store's tables live in
  (created if missing), so the store can share the host's database;
* ``pool_min`` (1) and ``pool_max`` (10): connections the pool keeps open and
  opens at most, per store object (per host instance);
* ``poll`` (1.0): seconds between the fallback checks a waiting worker makes,
  in case a ``NOTIFY`` was lost;
* ``reconnect_timeout`` (15): seconds an operation keeps trying while the server
  is unreachable or restarting (0: fail at once).

Every other query parameter (``sslmode``, ``application_name``, …) stays in the
DSN for asyncpg (libpq's names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
# Lower-case, unquoted-identifier shape; short enough that "<schema>:wake" stays
# within PostgreSQL's 63-byte channel names.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,49}")


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    dsn: str  # for asyncpg: the URL without the store's own parameters
    schema: str = "opencx"
    pool_min: int = 1
    pool_max: int = 10
    poll: float = 1.0
    reconnect_timeout: float = 15.0


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(
            f"bad PostgreSQL schema name {schema!r}: use lower-case letters, digits and "
            "underscores (at most 50), starting with a letter or underscore"
        )
    return schema


def parse_postgres_url(url: str) -> PostgresSettings:
    """Split ``url`` into asyncpg's DSN and the store's settings; ``ValueError``
    naming the URL's problem (never its password) when it is malformed."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError(f"not a PostgreSQL URL (scheme {parts.scheme!r})")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in ("schema", "pool_min", "pool_max", "poll", "reconnect_timeout"):
            ours[name] = value
        else:
            theirs.append((name, value))
    dsn = urlunsplit(parts._replace(query=urlencode(theirs)))
    try:
        settings = PostgresSettings(
            dsn=dsn,
            schema=check_schema_name(ours.get("schema", "opencx")),
            pool_min=int(ours.get("pool_min", "1")),
            pool_max=int(ours.get("pool_max", "10")),
            poll=float(ours.get("poll", "1.0")),
            reconnect_timeout=float(ours.get("reconnect_timeout", "15")),
        )
    except ValueError as exc:
        raise ValueError(f"bad PostgreSQL store URL parameter: {exc}") from None
    if not 0 <= settings.pool_min <= settings.pool_max or settings.pool_max < 1:
        raise ValueError(
            "bad PostgreSQL store URL: need 0 <= pool_min <= pool_max and pool_max >= 1, "
            f"got pool_min={settings.pool_min}, pool_max={settings.pool_max}"
        )
    if not settings.poll > 0:
        raise ValueError(f"bad PostgreSQL store URL: poll must be positive, got {settings.poll}")
    if not settings.reconnect_timeout >= 0:
        raise ValueError(
            "bad PostgreSQL store URL: reconnect_timeout must be 0 or more, "
            f"got {settings.reconnect_timeout}"
        )
    return settings
