"""``opencx-salesforce demo``: the whole product, end to end, on this machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from opencx_salesforce.commands import Subparsers


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole product against a local Salesforce emulator",
        description=(
            "Start a local Salesforce emulator and the reference bot host with the plugin "
            "(SQLite store), connect through the real OAuth pages, deploy the generated "
            "package, and play a conversation from the bot to a Salesforce Case and back "
            "until the rep closes it. Prints each step with its time and the Salesforce API "
            "calls it cost. Exits 0 only if every step happened as expected."
        ),
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the emulator and the host running afterwards and print their URLs",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help=(
            "play a chat handed to a live agent over Messaging for In-App and Web instead "
            "(messages both ways, the stream cut and resumed, the agent ends the session)"
        ),
    )
    parser.add_argument("--plain", action="store_true", help="plain text output even on a terminal")
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="keep the SQLite store in DIR (default: a temporary folder)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The timeline is the output; library warnings (dev-mode key, ...) would
    # only interleave with it.
    logging.basicConfig(level=logging.ERROR)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_demo(args.keep_running, args.plain or None, args.workdir, args.live))


async def _demo(
    keep_running: bool, plain: bool | None, workdir: Path | None, live: bool = False
) -> int:
    from opencx_salesforce.demo.live_scenario import LiveDemo
    from opencx_salesforce.demo.scenario import Demo
    from opencx_salesforce.demo.timeline import Timeline

    timeline = Timeline(plain=plain)
    if live:
        timeline.say("opencx-salesforce demo --live: a chat handed to a live agent and back\n")
    else:
        timeline.say("opencx-salesforce demo: a conversation from the bot to Salesforce and back\n")
    demo = (LiveDemo if live else Demo)(timeline, workdir=workdir)
    try:
        ok = await demo.run()
        timeline.say("")
        timeline.summary()
        if keep_running and ok:
            timeline.say("\nStill running. Look around:")
            for line in demo.urls():
                timeline.say("  " + line)
            timeline.say("Press Ctrl-C to stop.")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
        return 0 if ok else 1
    finally:
        await demo.close_all()
