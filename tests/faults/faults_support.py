"""Helpers of the fault suite (a uniquely named module: several test folders have
a ``conftest``).

* :class:`LeakWatch` collects every secret the suite's emulators issue or its
  configs hold, and every text the suite saw (logs, pages, host output), and
  says where a secret showed up.
* :class:`HostApi` drives a running reference host over HTTP, the way a bot
  framework would, keeping every answer for the leak scan.
* :func:`transcript_problems` checks a Case's comments against the messages of
  the conversation: each one present, exactly once, in order.
* :func:`connect_with_browser` connects the plugin by the OAuth web server flow
  through the host's own settings routes and the emulator's sign-in pages.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from opencx_salesforce.demo.browser import Browser, Page
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.runtime import OUTBOX_QUEUE
from opencx_salesforce.salesforce.secrets import mask
from opencx_salesforce.store.base import Store

PREFIX = "/integrations/salesforce"
ADMIN_TOKEN = "fault-suite-admin-token-0123456789"
SALESFORCE_ADMIN = ("admin@acme.example", "admin-password")
# The fast retries every fault test runs with: the policy is the same, the clock
# is shorter.
FAST_RETRIES: dict[str, Any] = {
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.5,
    # The tests run sweeps themselves; the background one runs at start only.
    "sweep_interval_seconds": 3600,
}
# Every namespace the plugin keeps state in (services.py, case_index.py,
# reply_ledger.py, cases.py, salesforce/secrets.py, admin/csrf.py).
PLUGIN_NAMESPACES = (
    "salesforce",
    "salesforce.cases",
    "salesforce.locks",
    "salesforce.state",
    "salesforce.describe",
    "salesforce.replies",
)


# --- secrets ----------------------------------------------------------------------------


@dataclass
class LeakWatch:
    """Secrets the suite knows of, and where they must never appear.

    Most secrets may appear nowhere. Some are shown to the admin by design (the
    webhook URL carries its token on the settings page and in status.json) and
    must only stay out of the logs: those are registered ``logs_only``."""

    secrets: dict[str, tuple[str, bool]] = field(default_factory=dict)  # value -> (what, logs only)
    texts_scanned: int = 0
    chars_scanned: int = 0
    pending: list[tuple[str, str, bool]] = field(default_factory=list)  # (where, text, is a log)

    def secret(self, value: str | None, what: str, *, logs_only: bool = False) -> None:
        # Short values (a port, "true") would match by accident; real secrets are long.
        if value and len(value) >= 12:
            self.secrets.setdefault(value, (what, logs_only))

    def seen(self, where: str, text: str, *, log: bool = False) -> None:
        self.pending.append((where, text, log))

    def counts(self) -> Counter[str]:
        """How many secrets of each kind are known."""
        return Counter(what for what, _ in self.secrets.values())

    def scan(self) -> list[str]:
        """Where a known secret showed up in the texts seen since the last scan
        (the secret itself masked); the texts are then let go."""
        leaks = []
        for where, text, is_log in self.pending:
            self.texts_scanned += 1
            self.chars_scanned += len(text)
            for value, (what, logs_only) in self.secrets.items():
                if (is_log or not logs_only) and value in text:
                    leaks.append(f"{what} {mask(value)} appears in {where}")
        self.pending.clear()
        return leaks


WATCH = LeakWatch()


# --- the host's JSON API ----------------------------------------------------------------


class HostError(Exception):
    """The host answered a driving request with an unexpected status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:300]}")
        self.status = status


