"""What one handoff sends to Salesforce, planned before it is sent.

The Case upsert, its transcript comments (sObject Collections of up to 200
records, referencing ``@{refCase.id}``) and, for a contact not seen before, the
Contact lookup and the link to it, all planned as subrequests of one composite
request, which counts as one API call. [src: api_rest
resources_composite_composite_post.htm "The entire series of requests counts as a
single call toward your API limits"] Also here: reading back what landed, and
making sense of what Salesforce refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from opencx_salesforce.models import Contact
from opencx_salesforce.salesforce import json_body, soql, subrequests
from opencx_salesforce.salesforce.errors import ApiError, error_for_response
from opencx_salesforce.salesforce.subrequests import (
    COLLECTIONS_MAX_RECORDS,
    COMPOSITE_MAX_COLLECTIONS_OR_QUERIES,
    Subrequest,
    SubResponse,
)
from opencx_salesforce.settings import SalesforceSettings

# A handoff bigger than this goes alone as a composite request (its comments in
# sObject Collections of 200), not as a graph of one node per comment: it would
# crowd the other handoffs out of a payload's 500 nodes.
GRAPH_MAX_NODES_PER_HANDOFF = 100

# Salesforce's code for a record not written only because another record of the
# same all-or-none request failed. [src: api_rest resources_composite_sobjects_collections.htm,
# allOrNone] It says nothing about the record itself.
_ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def external_id_for(session_id: str, generation: int) -> str:
    """The Case's idempotency key: the session id (``~2``, ``~3``… for the Cases
    made after an earlier one closed)."""
    return session_id if generation == 1 else f"{session_id}~{generation}"


def comment_batches(bodies: int, lookup: bool) -> int:
    """How many sObject Collections of comments :func:`handoff_requests` plans
    for ``bodies`` (the rest are appended by a later call)."""
    slots = COMPOSITE_MAX_COLLECTIONS_OR_QUERIES - (1 if lookup else 0)
    return min(slots, -(-bodies // COLLECTIONS_MAX_RECORDS))


def handoff_requests(
    settings: SalesforceSettings,
    *,
    external_id: str,
    fields: Mapping[str, Any],
    bodies: Sequence[str],
    existing_case: str | None,
    lookup_for: Contact | None,
) -> tuple[list[Subrequest], list[str]]:
    """The subrequests of one handoff, and the reference ids of its comment
    batches (the bodies beyond them are appended by a later call)."""
    requests: list[Subrequest] = []
    if existing_case is None:
        field = settings.session_id_field
        requests.append(subrequests.upsert("Case", field, external_id, fields, ref="refCase"))
    parent_ref = existing_case or "@{refCase.id}"
    slots = COMPOSITE_MAX_COLLECTIONS_OR_QUERIES - (1 if lookup_for else 0)
    comment_refs: list[str] = []
    for n, start in enumerate(range(0, len(bodies), COLLECTIONS_MAX_RECORDS)):
        if n >= slots:
            break
        chunk = bodies[start : start + COLLECTIONS_MAX_RECORDS]
        ref = f"refComments{n}"
        records = comment_records(parent_ref, chunk, published=settings.publish_transcript)
        requests.append(subrequests.create_records(records, ref=ref, all_or_none=True))
        comment_refs.append(ref)
    if lookup_for is not None:
        requests.append(subrequests.query(contact_query(lookup_for), ref="refContact"))
        target = existing_case or "@{refCase.id}"
        link = {"ContactId": "@{refContact.records[0].Id}"}
        requests.append(subrequests.update("Case", target, link, ref="refLink"))
    return requests, comment_refs


def handoff_graph(
    settings: SalesforceSettings,
    *,
    external_id: str,
    fields: Mapping[str, Any],
    bodies: Sequence[str],
    existing_case: str | None,
) -> list[Subrequest] | None:
    """The same handoff as the nodes of one composite graph, or ``None`` when it
    cannot be one (nothing to write, or more nodes than :data:`GRAPH_MAX_NODES_PER_HANDOFF`).

    A graph node is one record: the Case upsert, then one CaseComment create per
    body referencing ``@{refCase.id}``; the whole graph lands or none of it does.
    Graph nodes are record operations only (no sObject Collections, no query), so
    the Contact lookup is not a node: the batch looks contacts up on its own.
    [src: api_rest resources_composite_graph_introduction.htm, the supported URLs]"""
    if existing_case is None and not bodies:
        return None
    if 1 + len(bodies) > GRAPH_MAX_NODES_PER_HANDOFF:
        return None
    nodes: list[Subrequest] = []
    parent = existing_case or "@{refCase.id}"
    if existing_case is None:
        field = settings.session_id_field
        nodes.append(subrequests.upsert("Case", field, external_id, fields, ref="refCase"))
    published = settings.publish_transcript
    for n, body in enumerate(bodies):
        record = {"ParentId": parent, "CommentBody": body, "IsPublished": published}
        nodes.append(subrequests.create("CaseComment", record, ref=f"refComment{n}"))
    return nodes or None


# What a graph node costs in JSON besides its texts: method, URL, reference id,
# the field names.
_NODE_OVERHEAD = 200


def json_size(nodes: Sequence[Subrequest]) -> int:
    """About how many bytes graph ``nodes`` take as JSON (see :func:`bodies_json_size`)."""
    return bodies_json_size([node.body or {} for node in nodes], _NODE_OVERHEAD)


def bodies_json_size(bodies: Sequence[Mapping[str, Any]], overhead: int) -> int:
    """About how many bytes ``bodies`` take as JSON: their texts exactly as the
    client encodes them (:func:`~opencx_salesforce.salesforce.json_body.json_size`:
    UTF-8, quotes, backslashes and control characters escaped), plus
    ``overhead`` for the rest of each."""
    size = overhead * len(bodies)
    for body in bodies:
        for value in body.values():
            if isinstance(value, str):
                size += json_body.json_size(value)
    return size


def contacts_query(contacts: Sequence[Contact]) -> str:
    """One query for the Contacts of several people (by email, else phone), most
    recently changed first: what :func:`contact_query` asks for each, at once."""
    emails = sorted({c.email.strip() for c in contacts if c.email})
    phones = sorted({c.phone.strip() for c in contacts if not c.email and c.phone})
    where = []
    if emails:
        where.append(f"Email IN ({', '.join(soql.literal(e) for e in emails)})")
    if phones:
        listed = ", ".join(soql.literal(p) for p in phones)
        where.append(f"Phone IN ({listed}) OR MobilePhone IN ({listed})")
    return (
        "SELECT Id, Email, Phone, MobilePhone FROM Contact "
        f"WHERE {' OR '.join(where)} ORDER BY LastModifiedDate DESC"
    )


def match_contacts(
    contacts: Sequence[Contact], records: Sequence[Mapping[str, Any]]
) -> list[str | None]:
    """For each contact, the Id :func:`contact_query` would find among
    ``records`` (ordered most recent first): the first record with its email
    (ignoring case, as SOQL does), or for a contact without one, with its phone
    as Phone or MobilePhone. One pass over the records, however many contacts:
    a batch's query answers for up to 200 people."""
    by_email: dict[str, Mapping[str, Any]] = {}
    by_phone: dict[Any, Mapping[str, Any]] = {}
    for record in records:
        by_email.setdefault(str(record.get("Email") or "").lower(), record)
        by_phone.setdefault(record.get("Phone"), record)
        by_phone.setdefault(record.get("MobilePhone"), record)
    found = [
        by_email.get(contact.email.strip().lower())
        if contact.email
        else by_phone.get((contact.phone or "").strip())
        for contact in contacts
    ]
    return [None if record is None else str(record["Id"]) for record in found]


