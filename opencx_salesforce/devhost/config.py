"""The reference host's configuration file: a ``[host]`` table for the host itself
and one table per plugin (``[salesforce]``, ...), each handed raw to its plugin.

``[host]`` keys may be overridden by ``OPENCX_HOST_<KEY>`` environment variables;
mistakes are reported as in the plugin's settings (see
:func:`opencx_salesforce.settings.loader.load_section`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from opencx_salesforce.devhost.collector import SERVING_THRESHOLD
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.settings.loader import LoadableSettings, check_service_url, load_section

HOST_TABLE = "host"
HOST_ENV_PREFIX = "OPENCX_HOST_"
_STORE_SCHEMES = ("memory", "sqlite", "postgresql", "postgres", "redis", "rediss", "unix")
_TOKEN_HOWTO = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class HostSettings(LoadableSettings):
    """The ``[host]`` table of the reference host."""

    model_config = SettingsConfigDict(env_prefix=HOST_ENV_PREFIX, extra="forbid", frozen=True)

    public_url: str | None = Field(
        default=None,
        description=(
            "The URL at which Salesforce and browsers reach this host, e.g. "
            "https://bot.example.com. Default: the listen address (fine for local use)."
        ),
    )
    listen_host: str = Field(default="127.0.0.1", description="Address to listen on.")
    listen_port: int = Field(
        default=8080, ge=0, le=65535, description="Port to listen on (0: any free port)."
    )
    store_url: str = Field(
        default="sqlite:///opencx.db",
        description="Where sessions, the hook-call journal and plugin state live: "
        "memory:// (tests), sqlite:///PATH (one host process), "
        "postgresql://USER@HOST:5432/DB?schema=opencx (several host instances) or "
        "redis://HOST:PORT/DB (several instances; durable only with Redis persistence on).",
    )
    admin_token: SecretStr = Field(
        description=(
            "Bearer token of the administrator (also the password of /admin/login). "
            "At least 16 characters, 8 of them different; wrong tokens sent to the "
            "sign-in form past 10 a minute from one address wait out the minute (429); "
            + _TOKEN_HOWTO
        ),
    )
    body_read_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How long a client may take to send a request body before the host "
        "answers 408 (the host's own routes; a half-sent body must not hold a handler).",
    )
    gc_threshold: int = Field(
        default=SERVING_THRESHOLD,
        ge=0,
        description=(
            "Once started, the host collects, freezes what start-up made (gc.freeze) and "
            "sets Python's first garbage-collector threshold to this (CPython's default is "
            "700, at which a busy host spends a seventh of its time walking live objects: "
            "docs/operations.md). 0 leaves the collector as Python set it."
        ),
    )
    plugins: list[str] | None = Field(
        default=None,
        description="Entry-point names of the plugins to load. Default: every installed one.",
    )

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return check_service_url(value, example="https://bot.example.com")

    @field_validator("store_url")
    @classmethod
    def _check_store_url(cls, value: str) -> str:
        if value.split(":", 1)[0].lower() not in _STORE_SCHEMES or ":" not in value:
            raise ValueError(
                "expected a store URL: memory://, sqlite:///PATH, "
                "postgresql://USER@HOST:PORT/DB or redis://HOST:PORT/DB"
            )
        return value

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if len(token) < 16:
            raise ValueError("expected at least 16 characters; " + _TOKEN_HOWTO)
        if len(set(token)) < 8:
            # "aaaaaaaaaaaaaaaa", "adminadminadmin!": long enough, and guessed first.
            raise ValueError("expected at least 8 different characters; " + _TOKEN_HOWTO)
        return SecretStr(value.get_secret_value().strip())

    def admin_token_value(self) -> str:
        return self.admin_token.get_secret_value()


# A plugin's own check of its table (the table, or {} when the file has none):
# raises ConfigError naming each key at fault.
SectionCheck = Callable[[dict[str, Any]], object]


def load_config(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    *,
    checks: Mapping[str, SectionCheck] | None = None,
) -> tuple[HostSettings, dict[str, dict[str, Any]]]:
    """Read the host's TOML file: its ``[host]`` settings (environment variables
    applied) and the raw table of every plugin, by plugin name. ``checks``: the
    plugins' own checks of their tables, by plugin name, run here so that one
    error lists every problem of the file, not the host's first and the
    plugin's after they are fixed.

    Raises :class:`ConfigError` naming the file, the line, or the key at fault.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        # The message carries the line and column, e.g. "(at line 3, column 7)".
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

    problems: list[str] = []
    host_table = document.get(HOST_TABLE, {})
    sections: dict[str, dict[str, Any]] = {}
    for key, value in document.items():
        if key == HOST_TABLE:
            continue
        if isinstance(value, dict):
            sections[key] = value
        else:
            problems.append(
                f"{key}: a setting outside any table; put it under [{HOST_TABLE}] or a "
                "plugin's table such as [salesforce]"
            )
    settings: HostSettings | None = None
    try:
        if not isinstance(host_table, dict):
            raise ConfigError(f"{HOST_TABLE}: expected a table [{HOST_TABLE}]")
        settings = load_section(HostSettings, host_table, env, table=HOST_TABLE)
    except ConfigError as exc:
        problems.append(str(exc))
    for name, check in (checks or {}).items():
        try:
            check(sections.get(name, {}))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems or settings is None:
        lines = "\n".join(problems).splitlines()
        raise ConfigError(f"{path}:\n" + "\n".join("  " + line for line in lines))
    return settings, sections
