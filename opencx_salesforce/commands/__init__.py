"""The commands of ``opencx-salesforce``, one module each.

A command module has one public function::

    def add_parser(subparsers: Subparsers) -> None:
        parser = subparsers.add_parser("name", help="...", description="...")
        parser.add_argument(...)
        parser.set_defaults(run=run)   # run(args: argparse.Namespace) -> int

and is listed in :data:`opencx_salesforce.cli.COMMANDS`. ``run`` returns the exit
code; it may raise :class:`~opencx_salesforce.errors.ConfigError` (the CLI prints
the message and exits 2) or another ``OpenCXSalesforceError`` (exit 1). Keep heavy
imports inside ``run`` so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


async def until_interrupted() -> None:
    """Return on Ctrl-C or SIGTERM (the long-running commands: serve, emulator)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError):  # not on Windows: Ctrl-C still works
            loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
