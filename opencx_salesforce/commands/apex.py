"""``opencx-salesforce apex``: write the Salesforce package of this install.

The package (Apex class, triggers, Case fields, the Named Credential
``OpenCX_Integration``, the signing secret) is rendered for this install's
webhook URL, built the way the running plugin builds it: the host's
``public_url``, the plugin's route prefix, and the per-install webhook token
kept in the host's store (read, or made on first use, by
:func:`~opencx_salesforce.runtime.ensure_webhook_token`, as the host does at start).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from opencx_salesforce.commands import Subparsers

if TYPE_CHECKING:
    from opencx_salesforce.devhost.config import HostSettings
    from opencx_salesforce.settings import SalesforceSettings
    from opencx_salesforce.store.base import Store

PROG = "opencx-salesforce apex"


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "apex",
        help="write this install's Salesforce package (Apex, triggers, fields, Named Credential)",
        description=(
            "Write the Salesforce DX project an admin deploys with `sf project deploy start`: "
            "the Apex class and triggers that call this install's webhook, the Case fields, "
            "the Named Credential OpenCX_Integration pointing at the webhook URL, and the "
            "signing secret (salesforce.webhook_signing_secret). The webhook URL is the "
            "host's public_url, which Salesforce must be able to reach."
        ),
    )
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE",
        help="the host's TOML file (the same one `serve` uses)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder to write the project to"
    )
    parser.add_argument(
        "--force", action="store_true", help="write into DIR even if it is not empty"
    )
    parser.add_argument(
        "--allow-local",
        action="store_true",
        help=(
            "accept a loopback public_url (127.0.0.1, localhost) or none at all: only for "
            "an org that is itself local, such as the emulator"
        ),
    )
    parser.add_argument(
        "--no-email",
        action="store_true",
        help=(
            "leave out the EmailMessage trigger and code, for an org without Email-to-Case "
            "or Enhanced Email (where EmailMessage doesn't exist and the Apex would not compile)"
        ),
    )
    parser.add_argument(
        "--legacy-named-credential",
        action="store_true",
        help=(
            "write a legacy Named Credential (deprecated by Salesforce) instead of a Named "
            "Credential with an External Credential and the permission set reps need; for "
            "orgs below API 56.0"
        ),
    )
    parser.set_defaults(run=run)


class UsageError(Exception):
    """The command line asks for something this command will not do (exit 2)."""


def run(args: argparse.Namespace) -> int:
    from opencx_salesforce.commands.config_file import load_install_config
    from opencx_salesforce.settings import load_settings

    try:
        check_out_dir(args.out, force=args.force)
        host_settings, sections = load_install_config(args.config)
        settings = load_settings(sections.get("salesforce", {}))
        public_url = install_public_url(host_settings, allow_local=args.allow_local)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    from opencx_salesforce.errors import ConfigError

    webhook_url, signing_secret = asyncio.run(install_webhook(host_settings, public_url, settings))
    try:
        files = write_package(
            args.out,
            settings,
            webhook_url,
            signing_secret,
            include_email=not args.no_email,
            legacy_named_credential=args.legacy_named_credential,
        )
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print_summary(sys.stdout, args.out, files, signing_secret, webhook_url, args.config)
    return 0


def check_out_dir(out: Path, *, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(
            f"{out} is not empty; choose another folder, or pass --force to write over it"
        )


def install_public_url(host_settings: HostSettings, *, allow_local: bool) -> str:
    """The host's public URL, which Salesforce calls. Loopback (or unset, which
    means the listen address) only with ``allow_local``."""
    from opencx_salesforce.devhost.host import DevHost

    configured = host_settings.public_url
    if configured is None and not allow_local:
        raise UsageError(
            "host.public_url is not set: Salesforce calls the webhook at that URL, so set it "
            "(or OPENCX_HOST_PUBLIC_URL) to the https address Salesforce reaches this host "
            "at, e.g. https://bot.example.com (--allow-local uses the listen address)"
        )
    # The host's own rule for an unset public_url (its listen address).
    public_url = DevHost(host_settings, plugins={}).public_url
    if is_loopback_url(public_url) and not allow_local:
        raise UsageError(
            f"host.public_url is {public_url}, which Salesforce cannot reach (it is this "
            "machine); set it to the https address Salesforce reaches this host at, or pass "
            "--allow-local for a local org such as the emulator"
        )
    return public_url


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


async def open_install_store(host_settings: HostSettings) -> Store:
    """The host's store, where the plugin keeps its state. A memory store holds
    nothing this command could share with the host, so it is refused."""
    from opencx_salesforce.errors import ConfigError
    from opencx_salesforce.store import open_store

    if host_settings.store_url.split(":", 1)[0].lower() == "memory":
        raise ConfigError(
            "host.store_url: memory:// is gone when the host stops and is not shared with "
            "this command; use the store the host uses (sqlite:///PATH or redis://...)"
        )
    try:
        return await open_store(host_settings.store_url)
    except ValueError as exc:
        raise ConfigError(f"host.store_url: {exc}") from exc


async def install_webhook(
    host_settings: HostSettings, public_url: str, settings: SalesforceSettings
) -> tuple[str, str | None]:
    """``public_url`` + the plugin's webhook path with this install's token, and
    the install's signing secret (None when ``webhook_signing`` is off)."""
    from opencx_salesforce.runtime import ROUTE_PREFIX, ensure_signing_secret, ensure_webhook_token

    store = await open_install_store(host_settings)
    try:
        token = await ensure_webhook_token(store)
        secret = await ensure_signing_secret(settings, store)
    finally:
        await store.close()
    return f"{public_url}{ROUTE_PREFIX}/webhook/{token}", secret


