"""``doctor`` on the live path: a token request proves the Messaging deployment,
and a deployment that is not a Custom Client, or a wrong API name, fails with
what to fix."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep

from opencx_salesforce.doctor import diagnose
from opencx_salesforce.doctor.report import Status
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.emulator.state import EmulatorState
from opencx_salesforce.errors import ConfigError


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


async def test_the_packages_messaging_session_field_is_deployed_and_checked() -> None:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org)
    try:
        field = f"MessagingSession.{stack.runtime.settings.session_id_field}"
        before = {r.id: r for r in (await diagnose(stack.runtime)).results}["live_field"]
        assert before.status is Status.WARN and f"{field} is missing" in before.detail
        assert "OpencxSessionId" in (before.fix or "")

        async with aiohttp.ClientSession() as http:
            url = f"{emulator.base_url}/_emulator/orgs/{org.id}/package"
            body = {"webhookUrl": stack.runtime.webhook_url, "includeMessaging": True}
            async with http.post(url, json=body) as response:
                assert response.status == 200, await response.text()
        after = {r.id: r for r in (await diagnose(stack.runtime)).results}["live_field"]
        assert after.status is Status.OK and field in after.detail, after
        described = org.schema.objects["MessagingSession"].fields[
            stack.runtime.settings.session_id_field
        ]
        assert described.external_id and not described.unique
    finally:
        await stack.close()


def test_an_org_without_messaging_refuses_the_messaging_field() -> None:
    state = EmulatorState()
    org = state.add_org(replace(default_org(), messaging=False))
    with pytest.raises(ConfigError, match="MessagingSession"):
        deploy_package(org, "https://helpdesk.example/hook", None, include_messaging=True)
    deploy_package(org, "https://helpdesk.example/hook", None)  # the rest deploys
