"""``opencx-salesforce doctor``: check the Salesforce side of this install.

Starts the plugin's services on the host's store, as a host instance would
(the reference host, not listening: the checks need no HTTP server of their
own), runs :mod:`opencx_salesforce.doctor`'s checks, and prints a checklist or
JSON. Exit code 0 when nothing failed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from opencx_salesforce.commands import Subparsers

if TYPE_CHECKING:
    from opencx_salesforce.devhost.config import HostSettings
    from opencx_salesforce.doctor import CheckResult, DoctorReport

# Status -> (symbol on a terminal, plain ASCII).
_MARKS = {
    "ok": ("✓", "[ok]  "),
    "warn": ("!", "[warn]"),
    "fail": ("✗", "[FAIL]"),
    "skip": ("-", "[skip]"),
}
_ASCII = str.maketrans({"…": "...", "—": "-", "–": "-", "’": "'", "“": '"', "”": '"', "→": "->"})


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the Salesforce setup of this install and say what to fix",
        description=(
            "Check, in order: the Connected App credentials, the connection, the API and "
            "its daily usage, the Case fields, the Apex class and triggers, the Named "
            "Credential, a test ping from inside the org to the webhook, and the outbox. "
            "Each failure comes with its fix. Exit code 0 when nothing failed (warnings "
            "allowed), 1 otherwise. The ping needs the host running."
        ),
    )
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE",
        help="the host's TOML file (the same one `serve` uses)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opencx_salesforce.commands.config_file import load_install_config
    from opencx_salesforce.errors import ConfigError, OpenCXSalesforceError

    try:
        host_settings, sections = load_install_config(args.config)
        report = asyncio.run(doctor_report(host_settings, sections))
    except OpenCXSalesforceError as exc:
        if not args.json:
            raise  # the command line prints it
        # A script parsing --json gets JSON even when no check could run (the
        # configuration refused, the store not opening): it got plain text.
        code = 2 if isinstance(exc, ConfigError) else 1
        print(json.dumps({"ok": False, "exit_code": code, "error": str(exc)}, indent=2))
        return code
    if args.json:
        print(json.dumps(report.to_json(), indent=2), flush=True)
    else:
        print_report(sys.stdout, report, unicode=_unicode_ok(sys.stdout))
    return report.exit_code


async def doctor_report(
    host_settings: HostSettings, sections: dict[str, dict[str, Any]]
) -> DoctorReport:
    """Start the plugin's services on the host's store, run the checks, stop."""
    from opencx_salesforce.commands.apex import open_install_store
    from opencx_salesforce.devhost.host import DevHost
    from opencx_salesforce.doctor import diagnose
    from opencx_salesforce.runtime import start_runtime

    store = await open_install_store(host_settings)
    try:
        # The reference host on that store, never started: it gives the plugin what a
        # host gives (store, public_url, its config table, sessions) without listening.
        host = DevHost(host_settings, store=store, plugin_sections=sections)
        # The doctor only looks: the running host does the queued work and the
        # sweeps, so this short-lived instance starts no workers.
        services = await start_runtime(host, host.plugin_manager, workers=False)
        try:
            return await diagnose(services)
        finally:
            await services.stop()
    finally:
        await store.close()


def _unicode_ok(out: TextIO) -> bool:
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    return out.isatty() and encoding in ("utf8", "utf16", "utf32")


def print_report(out: TextIO, report: DoctorReport, *, unicode: bool) -> None:
    lines = [f"opencx-salesforce doctor: webhook {report.webhook_url}", ""]
    for result in report.results:
        lines += _result_lines(result, unicode)
    summary = ", ".join(
        f"{report.count(s)} {word}"
        for s, word in _summary_words()
        if report.count(s) or s.value in ("ok", "fail")
    )
    lines += ["", f"{summary}; {report.api_calls} Salesforce API call(s) spent"]
    text = "\n".join(lines)
    print(text if unicode else text.translate(_ASCII).encode("ascii", "replace").decode(), file=out)


def _summary_words() -> list[tuple[Any, str]]:
    from opencx_salesforce.doctor import Status

    return [
        (Status.OK, "ok"),
        (Status.WARN, "warning(s)"),
        (Status.FAIL, "failed"),
        (Status.SKIP, "skipped"),
    ]


def _result_lines(result: CheckResult, unicode: bool) -> list[str]:
    symbol, plain = _MARKS[result.status.value]
    mark = symbol if unicode else plain
    lines = [f"{mark} {result.title}: {result.detail}"]
    if result.fix:
        pad = " " * (len(mark) + 1)
        heading = f"fix ({result.symptom})" if result.symptom else "fix"
        lines.append(f"{pad}{heading}: {result.fix}")
    return lines
