"""Loading a settings model from a TOML table and the environment, with errors a
person can act on.

:func:`load_section` validates one TOML table (``[salesforce]``, or the reference
host's ``[host]``) overridden by the model's environment variables. Every mistake
becomes one :class:`~opencx_salesforce.errors.ConfigError` whose lines name each
bad key as the user wrote it (``salesforce.login_url`` in the TOML,
``OPENCX_SALESFORCE_LOGIN_URL`` in the environment) and what was expected.
Unknown keys are errors too, with the closest known key suggested, so a typo
never passes silently.
"""

from __future__ import annotations

import contextvars
import difflib
import ipaddress
import json
import os
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from opencx_salesforce.errors import ConfigError

# While load_section validates, the model sees only the values the loader
# collected (whose origin it knows), not os.environ a second time.
_LOADER_ACTIVE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "opencx_settings_loader_active", default=False
)


class LoadableSettings(BaseSettings):
    """A BaseSettings that :func:`load_section` can feed exactly one set of values."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _LOADER_ACTIVE.get():
            return (init_settings,)
        return (init_settings, env_settings, dotenv_settings, file_secret_settings)


def check_service_url(value: str, *, example: str) -> str:
    """An https URL, or plain http to a loopback address (a local emulator or a
    host under test); returned without its trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an https URL such as {example}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"expected an https URL such as {example} (plain http is only for 127.0.0.1/localhost)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"expected a plain URL such as {example}, without query, fragment or user")
    return value.strip().rstrip("/")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


SettingsT = TypeVar("SettingsT", bound=LoadableSettings)


def load_section(
    model: type[SettingsT],
    section: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    *,
    table: str,
) -> SettingsT:
    """Validate ``section`` (the TOML table ``[table]``) overridden by the
    environment variables of ``model``'s ``env_prefix``.

    Raises :class:`ConfigError` with one line per problem, each naming the key as
    the user wrote it and what is expected.
    """
    env = os.environ if env is None else env
    prefix = str(model.model_config.get("env_prefix", ""))
    fields = list(model.model_fields)
    secrets = {name for name, f in model.model_fields.items() if _is_secret(f.annotation)}
    problems: list[str] = []

    if not isinstance(section, Mapping):
        raise ConfigError(f"[{table}]: expected a table, got {type(section).__name__}")

    values: dict[str, Any] = {}
    origin: dict[str, str] = {}  # field -> how the user named it
    for key, value in section.items():
        if key in model.model_fields:
            values[key] = value
            origin[key] = f"{table}.{key}"
        else:
            problems.append(f"{table}.{key}: unknown key{did_you_mean(key, fields)}")

    if prefix:
        by_upper = {name.upper(): name for name in fields}
        for var, raw in sorted(env.items()):
            if not var.upper().startswith(prefix.upper()):
                continue
            if not raw.strip():
                # Unset, as configuration.md says: Compose and Kubernetes pass
                # empty variables for values nobody filled in.
                continue
            name = by_upper.get(var[len(prefix) :].upper())
            if name is None:
                known = [prefix + n.upper() for n in fields]
                problems.append(f"{var}: unknown variable{did_you_mean(var.upper(), known)}")
                continue
            try:
                values[name] = _parse_env(model.model_fields[name].annotation, raw)
            except ValueError as exc:
                problems.append(f"{var}: {exc}")
                continue
            origin[name] = var

    # Validate what is known even when some keys were bad: the user sees every
    # problem at once, not one per restart.
    token = _LOADER_ACTIVE.set(True)
    try:
        settings = model(**values)
    except ValidationError as exc:
        howtos = _howtos(model)
        problems.extend(
            _describe(err, origin, secrets, table, prefix, howtos, model) for err in exc.errors()
        )
    finally:
        _LOADER_ACTIVE.reset(token)
    if problems:
        raise ConfigError("\n".join(problems))
    return settings


# How a field's description starts its advice on making a value.
_HOWTO = "make one with:"