class HostApi:
    """The reference host's JSON API (``devhost/api.py``) and the plugin's status,
    as a bot or a script calls them. Every answer is kept for the leak scan."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, admin_token: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {admin_token}"}

    async def call(
        self, method: str, path: str, body: Any = None, *, timeout: float = 10.0
    ) -> tuple[int, Any]:
        async with self.http.request(
            method,
            self.base_url + path,
            json=body,
            headers={**self._auth, "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            text = await response.text()
        WATCH.seen(f"the host's answer to {method} {path}", text)
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    async def _ok(self, method: str, path: str, body: Any = None) -> Any:
        status, data = await self.call(method, path, body)
        if status >= 300:
            raise HostError(status, json.dumps(data) if not isinstance(data, str) else data)
        return data

    async def create_session(
        self, *, name: str, email: str, topic: str = "My order never arrived"
    ) -> str:
        data = await self._ok(
            "POST",
            "/api/sessions",
            {
                "channel": "email",
                "contact": {"name": name, "email": email},
                "topic": topic,
                "summary": "The customer reports a parcel marked delivered that never came.",
                "language": "en",
            },
        )
        return str(data["id"])

    async def post_message(self, session_id: str, role: str, text: str) -> dict[str, Any]:
        data = await self._ok(
            "POST", f"/api/sessions/{session_id}/messages", {"role": role, "text": text}
        )
        return dict(data)

    async def handoff(self, session_id: str) -> dict[str, Any]:
        data = await self._ok(
            "POST",
            f"/api/sessions/{session_id}/handoff",
            {"code": "requested", "detail": "asked for a human"},
        )
        return dict(data)

    async def session(self, session_id: str) -> dict[str, Any]:
        return dict(await self._ok("GET", f"/api/sessions/{session_id}"))

    async def status(self) -> dict[str, Any]:
        """The plugin's admin status (``/admin/status.json``)."""
        return dict(await self._ok("GET", f"{PREFIX}/admin/status.json"))

    async def settings_page(self) -> str:
        async with self.http.get(
            f"{self.base_url}{PREFIX}/admin", headers={**self._auth, "Accept": "text/html"}
        ) as response:
            text = await response.text()
            assert response.status == 200, (response.status, text[:300])
        WATCH.seen("the settings page", text)
        return text


# --- what the org holds -----------------------------------------------------------------


def cases_by_session(org: Org, session_id_field: str = "OpenCX_Session_Id__c") -> Counter[str]:
    """How many live Cases carry each session id (the upsert key)."""
    return Counter(
        str(case[session_id_field]).split("~")[0]
        for case in org.rows("Case", False)
        if case.get(session_id_field)
    )


def case_for_session(org: Org, session_id: str) -> dict[str, Any] | None:
    found = [
        dict(c) for c in org.rows("Case", False) if c.get("OpenCX_Session_Id__c") == session_id
    ]
    assert len(found) <= 1, f"{len(found)} Cases for session {session_id}"
    return found[0] if found else None


def comment_bodies(org: Org, case_id: str) -> list[str]:
    """The Case's comment bodies in the order they were written."""
    return [
        str(c["CommentBody"]) for c in org.rows("CaseComment", False) if c["ParentId"] == case_id
    ]


@dataclass(frozen=True)
class TranscriptProblem:
    kind: str  # "comment twice", "missing", "repeated" or "out of order"
    text: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.text!r}"


def transcript_problems(texts: Sequence[str], bodies: Sequence[str]) -> list[TranscriptProblem]:
    """What is wrong with ``bodies`` (a Case's comments, in written order) as the
    record of ``texts`` (the conversation's messages, in order): a comment body
    written twice, a message missing, repeated, or out of order."""
    problems = [
        TranscriptProblem("comment twice", body[:80])
        for body, n in Counter(bodies).items()
        if n > 1
    ]
    joined = "\n\u241e\n".join(bodies)
    last = -1
    for text in texts:
        count = joined.count(text)
        if count == 0:
            problems.append(TranscriptProblem("missing", text))
            continue
        if count > 1:
            problems.append(TranscriptProblem("repeated", text))
        at = joined.find(text)
        if at < last:
            problems.append(TranscriptProblem("out of order", text))
        last = max(last, at)
    return problems


# --- the plugin's state in the store ----------------------------------------------------

# status.json's outbox once every job is done: nothing pending, dead or held.
EMPTY_OUTBOX = {
    "pending": 0,
    "dead": 0,
    "dead_letters": [],
    "pending_jobs": [],
    "outage": None,
}


async def plugin_state(store: Store) -> dict[str, Any]:
    """Everything the plugin keeps in ``store``: its keys and values, and its
    outbox."""
    state: dict[str, Any] = {}
    for ns in PLUGIN_NAMESPACES:
        for key in await store.keys(ns):
            state[f"{ns}/{key}"] = await store.get(ns, key)
    state["outbox"] = sorted(
        (item.item_id, str(item.state), item.attempts, item.last_error)
        for item in await store.items(OUTBOX_QUEUE)
    )
    return state


# --- connecting by the web server flow ----------------------------------------------------


