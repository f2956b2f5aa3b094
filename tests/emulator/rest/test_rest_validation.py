"""Field validation on create and update, with Salesforce's error codes, messages
and fields, over real HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from emulator_support import RestCaller

from opencx_salesforce.emulator.seed import CustomFieldSeed, default_org


def _only_error(reply_body: list[dict[str, object]]) -> dict[str, object]:
    assert isinstance(reply_body, list) and len(reply_body) == 1, reply_body
    return reply_body[0]


async def test_required_field_missing(rest: RestCaller) -> None:
    """SALESFORCE.md §9 (recorded body): "Required fields are missing: [Name]"."""
    reply = await rest.post("sobjects/Contact", {"FirstName": "No last name"})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    account = (await rest.post("sobjects/Account", {"Name": "Acme"})).body["id"]
    cleared = await rest.patch(f"sobjects/Account/{account}", {"Name": None})
    assert _only_error(cleared.body)["errorCode"] == "REQUIRED_FIELD_MISSING"


async def test_subject_too_long(rest: RestCaller) -> None:
    """sfFieldRef Case Subject string(255); SALESFORCE.md §9 STRING_TOO_LONG format
    "<Field Label>: data value too large: <value> (max length=<n>)"."""
    value = "x" * 256
    reply = await rest.post("sobjects/Case", {"Subject": value})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": f"Subject: data value too large: {value} (max length=255)",
            "errorCode": "STRING_TOO_LONG",
            "fields": ["Subject"],
        }
    ]
    assert (await rest.post("sobjects/Case", {"Subject": "x" * 255})).status == 201


async def test_subject_counts_characters_not_bytes(rest: RestCaller) -> None:
    """sfFieldRef Case Subject string(255): lengths of text fields are characters;
    255 CJK characters (765 UTF-8 bytes) fit."""
    subject = "漢" * 255
    reply = await rest.post("sobjects/Case", {"Subject": subject})
    assert reply.status == 201, reply.body
    stored = (await rest.get(f"sobjects/Case/{reply.body['id']}")).body["Subject"]
    assert stored == subject
    too_long = await rest.post("sobjects/Case", {"Subject": "漢" * 256})
    assert _only_error(too_long.body)["errorCode"] == "STRING_TOO_LONG"


async def test_description_limit_is_32000(rest: RestCaller) -> None:
    """sfFieldRef Case Description textarea(32000)."""
    assert (await rest.post("sobjects/Case", {"Description": "d" * 32000})).status == 201
    reply = await rest.post("sobjects/Case", {"Description": "d" * 32001})
    error = _only_error(reply.body)
    assert error["errorCode"] == "STRING_TOO_LONG"
    assert error["fields"] == ["Description"]
    assert str(error["message"]).endswith("(max length=32000)")


async def test_case_comment_body_is_limited_in_bytes(rest: RestCaller) -> None:
    """sforce_api_objects_casecomment.htm and Salesforce Help article 000382141:
    "maximum size of the comment body is 4,000 bytes". '€' is 3 UTF-8 bytes:
    1,334 of them (4,002 bytes) fail, 1,333 (3,999 bytes) pass."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "Comments"})).body["id"]
    too_big = "€" * 1334
    reply = await rest.post("sobjects/CaseComment", {"ParentId": case_id, "CommentBody": too_big})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": f"Body: data value too large: {too_big} (max length=4000)",
            "errorCode": "STRING_TOO_LONG",
            "fields": ["CommentBody"],
        }
    ]
    fits = await rest.post("sobjects/CaseComment", {"ParentId": case_id, "CommentBody": "€" * 1333})
    assert fits.status == 201
    ascii_max = await rest.post(
        "sobjects/CaseComment", {"ParentId": case_id, "CommentBody": "a" * 4000}
    )
    assert ascii_max.status == 201


async def test_unknown_field_is_invalid_field(rest: RestCaller) -> None:
    """Recorded REST response: "No such column 'x' on sobject of type Account",
    INVALID_FIELD."""
    reply = await rest.post("sobjects/Case", {"Subject": "x", "Foo__c": "bar"})
    assert reply.status == 400
    assert reply.body == [
        {"message": "No such column 'Foo__c' on sobject of type Case", "errorCode": "INVALID_FIELD"}
    ]


