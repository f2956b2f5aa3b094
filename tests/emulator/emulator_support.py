"""Helpers shared by the emulator's tests: a REST caller that talks real HTTP to
one org with its bearer token, and what it gets back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from opencx_salesforce.emulator.org import Org

API_VERSION = "62.0"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass
class RestCaller:
    """Calls ``/services/data/vXX.X/<path>`` of one org with its bearer token."""

    http: aiohttp.ClientSession
    base_url: str
    org: Org
    token: str
    version: str = API_VERSION

    def url(self, path: str) -> str:
        if path.startswith("/"):
            return self.base_url + path
        return f"{self.base_url}/services/data/v{self.version}/{path}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
        token: str | None = None,
    ) -> Reply:
        sent = {"Authorization": f"Bearer {token or self.token}", **(headers or {})}
        data: str | None = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.http.request(method, self.url(path), data=data, headers=sent) as response:
            return Reply(response.status, dict(response.headers), await response.text())

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("PATCH", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)
