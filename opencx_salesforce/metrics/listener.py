"""``/metrics`` on a listener of its own (``metrics_listen = "127.0.0.1:9464"``).

For deployments that scrape on an internal port instead of through the host's
admin check, the convention of Prometheus exporters: the address decides who
can reach it, so bind it to an interface only the scraper sees.
"""

from __future__ import annotations

from aiohttp import web

from opencx_salesforce.metrics.registry import PluginMetrics


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) as a pair."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected host:port such as 127.0.0.1:9464, got {address!r}")
    return host.strip("[]"), int(port)


class MetricsListener:
    def __init__(self, metrics: PluginMetrics, address: str) -> None:
        self._metrics = metrics
        self._host, self._port = split_address(address)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen; the base URL (port 0 picks a free port)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics.respond)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