async def test_id_in_body_is_refused(rest: RestCaller) -> None:
    """dome_sobject_create.htm: [{"message":"The Id field should not be specified in
    the sobject data.","errorCode":"INVALID_FIELD"}]."""
    reply = await rest.post("sobjects/Case", {"Id": "500000000000001AAA", "Subject": "x"})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": "The Id field should not be specified in the sobject data.",
            "errorCode": "INVALID_FIELD",
        }
    ]


async def test_read_only_fields_are_refused(rest: RestCaller) -> None:
    """Recorded REST response for INVALID_FIELD_FOR_INSERT_UPDATE ("Unable to
    create/update fields: Name. Please check the security settings ..."); CaseNumber
    can't be set; CaseComment.ParentId is create-only (sforce_api_objects_casecomment.htm)."""
    reply = await rest.post("sobjects/Case", {"CaseNumber": "1", "IsClosed": True})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": "Unable to create/update fields: CaseNumber, IsClosed. Please check "
            "the security settings of this field and verify that it is read/write for your "
            "profile or permission set.",
            "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
            "fields": ["CaseNumber", "IsClosed"],
        }
    ]
    case_id = (await rest.post("sobjects/Case", {"Subject": "a"})).body["id"]
    other = (await rest.post("sobjects/Case", {"Subject": "b"})).body["id"]
    comment = (
        await rest.post("sobjects/CaseComment", {"ParentId": case_id, "CommentBody": "c"})
    ).body["id"]
    moved = await rest.patch(f"sobjects/CaseComment/{comment}", {"ParentId": other})
    assert _only_error(moved.body)["fields"] == ["ParentId"]
    assert _only_error(moved.body)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


async def test_lookup_errors(rest: RestCaller) -> None:
    """salto.io "Demystifying 'Invalid Cross Reference Id'" (tests on a real org): not
    an Id → MALFORMED_ID; an Id of another object → FIELD_INTEGRITY_EXCEPTION; recorded
    messages "<Label>: id value of incorrect type: <id>"; a missing record →
    INVALID_CROSS_REFERENCE_KEY "invalid cross reference id"; a deleted one →
    ENTITY_IS_DELETED."""
    account = (await rest.post("sobjects/Account", {"Name": "Acme"})).body["id"]
    malformed = await rest.post("sobjects/Case", {"ContactId": "NotReal"})
    assert malformed.body == [
        {
            "message": "Contact ID: id value of incorrect type: NotReal",
            "errorCode": "MALFORMED_ID",
            "fields": ["ContactId"],
        }
    ]
    wrong_type = await rest.post("sobjects/Case", {"ContactId": account})
    assert wrong_type.body == [
        {
            "message": f"Contact ID: id value of incorrect type: {account}",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": ["ContactId"],
        }
    ]
    missing = await rest.post("sobjects/Case", {"ContactId": "003000000000001AAA"})
    assert missing.body == [
        {
            "message": "invalid cross reference id",
            "errorCode": "INVALID_CROSS_REFERENCE_KEY",
            "fields": ["ContactId"],
        }
    ]
    contact = (await rest.post("sobjects/Contact", {"LastName": "Gone"})).body["id"]
    await rest.delete(f"sobjects/Contact/{contact}")
    deleted = await rest.post("sobjects/Case", {"ContactId": contact})
    assert _only_error(deleted.body)["errorCode"] == "ENTITY_IS_DELETED"
    # A 15-character Id is accepted and stored in its 18-character form.
    good = await rest.post("sobjects/Case", {"AccountId": account[:15]})
    assert (await rest.get(f"sobjects/Case/{good.body['id']}")).body["AccountId"] == account


async def test_malformed_row_id_on_update(rest: RestCaller) -> None:
    """Recorded REST response: PATCH with an Id of another object → 400 MALFORMED_ID
    "Account ID: id value of incorrect type: <id>", fields ["Id"]."""
    account = (await rest.post("sobjects/Account", {"Name": "Acme"})).body["id"]
    reply = await rest.patch(f"sobjects/Case/{account}", {"Subject": "x"})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": f"Case ID: id value of incorrect type: {account}",
            "errorCode": "MALFORMED_ID",
            "fields": ["Id"],
        }
    ]


