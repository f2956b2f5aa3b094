"""Helpers for the rep's tests: the admin routes over HTTP, and a Case to work on."""

from __future__ import annotations

from typing import Any

from emulator_support import RestCaller


async def admin(rest: RestCaller, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    url = f"{rest.base_url}/_emulator/orgs/{rest.org.id}/{path}"
    async with rest.http.request(method, url, json=body) as response:
        return response.status, await response.json()


async def act(rest: RestCaller, case_id: str, action: str, **body: Any) -> tuple[int, Any]:
    return await admin(rest, "POST", f"cases/{case_id}/{action}", body)


async def opencx_case(rest: RestCaller, **fields: Any) -> str:
    body = {
        "Subject": "Printer on fire",
        "Origin": "Web",
        "SuppliedName": "Casey Customer",
        "SuppliedEmail": "casey@example.com",
        "Case_From__c": "opencx",
        "OpenCX_Session_Id__c": "sess_0001",
    }
    body.update(fields)
    reply = await rest.post("sobjects/Case", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


async def record(rest: RestCaller, sobject: str, record_id: str) -> dict[str, Any]:
    reply = await rest.get(f"sobjects/{sobject}/{record_id}")
    assert reply.status == 200, reply.body
    return dict(reply.body)
