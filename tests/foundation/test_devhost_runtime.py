"""The reference host keeps the Host contract: sessions in the store, re-engage
with only the new messages, agent replies shown once, admin checks, isolation
between instances."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from foundation_support import ADMIN, ADMIN_TOKEN, StartHost, host_settings

from opencx_salesforce.devhost import DevHost
from opencx_salesforce.hookspecs import Host, hookimpl
from opencx_salesforce.models import Contact, HandoffReason, Message, Role, Session, SessionStatus


class Recorder:
    """A plugin that keeps what the host tells it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.host: Host | None = None

    @hookimpl
    def plugin_started(self, host: Host) -> None:
        self.host = host

    @hookimpl
    def on_handoff(self, session: Session, reason: HandoffReason) -> None:
        self.calls.append(("on_handoff", {"session": session, "reason": reason}))

    @hookimpl
    async def on_contact_reengage(self, session: Session, messages: list[Message]) -> None:
        await asyncio.sleep(0)
        self.calls.append(("on_contact_reengage", {"session": session, "messages": messages}))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


async def test_host_satisfies_the_protocol_and_plugins_get_it(start_host: StartHost) -> None:
    recorder = Recorder()
    host = await start_host(plugins={"recorder": recorder})
    assert isinstance(host, Host)
    assert recorder.host is host
    # Without a configured public_url, it is the real listen address.
    assert host.public_url == host.base_url
    assert host.public_url.startswith("http://127.0.0.1:")


async def test_contact_writing_after_handoff_reengages_with_only_the_new_message(
    start_host: StartHost,
) -> None:
    recorder = Recorder()
    host = await start_host(plugins={"recorder": recorder})
    session = await host.create_session(contact=Contact(email="ada@example.com"), topic="Refund")
    await host.post_message(session.id, Role.CONTACT, "first")
    await host.post_message(session.id, Role.BOT, "I can't, handing you over")
    assert recorder.names() == []  # not handed off yet: nothing to re-engage

    await host.handoff(session.id, HandoffReason(code="refund"))
    await host.post_message(session.id, Role.BOT, "a rep will answer soon")
    new = await host.post_message(session.id, Role.CONTACT, "any news?")

    assert recorder.names() == ["on_handoff", "on_contact_reengage"]
    args = recorder.calls[1][1]
    assert args["messages"] == [new]
    assert isinstance(args["session"], Session)
    assert [m.text for m in args["session"].messages] == [
        "first",
        "I can't, handing you over",
        "a rep will answer soon",
        "any news?",
    ]


async def test_after_resolution_the_contact_reopens_without_reengage(start_host: StartHost) -> None:
    recorder = Recorder()
    host = await start_host(plugins={"recorder": recorder})
    session = await host.create_session()
    await host.handoff(session.id)
    await host.resolve_session(session.id)
    await host.post_message(session.id, Role.CONTACT, "hello again")
    reopened = await host.get_session(session.id)
    assert reopened is not None and reopened.status is SessionStatus.OPEN
    assert recorder.names() == ["on_handoff"]
    # A new handoff from there is a handoff again (the plugin makes a new Case).
    await host.handoff(session.id)
    assert recorder.names() == ["on_handoff", "on_handoff"]


async def test_deliver_agent_message_shows_each_record_once(start_host: StartHost) -> None:
    host = await start_host(plugins={})
    session = await host.create_session()
    await host.deliver_agent_message(session.id, "Refund issued", "Rita Rep", "00a000000000001")
    await host.deliver_agent_message(session.id, "Refund issued", "Rita Rep", "00a000000000001")
    await host.deliver_agent_message(session.id, "Anything else?", "Rita Rep", "00a000000000002")
    stored = await host.get_session(session.id)
    assert stored is not None
    assert [(m.role, m.text, m.author, m.external_id) for m in stored.messages] == [
        (Role.AGENT, "Refund issued", "Rita Rep", "00a000000000001"),
        (Role.AGENT, "Anything else?", "Rita Rep", "00a000000000002"),
    ]