async def test_wrong_json_types_are_parser_errors(rest: RestCaller) -> None:
    """errorcodes.htm 400 "the JSON ... body contains an error"; recorded message
    "Cannot deserialize instance of boolean from VALUE_STRING value FALSE or request
    may be missing a required field"."""
    reply = await rest.post("sobjects/Case", {"IsEscalated": "FALSE"})
    assert reply.status == 400
    error = _only_error(reply.body)
    assert error["errorCode"] == "JSON_PARSER_ERROR"
    assert str(error["message"]).startswith(
        "Cannot deserialize instance of boolean from VALUE_STRING value FALSE or request "
        "may be missing a required field"
    )
    as_object = await rest.post("sobjects/Case", {"Subject": {"nested": True}})
    assert _only_error(as_object.body)["errorCode"] == "JSON_PARSER_ERROR"
    broken = await rest.post("sobjects/Case", raw='{"Subject": ')
    assert broken.status == 400
    assert _only_error(broken.body)["errorCode"] == "JSON_PARSER_ERROR"
    # Scalars are read as text for a text field.
    assert (await rest.post("sobjects/Case", {"Subject": 42})).status == 201
    # JSON has no NaN or Infinity (RFC 8259 §6), though Python's json reads them.
    for token in ("NaN", "Infinity", "-Infinity"):
        odd = await rest.post("sobjects/Case", raw=f'{{"Subject": "x", "Score": {token}}}')
        assert odd.status == 400, token
        assert _only_error(odd.body)["errorCode"] == "JSON_PARSER_ERROR", token
        assert f"Non-standard token '{token}'" in str(_only_error(odd.body)["message"])


async def test_a_body_that_is_not_an_object_is_a_parser_error_and_writes_nothing(
    rest: RestCaller,
) -> None:
    """errorcodes.htm 400 "the JSON ... body contains an error": an array, a
    string or a number where a record belongs. It was a 500, and an all-or-none
    composite (or a graph) kept what its earlier subrequests had written."""
    for body in ([1], "text", 7, True):
        reply = await rest.post("sobjects/Case", body)
        assert reply.status == 400, body
        assert _only_error(reply.body)["errorCode"] == "JSON_PARSER_ERROR", body
    case_id = (await rest.post("sobjects/Case", {"Subject": "kept"})).body["id"]
    assert (await rest.patch(f"sobjects/Case/{case_id}", [1, 2])).status == 400

    def create(ref: str, body: object) -> dict[str, object]:
        url = f"/services/data/v{rest.version}/sobjects/Case"
        return {"method": "POST", "url": url, "referenceId": ref, "body": body}

    nodes = [create("a", {"Subject": "before-the-bad-body"}), create("b", [1])]
    composite = await rest.post("composite", {"allOrNone": True, "compositeRequest": nodes})
    assert composite.status == 200
    graph = await rest.post(
        "composite/graph", {"graphs": [{"graphId": "g1", "compositeRequest": nodes}]}
    )
    assert graph.status == 200 and graph.body["graphs"][0]["isSuccessful"] is False
    found = await rest.get(
        "query?q=SELECT+Id+FROM+Case+WHERE+Subject+%3D+%27before-the-bad-body%27"
    )
    assert found.body["totalSize"] == 0


async def test_invalid_email(rest: RestCaller) -> None:
    """SALESFORCE.md §3 tree failure example: INVALID_EMAIL_ADDRESS "Email: invalid
    email address: 123", fields ["Email"]."""
    reply = await rest.post("sobjects/Contact", {"LastName": "X", "Email": "123"})
    assert reply.body == [
        {
            "message": "Email: invalid email address: 123",
            "errorCode": "INVALID_EMAIL_ADDRESS",
            "fields": ["Email"],
        }
    ]


async def test_restricted_picklist(rest_for: Callable[..., Awaitable[RestCaller]]) -> None:
    """Recorded responses: INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST "<Label>: bad
    value for restricted picklist field: <value>"; new custom picklists are
    restricted by default (help.salesforce.com). Standard Case picklists are not."""
    channel = CustomFieldSeed(
        "Case", "Channel__c", "picklist", label="Channel", picklist_values=("Chat", "Email")
    )
    rest = await rest_for(replace(default_org(), custom_fields=(channel,)))
    reply = await rest.post("sobjects/Case", {"Channel__c": "Pigeon"})
    assert reply.body == [
        {
            "message": "Channel: bad value for restricted picklist field: Pigeon",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": ["Channel__c"],
        }
    ]
    assert (await rest.post("sobjects/Case", {"Channel__c": "Chat"})).status == 201
    assert (await rest.post("sobjects/Case", {"Origin": "Chat"})).status == 201


