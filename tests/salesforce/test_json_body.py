"""Request bodies as UTF-8 JSON: any text reads back as written, lone
surrogates included, and a body's size is the sum of its texts' sizes whichever
encoder wrote it (the batcher budgets a request from its parts)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from opencx_salesforce.salesforce.json_body import json_bytes, json_size

# Every code point, lone surrogates too (hypothesis leaves them out by default).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(any_text, min_size=1, max_size=5))
def test_texts_read_back_as_written_and_sizes_add_up(texts: list[str]) -> None:
    body = json_bytes(texts)
    assert json.loads(body) == texts
    # "[", the texts, a comma between each two, "]".
    assert len(body) == 2 + len(texts) - 1 + sum(json_size(t) for t in texts)


def test_utf8_unless_a_lone_surrogate_forces_an_escape() -> None:
    assert json_bytes({"Subject": "Café 🇯🇵"}) == '{"Subject":"Café 🇯🇵"}'.encode()
    assert json_bytes(["Café", "half \ud83d"]) == '["Café","half \\ud83d"]'.encode()