async def connect_with_browser(
    host_url: str,
    *,
    admin_token: str,
    login_url: str,
    client_id: str,
    client_secret: str,
    username: str = SALESFORCE_ADMIN[0],
    password: str = SALESFORCE_ADMIN[1],
) -> dict[str, Any]:
    """What an admin does on the settings page, as a script: Save Credentials,
    Connect, then sign in on Salesforce's pages and Allow; Salesforce sends the
    browser back to the host's callback, which finishes the connection. Returns
    the plugin's status afterwards."""
    admin = {"Authorization": f"Bearer {admin_token}", "Accept": "application/json"}
    # The script sends no cookies (a bearer-only script needs no CSRF token); the
    # browser keeps its own, for 127.0.0.1 (the emulator's sign-in session).
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as script,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as pages,
    ):
        async with script.post(
            f"{host_url}{PREFIX}/admin/credentials",
            json={"client_id": client_id, "client_secret": client_secret, "login_url": login_url},
            headers=admin,
        ) as response:
            text = await response.text()
            assert response.status == 200, (response.status, text)
        WATCH.seen("Save Credentials' answer", text)
        async with script.post(
            f"{host_url}{PREFIX}/admin/connect", json={}, headers=admin
        ) as response:
            text = await response.text()
            assert response.status == 200, (response.status, text)
        WATCH.seen("Connect's answer", text)
        browser = Browser(pages)
        page = await browser.get(json.loads(text)["url"])
        for _ in range(6):
            if urlsplit(page.url).netloc == urlsplit(host_url).netloc:
                break  # back at the host: its callback page
            page = await _sign_in_step(browser, page, username, password)
        WATCH.seen("the OAuth callback page", page.text)
        assert page.status == 200, (page.status, page.url, page.text[:500])
        async with script.get(f"{host_url}{PREFIX}/admin/status.json", headers=admin) as response:
            text = await response.text()
    WATCH.seen("status.json", text)
    status: dict[str, Any] = json.loads(text)
    return status


async def _sign_in_step(browser: Browser, page: Page, username: str, password: str) -> Page:
    forms = page.forms()
    login = next((f for f in forms if "pw" in f.fields), None)
    if login is not None:
        return await browser.submit(
            page, login, {"username": username, "pw": password}, button="Login"
        )
    approval = next((f for f in forms if "save" in f.buttons), None)
    if approval is not None:
        return await browser.submit(page, approval, button="save")
    chooser = next((f for f in forms if "continue" in f.buttons), None)
    if chooser is not None:
        return await browser.submit(page, chooser, button="continue")
    raise AssertionError(f"unexpected page in the sign-in: {page.url} {page.text[:300]}")


# --- conversations over the host's API --------------------------------------------------


@dataclass
class Talk:
    """A conversation the test drove, and every message text it wrote, in order."""

    tag: str
    session_id: str
    texts: list[str]


async def talk(api: HostApi, tag: str, *, messages: int = 3) -> Talk:
    """A new conversation with its own contact: the customer and the bot take turns."""
    session_id = await api.create_session(name=f"Customer {tag}", email=f"{tag}@example.com")
    texts = []
    for n in range(messages):
        text = f"[{tag}-m{n:02d}] " + ("my parcel is late" if n % 2 == 0 else "let me look")
        await api.post_message(session_id, "contact" if n % 2 == 0 else "bot", text)
        texts.append(text)
    return Talk(tag, session_id, texts)


async def write_again(api: HostApi, conversation: Talk) -> None:
    """The customer writes again after the handoff (a re-engagement)."""
    text = f"[{conversation.tag}-m{len(conversation.texts):02d}] any news?"
    await api.post_message(conversation.session_id, "contact", text)
    conversation.texts.append(text)


def case_problems(org: Org, conversations: Iterable[Talk]) -> list[str]:
    """Each conversation has exactly one Case holding every message once, in order."""
    per_session = cases_by_session(org)
    problems = []
    for conversation in conversations:
        count = per_session[conversation.session_id]
        if count != 1:
            problems.append(f"{conversation.session_id}: {count} Cases")
            continue
        case = case_for_session(org, conversation.session_id)
        assert case is not None
        bodies = comment_bodies(org, case["Id"])
        problems += [
            f"{conversation.session_id}: {p}"
            for p in transcript_problems(conversation.texts, bodies)
        ]
    return problems