async def test_duplicate_value_on_unique_field(rest: RestCaller) -> None:
    """SALESFORCE.md §2: DUPLICATE_VALUE "duplicate value found: <field> duplicates
    value on record with id: <id>"; unique text is case-insensitive unless the field
    is case-sensitive (§4)."""
    first = (await rest.post("sobjects/Case", {"OpenCX_Session_Id__c": "sess-1"})).body["id"]
    reply = await rest.post("sobjects/Case", {"OpenCX_Session_Id__c": "SESS-1"})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": "duplicate value found: OpenCX_Session_Id__c duplicates value on "
            f"record with id: {first}",
            "errorCode": "DUPLICATE_VALUE",
            "fields": ["OpenCX_Session_Id__c"],
        }
    ]
    # Updating a record to its own value is not a duplicate.
    same = await rest.patch(f"sobjects/Case/{first}", {"OpenCX_Session_Id__c": "sess-1"})
    assert same.status == 204


async def test_field_names_are_case_insensitive(rest: RestCaller) -> None:
    """Salesforce API names are case-insensitive; values are stored under the
    canonical name."""
    created = (await rest.post("sobjects/case", {"subject": "lower"})).body["id"]
    assert (await rest.get(f"sobjects/Case/{created}")).body["Subject"] == "lower"


async def test_custom_fields_exist_only_when_seeded(
    rest_for: Callable[..., Awaitable[RestCaller]],
) -> None:
    """Custom fields are the org's own: an org without OpenCX_Session_Id__c
    refuses it like any unknown column."""
    bare = await rest_for(replace(default_org(), custom_fields=()))
    reply = await bare.post("sobjects/Case", {"OpenCX_Session_Id__c": "s"})
    assert reply.body == [
        {
            "message": "No such column 'OpenCX_Session_Id__c' on sobject of type Case",
            "errorCode": "INVALID_FIELD",
        }
    ]


async def test_email_message_fields(rest: RestCaller) -> None:
    """sfFieldRef EmailMessage (SALESFORCE.md §6): Subject string(3000), HtmlBody
    textarea(131072), Status a restricted picklist of codes, ParentId create-only."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "Mail"})).body["id"]
    created = await rest.post(
        "sobjects/EmailMessage",
        {
            "ParentId": case_id,
            "Incoming": True,
            "Subject": "s" * 3000,
            "HtmlBody": "<p>" + "h" * 131000 + "</p>",
            "FromAddress": "customer@example.com",
            "ToAddress": "support@acme.example",
            "Status": "0",
            "MessageDate": "2026-11-25T01:40:00Z",
        },
    )
    assert created.status == 201, created.body
    email = (await rest.get(f"sobjects/EmailMessage/{created.body['id']}")).body
    assert email["MessageDate"] == "2026-11-25T01:40:00.000+0000"
    assert email["Incoming"] is True
    bad_status = await rest.post("sobjects/EmailMessage", {"ParentId": case_id, "Status": "9"})
    assert _only_error(bad_status.body)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    long_subject = await rest.post("sobjects/EmailMessage", {"Subject": "s" * 3001})
    assert _only_error(long_subject.body)["errorCode"] == "STRING_TOO_LONG"


async def test_lookup_by_related_external_id(rest: RestCaller) -> None:
    """dome_upsert.htm: a lookup may be given as the relationship name with the
    parent's external ID, {"Parent": {"OpenCX_Session_Id__c": "..."}}."""
    case_id = (await rest.patch("sobjects/Case/OpenCX_Session_Id__c/s-42", {})).body["id"]
    comment = await rest.post(
        "sobjects/CaseComment",
        {"Parent": {"OpenCX_Session_Id__c": "s-42"}, "CommentBody": "linked"},
    )
    assert comment.status == 201, comment.body
    stored = (await rest.get(f"sobjects/CaseComment/{comment.body['id']}")).body
    assert stored["ParentId"] == case_id
    missing = await rest.post(
        "sobjects/CaseComment", {"Parent": {"OpenCX_Session_Id__c": "nope"}, "CommentBody": "x"}
    )
    assert missing.status == 400
    assert _only_error(missing.body)["message"] == (
        "Foreign key external ID: nope not found for field OpenCX_Session_Id__c in entity Case"
    )
