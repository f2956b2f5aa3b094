"""The pages: the list of orgs and Cases, and one Case with its comments marked
Public or Internal and the rep's forms (plain HTML posts that redirect back)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from emulator_support import RestCaller
from rep_support import act, opencx_case

from opencx_salesforce.emulator.rep import Rep


async def page(rest: RestCaller, path: str) -> tuple[int, str, dict[str, str]]:
    async with rest.http.get(f"{rest.base_url}{path}") as response:
        return response.status, await response.text(), dict(response.headers)


def case_path(rest: RestCaller, case_id: str) -> str:
    return f"/_emulator/orgs/{rest.org.id}/cases/{case_id}"


async def test_the_index_lists_every_case(rest: RestCaller) -> None:
    case_id = await opencx_case(rest, Subject="Toner <everywhere>")
    status, html, headers = await page(rest, "/_emulator/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert rest.org.seed.name in html and rest.org.id in html
    assert "00001000" in html and case_path(rest, case_id) in html
    assert "Toner &lt;everywhere&gt;" in html and "<everywhere>" not in html
    assert "OpenCX" in html and "New" in html and "Web" in html
    async with rest.http.get(f"{rest.base_url}/_emulator", allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (303, "/_emulator/")


async def test_the_case_page_marks_public_and_internal_comments(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    await act(rest, case_id, "reply", text="Public words <b>bold?</b>")
    await act(rest, case_id, "note", text="Internal words")
    status, html, _ = await page(rest, case_path(rest, case_id))
    assert status == 200
    entries = re.findall(r'<li class="entry (public|internal)">(.*?)</li>', html, re.S)
    assert [kind for kind, _ in entries] == ["public", "internal"]
    public, internal = (body for _, body in entries)
    assert '<span class="badge public">Public</span>' in public and "Public words" in public
    assert (
        '<span class="badge internal">Internal</span>' in internal and "Internal words" in internal
    )
    assert "Riley Rep" in public
    assert "&lt;b&gt;bold?&lt;/b&gt;" in public and "<b>bold?</b>" not in html
    # Every field, custom ones included.
    for name in ("Case_From__c", "OpenCX_Session_Id__c", "SuppliedEmail", "CaseNumber"):
        assert f'<div class="mono muted">{name}</div>' in html
    assert "sess_0001" in html


async def test_the_case_page_shows_emails(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    await act(rest, case_id, "email", text="Shipping today")
    _, html, _ = await page(rest, case_path(rest, case_id))
    assert 'class="entry outgoing"' in html and "Re: Printer on fire" in html
    assert "Riley Rep &lt;rep@acme.example&gt;" in html and "casey@example.com" in html


async def test_a_form_post_acts_and_redirects_back(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    url = f"{rest.base_url}{case_path(rest, case_id)}/reply"
    form = {"text": "Sent from the page", "user": "admin@acme.example", "public": "true"}
    async with rest.http.post(
        url, data=form, headers={"Origin": rest.base_url}, allow_redirects=False
    ) as response:
        assert response.status == 303
        location = urlsplit(response.headers["Location"])
    assert location.path == case_path(rest, case_id)
    assert parse_qs(location.query) == {"notice": ["Reply saved."], "as": ["admin@acme.example"]}
    [comment] = rest.org.records["CaseComment"].values()
    assert comment["CreatedById"] == rest.org.user_id_for("admin@acme.example")

    status, html, _ = await page(rest, f"{location.path}?{location.query}")
    assert status == 200
    assert "Reply saved." in html and "Sent from the page" in html
    assert '<option value="admin@acme.example" selected>' in html

    # An error comes back to the page too.
    form = {"text": "x" * 4001, "user": "rep@acme.example"}
    async with rest.http.post(url, data=form, allow_redirects=False) as response:
        assert response.status == 303
        assert "data+value+too+large" in response.headers["Location"]


async def test_a_form_post_from_another_site_is_refused(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    url = f"{rest.base_url}{case_path(rest, case_id)}/close"
    async with rest.http.post(
        url, data={"user": "rep@acme.example"}, headers={"Origin": "https://evil.example"}
    ) as response:
        assert response.status == 403
    assert rest.org.records["Case"][case_id]["IsClosed"] is False


async def test_a_text_plain_post_from_another_site_is_refused_on_every_control(
    rest: RestCaller,
) -> None:
    """A browser sends another site's text/plain POST without asking first: it
    put a rep's reply in the contact's chat, and could re-point the webhook."""
    case_id = await opencx_case(rest)
    org = f"{rest.base_url}/_emulator/orgs/{rest.org.id}"
    forged = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    reply = '{"text": "Confirm your card at https://evil.example", "public": true}'
    for url, body in (
        (f"{rest.base_url}{case_path(rest, case_id)}/reply", reply),
        (f"{org}/faults", '{"api": {"latency_ms": 5000}}'),
    ):
        async with rest.http.post(url, data=body, headers=forged) as response:
            assert response.status == 403, url
            assert "cross-origin" in (await response.json())["error"]
    assert not [
        c for c in rest.org.records.get("CaseComment", {}).values() if c["ParentId"] == case_id
    ]
    assert rest.org.faults.latency_ms == 0
    # The same request from a script (no Origin) is the emulator's API as before.
    async with rest.http.post(f"{org}/faults", json={"api": {"latency_ms": 0}}) as response:
        assert response.status == 200


async def test_unknown_case_page_is_404(rest: RestCaller) -> None:
    status, _, _ = await page(rest, f"/_emulator/orgs/{rest.org.id}/cases/500000000000000AAA")
    assert status == 404
    Rep(rest.org)  # the org itself is fine