def _howtos(model: type[BaseModel]) -> dict[str, str]:
    """For each field whose description says how to make a value ("make one
    with: ..."), that advice: a required one left unset names it."""
    found = {}
    for name, info in model.model_fields.items():
        description = info.description or ""
        start = description.find(_HOWTO)
        if start >= 0:
            found[name] = description[start:]
    return found


def _describe(
    err: ErrorDetails,
    origin: Mapping[str, str],
    secrets: set[str],
    table: str,
    prefix: str,
    howtos: Mapping[str, str],
    model: type[BaseModel],
) -> str:
    loc = [str(part) for part in err["loc"]]
    if not loc:  # a check across fields names its key in ctx
        loc = [str((err.get("ctx") or {}).get("field", "?"))]
    field, rest = loc[0], loc[1:]
    written = origin.get(field)
    if written is None:  # never written: name both places it could be set
        name = f"{table}.{field}" + (f" (or {prefix}{field.upper()})" if prefix else "")
    elif written.startswith(f"{table}."):
        name = ".".join([written, *rest])
    else:
        name = written + (f" (at {'.'.join(rest)})" if rest else "")
    text = f"{name}: {_expected(err)}"
    if err["type"] == "extra_forbidden" and rest:
        # A misspelt key of a sub-table ([salesforce.live]): named as the top
        # level's are, with the closest key it takes.
        text = f"{name}: unknown key{did_you_mean(loc[-1], _keys_at(model, loc[:-1]))}"
        return text
    # Echo what the user wrote, except secrets and the whole-model input of a
    # check across fields.
    if err["type"] != "missing" and err["loc"] and written is not None and field not in secrets:
        text += f", got {err['input']!r}"
    if err["type"] == "missing" and field in howtos:
        text += f"; {howtos[field]}"
    return text


def _expected(err: ErrorDetails) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    simple = {
        "missing": "required but not set",
        "bool_parsing": "expected true or false",
        "bool_type": "expected true or false",
        "int_parsing": "expected a whole number",
        "int_type": "expected a whole number",
        "int_from_float": "expected a whole number",
        "float_parsing": "expected a number",
        "float_type": "expected a number",
        "string_type": "expected a string (in quotes)",
        "dict_type": "expected a table of key = value",
        "list_type": "expected a list",
    }
    if kind in simple:
        return simple[kind]
    bounds = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)  # "5", not "5.0", when the user wrote 5
        return f"expected a number {bounds[kind]} {limit}"
    if kind == "string_too_short":
        return f"expected at least {ctx.get('min_length')} characters"
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message[:1].lower() + message[1:]


def _parse_env(annotation: Any, raw: str) -> Any:
    """An environment variable's text as the field expects it: JSON for tables and
    lists (a list may also be comma-separated), the text itself otherwise."""
    kinds = set(_base_types(annotation))
    # A sub-table ([salesforce.live]) is a JSON object in the environment too.
    if dict in kinds or any(isinstance(k, type) and issubclass(k, BaseModel) for k in kinds):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(
                'expected a JSON object such as {"chat": "Chat"}, got ' + repr(raw)
            ) from None
        if not isinstance(parsed, dict):
            raise ValueError('expected a JSON object such as {"chat": "Chat"}, got ' + repr(raw))
        return parsed
    if list in kinds:
        if raw.strip().startswith("["):
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                raise ValueError(
                    f'expected a JSON list such as ["a", "b"] or a, b; got {raw!r}'
                ) from None
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _keys_at(model: type[BaseModel], path: list[str]) -> list[str]:
    """The keys of the sub-table of ``model`` at ``path`` ([] if none)."""
    current = model
    for part in path:
        info = current.model_fields.get(part)
        nested = [
            kind
            for kind in _base_types(info.annotation if info is not None else None)
            if isinstance(kind, type) and issubclass(kind, BaseModel)
        ]
        if not nested:
            return []
        current = nested[0]
    return list(current.model_fields)


def _base_types(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _base_types(arg)
    else:
        yield origin or annotation


def _is_secret(annotation: Any) -> bool:
    return SecretStr in set(_base_types(annotation))


def did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
