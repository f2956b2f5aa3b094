"""The demo's story: an admin connects the plugin through the real OAuth pages,
deploys the generated package, and a conversation goes from the bot to a
Salesforce Case and back, until the rep closes it.

Everything talks over HTTP as in production: the host calls the plugin's hooks,
the plugin calls the emulator's REST API, the emulator's simulated Apex package
calls the plugin's webhook, the rep acts through the emulator's rep actions.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from opencx_salesforce.demo.browser import Browser
from opencx_salesforce.demo.timeline import Step, Timeline
from opencx_salesforce.devhost.config import HostSettings
from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.devhost.waiting import WaitTimedOut, wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.models import Contact, HandoffReason, Role, Session, SessionStatus
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.runtime import ROUTE_PREFIX

ADMIN_USER, ADMIN_PASSWORD = "admin@acme.example", "admin-password"
REP_USER = "rep@acme.example"
WAIT = 15.0


class DemoFailed(Exception):
    pass


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = WAIT) -> Any:
    try:
        return await wait_for(check, timeout=timeout, what=what)
    except WaitTimedOut as exc:
        raise DemoFailed(str(exc)) from None


class Demo:
    def __init__(self, timeline: Timeline, *, workdir: Path | None = None) -> None:
        self.out = timeline
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.emulator = Emulator()
        self.org: Org | None = None
        self.host: DevHost | None = None
        self.plugin = SalesforcePlugin()
        self.admin_token = secrets.token_urlsafe(24)
        self.host_url = ""
        self.session_id = ""
        self.case_id = ""

    # --- the story -------------------------------------------------------------------
    def steps(self) -> list[tuple[str, Callable[[], Awaitable[list[str]]]]]:
        """The story, step by step (``demo --live`` tells another)."""
        return [
            ("Start the local Salesforce and the bot host with the plugin", self.start),
            ("Admin connects the plugin (OAuth: log in, Allow)", self.connect),
            ("Admin deploys the generated Salesforce package", self.deploy),
            ("Contact writes, the bot answers", self.converse),
            ("Bot hands off: a Case with the transcript", self.handoff),
            ("Rep replies on the Case: the contact gets it", self.rep_replies),
            ("Contact writes again: appended to the same Case", self.contact_again),
            ("Rep adds an internal note: not delivered", self.internal_note),
            ("Rep closes the Case: the conversation resolves", self.close),
        ]

    async def run(self) -> bool:
        for title, action in self.steps():
            before = self._calls()
            started = time.perf_counter()
            try:
                details = await action()
                ok = True
            except Exception as exc:  # the demo reports, then stops
                details, ok = [f"{type(exc).__name__}: {exc}"], False
            self.out.step(
                Step(title, ok, time.perf_counter() - started, self._calls() - before, details)
            )
            if not ok:
                return False
        return True

    def _calls(self) -> int:
        return 0 if self.org is None else int(sum(self.org.api_calls.by_endpoint.values()))

    async def start(self) -> list[str]:
        base = await self.emulator.start()
        self.org = self.emulator.state.add_org(default_org())
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="opencx-demo-")
            self._workdir = Path(self._tmp.name)
        db = self._workdir / "opencx-demo.db"
        self.host = DevHost(
            HostSettings(admin_token=self.admin_token, listen_port=0, store_url=f"sqlite:///{db}"),
            plugins={"salesforce": self.plugin},
            plugin_sections={"salesforce": self.plugin_section(base)},
        )
        self.host_url = await self.host.start(port=0)
        # The admin registers the plugin's Redirect URI on the Connected App.
        self.emulator.state.auth.set_callback_urls(DEMO_CLIENT_ID, [self._services.redirect_uri])
        return [f"Salesforce emulator: {base}", f"bot host: {self.host_url}", f"store: {db}"]

    def plugin_section(self, base: str) -> dict[str, Any]:
        """The host's ``[salesforce]`` table for this story (``base``: the emulator)."""
        return {"dev_mode": True, "login_url": base}

    @property
    def _services(self) -> Any:
        if not self.plugin.is_running:
            raise DemoFailed("the plugin did not start")
        return self.plugin.runtime

    async def connect(self) -> list[str]:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies on 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            browser = Browser(http)
            login = await browser.get(f"{self.host_url}/admin/login")
            await browser.submit(login, login.form(has_field="next"), {"token": self.admin_token})
            page = await browser.get(f"{self.host_url}{ROUTE_PREFIX}/admin")
            saved = await browser.submit(
                page,
                page.form(id="credentials-form"),
                {
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                    "login_choice": "custom",
                    "custom_login_url": self.emulator.base_url,
                },
            )
            sf_login = await browser.submit(saved, saved.form(id="connect-form"))
            allow = await browser.submit(
                sf_login,
                sf_login.form(id="login_form"),
                {"username": ADMIN_USER, "pw": ADMIN_PASSWORD},
                button="Login",
            )
            back = await browser.submit(allow, allow.form(id="approval_form"), button="save")
            if not back.url.startswith(self.host_url):
                raise DemoFailed(f"the sign-in did not come back to the host: {back.url}")
        status = await self._services.tokens.status()
        if str(status.state) != "connected":
            raise DemoFailed(f"not connected: {status.state} {status.reason or ''}")
        return [f"connected as {status.display_name} ({status.username}) to org {status.org_id}"]

    async def deploy(self) -> list[str]:
        assert self.org is not None
        apex = deploy_package(
            self.org,
            self._services.webhook_url,
            self._services.signing_secret,
            include_messaging=self._services.settings.live.configured,
        )
        apex.digest.start()  # scripts/apex/start-digest.apex
        return [
            f"Named Credential OpenCX_Integration → {self._services.webhook_url}",
            "digest started: the org lists changed Cases to the webhook every minute",
        ]

    async def converse(self) -> list[str]:
        assert self.host is not None
        session = await self.host.create_session(
            contact=Contact(name="Jane Doe", email="jane@example.com"),
            topic="Parcel marked delivered but never arrived",
            summary="Order #4711 shows delivered on 24 Nov; the customer has not received it "
            "and asks for a replacement.",
            language="en",
            priority="high",
        )
        self.session_id = session.id
        lines = [
            (Role.CONTACT, "Hi, my order #4711 says delivered but nothing came."),
            (Role.BOT, "Sorry to hear that. I can see the carrier marked it delivered yesterday."),
            (Role.CONTACT, "I was home all day. I'd like to talk to a person, please."),
        ]
        for role, text in lines:
            await self.host.post_message(session.id, role, text)
        return [f"{role.value}: {text}" for role, text in lines]

    async def handoff(self) -> list[str]:
        assert self.host is not None and self.org is not None
        await self.host.handoff(self.session_id, HandoffReason(code="requested"))

        async def linked() -> str | None:
            session = await self._session()
            value = session.metadata.get("salesforce_case_id")
            return str(value) if value else None

        self.case_id = await _until(linked, "the Case")
        case = self.org.get("Case", self.case_id) or {}
        comments = [r for r in self.org.rows("CaseComment", False) if r["ParentId"] == self.case_id]
        return [
            f"Case {case.get('CaseNumber')} ({self.case_id}): {case.get('Subject')}",
            f"Case_From__c = {case.get('Case_From__c')}, Priority = {case.get('Priority')}, "
            f"Origin = {case.get('Origin')}",
            f"{len(comments)} transcript comment(s)",
        ]

    async def rep_replies(self) -> list[str]:
        text = (
            "Hi Jane, I'm Riley. I've opened a claim with the carrier "
            "and a replacement ships today."
        )
        await self._rep("reply", {"text": text, "public": True})

        async def delivered() -> list[Any]:
            session = await self._session()
            return [m for m in session.messages if m.role == Role.AGENT]

        [message] = await _until(delivered, "the rep's reply to reach the contact")
        return [f"agent ({message.author}): {message.text}"]

    async def contact_again(self) -> list[str]:
        assert self.host is not None and self.org is not None
        before = self._comment_count()
        await self.host.post_message(self.session_id, Role.CONTACT, "Thank you! Tracking number?")

        async def appended() -> bool:
            return self._comment_count() > before

        await _until(appended, "the message to be appended")
        cases = [r for r in self.org.rows("Case", False)]
        return [f"comments on the Case: {before} → {self._comment_count()}; Cases: {len(cases)}"]

    async def internal_note(self) -> list[str]:
        await self._rep("note", {"text": "Carrier claim CL-99812 opened; check again Friday."})
        # The package does not ring for internal notes; the plugin's own
        # reconciliation sweep reads the Case and must leave the note alone.
        await self._services.sweeper.run_once()
        session = await self._session()
        agents = [m for m in session.messages if m.role == Role.AGENT]
        if len(agents) != 1:
            raise DemoFailed("the internal note reached the contact")
        return ["the contact still has exactly one agent message"]

    async def close(self) -> list[str]:
        await self._rep("close", {})

        async def resolved() -> bool:
            return (await self._session()).status == SessionStatus.RESOLVED

        await _until(resolved, "the conversation to resolve")
        return [f"session {self.session_id}: resolved"]

    # --- helpers -------------------------------------------------------------------------
    async def _session(self) -> Session:
        assert self.host is not None
        session = await self.host.get_session(self.session_id)
        if session is None:
            raise DemoFailed("the session disappeared")
        return session

    def _comment_count(self) -> int:
        assert self.org is not None
        return sum(1 for r in self.org.rows("CaseComment", False) if r["ParentId"] == self.case_id)

    async def _rep(self, action: str, body: dict[str, Any]) -> None:
        assert self.org is not None
        url = f"{self.emulator.base_url}/_emulator/orgs/{self.org.id}/cases/{self.case_id}/{action}"
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json={"user": REP_USER, **body}) as response,
        ):
            if response.status >= 300:
                raise DemoFailed(f"rep action {action} failed: {await response.text()}")

    def urls(self) -> list[str]:
        org = self.org.id if self.org else ""
        case_view = f"{self.emulator.base_url}/_emulator/orgs/{org}/cases/{self.case_id}"
        return [
            f"Inbox (host):           {self.host_url}/inbox/{self.session_id}",
            f"  sign in with token:   {self.admin_token}  at {self.host_url}/admin/login",
            f"Settings page (plugin): {self.host_url}{ROUTE_PREFIX}/admin",
            f"Case view (emulator):   {case_view}",
            f"All Cases (emulator):   {self.emulator.base_url}/_emulator/",
        ]

    async def close_all(self) -> None:
        if self.host is not None:
            await self.host.stop()
        await self.emulator.close()
        if self._tmp is not None:
            self._tmp.cleanup()
