"""Anonymous Apex: ``GET tooling/executeAnonymous/?anonymousBody=...`` runs
``OpenSalesforceCaseManagement.ping();``, ``OpenCXDigest.start();`` and
``OpenCXDigest.stop();``, and nothing else.
[src: api sforce_api_calls_executeanonymous_result.htm]"""

from __future__ import annotations

import re
from typing import Any

from opencx_salesforce.apex import contract, names
from opencx_salesforce.emulator.package.callouts import CalloutJobs, callout_client, post
from opencx_salesforce.emulator.package.deployment import is_active, metadata_record
from opencx_salesforce.emulator.package.digest import EmulatedDigest
from opencx_salesforce.emulator.package.model import DELIVERED, FAILED, Doorbell, apex_equals
from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse


class AnonymousApex(CalloutJobs):
    """The executeAnonymous part of
    :class:`~opencx_salesforce.emulator.package.runtime.ApexRuntime`."""

    digest: EmulatedDigest

    def _class_body(self) -> str:
        record = metadata_record(self.org, "ApexClass", "Name", names.CALLOUT_CLASS)
        return str(record.get("Body") or "") if record else ""

    async def _execute_anonymous(self, request: RestRequest) -> RestResponse:
        result = await self.execute_anonymous(request.param("anonymousBody") or "")
        return RestResponse(200, result)

    async def execute_anonymous(self, source: str) -> dict[str, Any]:
        """An ExecuteAnonymousResult for ``source``; see the module docstring."""
        code = _without_comments(source)
        if not code.strip():
            return _anonymous_result()
        call = _STATIC_CALL.fullmatch(code)
        owner = None if call is None else _SUPPORTED.get(call["method"].lower())
        if call is None or owner is None:
            return _anonymous_result(
                compile_problem=(
                    "Not supported by the emulator: its anonymous Apex runs only "
                    f"{names.CALLOUT_CLASS}.ping(); {names.DIGEST_CLASS}.start(); "
                    f"and {names.DIGEST_CLASS}.stop();"
                ),
                at=_position(code, len(code) - len(code.lstrip())),
            )
        class_name = call["cls"]
        if not apex_equals(class_name, owner) or not is_active(self.org, "ApexClass", owner):
            # The compiler reads an unknown type in "X.ping()" as a variable.
            return _anonymous_result(
                compile_problem=f"Variable does not exist: {class_name}",
                at=_position(code, call.start("cls")),
            )
        method = call["method"].lower()
        if method == "start":
            self.digest.start()
            return _anonymous_result()
        if method == "stop":
            self.digest.stop()
            return _anonymous_result()
        return await self._ping(statement_at=_position(code, call.start("cls")))

    async def _ping(self, statement_at: tuple[int, int]) -> dict[str, Any]:
        """ping(): one signed "ping" now, and an exception unless it answers 2xx."""
        now = self.org.state.clock.utcnow()
        bell = Doorbell(
            contract.EVENT_PING, None, None, now.strftime(contract.OCCURRED_AT_STRFTIME)
        )
        endpoint, body, headers = self.request(bell, self.signing_secret)
        async with callout_client() as session:
            answer = await post(session, endpoint, body, headers)
        self.record(
            bell,
            DELIVERED if answer.ok else FAILED,
            endpoint=endpoint,
            status=answer.status,
            error=answer.error,
        )
        if answer.ok:
            return _anonymous_result()
        source = self._class_body()
        ping_line = _line_of(source, "send(toJson(doorbell), signingSecret())")
        frames = [f"Class.{names.CALLOUT_CLASS}.ping: line {ping_line}, column 1"]
        if answer.error is not None:
            message = f"System.CalloutException: {answer.error}"
            send_line = _line_of(source, "return new Http().send(request);")
            frames.insert(0, f"Class.{names.CALLOUT_CLASS}.send: line {send_line}, column 1")
        else:
            message = (
                f"{names.CALLOUT_CLASS}.WebhookException: OpenCX webhook answered "
                f"{answer.status} {answer.reason}: {answer.body[:200]}"
            )
            frames[0] = (
                f"Class.{names.CALLOUT_CLASS}.ping: line "
                f"{_line_of(source, 'throw new WebhookException')}, column 1"
            )
        line, column = statement_at
        frames.append(f"AnonymousBlock: line {line}, column {column}")
        return _anonymous_result(
            exception=(message, "\n".join(frames)),
            at=statement_at,
        )


# --- anonymous Apex helpers ------------------------------------------------------------------

_STATIC_CALL = re.compile(
    r"\s*(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\s*\.\s*(?P<method>[A-Za-z_][A-Za-z0-9_]*)"
    r"\s*\(\s*\)\s*;\s*"
)
# The static methods anonymous Apex may call here, and their class (Apex names are
# case-insensitive).
_SUPPORTED = {"ping": names.CALLOUT_CLASS, "start": names.DIGEST_CLASS, "stop": names.DIGEST_CLASS}
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def _without_comments(source: str) -> str:
    """Comments blanked out, newlines kept, so positions still match the source."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of ``offset``."""
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def _line_of(source: str, needle: str) -> int:
    offset = source.find(needle)
    return 1 if offset < 0 else _position(source, offset)[0]


def _anonymous_result(
    *,
    compile_problem: str | None = None,
    exception: tuple[str, str] | None = None,
    at: tuple[int, int] = (-1, -1),
) -> dict[str, Any]:
    """ExecuteAnonymousResult, keys in the documented order; line and column are -1
    when there is nothing to point at."""
    line, column = at if (compile_problem or exception) else (-1, -1)
    return {
        "line": line,
        "column": column,
        "compiled": compile_problem is None,
        "success": compile_problem is None and exception is None,
        "compileProblem": compile_problem,
        "exceptionStackTrace": exception[1] if exception else None,
        "exceptionMessage": exception[0] if exception else None,
    }
