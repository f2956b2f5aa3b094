"""docs/emulator-api.md's examples, run in order against a live emulator: each
request is sent as written, and the answer must be the one the page shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import default_org

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator-api.md"
HTTP_BLOCK = re.compile(r"^```http\n(.*?)^```", re.MULTILINE | re.DOTALL)
ANY = re.compile(r"^<(\w+)>$")


def examples() -> list[tuple[str, str]]:
    """(request, response) pairs, in the page's order."""
    blocks = HTTP_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    requests = [b for b in blocks if not b.startswith("HTTP/")]
    responses = [b for b in blocks if b.startswith("HTTP/")]
    assert len(requests) == len(responses), "every request needs its response, in order"
    pairs = list(zip(blocks[0::2], blocks[1::2], strict=True))
    for request, response in pairs:
        assert not request.startswith("HTTP/") and response.startswith("HTTP/"), request
    return pairs


def split(block: str) -> tuple[str, dict[str, str], str]:
    head, _, body = block.partition("\n\n")
    first, *header_lines = head.strip().splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    return first, headers, body.strip()


def fill(text: str, names: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: names.get(m.group(1), m.group(0)), text)


def match(expected: Any, actual: Any, names: dict[str, str], where: str) -> None:
    if isinstance(expected, str) and (any_value := ANY.match(expected)):
        if isinstance(actual, str):
            names.setdefault(any_value.group(1), actual)
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), (where, actual)
        for key, value in expected.items():
            match(value, actual[key], names, f"{where}.{key}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (where, actual)
        for n, (e, a) in enumerate(zip(expected, actual, strict=True)):
            match(e, a, names, f"{where}[{n}]")
        return
    if isinstance(expected, str):
        expected = fill(expected, names)
    assert actual == expected, (where, actual, expected)


def test_every_action_of_the_page_has_an_example() -> None:
    paths = {split(request)[0].split()[1].rsplit("/", 1)[-1] for request, _ in examples()}
    for action in (
        "package", "reply", "note", "email", "draft", "send", "publish",
        "status", "close", "reopen", "merge", "delete", "faults", "stats", "webhooks",
    ):  # fmt: skip
        assert action in paths, f"docs/emulator-api.md has no example of {action}"


async def test_the_examples_run_against_a_live_emulator() -> None:
    emulator = Emulator()
    base = await emulator.start()
    try:
        org = emulator.state.add_org(default_org())
        names = {
            "orgId": org.id,
            "caseId": org.create(
                "Case", {"Subject": "Parcel never arrived", "SuppliedEmail": "jane@example.com"}
            ),
            "otherCaseId": org.create(
                "Case", {"Subject": "The same parcel", "SuppliedEmail": "jane@example.com"}
            ),
        }
        async with aiohttp.ClientSession() as http:
            for request, response in examples():
                line, headers, body = split(fill(request, names))
                method, path = line.split()
                status_line, _, expected_body = split(response)
                expected_status = int(status_line.split()[1])
                async with http.request(
                    method, base + path, data=body.encode() or None, headers=headers
                ) as answer:
                    got = await answer.json()
                    assert answer.status == expected_status, (line, got)
                match(json.loads(expected_body), got, names, line)
    finally:
        await emulator.close()