async def test_two_hosts_on_one_store_deliver_a_record_once_and_keep_every_write(
    start_host: StartHost, tmp_path: Path
) -> None:
    # Two instances, each with its own connection to one SQLite file, as two
    # processes would have: their reads and writes really interleave.
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = await start_host(plugins={}, store=None, settings=host_settings(store_url=url))
    second = await start_host(plugins={}, store=None, settings=host_settings(store_url=url))
    session = await first.create_session()
    # A webhook on one instance and the sweep on the other bring the same reply,
    # while both write metadata: every compare-and-set race has one winner.
    await asyncio.gather(
        *(
            host.deliver_agent_message(session.id, "Hi", "Rita", "00a000000000009")
            for host in (first, second, first, second)
        ),
        first.set_session_metadata(session.id, "salesforce_case_id", "500000000000001"),
        second.set_session_metadata(session.id, "seen_by", "second"),
    )
    stored = await second.get_session(session.id)
    assert stored is not None
    assert [m.external_id for m in stored.messages] == ["00a000000000009"]
    assert stored.metadata == {"salesforce_case_id": "500000000000001", "seen_by": "second"}


async def test_hosts_share_nothing_but_their_store(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    one = await start_host(plugins={"recorder": Recorder()})
    other = await start_host(plugins={"recorder": Recorder()})
    created = await one.create_session(topic="only on one")
    assert await other.get_session(created.id) is None
    async with http.get(f"{other.base_url}/api/sessions", headers=ADMIN) as response:
        assert await response.json() == []
    async with http.get(f"{one.base_url}/api/sessions", headers=ADMIN) as response:
        assert [s["topic"] for s in await response.json()] == ["only on one"]
    assert one.plugin_manager is not other.plugin_manager


async def test_plugin_config_is_the_raw_section_and_a_copy(start_host: StartHost) -> None:
    section = {"dev_mode": True, "priority_map": {"urgent": "High"}}
    host = await start_host(
        plugins={"salesforce": object()}, plugin_sections={"salesforce": section}
    )
    config = host.plugin_config("salesforce")
    assert config == section
    config["priority_map"]["urgent"] = "Low"
    assert host.plugin_config("salesforce")["priority_map"] == {"urgent": "High"}
    assert host.plugin_config("other") == {}


async def test_is_admin_refuses_without_the_token(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    host = await start_host(plugins={})
    assert not host.is_admin(make_mocked_request("GET", "/"))
    wrong = {"Authorization": "Bearer not-the-token"}
    assert not host.is_admin(make_mocked_request("GET", "/", headers=wrong))
    assert host.is_admin(make_mocked_request("GET", "/", headers=ADMIN))

    for headers in ({}, wrong, {"Authorization": f"Basic {ADMIN_TOKEN}"}):
        async with http.get(f"{host.base_url}/api/sessions", headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["error"] == "unauthorized"
            assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_browser_login_sets_a_cookie_that_makes_an_admin(start_host: StartHost) -> None:
    host = await start_host(plugins={})
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{host.base_url}/admin/login") as response:
            assert response.status == 200
            assert 'name="token"' in await response.text()
        form = {"token": "wrong", "next": "/api/sessions"}
        async with browser.post(f"{host.base_url}/admin/login", data=form) as response:
            assert response.status == 401
        async with browser.get(f"{host.base_url}/api/sessions") as response:
            assert response.status == 401

        form = {"token": ADMIN_TOKEN, "next": "https://evil.example/steal"}
        async with browser.post(
            f"{host.base_url}/admin/login", data=form, allow_redirects=False
        ) as response:
            assert response.status == 303
            # Never sent off-site after login.
            assert response.headers["Location"] == "/admin/"
            cookie = response.cookies["opencx_admin"]
            assert cookie["httponly"] and cookie["samesite"] == "Lax"
        async with browser.get(f"{host.base_url}/api/sessions") as response:
            assert response.status == 200

        async with browser.get(f"{host.base_url}/admin/") as response:
            page = await response.text()
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None, page
        async with browser.post(
            f"{host.base_url}/admin/logout", data={"csrf": csrf[1]}
        ) as response:
            assert response.status == 200  # followed to the login form
        async with browser.get(f"{host.base_url}/api/sessions") as response:
            assert response.status == 401


async def test_a_forged_cookie_is_refused(start_host: StartHost) -> None:
    host = await start_host(plugins={})
    for value in ("9999999999.deadbeef", "garbage", "1.00"):
        request = make_mocked_request("GET", "/", headers={"Cookie": f"opencx_admin={value}"})
        assert not host.is_admin(request)


async def test_api_errors_are_clear_json(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    host = await start_host(plugins={"recorder": Recorder()})
    api = f"{host.base_url}/api/sessions"

    async with http.post(api, data="{not json", headers=ADMIN) as response:
        assert response.status == 400
        assert "not JSON" in (await response.json())["message"]
    async with http.post(api, json={"chanel": "email"}, headers=ADMIN) as response:
        assert response.status == 400
        body = await response.json()
        assert body["problems"][0]["field"] == "chanel"
    async with http.post(api, json={"channel": "fax"}, headers=ADMIN) as response:
        assert response.status == 400
        assert (await response.json())["problems"][0]["field"] == "channel"
    async with http.get(f"{api}/s_missing", headers=ADMIN) as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"
    message = {"role": "contact", "text": "hi"}
    async with http.post(f"{api}/s_missing/messages", json=message, headers=ADMIN) as response:
        assert response.status == 404

    async with http.post(api, json={}, headers=ADMIN) as response:
        session_id = (await response.json())["id"]
    async with http.post(
        f"{api}/{session_id}/messages", json={"role": "contact", "text": ""}, headers=ADMIN
    ) as response:
        assert response.status == 400
        assert (await response.json())["problems"][0]["field"] == "text"
    async with http.post(f"{api}/{session_id}/handoff", headers=ADMIN) as response:
        assert response.status == 200  # an empty body: the default reason
    async with http.post(f"{api}/{session_id}/handoff", headers=ADMIN) as response:
        assert response.status == 409
        assert "already handed off" in (await response.json())["message"]


async def test_get_session_over_http_shows_messages_and_metadata(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    host = await start_host(plugins={})
    session = await host.create_session(topic="Billing")
    await host.set_session_metadata(session.id, "salesforce_case_id", "500000000000123")
    await host.deliver_agent_message(session.id, "Hello", "Rita", "00a000000000003")
    async with http.get(f"{host.base_url}/api/sessions/{session.id}", headers=ADMIN) as response:
        body = await response.json()
    assert body["metadata"] == {"salesforce_case_id": "500000000000123"}
    assert [(m["role"], m["author"]) for m in body["messages"]] == [("agent", "Rita")]


async def test_healthz_is_open(start_host: StartHost, http: aiohttp.ClientSession) -> None:
    host = await start_host(plugins={})
    async with http.get(f"{host.base_url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_sessions_outlive_a_restart_in_the_store_the_host_opens(tmp_path: Path) -> None:
    settings = host_settings(store_url=f"sqlite:///{tmp_path / 'host.db'}")
    host = DevHost(settings, plugins={})
    await host.start(host="127.0.0.1", port=0)
    try:
        session = await host.create_session(topic="kept")
    finally:
        await host.stop()
    async with aiohttp.ClientSession() as http:  # stopped: the port is closed
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{host.base_url}/healthz")

    restarted = DevHost(settings, plugins={})
    await restarted.start(host="127.0.0.1", port=0)
    try:
        assert await restarted.get_session(session.id) == session
    finally:
        await restarted.stop()
