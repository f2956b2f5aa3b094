"""Two host instances on one real Redis take the same handoffs and the same
webhooks, with Salesforce failing now and then: one Case per contact, each reply
delivered once, each closure resolving its sessions once, and a contact who
writes after the close gets one new Case linked to the old one.

Beyond the handoff and reply suites' two-instance tests: everything goes over
HTTP to both hosts at once (the hosts' JSON APIs and the webhook route), the same
contact is handed off from both hosts in two conversations at the same moment,
Salesforce answers 500s and UNABLE_TO_LOCK_ROW at random, and the webhooks come
from the simulated package (duplicated, reordered), replayed to the other
instance as well, while both instances sweep.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from faults_clock_support import skewed
from faults_support import FAST_RETRIES, WATCH, HostApi, comment_bodies

from opencx_salesforce.apex import contract
from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.devhost.stack import start_host
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.package import ApexRuntime, Doorbell, deploy_package
from opencx_salesforce.emulator.rep import Rep
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.models import HandoffReason, Role
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.salesforce.errors import SalesforceError
from opencx_salesforce.store.base import ItemState, Store
from opencx_salesforce.store.redis import RedisStore

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "whsec_fault_suite_0123456789abcdef"
CONTACTS = 8  # each with two conversations handed off at the same moment
SEED = 11


@dataclass
class Instance:
    name: str
    host: DevHost
    plugin: SalesforcePlugin
    url: str
    api: HostApi
    delivered: Counter[tuple[str, str]]  # (session, record) -> deliver_agent_message calls

    @property
    def webhook_url(self) -> str:
        assert self.plugin.is_running
        return f"{self.url}/integrations/salesforce/webhook/{self.plugin.runtime.webhook_token}"


@dataclass
class Pair:
    emulator: Emulator
    org: Org
    a: Instance
    b: Instance
    http: aiohttp.ClientSession
    store: str = "Redis"  # what the two hosts share, for the summary line

    @property
    def both(self) -> tuple[Instance, Instance]:
        return self.a, self.b


def counting(host: DevHost, delivered: Counter[tuple[str, str]]) -> None:
    """Count what the plugin hands the host: the host itself would hide a second
    delivery (it dedupes by external_id), so the count is taken before it."""
    real = host.deliver_agent_message

    async def deliver(session_id: str, text: str, author: str, external_id: str) -> None:
        delivered[(session_id, external_id)] += 1
        await real(session_id, text, author, external_id)

    host.deliver_agent_message = deliver  # type: ignore[method-assign]


@asynccontextmanager
async def running_pair(
    http: aiohttp.ClientSession,
    stores: Sequence[Store],
    store: str,
    *,
    skews: Sequence[float] = (0.0, 0.0),
) -> AsyncIterator[Pair]:
    """Two reference hosts with the plugin, one on each of ``stores`` (which share
    what they hold), an emulator org, and host a connected; the caller opens and
    cleans up the stores. Shared by the Redis and PostgreSQL fault scenarios.
    ``skews``: how far each host's wall clock is off (seconds; see
    :mod:`faults_clock_support`, which the caller must have installed)."""
    emulator = Emulator()
    await emulator.start()
    org = emulator.state.add_org(default_org())
    WATCH.secret(SECRET, "webhook signing secret")
    settings = {**FAST_RETRIES, "webhook_signing_secret": SECRET}
    instances = []
    try:
        for name, shared, skew in zip("ab", stores, skews, strict=True):
            with skewed(skew):
                host, plugin, url = await start_host(
                    store=shared, emulator_url=emulator.base_url, plugin_settings=settings
                )
            delivered: Counter[tuple[str, str]] = Counter()
            counting(host, delivered)
            api = HostApi(http, url, host.settings.admin_token_value())
            instances.append(Instance(name, host, plugin, url, api, delivered))
        a, b = instances
        assert a.plugin.is_running
        emulator.state.auth.set_callback_urls(DEMO_CLIENT_ID, [a.plugin.runtime.redirect_uri])
        with skewed(skews[0]):
            await a.plugin.runtime.tokens.save_credentials(
                emulator.base_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
            )
            await a.plugin.runtime.tokens.connect_client_credentials()
        yield Pair(emulator, org, a, b, http, store)
    finally:
        for instance in instances:
            await instance.host.stop()
        await emulator.close()


@pytest.fixture
async def pair(http: aiohttp.ClientSession) -> AsyncIterator[Pair]:
    prefix = f"opencx-faults-{uuid.uuid4().hex[:12]}:"
    stores = [await RedisStore.open(REDIS_URL, prefix=prefix) for _ in range(2)]
    try:
        async with running_pair(http, stores, "Redis") as made:
            yield made
    finally:
        await forget(prefix)
        for store in stores:
            await store.close()


async def forget(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def settled(pair: Pair, timeout: float = 30.0) -> None:
    """The shared outbox has nothing waiting or running (dead letters would fail
    the test's checks)."""
    assert pair.a.plugin.is_running
    outbox = pair.a.plugin.runtime.outbox

    async def quiet() -> bool:
        return not [i for i in await outbox.items() if i.state is not ItemState.DEAD]

    await wait_for(quiet, timeout=timeout, what="the shared outbox to settle")


async def both_fire(pair: Pair, session_id: str, fire: Callable[[HostApi], Awaitable[Any]]) -> None:
    """The same request to both hosts at once (one wins, the other is told 409),
    and the losing host's plugin gets the hook anyway, as from a host that calls
    hooks at least once."""
    results = await asyncio.gather(*(fire(i.api) for i in pair.both), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1, results
    session = await pair.a.host.get_session(session_id)
    assert session is not None
    reason = HandoffReason(code="requested")
    await asyncio.gather(*(i.plugin.on_handoff(session=session, reason=reason) for i in pair.both))


def handoff_of(session_id: str) -> Callable[[HostApi], Awaitable[Any]]:
    async def handoff(api: HostApi) -> Any:
        return await api.handoff(session_id)

    return handoff


async def replay(pair: Pair, runtime: ApexRuntime, sent: set[int]) -> int:
    """Every doorbell the package rang (to instance a), rung again to both
    instances, signed as the Apex signs. Returns how many calls were made."""
    calls = []
    for n, record in enumerate(list(runtime.log)):
        if n in sent:
            continue
        sent.add(n)
        stamp = datetime.now(UTC).strftime(contract.OCCURRED_AT_STRFTIME)
        body = Doorbell(record.event, record.case_id, record.record_id, stamp).body(pair.org.id)
        calls += [ring(pair.http, instance.webhook_url, body) for instance in pair.both]
    answers = await asyncio.gather(*calls)
    # The same signed call to both instances within one second is one call and
    # its replay: the shared replay cache refuses the second copy (409).
    assert set(answers) <= {202, 409}, Counter(answers)
    return len(answers)


async def ring_event(
    pair: Pair, instance: Instance, event: str, case_id: str, record_id: str
) -> int:
    stamp = datetime.now(UTC).strftime(contract.OCCURRED_AT_STRFTIME)
    body = Doorbell(event, case_id, record_id, stamp).body(pair.org.id)
    return await ring(pair.http, instance.webhook_url, body)


async def ring(http: aiohttp.ClientSession, url: str, body: str) -> int:
    stamp = str(int(time.time()))
    headers = {
        contract.HEADER_CONTENT_TYPE: contract.CONTENT_TYPE_JSON,
        contract.HEADER_TIMESTAMP: stamp,
        contract.HEADER_SIGNATURE: contract.sign(SECRET, stamp, body),
    }
    async with http.post(url, data=body.encode(), headers=headers) as response:
        WATCH.seen("the webhook's answer", await response.text())
        return response.status


@pytest.mark.redis
async def test_two_instances_take_the_same_handoffs_and_webhooks_exactly_once(
    pair: Pair,
) -> None:
    rng = random.Random(SEED)
    org, a, b = pair.org, pair.a, pair.b
    runtime = deploy_package(org, a.webhook_url, SECRET)
    runtime.faults.duplicate_rate, runtime.faults.reorder = 0.5, True
    runtime.faults.delay_jitter_ms = 30.0
    runtime.faults.reseed(SEED)
    org.faults.error_rate, org.faults.error_kinds = 0.1, ("500", "lock")
    org.faults.latency_jitter_ms = 15.0
    org.faults.reseed(SEED)

    # --- handoffs: each contact in two conversations, one per host, at once ----------
    conversations: dict[str, list[str]] = {}  # contact email -> its two sessions
    texts: dict[str, list[str]] = {}  # session -> its messages
    for n in range(CONTACTS):
        email = f"twin{n}@example.com"
        for instance in (a, b):
            session_id = await instance.api.create_session(name=f"Twin {n}", email=email)
            lines = [f"[{instance.name}{n}-m{m}] my parcel" for m in range(3)]
            for m, line in enumerate(lines):
                await instance.api.post_message(session_id, "contact" if m != 1 else "bot", line)
            conversations.setdefault(email, []).append(session_id)
            texts[session_id] = lines
    await asyncio.gather(
        *(
            both_fire(pair, sid, handoff_of(sid))
            for sessions in conversations.values()
            for sid in sessions
        )
    )
    # The contacts write again, alternately through either host.
    for sessions in conversations.values():
        for sid in sessions:
            line = f"[{sid[-4:]}-again] still waiting"
            await rng.choice((a, b)).api.post_message(sid, "contact", line)
            texts[sid].append(line)
    await settled(pair)

    # One Case per contact, holding both conversations, every message once, in order.
    problems: list[str] = []
    case_of_contact: dict[str, str] = {}
    for email, sessions in conversations.items():
        linked = {(await a.api.session(s))["metadata"].get("salesforce_case_id") for s in sessions}
        if len(linked) != 1 or None in linked:
            problems.append(f"{email}: sessions on Cases {linked}")
            continue
        case_id = str(next(iter(linked)))
        case_of_contact[email] = case_id
        bodies = comment_bodies(org, case_id)
        joined = "\n".join(bodies)
        for body, count in Counter(bodies).items():
            if count > 1:
                problems.append(f"{email}: a comment written {count} times: {body[:60]!r}")
        for sid in sessions:
            positions = [joined.find(t) for t in texts[sid]]
            if -1 in positions or positions != sorted(positions):
                problems.append(f"{email}: conversation {sid} incomplete or out of order")
            problems += [f"{email}: {t!r} twice" for t in texts[sid] if joined.count(t) > 1]
    open_cases = Counter(str(c["Id"]) for c in org.rows("Case", False))
    assert not problems, "\n".join(problems)
    assert len(open_cases) == CONTACTS, f"{len(open_cases)} Cases for {CONTACTS} contacts"

    # --- replies: the rep answers on every Case; webhooks to both hosts -------------
    # Slow reads, so the notify jobs and sweeps of the two instances overlap.
    org.faults.error_rate, org.faults.latency_ms = 0.05, 20.0
    rep = Rep(org)
    replies: dict[str, list[str]] = {}  # case -> reply record ids, in order
    closing = list(case_of_contact.values())[: CONTACTS // 2]
    bells: list[Awaitable[int]] = []
    for case_id in case_of_contact.values():
        replies[case_id] = []
        for n in range(2):
            pair.emulator.state.clock.advance(1.0)
            record = rep.reply(case_id, f"Reply {n} on {case_id[-4:]}")
            replies[case_id].append(record)
            # Besides the package's call to a, the same doorbell to both, twice.
            for instance in (a, b, a, b):
                bells.append(
                    ring_event(pair, instance, contract.EVENT_CASE_COMMENT_CREATED, case_id, record)
                )
        rep.note(case_id, "Internal: courier contacted")  # never reaches the contact
        if case_id in closing:
            rep.close(case_id)
            bells.append(ring_event(pair, b, contract.EVENT_CASE_UPDATED, case_id, case_id))
    answers = await asyncio.gather(*bells, *(sweep(i) for i in pair.both), runtime.drain())
    # Copies of one signed call within its second are replays: the first copy is
    # accepted on whichever instance it reaches, the others refused (409).
    assert 202 in answers[: len(bells)] and set(answers[: len(bells)]) <= {202, 409}
    sent: set[int] = set()
    calls = len(bells) + await replay(pair, runtime, sent)  # every package call, again
    await settled(pair)
    await asyncio.gather(*(sweep(i) for i in pair.both))
    await settled(pair)

    delivered = a.delivered + b.delivered
    for email, case_id in case_of_contact.items():
        sessions = conversations[email]
        # Each reply once, all to the same conversation of the contact, in order.
        targets = {
            sid for sid in sessions for record in replies[case_id] if delivered[(sid, record)]
        }
        for record in replies[case_id]:
            times = sum(delivered[(sid, record)] for sid in sessions)
            if times != 1:
                problems.append(f"{email}: reply {record} delivered {times} times")
        if len(targets) != 1:
            problems.append(f"{email}: replies spread over {targets}")
        else:
            target = await a.host.get_session(next(iter(targets)))
            assert target is not None
            shown = [m.external_id for m in target.messages if m.role == Role.AGENT]
            if shown != replies[case_id]:
                problems.append(f"{email}: the contact sees {shown}, not {replies[case_id]}")
        for sid in sessions:
            status = (await a.api.session(sid))["status"]
            expected = "resolved" if case_id in closing else "handed_off"
            if status != expected:
                problems.append(f"{email}: session {sid} is {status}, expected {expected}")
    written = {record for records in replies.values() for record in records}
    stray = [key for key in delivered if key[1] not in written]
    assert not stray, f"delivered something that is not a public reply: {stray}"
    assert not problems, "\n".join(problems)

    # --- after the close: the contact writes again, a new Case linked to the old -----
    org.faults.error_rate = 0.1
    reopened = []
    for email in list(case_of_contact)[: CONTACTS // 2]:
        sid = conversations[email][-1]
        await b.api.post_message(sid, "contact", f"[{email}] it broke again")
        await both_fire(pair, sid, handoff_of(sid))
        reopened.append((email, sid))
    await settled(pair)
    for email, sid in reopened:
        new = (await a.api.session(sid))["metadata"].get("salesforce_case_id")
        children = [c for c in org.rows("Case", False) if c["ParentId"] == case_of_contact[email]]
        if len(children) != 1 or new != children[0]["Id"]:
            problems.append(f"{email}: {len(children)} follow-up Cases, session on {new}")
    assert not problems, "\n".join(problems)
    print(
        f"\ntwo instances on {pair.store}: contacts: {CONTACTS}, conversations: {len(texts)}, "
        f"handoff hooks fired: {len(texts) * 2} (+ {len(texts)} HTTP handoffs refused with 409), "
        f"cases: {len(list(org.rows('Case', False)))}, replies: "
        f"{sum(len(r) for r in replies.values())}, deliveries: {sum(delivered.values())}, "
        f"duplicate deliveries: {sum(n - 1 for n in delivered.values() if n > 1)}, "
        f"webhook calls: {runtime.counters.sent} from the package + {calls} replayed, "
        f"closed: {len(closing)}, follow-up Cases: {len(reopened)}"
    )


async def sweep(instance: Instance) -> None:
    """One whole reconciliation sweep by ``instance``, tried again while the other
    instance holds the sweep or Salesforce answers an error."""
    assert instance.plugin.is_running
    sweeper = instance.plugin.runtime.sweeper

    async def once() -> bool:
        try:
            return await sweeper.run_once() is not None
        except SalesforceError:
            return False

    await wait_for(once, what=f"a sweep by instance {instance.name}")
