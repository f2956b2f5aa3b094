"""``opencx-salesforce``: the command line.

Each command is one module of :mod:`opencx_salesforce.commands` listed in
:data:`COMMANDS`; it adds its own subparser (see that package's docstring).

Exit codes: 0 done, 1 failed (or the reader of its output went away, as
``| head`` does), 2 bad usage or bad configuration (the message names the
key), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from opencx_salesforce import __version__
from opencx_salesforce.errors import ConfigError, OpenCXSalesforceError

PROG = "opencx-salesforce"
COMMANDS = ("demo", "serve", "connect", "apex", "doctor", "emulator")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Hand AI helpdesk conversations to Salesforce Service Cloud as Cases, and "
            "bring rep replies back."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"opencx_salesforce.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, where a reader gone away can be met
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say, and no
        # traceback; what is still buffered goes nowhere at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: a code, not an exit
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"{PROG}: configuration error:\n{exc}", file=sys.stderr)
        return 2
    except OpenCXSalesforceError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
