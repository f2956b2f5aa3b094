"""Secrets at rest: the client secret and the OAuth tokens are stored encrypted
(Fernet: AES-128-CBC with an HMAC-SHA256, from ``cryptography``), so a copy of the
store (a SQLite file, a Redis dump) does not hand out access to the org.

The key comes from the settings (``encryption_key``). Several keys separated by
commas rotate: the first encrypts, every one decrypts.

In dev mode only, a missing key is generated once and kept in the store itself,
with a loud warning: that protects nothing and exists so a demo starts without
setup. Production refuses to start without a key.
"""

from __future__ import annotations

import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from opencx_salesforce.errors import ConfigError
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

NAMESPACE = namespaces.AUTH
DEV_KEY = "dev/encryption_key"
DEFAULT_SETTING = "encryption_key"


def generate_key() -> str:
    """A new random key, in the form the ``encryption_key`` setting takes."""
    return Fernet.generate_key().decode("ascii")


def mask(value: str | None, *, keep: int = 4) -> str:
    """A secret for a log line or a page: its first few characters and length,
    enough to tell two apart, never enough to use."""
    if not value:
        return "(none)"
    if len(value) <= keep * 3:
        return f"…({len(value)} chars)"
    return f"{value[:keep]}…({len(value)} chars)"


class SecretsError(ConfigError):
    """Stored secrets cannot be decrypted (the key changed or the data is
    damaged), or the key itself is unusable."""


class SecretBox:
    """Encrypts and decrypts bytes with the configured key(s)."""

    def __init__(self, key: str | bytes, *, setting: str = DEFAULT_SETTING) -> None:
        self._setting = setting
        raw = key.decode("ascii", errors="replace") if isinstance(key, bytes) else key
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if not parts:
            raise ConfigError(f"{setting} is empty: {_how_to_make_one()}")
        fernets = []
        for index, part in enumerate(parts):
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                which = f"key number {index + 1} of {setting}" if len(parts) > 1 else setting
                # The value itself stays out of the message: it is a secret.
                raise ConfigError(
                    f"{which} is not a valid key (expected 32 url-safe base64-encoded "
                    f"bytes, 44 characters): {_how_to_make_one()}"
                ) from None
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext)
        except InvalidToken:
            raise SecretsError(
                f"stored Salesforce credentials cannot be decrypted with {self._setting}: "
                "the key changed since they were saved (add the old key after the new "
                "one, comma separated, to rotate) or the stored data is damaged"
            ) from None

    @classmethod
    async def from_settings(
        cls,
        key: str | None,
        *,
        store: Store,
        dev_mode: bool,
        setting: str = DEFAULT_SETTING,
    ) -> SecretBox:
        """The box for the configured key. Without a key: in dev mode, a key
        generated once and kept in the store (shared by every instance on that
        store); otherwise a :class:`ConfigError` naming the setting."""
        if key:
            return cls(key, setting=setting)
        if not dev_mode:
            raise ConfigError(f"{setting} is not set: {_how_to_make_one()}")
        candidate = generate_key().encode("ascii")
        # set_if_absent: two instances starting together agree on one key.
        await store.set_if_absent(NAMESPACE, DEV_KEY, candidate)
        stored = await store.get(NAMESPACE, DEV_KEY)
        if stored is None:  # deleted between the two calls; use ours
            await store.set(NAMESPACE, DEV_KEY, candidate)
            stored = candidate
        log.warning(
            "DEV MODE: %s is not set, so Salesforce tokens are encrypted with a key kept "
            "in the same store as the tokens. This protects nothing. Set %s before "
            "connecting a real org.",
            setting,
            setting,
        )
        return cls(stored, setting=setting)


def _how_to_make_one() -> str:
    return (
        'generate one with `python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"` and keep it secret'
    )
