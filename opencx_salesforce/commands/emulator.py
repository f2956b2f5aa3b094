"""``opencx-salesforce emulator``: run the local Salesforce until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from opencx_salesforce.commands import Subparsers, until_interrupted

if TYPE_CHECKING:
    from opencx_salesforce.emulator.cli_config import EmulatorOptions

# A fixed default, so the login URL pasted into the plugin's settings survives restarts.
DEFAULT_PORT = 8765


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run a local Salesforce (OAuth, REST, the deployed package, a rep's pages)",
        description=(
            "Run the Salesforce emulator with its default org: OAuth login, the REST API, "
            "the plugin's package (with --webhook-url) and pages to work Cases as a rep. "
            "It listens on loopback only and serves until Ctrl-C."
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
        help="an OAuth callback URL of the default Connected App (repeatable)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        metavar="S",
        help="access token lifetime in seconds (default: 7200)",
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
        help="deploy the plugin's package with its Named Credential pointing here",
    )
    parser.add_argument(
        "--signing-secret",
        metavar="SECRET",
        help="the package's webhook signing secret (with --webhook-url)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opencx_salesforce.emulator.cli_config import EmulatorOptions, check

    options = check(
        EmulatorOptions(
            host=args.host,
            port=args.port,
            callback_urls=tuple(args.callback_urls),
            session_timeout=args.session_timeout,
            latency_ms=args.latency_ms,
            webhook_url=args.webhook_url,
            signing_secret=args.signing_secret,
        )
    )
    return asyncio.run(_serve(options))


async def _serve(options: EmulatorOptions) -> int:
    from opencx_salesforce.emulator.cli_config import describe, start_emulator

    try:
        emulator, org = await start_emulator(options)
    except OSError as exc:
        print(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}")
        return 1
    print("\n".join([*describe(emulator, org), "Press Ctrl-C to stop."]), flush=True)

    try:
        await until_interrupted()
    finally:
        await emulator.close()
    print("stopped", flush=True)
    return 0
