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
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