def comment_records(parent: str, bodies: Sequence[str], *, published: bool) -> list[dict[str, Any]]:
    """CaseComment records for ``bodies`` on the Case ``parent`` (an Id or a
    ``@{ref.id}`` reference)."""
    return [
        {
            "attributes": {"type": "CaseComment"},
            "ParentId": parent,
            "CommentBody": body,
            "IsPublished": published,
        }
        for body in bodies
    ]


APPEND_COMMENTS_REF = "refAppend"
CASE_STATE_REF = "refCaseState"


def append_requests(case_id: str, records: Sequence[Mapping[str, Any]]) -> list[Subrequest]:
    """An append: its comment ``records`` (all or none), then a read of whether
    the Case is closed, in one composite call. Sent with ``collateSubrequests``
    false, the subrequests run in listed order, so the read sees the Case as it
    was after the write. [src: api_rest requests_composite.htm collateSubrequests
    "If collation is disabled, then the subrequests are executed in the order in
    which they are received"]"""
    requests: list[Subrequest] = []
    if records:
        requests.append(
            subrequests.create_records(records, ref=APPEND_COMMENTS_REF, all_or_none=True)
        )
    requests.append(subrequests.query(case_state_query(case_id), ref=CASE_STATE_REF))
    return requests


def case_state_query(case_id: str) -> str:
    """Whether the Case is closed, and since when."""
    return f"SELECT Id, IsClosed, ClosedDate FROM Case WHERE Id = {soql.literal(case_id)}"


