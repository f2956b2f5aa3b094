"""The Case link reaches the host in one write when the host can take several
metadata keys at once, and key by key when it cannot; the plugin's index
learns a new Case in one store write."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handoff_support import case_id_of, converse

from opencx_salesforce.cases.index import APPEND_MARK_TTL, CaseIndex
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.hookspecs import HostMetadataMany, set_metadata
from opencx_salesforce.models import Role
from opencx_salesforce.salesforce.rotation import CONNECTION_KEY
from opencx_salesforce.salesforce.secrets import NAMESPACE
from opencx_salesforce.store import namespaces


async def test_host_set_session_metadata_many_makes_the_case_link_one_write(stack: Stack) -> None:
    host = stack.host
    assert isinstance(host, HostMetadataMany)
    writes: list[tuple[str, dict[str, Any]]] = []
    many, single = host.set_session_metadata_many, host.set_session_metadata

    async def counted_many(session_id: str, values: dict[str, Any]) -> None:
        writes.append(("many", dict(values)))
        await many(session_id, values)

    async def counted_single(session_id: str, key: str, value: Any) -> None:
        writes.append(("single", {key: value}))
        await single(session_id, key, value)

    setattr(host, "set_session_metadata_many", counted_many)  # noqa: B010
    setattr(host, "set_session_metadata", counted_single)  # noqa: B010
    session = await converse(host, texts=["hello", "hi"])
    await host.handoff(session.id)
    case_id = await case_id_of(host, session.id)

    assert [kind for kind, _ in writes] == ["many"]
    values = writes[0][1]
    assert values["salesforce_case_id"] == case_id
    assert values["salesforce_case_url"].endswith(f"/lightning/r/Case/{case_id}/view")


class KeyByKeyHost:
    """A host with only the required ``set_session_metadata``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    async def set_session_metadata(self, session_id: str, key: str, value: Any) -> None:
        self.calls.append((session_id, key, value))


async def test_a_host_without_many_gets_one_write_per_key() -> None:
    host = KeyByKeyHost()
    assert not isinstance(host, HostMetadataMany)
    await set_metadata(host, "s1", {"a": 1, "b": "two"})  # type: ignore[arg-type]
    assert host.calls == [("s1", "a", 1), ("s1", "b", "two")]


async def test_a_new_case_is_indexed_in_one_store_write(stack: Stack) -> None:
    """The session's Case, the contact's Case, the comments' Ids and the Case's
    entry: one ``set_many`` once the Case exists, no read-and-compare of an
    entry nobody else can know yet."""
    store = stack.host.store
    cases_ns = namespaces.CASES
    writes: list[tuple[str, list[str]]] = []
    set_many, compare_and_set = store.set_many, store.compare_and_set

    async def counted_set_many(ns: str, values: Mapping[str, bytes], **kw: Any) -> None:
        if ns == cases_ns:
            writes.append(("set_many", sorted(k.split(":")[0] for k in values)))
        await set_many(ns, values, **kw)

    async def counted_cas(ns: str, key: str, *args: Any, **kw: Any) -> bool:
        if ns == cases_ns:
            writes.append(("compare_and_set", [key.split(":")[0]]))
        return await compare_and_set(ns, key, *args, **kw)

    setattr(store, "set_many", counted_set_many)  # noqa: B010
    setattr(store, "compare_and_set", counted_cas)  # noqa: B010
    session = await converse(stack.host, texts=["hello", "hi"])
    await stack.host.handoff(session.id)
    case_id = await case_id_of(stack.host, session.id)

    async def indexed() -> bool:
        return await CaseIndex(store).session_case(session.id) is not None

    await wait_for(indexed, what="the index to know the session's Case")
    links = [w for w in writes if w[0] == "compare_and_set" or "session" in w[1]]
    # (owned: the comment Ids listed with the Case, for the retention pass.)
    assert links == [("set_many", ["case", "contact", "own", "owned", "session"])]
    entry = await CaseIndex(store).case(case_id)
    assert entry is not None and entry.sessions == [session.id]


async def test_the_case_url_costs_no_second_read_of_the_grant(stack: Stack) -> None:
    """The Case's URL is on the instance that answered the request that wrote
    the Case: a lone handoff reads the stored grant once, for that request,
    not again for the URL (on PostgreSQL each read is a statement)."""
    host = stack.host
    store = host.store
    session = await converse(host, texts=["hello", "hi"])
    grant_reads = 0
    get = store.get

    async def counted_get(ns: str, key: str) -> bytes | None:
        nonlocal grant_reads
        grant_reads += (ns, key) == (NAMESPACE, CONNECTION_KEY)
        return await get(ns, key)

    setattr(store, "get", counted_get)  # noqa: B010
    await host.handoff(session.id)
    case_id = await case_id_of(host, session.id)
    linked = await host.get_session(session.id)
    assert linked is not None

    assert grant_reads == 1
    url = linked.metadata["salesforce_case_url"]
    assert url == f"{stack.emulator.base_url}/lightning/r/Case/{case_id}/view"


async def test_an_appends_marks_expire_and_only_its_comment_ids_join_the_cases_list(
    stack: Stack,
) -> None:
    """An append lists its comments' Ids with the Case (the retention pass
    removes them with it) in one read-and-compare; its own marks (its number,
    that it landed) expire after 90 days instead of being listed."""
    host, store = stack.host, stack.host.store
    session = await converse(host, texts=["hello", "hi"])
    await host.handoff(session.id)
    case_id = await case_id_of(host, session.id)
    writes: list[tuple[str, str, float | None]] = []
    originals = {name: getattr(store, name) for name in ("set", "set_if_absent", "compare_and_set")}

    def counted(name: str) -> Any:
        async def write(ns: str, key: str, *args: Any, **kw: Any) -> Any:
            if ns == namespaces.CASES:
                writes.append((name, key.split(":")[0], kw.get("ttl")))
            return await originals[name](ns, key, *args, **kw)

        return write

    for name in originals:
        setattr(store, name, counted(name))
    await host.post_message(session.id, Role.CONTACT, "Any news about my parcel?")

    async def landed() -> bool:
        return any(kind == "append_landed" for _, kind, _ in writes)

    await wait_for(landed, what="the append to land")
    ttl = {kind: t for _, kind, t in writes}
    assert ttl["append_item"] == ttl["append_landed"] == APPEND_MARK_TTL == 90 * 86400.0
    assert [w for w in writes if w[1] == "owned"] == [("compare_and_set", "owned", None)]
    listed = await store.get(namespaces.CASES, f"owned:{case_id}")
    assert listed is not None and set(json.loads(listed)) == {"own"}
