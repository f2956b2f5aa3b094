"""``doctor`` on the live path: a token request proves the Messaging deployment,
and a deployment that is not a Custom Client, or a wrong API name, fails with
what to fix."""

from __future__ import annotations

import aiohttp
from live_stack import live_host, new_emulator
from live_support import Rep

from opencx_salesforce.doctor import diagnose
from opencx_salesforce.doctor.report import Status
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT


async def test_doctor_proves_the_messaging_deployment_with_a_token_request() -> None:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org)
    wrong = await live_host(emulator, org, live={"deployment": "No_Such_Deployment"})
    try:
        live = {r.id: r for r in (await diagnose(stack.runtime)).results}["live"]
        assert live.status is Status.OK, live
        assert DEFAULT_DEPLOYMENT in live.detail and "guest token" in live.detail

        refused = {r.id: r for r in (await diagnose(wrong.runtime)).results}["live"]
        assert refused.status is Status.FAIL and "deployment" in (refused.fix or "")

        async with aiohttp.ClientSession() as http:
            await Rep(http, emulator.base_url, org).deployment(
                apiName=DEFAULT_DEPLOYMENT, deploymentType="web"
            )
        not_custom = {r.id: r for r in (await diagnose(stack.runtime)).results}["live"]
        assert not_custom.status is Status.FAIL
        # The emulator refuses the token itself; the detail carries its reason.
        assert "Custom Client" in not_custom.detail
    finally:
        await wrong.host.stop()
        await stack.close()