def write_package(
    out: Path,
    settings: SalesforceSettings,
    webhook_url: str,
    signing_secret: str | None,
    *,
    include_email: bool = True,
    legacy_named_credential: bool = False,
) -> list[Path]:
    from opencx_salesforce.apex.render import render_package

    return render_package(
        out,
        webhook_url=webhook_url,
        signing_secret=signing_secret,
        api_version=settings.api_version,
        case_from_value=settings.case_from_value,
        session_id_field=settings.session_id_field,
        include_email=include_email,
        legacy_named_credential=legacy_named_credential,
        include_messaging=settings.live.configured,
    )


def print_summary(
    out: TextIO,
    folder: Path,
    files: list[Path],
    signing_secret: str | None,
    webhook_url: str,
    config: Path,
) -> None:
    from opencx_salesforce.apex import names
    from opencx_salesforce.doctor import masked_webhook_url

    signed = signing_secret is not None
    lines = [f"Wrote the Salesforce package to {folder} ({len(files)} files):"]
    lines += [f"  {path.relative_to(folder).as_posix()}" for path in sorted(files)]
    lines += [
        "",
        f"Named Credential {names.NAMED_CREDENTIAL} -> {masked_webhook_url(webhook_url)}",
        "Webhook calls are "
        + (
            "signed with this install's secret."
            if signed
            else "NOT signed (salesforce.webhook_signing = false): anyone with the URL can call it."
        ),
    ]
    if signed:
        lines.append(f"{folder} holds the signing secret: delete it once deployed.")
    lines += [
        "",
        "Deploy it with the Salesforce CLI:",
        f"  cd {folder}",
        "  sf org login web --alias my-org",
        "  sf project deploy start --source-dir force-app --target-org my-org",
        f"  sf org assign permset --name {names.PERMISSION_SET} --on-behalf-of "
        "<the user the plugin connects as> --target-org my-org",
    ]
    if any("externalCredentials" in path.as_posix() for path in files):
        # The webhook call runs as whoever saved the Case, doctor's ping as the
        # connected user, the digest as the user who starts it: each needs it.
        lines.append(
            f"  sf org assign permset --name {names.CALLOUT_PERMISSION_SET} --on-behalf-of "
            "<every rep who answers OpenCX Cases> <the user the plugin connects as> "
            "<the user who starts the digest> --target-org my-org"
        )
    lines += [
        f"  sf apex run --file {names.START_DIGEST_SCRIPT} --target-org my-org",
        "(production orgs run tests on deploy: see README.md there.) Then check the setup:",
        f"  opencx-salesforce doctor --config {config}",
    ]
    print("\n".join(lines), file=out, flush=True)
