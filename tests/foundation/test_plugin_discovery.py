"""A third-party plugin, installed as a distribution with an ``opencx`` entry point,
is found by the reference host, gets typed hook calls, and serves its routes."""

from __future__ import annotations

import sys

import aiohttp
import pluggy
import pytest
from foundation_support import ADMIN, InstallPlugin, StartHost, host_settings

from opencx_salesforce.devhost import DevHost, PluginLoadError, make_plugin_manager
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.hookspecs import hookimpl
from opencx_salesforce.models import Channel, HandoffReason, Role, Session, SessionStatus
from opencx_salesforce.plugin import SalesforcePlugin

RECORDING_PLUGIN = """
    import asyncio

    from aiohttp import web

    from opencx_salesforce import hookimpl

    calls = []

    class Plugin:
        @hookimpl
        async def on_handoff(self, session, reason):
            # Recorded only after an await: the call is seen only if the host awaits it.
            await asyncio.sleep(0)
            calls.append(("on_handoff", session, reason))

        @hookimpl
        def webhook_routes(self):
            async def hello(request):
                return web.json_response({"plugin": "thirdparty", "path": request.path})

            app = web.Application()
            app.router.add_get("/hello", hello)
            return app

    plugin = Plugin()
"""


async def test_installed_plugin_receives_a_typed_session_on_handoff(
    install_plugin: InstallPlugin, start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    module = install_plugin("thirdparty", RECORDING_PLUGIN)
    # Entry points are loaded (no plugins= given); the real Salesforce plugin is
    # installed too and must get along.
    host = await start_host(plugin_sections={"salesforce": {"dev_mode": True}})
    names = {name for name, _ in host.plugin_manager.list_name_plugin()}
    assert {"thirdparty", "salesforce"} <= names

    api = f"{host.base_url}/api/sessions"
    new = {
        "channel": "email",
        "contact": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "topic": "Refund for order 1234",
        "summary": "Wants a refund; the bot could not issue it.",
        "language": "en",
        "priority": "high",
        "metadata": {"plan": "pro"},
    }
    async with http.post(api, json=new, headers=ADMIN) as response:
        assert response.status == 201
        session_id = (await response.json())["id"]
    message = {"role": "contact", "text": "I want my money back"}
    async with http.post(f"{api}/{session_id}/messages", json=message, headers=ADMIN) as response:
        assert response.status == 201
    reason = {"code": "refund", "detail": "over the bot's limit"}
    async with http.post(f"{api}/{session_id}/handoff", json=reason, headers=ADMIN) as response:
        assert response.status == 200
        assert (await response.json())["status"] == "handed_off"

    calls = sys.modules[module].calls
    assert len(calls) == 1
    hook, session, got_reason = calls[0]
    assert hook == "on_handoff"
    assert isinstance(session, Session)
    assert session.id == session_id
    assert session.channel is Channel.EMAIL
    assert session.contact.email == "ada@example.com"
    assert session.contact.name == "Ada Lovelace"
    assert session.topic == "Refund for order 1234"
    assert session.priority == "high"
    assert session.metadata == {"plan": "pro"}
    assert session.status is SessionStatus.HANDED_OFF
    assert [(m.role, m.text) for m in session.messages] == [(Role.CONTACT, "I want my money back")]
    assert got_reason == HandoffReason(code="refund", detail="over the bot's limit")
    assert host.hook_errors == []


async def test_hook_webhook_routes_are_mounted_under_integrations_name(
    install_plugin: InstallPlugin, start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    install_plugin("thirdparty", RECORDING_PLUGIN)
    host = await start_host(plugin_sections={"salesforce": {"dev_mode": True}})
    async with http.get(f"{host.base_url}/integrations/thirdparty/hello") as response:
        assert response.status == 200
        assert await response.json() == {
            "plugin": "thirdparty",
            "path": "/integrations/thirdparty/hello",
        }
    assert "/integrations/thirdparty" in host.mounted_paths


async def test_host_plugins_setting_limits_what_is_loaded(install_plugin: InstallPlugin) -> None:
    install_plugin("thirdparty", RECORDING_PLUGIN)
    pm = make_plugin_manager(only=["thirdparty"])
    assert [name for name, _ in pm.list_name_plugin()] == ["thirdparty"]
    with pytest.raises(ConfigError, match=r"host\.plugins: no installed plugin named 'nope'"):
        make_plugin_manager(only=["nope"])


def test_misspelt_hookimpl_fails_loudly_naming_plugin_and_hook() -> None:
    class Typo:
        @hookimpl
        def on_handof(self, session: Session) -> None:
            raise AssertionError("never called")

    with pytest.raises(PluginLoadError) as caught:
        make_plugin_manager(load_entrypoints=False, plugins={"typo": Typo()})
    assert "plugin 'typo': unknown hook 'on_handof' (did you mean 'on_handoff'?)" in str(
        caught.value
    )


def test_misspelt_hookimpl_in_an_installed_plugin_fails_the_host(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        "typo",
        """
        from opencx_salesforce import hookimpl

        class Plugin:
            @hookimpl
            def plugin_startd(self, host):
                pass

        plugin = Plugin()
        """,
    )
    with pytest.raises(PluginLoadError, match="unknown hook 'plugin_startd'"):
        DevHost(host_settings())


def test_hook_add_hookspecs_is_historic_so_earlier_plugins_get_the_specs() -> None:
    class CaseFields:
        @hookimpl
        def salesforce_case_fields(self, session: Session) -> dict[str, str]:
            return {"Plan__c": "pro"}

    # Registered before the plugin that adds the spec: fine, add_hookspecs is
    # historic and check_pending runs once everything is in.
    pm = make_plugin_manager(
        load_entrypoints=False,
        plugins={"fields": CaseFields(), "salesforce": SalesforcePlugin()},
    )
    assert pm.hook.salesforce_case_fields(session=Session(id="s1"), fields={}) == [
        {"Plan__c": "pro"}
    ]
    # Without the plugin that specifies it, the same hook is an unknown hook.
    with pytest.raises(PluginLoadError, match="unknown hook 'salesforce_case_fields'"):
        make_plugin_manager(load_entrypoints=False, plugins={"fields": CaseFields()})


def test_hookimpl_with_an_argument_the_spec_lacks_fails_naming_the_plugin() -> None:
    class BadArgs:
        @hookimpl
        def on_handoff(self, session: Session, ticket: str) -> None:
            raise AssertionError("never called")

    with pytest.raises(PluginLoadError, match="plugin 'bad'") as caught:
        make_plugin_manager(load_entrypoints=False, plugins={"bad": BadArgs()})
    assert isinstance(caught.value.__cause__, pluggy.PluginValidationError)


async def test_a_failing_plugin_does_not_stop_the_others_and_is_recorded(
    start_host: StartHost, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    class Broken:
        @hookimpl
        def on_handoff(self) -> None:
            raise RuntimeError("boom")

    class Working:
        @hookimpl
        async def on_handoff(self, session: Session) -> None:
            seen.append(session.id)

    host = await start_host(plugins={"working": Working(), "broken": Broken()})
    session = await host.create_session(topic="t")
    handed = await host.handoff(session.id, HandoffReason(code="x"))
    assert handed.status is SessionStatus.HANDED_OFF
    assert seen == [session.id]
    [error] = host.hook_errors
    assert (error.plugin, error.hook, str(error.error)) == ("broken", "on_handoff", "boom")
    assert "plugin 'broken': hook on_handoff failed" in caplog.text


async def test_webhook_routes_that_is_a_coroutine_is_refused_and_recorded(
    start_host: StartHost,
) -> None:
    from aiohttp import web

    class AsyncRoutes:
        @hookimpl
        async def webhook_routes(self) -> web.Application:
            return web.Application()

    host = await start_host(plugins={"asyncroutes": AsyncRoutes()})
    assert host.mounted_paths == []
    [error] = host.hook_errors
    assert error.plugin == "asyncroutes" and "not a coroutine" in str(error.error)


async def test_hook_plugin_started_config_error_stops_the_start(start_host: StartHost) -> None:
    stopped: list[bool] = []

    class Strict:
        @hookimpl
        def plugin_started(self) -> None:
            raise ConfigError("strict.level: expected 1 to 3, got 9")

        @hookimpl
        def plugin_stopping(self) -> None:
            stopped.append(True)

    with pytest.raises(ConfigError, match=r"strict\.level"):
        await start_host(plugins={"strict": Strict()})
    assert stopped == [True]
