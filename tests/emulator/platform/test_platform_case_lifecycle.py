"""A Case's end: deleted (to the Recycle Bin, its comments and emails with it), or
merged into another: the loser deleted with MasterRecordId set to the winner, its
comments and emails moved to the winner.
[src: api_rest dome_delete_record.htm; api sforce_api_calls_merge.htm;
 apexcode apex_triggers_merge_statements.htm]"""

from __future__ import annotations

from emulator_support import RestCaller
from platform_support import a_case, an_email, created, query_all, rep


async def test_a_deleted_case_is_gone_from_rest_and_query_but_in_query_all(
    rest: RestCaller,
) -> None:
    case_id = await a_case(rest)
    comment = await created(rest, "CaseComment", ParentId=case_id, CommentBody="Hi")
    reply = await rest.delete(f"sobjects/Case/{case_id}")
    assert reply.status == 204, reply.body
    gone = await rest.get(f"sobjects/Case/{case_id}")
    assert gone.status == 404
    [row] = await query_all(
        rest, f"SELECT Id, IsDeleted, MasterRecordId FROM Case WHERE Id = '{case_id}'"
    )
    assert (row["IsDeleted"], row["MasterRecordId"]) == (True, None)
    [child] = await query_all(rest, f"SELECT Id, IsDeleted FROM CaseComment WHERE Id = '{comment}'")
    assert child["IsDeleted"] is True, "a Case's comments go with it"


async def test_merge_deletes_the_loser_and_moves_its_comments_and_emails(rest: RestCaller) -> None:
    winner = await a_case(rest, Subject="Winner")
    loser = await a_case(rest, Subject="Loser")
    comment = await created(rest, "CaseComment", ParentId=loser, CommentBody="On the loser")
    email = await an_email(rest, loser)
    before = (await rest.get(f"sobjects/Case/{winner}")).body["SystemModstamp"]

    status, body = await rep(rest, loser, "merge", into=winner)
    assert status == 200, body

    [row] = await query_all(
        rest, f"SELECT Id, IsDeleted, MasterRecordId FROM Case WHERE Id = '{loser}'"
    )
    assert (row["IsDeleted"], row["MasterRecordId"]) == (True, winner)
    moved = (await rest.get(f"sobjects/CaseComment/{comment}")).body
    assert moved["ParentId"] == winner
    moved_email = (await rest.get(f"sobjects/EmailMessage/{email}")).body
    assert moved_email["ParentId"] == winner
    after = (await rest.get(f"sobjects/Case/{winner}")).body
    assert after["IsDeleted"] is False and after["SystemModstamp"] >= before


async def test_merge_refuses_itself_a_deleted_winner_and_a_missing_case(
    rest: RestCaller,
) -> None:
    case_id = await a_case(rest)
    status, body = await rep(rest, case_id, "merge", into=case_id)
    assert status == 400 and "itself" in body["error"]

    deleted = await a_case(rest)
    assert (await rest.delete(f"sobjects/Case/{deleted}")).status == 204
    status, body = await rep(rest, case_id, "merge", into=deleted)
    assert (status, body["salesforce"][0]["errorCode"]) == (404, "ENTITY_IS_DELETED")

    status, body = await rep(rest, case_id, "merge", into="500000000000000AAA")
    assert status == 404, body
    status, body = await rep(rest, case_id, "merge")
    assert (status, body["error"]) == (400, "into: required")
    assert (await rest.get(f"sobjects/Case/{case_id}")).status == 200, "nothing changed"
