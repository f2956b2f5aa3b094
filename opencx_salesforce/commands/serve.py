"""``opencx-salesforce serve``: run the reference host with the installed plugins."""

from __future__ import annotations

import argparse
import asyncio
import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opencx_salesforce.commands import Subparsers, until_interrupted
from opencx_salesforce.logs import configure as configure_logs
from opencx_salesforce.runtime import ROUTE_PREFIX

if TYPE_CHECKING:
    from opencx_salesforce.devhost.collector import Collector
    from opencx_salesforce.devhost.config import HostSettings

_LOG_LEVELS = ("debug", "info", "warning", "error")


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the reference host with the installed plugins",
        description=(
            "Run the reference host: load the plugins installed under the 'opencx' "
            "entry point, start them with their tables of the config file, mount their "
            "routes under /integrations/<plugin>, and serve until Ctrl-C."
        ),
    )
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE",
        help="the host's TOML file ([host] and one table per plugin; see sample_config.toml)",
    )
    # --host/--port, as the emulator (and uvicorn, flask run) spell them.
    parser.add_argument(
        "--host",
        dest="listen_host",
        metavar="ADDRESS",
        help="address to listen on (default: [host] listen_host)",
    )
    # The earlier spelling, still accepted, no longer shown.
    parser.add_argument("--listen-host", dest="listen_host", help=argparse.SUPPRESS)
    parser.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        help="port to listen on, 0 for any free one (default: [host] listen_port)",
    )
    parser.add_argument("--log-level", choices=_LOG_LEVELS, default="info", help="default: info")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one object per line with session_id, case_id and job_id (default: text)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opencx_salesforce.devhost.config import load_config

    configure_logs(args.log_level, args.log_format)
    settings, sections = load_config(args.config)
    return asyncio.run(_serve(settings, sections, args.listen_host, args.port))


async def _serve(
    settings: HostSettings,
    sections: dict[str, dict[str, Any]],
    listen_host: str | None,
    port: int | None,
) -> int:
    from opencx_salesforce.devhost.collector import settled_for_serving
    from opencx_salesforce.devhost.host import DevHost

    host = DevHost(settings, plugin_sections=sections)
    try:
        base_url = await host.start(host=listen_host, port=port)
    except OSError as exc:
        print(f"cannot listen on {listen_host or settings.listen_host}: {exc.strerror or exc}")
        return 1
    # Start-up is done: what it made is frozen out of the collector's walks.
    with settled_for_serving(settings.gc_threshold) as collector:
        public = host.public_url
        plugins = sorted(name for name, _ in host.plugin_manager.list_name_plugin())
        lines = [
            f"opencx-salesforce host listening on {base_url}",
            f"  public URL:  {public}",
            f"  plugins:     {', '.join(plugins) or 'none'}",
            *(f"  routes:      {public}{path}/" for path in host.mounted_paths),
            *_salesforce_lines(public, host.mounted_paths),
            f"  admin login: {public}/admin/login",
            f"  JSON API:    {public}/api/sessions  (Authorization: Bearer <admin_token>)",
            f"  gc:          {_collector_line(collector)}",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), flush=True)

        try:
            await until_interrupted()
        finally:
            await host.stop()
    print("stopped", flush=True)
    return 0


def _collector_line(collector: Collector | None) -> str:
    if collector is None:
        return "Python's defaults (gc_threshold = 0)"
    return (
        f"first threshold {gc.get_threshold()[0]:,}; "
        f"{collector.frozen:,} objects of start-up frozen (docs/operations.md)"
    )


def _salesforce_lines(public: str, mounted: list[str]) -> list[str]:
    """The Salesforce plugin's own pages, when it is mounted."""
    if ROUTE_PREFIX not in mounted:
        return []
    base = f"{public}{ROUTE_PREFIX}"
    return [
        f"  settings:    {base}/admin",
        f"  health:      {base}/healthz/live  {base}/healthz/ready",
        f"  metrics:     {base}/metrics  (Authorization: Bearer <admin_token>)",
    ]
