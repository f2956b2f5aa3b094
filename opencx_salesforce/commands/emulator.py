"""``opencx-salesforce emulator``: run the local Salesforce until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from opencx_salesforce.commands import Subparsers, until_interrupted

if TYPE_CHECKING:
    from opencx_salesforce.emulator.cli_config import EmulatorOptions
    from opencx_salesforce.emulator.tls import LoopbackCertificate

# A fixed default, so the login URL pasted into the plugin's settings survives restarts.
DEFAULT_PORT = 8765


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run a local Salesforce (OAuth, REST, the deployed package, a rep's pages)",
        description=(
            "Run the Salesforce emulator with its default org: OAuth login, the REST API, "
            "the plugin's package (--webhook-url, or later through the admin API: "
            "docs/emulator-api.md) and pages to work Cases as a rep. "
            "It listens on loopback only and serves until Ctrl-C. It keeps everything "
            "in memory: a restart starts a fresh org (connect again and deploy the "
            "package again; a host still holding the old org's tokens needs "
            "re-authorization when it signed in through the browser, and gets a new "
            "token by itself when it connects with client credentials)."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="loopback address to listen on (default: 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port, 0 for any free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--callback-url",
        dest="callback_urls",
        action="extend",
        nargs="+",
        default=[],
        metavar="URL",
        help="OAuth callback URLs of the default Connected App (one or more; the flag "
        "may be given again)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        metavar="S",
        help="the org's session timeout: seconds an access token lives unused, each "
        "call with it starting the count again, as Salesforce's does (default: 7200)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="N",
        help="milliseconds added to every request of the org (default: 0)",
    )
    parser.add_argument(
        "--webhook-url",
        metavar="URL",
        help="deploy the plugin's package at start, its Named Credential pointing here "
        "(or later: POST /_emulator/orgs/<org>/package, see docs/emulator-api.md)",
    )
    parser.add_argument(
        "--signing-secret",
        metavar="SECRET",
        help=(
            "the package's webhook signing secret (with --webhook-url): the install's, as in "
            "its downloaded package; the plugin refuses unsigned calls unless it runs with "
            "webhook_signing = false"
        ),
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate made for loopback by a local CA; prints the CA "
        "file to trust (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS)",
    )
    parser.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="where --tls keeps its CA and certificate; the CA there is reused across "
        "restarts (default: a new temporary directory)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opencx_salesforce.emulator.cli_config import EmulatorOptions, check

    tls = _certificate(args.tls, args.tls_dir)
    options = check(
        EmulatorOptions(
            host=args.host,
            port=args.port,
            callback_urls=tuple(args.callback_urls),
            session_timeout=args.session_timeout,
            latency_ms=args.latency_ms,
            webhook_url=args.webhook_url,
            signing_secret=args.signing_secret,
            tls=tls,
        )
    )
    return asyncio.run(_serve(options))


def _certificate(tls: bool, tls_dir: str | None) -> LoopbackCertificate | None:
    from pathlib import Path

    from opencx_salesforce.emulator.tls import loopback_certificate
    from opencx_salesforce.errors import ConfigError

    if not tls:
        if tls_dir is not None:
            raise ConfigError("--tls-dir: needs --tls")
        return None
    if tls_dir is None:
        import tempfile

        tls_dir = tempfile.mkdtemp(prefix="opencx-salesforce-tls-")
    return loopback_certificate(Path(tls_dir).expanduser())


async def _serve(options: EmulatorOptions) -> int:
    from opencx_salesforce.emulator.cli_config import describe, start_emulator

    try:
        emulator, org = await start_emulator(options)
    except OSError as exc:
        print(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}")
        return 1
    lines = describe(emulator, org)
    if options.tls is not None:
        ca = options.tls.ca_file
        lines += [
            f"  TLS CA to trust:  {ca}",
            f"    export SSL_CERT_FILE={ca} REQUESTS_CA_BUNDLE={ca} NODE_EXTRA_CA_CERTS={ca}",
        ]
    print("\n".join([*lines, "Press Ctrl-C to stop."]), flush=True)

    try:
        await until_interrupted()
    finally:
        await emulator.close()
    print("stopped", flush=True)
    return 0