def case_states_query(case_ids: Sequence[str]) -> str:
    """Whether each of the Cases is closed, and since when (a batch of appends)."""
    listed = ", ".join(soql.literal(case_id) for case_id in case_ids)
    return f"SELECT Id, IsClosed, ClosedDate FROM Case WHERE Id IN ({listed})"


def new_contact_requests(contact: Contact, case_id: str) -> list[Subrequest]:
    """A Contact made from the contact's details, and the Case linked to it."""
    name = (contact.name or "").strip()
    first, _, last = name.rpartition(" ")
    # LastName is required on Contact. [src: Contact object reference]
    fields: dict[str, Any] = {
        "FirstName": first or None,
        "LastName": (last or contact.email or contact.phone or "Unknown")[:80],
        "Email": contact.email,
        "Phone": contact.phone,
    }
    link = {"ContactId": "@{refNewContact.id}"}
    return [
        subrequests.create("Contact", {k: v for k, v in fields.items() if v}, ref="refNewContact"),
        subrequests.update("Case", case_id, link, ref="refLinkNew"),
    ]


def contact_query(contact: Contact) -> str:
    """The most recently changed Contact with the contact's email (or phone)."""
    if contact.email:
        where = f"Email = {soql.literal(contact.email.strip())}"
    else:
        assert contact.phone
        phone = soql.literal(contact.phone.strip())
        where = f"Phone = {phone} OR MobilePhone = {phone}"
    return f"SELECT Id FROM Contact WHERE {where} ORDER BY LastModifiedDate DESC LIMIT 1"


def landed_by_external_id_query(field: str, external_id: str) -> str:
    """The Case with ``external_id`` and the bodies of its comments."""
    return (
        "SELECT Id, (SELECT Id, CommentBody FROM CaseComments) FROM Case "
        f"WHERE {field} = {soql.literal(external_id)} LIMIT 1"
    )


def landed_comments_query(case_id: str) -> str:
    """The comments on a Case."""
    return f"SELECT Id, CommentBody FROM CaseComment WHERE ParentId = {soql.literal(case_id)}"


def missing(planned: Sequence[str], landed: Sequence[str]) -> list[str]:
    """``planned`` minus what already ``landed`` (as multisets), in order."""
    left = Counter(landed)
    out = []
    for body in planned:
        if left[body] > 0:
            left[body] -= 1
        else:
            out.append(body)
    return out


def nothing_landed(exc: BaseException) -> bool:
    """Whether a failed request surely wrote nothing: Salesforce answered it as a
    whole with a refusal (4xx but 408) or with 503 "unavailable". A timeout, a
    reset connection, a 500 or a gateway's 502/504 leave the outcome unknown:
    the work may have run before the answer was lost."""
    if not isinstance(exc, ApiError) or exc.status is None:
        return False
    return exc.status == 503 or (400 <= exc.status < 500 and exc.status != 408)


def refusal(what: str, errors: Sequence[Mapping[str, Any]]) -> ApiError:
    """The error for records Salesforce did not write, classed by the code of
    the first record that failed for itself (a validation rule is permanent, a
    locked row is not)."""
    own = [e for e in errors if (e.get("statusCode") or e.get("errorCode")) != _ROLLED_BACK]
    # ``url`` names what was attempted, as for a composite subrequest's error.
    return error_for_response(url=what, status=400, body=list(own or errors))


def describe_error(response: SubResponse) -> str:
    body = response.body
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return f"{body[0].get('errorCode')}: {body[0].get('message')}"
    return f"HTTP {response.status}"
