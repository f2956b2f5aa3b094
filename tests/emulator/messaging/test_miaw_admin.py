"""The Messaging knobs and deployments through the emulator's admin routes."""

from __future__ import annotations

from miaw_support import Agent


async def test_fault_knobs_are_set_checked_and_reset(agent: Agent) -> None:
    set_ = await agent.faults(sse_drop_after=20, sse_drops=5, duplicate_rate=0.5, no_agent=True)
    assert set_.status == 200
    assert set_.body["sse_drop_after"] == 20 and set_.body["sse_drops"] == 5
    for bad in (
        {"duplicate_rate": 2},
        {"routing_failure": "Nope"},
        {"sse_drop_after": -1},
        {"no_agent": "yes"},
        {"unknown": 1},
    ):
        refused = await agent.faults(**bad)
        assert refused.status == 400, bad
    reset = await agent.faults(reset=True, routing_failure="SubmissionError")
    assert reset.body["sse_drop_after"] == 0 and reset.body["no_agent"] is False
    assert reset.body["routing_failure"] == "SubmissionError"


async def test_deployments_are_seeded_added_and_checked(agent: Agent) -> None:
    async with agent.http.get(agent.url("/deployments")) as response:
        seeded = (await response.json())["deployments"]
    assert [(d["apiName"], d["deploymentType"]) for d in seeded] == [("OpenCX_Live_Chat", "api")]
    added = await agent.deployment(apiName="Second_Chat", queue="Billing", allowGuests=False)
    assert added.status == 200 and added.body["queue"] == "Billing"
    assert (await agent.deployment(apiName="9bad")).status == 400
    assert (await agent.deployment(apiName="X", deploymentType="fax")).status == 400
    assert (await agent.deployment(apiName="X", allowGuests="no")).status == 400


async def test_the_console_of_the_first_org_is_one_address_away(agent: Agent) -> None:
    async with agent.http.get(
        f"{agent.base_url}/_emulator/messaging", allow_redirects=False
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == f"/_emulator/orgs/{agent.org.id}/messaging/"
    async with agent.http.get(f"{agent.base_url}/_emulator/messaging") as page:
        assert page.status == 200
        assert "Agent console" in await page.text()
        assert "No conversation yet." in await page.text()
