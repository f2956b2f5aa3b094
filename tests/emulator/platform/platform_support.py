"""Small helpers for the platform-behaviour tests: Cases, comments and emails made
over REST, the rep's routes, and queryAll."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from emulator_support import Reply, RestCaller


async def created(rest: RestCaller, sobject: str, **fields: Any) -> str:
    reply = await rest.post(f"sobjects/{sobject}", fields)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


async def a_case(rest: RestCaller, **fields: Any) -> str:
    body: dict[str, Any] = {"Subject": "Printer on fire", "SuppliedEmail": "cust@example.com"}
    body.update(fields)
    return await created(rest, "Case", **body)


async def an_email(rest: RestCaller, case_id: str, **fields: Any) -> str:
    body: dict[str, Any] = {
        "ParentId": case_id,
        "Incoming": False,
        "Subject": "Re: Printer on fire",
        "TextBody": "Hello",
        "ToAddress": "cust@example.com",
        "Status": "3",
    }
    body.update(fields)
    return await created(rest, "EmailMessage", **body)


async def rep(rest: RestCaller, case_id: str, action: str, **body: Any) -> tuple[int, Any]:
    url = f"{rest.base_url}/_emulator/orgs/{rest.org.id}/cases/{case_id}/{action}"
    async with rest.http.post(url, json=body) as response:
        return response.status, await response.json()


async def query_all(rest: RestCaller, soql: str) -> list[dict[str, Any]]:
    reply = await rest.get(f"queryAll?q={quote(soql)}")
    assert reply.status == 200, reply.body
    return list(reply.body["records"])


def only_error(reply: Reply) -> dict[str, Any]:
    [error] = reply.body
    return dict(error)
