"""Helpers for the live transport's tests: the rep's hands and the Messaging knobs
through the emulator's JSON routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from opencx_salesforce.emulator.org import Org

ATTRIBUTES = {
    "_firstName": "Ada",
    "_lastName": "Lovelace",
    "_email": "ada@example.com",
    "_subject": "Refund for order 4417",
    "OpencxSessionId": "s-1",
    "OpencxChannel": "chat",
    "OpencxLanguage": "en",
    "OpencxCaseId": "5005g00000AbCdEAAZ",
}


@dataclass
class Rep:
    http: aiohttp.ClientSession
    base_url: str
    org: Org

    def url(self, path: str) -> str:
        return f"{self.base_url}/_emulator/orgs/{self.org.id}/messaging{path}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.url(path), json=body) as response:
            answer = dict(await response.json())
            assert response.status == 200, answer
            return answer

    async def act(self, conversation_id: str, action: str, **body: Any) -> dict[str, Any]:
        return await self._post(f"/conversations/{conversation_id}/{action}", body)

    async def faults(self, **knobs: Any) -> dict[str, Any]:
        return await self._post("/faults", knobs)

    async def deployment(self, **fields: Any) -> dict[str, Any]:
        return await self._post("/deployments", fields)

    async def drop_streams(self) -> None:
        await self._post("/streams/drop", {})

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        async with self.http.get(self.url(f"/conversations/{conversation_id}")) as response:
            assert response.status == 200
            return dict(await response.json())
