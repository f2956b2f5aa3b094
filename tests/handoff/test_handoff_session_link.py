"""The Case link reaches the host in one write when the host can take several
metadata keys at once, and key by key when it cannot."""

from __future__ import annotations

from typing import Any

from handoff_support import case_id_of, converse

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.hookspecs import HostMetadataMany, set_metadata


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
