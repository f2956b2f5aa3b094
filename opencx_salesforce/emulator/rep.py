"""A support rep's hands on an emulated org: reply on a Case, add an internal note,
send an email (or save a draft and send it later), publish an internal comment,
change the status, close, reopen, merge the Case into another, delete it.

Every action writes through the org's normal create/update path as the rep's
user, so validation (e.g. the 4,000-byte comment body), the audit fields
(``CreatedById``, ``LastModifiedById``), ``IsClosed``/``ClosedDate`` and the
deployed package's triggers behave as they do when a person works the Case in
Salesforce. A refused write raises the org's own ApiError; a request the emulator
cannot act on (no such user, no address to write to) raises :class:`RepError`.

The JSON routes (``/_emulator/orgs/{orgId}/cases/{caseId}/<action>``) are
:class:`RepRoutes`; the Case page's forms post to the same URLs, and those get a
303 back to the page instead of JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from opencx_salesforce.emulator.rest.errors import ApiError, not_found

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record
    from opencx_salesforce.emulator.state import EmulatorState

# EmailMessage.Status "3" = Sent, "5" = Draft. [src: SALESFORCE.md §6 EmailMessage
# Status codes; emulator/schema.py EMAIL_STATUSES]
EMAIL_STATUS_SENT = "3"
EMAIL_STATUS_DRAFT = "5"

FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class RepError(ValueError):
    """The emulator cannot do what the rep asked (the message says why)."""


@dataclass(frozen=True)
class RepUser:
    user_id: str
    username: str
    name: str
    email: str


def rep_users(org: Org) -> list[RepUser]:
    """The org's active internal users (those who can work Cases), seeded order."""
    users = []
    for seed in org.seed.users:
        if seed.user_type != "Standard" or not seed.is_active:
            continue
        record = org.live("User", org.user_id_for(seed.username)) or {}
        users.append(
            RepUser(
                user_id=org.user_id_for(seed.username),
                username=seed.username,
                name=str(record.get("Name") or seed.username),
                email=str(record.get("Email") or seed.email),
            )
        )
    return users


def default_rep(org: Org) -> RepUser:
    """Who acts when no user is named: the first internal user who is not a System
    Administrator (the default org's support rep), else the first internal user."""
    users = rep_users(org)
    if not users:
        raise RepError("the org has no active internal user to act as")
    admins = {seed.username for seed in org.seed.users if seed.profile == "System Administrator"}
    return next((user for user in users if user.username not in admins), users[0])


class Rep:
    """One rep working one org's Cases."""

    def __init__(self, org: Org, username: str | None = None) -> None:
        self.org = org
        if username is None:
            self.user = default_rep(org)
        else:
            found = [user for user in rep_users(org) if user.username.lower() == username.lower()]
            if not found:
                raise RepError(f"no active internal user {username!r} in this org")
            self.user = found[0]

    def case(self, case_id: str) -> Record:
        case = self.org.live("Case", case_id)
        if case is None:
            raise not_found()
        return case

    def reply(self, case_id: str, text: str, *, public: bool = True) -> str:
        """A Case comment (public: visible to the customer); returns its Id."""
        case = self.case(case_id)
        return self.org.create(
            "CaseComment",
            {"ParentId": case["Id"], "CommentBody": text, "IsPublished": public},
            user_id=self.user.user_id,
        )

    def note(self, case_id: str, text: str) -> str:
        """An internal comment (IsPublished false); returns its Id."""
        return self.reply(case_id, text, public=False)

    def email(
        self, case_id: str, text: str, *, subject: str | None = None, draft: bool = False
    ) -> str:
        """An outgoing email on the Case, as sent from the Case feed: from the rep to
        the Case's web email (else its contact's email); returns its Id. ``draft``
        saves it unsent (Status Draft), for :meth:`send_draft` later."""
        case = self.case(case_id)
        to_address = case.get("SuppliedEmail") or case.get("ContactEmail")
        if not to_address:
            raise RepError("the Case has no email address to write to (SuppliedEmail or contact)")
        default_subject = f"Re: {case.get('Subject') or 'Case ' + str(case['CaseNumber'])}"
        return self.org.create(
            "EmailMessage",
            {
                "ParentId": case["Id"],
                "Incoming": False,
                "FromName": self.user.name,
                "FromAddress": self.user.email,
                "ToAddress": to_address,
                "Subject": subject or default_subject,
                "TextBody": text,
                "Status": EMAIL_STATUS_DRAFT if draft else EMAIL_STATUS_SENT,
                "MessageDate": None if draft else self.org.now(),
            },
            user_id=self.user.user_id,
        )

    def send_draft(self, case_id: str, email_id: str) -> None:
        """Send a draft: the same EmailMessage updated to Sent. Only a draft may be
        updated so. [src: object_reference sforce_api_objects_emailmessage.htm
        "update() is supported when an email record is in Draft status"]"""
        self._child("EmailMessage", case_id, email_id)
        self.org.update(
            "EmailMessage",
            email_id,
            {"Status": EMAIL_STATUS_SENT, "MessageDate": self.org.now()},
            user_id=self.user.user_id,
        )

    def publish(self, case_id: str, comment_id: str) -> None:
        """Make an internal comment public (IsPublished is updatable after insert).
        [src: object_reference sforce_api_objects_casecomment.htm IsPublished:
        Create, Update]"""
        self._child("CaseComment", case_id, comment_id)
        self.org.update("CaseComment", comment_id, {"IsPublished": True}, user_id=self.user.user_id)

    def merge_into(self, case_id: str, master_id: str) -> None:
        """Merge this Case into ``master_id``: this one is deleted with MasterRecordId
        set, its comments and emails move to the master (emulator/merge.py)."""
        case = self.case(case_id)
        self.org.merge("Case", master_id, [case["Id"]], user_id=self.user.user_id)

    def delete(self, case_id: str) -> None:
        """Delete the Case (to the Recycle Bin), with its comments and emails."""
        case = self.case(case_id)
        self.org.delete("Case", case["Id"], user_id=self.user.user_id)

    def _child(self, sobject: str, case_id: str, record_id: str) -> Record:
        case = self.case(case_id)
        record = self.org.live(sobject, record_id)
        if record is None or record.get("ParentId") != case["Id"]:
            raise RepError(f"no {sobject} {record_id} on this Case")
        return record

    def set_status(self, case_id: str, status: str) -> None:
        case = self.case(case_id)
        self.org.update("Case", case["Id"], {"Status": status}, user_id=self.user.user_id)

    def close(self, case_id: str, status: str | None = None) -> None:
        """To ``status``, else the org's first closed status."""
        closed = [name for name, is_closed in self.org.seed.case_statuses if is_closed]
        if status is None and not closed:
            raise RepError("the org has no closed Case status")
        self.set_status(case_id, status or closed[0])

    def reopen(self, case_id: str, status: str | None = None) -> None:
        """To ``status``, else the first open status after the default one (the
        default org's "Working"), else the default."""
        opened = [name for name, is_closed in self.org.seed.case_statuses if not is_closed]
        if status is None and not opened:
            raise RepError("the org has no open Case status")
        self.set_status(case_id, status or (opened[1] if len(opened) > 1 else opened[0]))


# --- over HTTP ------------------------------------------------------------------------------

Action = Callable[[Rep, str, Mapping[str, Any]], str | None]


def _text(values: Mapping[str, Any]) -> str:
    text = values.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RepError("text: required")
    return text


def _optional(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RepError(f"{name}: expected a string")
    return value


def _public(values: Mapping[str, Any]) -> bool:
    value = values.get("public", True)
    if isinstance(value, bool):
        return value
    if value in ("true", "on", "1"):
        return True
    if value in ("false", "off", "0"):
        return False
    raise RepError("public: expected true or false")


def _required(values: Mapping[str, Any], name: str) -> str:
    value = _optional(values, name)
    if value is None:
        raise RepError(f"{name}: required")
    return value


def _status(values: Mapping[str, Any]) -> str:
    status = _optional(values, "status")
    if status is None:
        raise RepError("status: required")
    return status


ACTIONS: dict[str, tuple[Action, str]] = {
    # action -> (what it does, what the page says afterwards)
    "reply": (lambda rep, case, v: rep.reply(case, _text(v), public=_public(v)), "Reply saved."),
    "note": (lambda rep, case, v: rep.note(case, _text(v)), "Internal note added."),
    "email": (
        lambda rep, case, v: rep.email(case, _text(v), subject=_optional(v, "subject")),
        "Email sent.",
    ),
    "draft": (
        lambda rep, case, v: rep.email(case, _text(v), subject=_optional(v, "subject"), draft=True),
        "Draft saved.",
    ),
    "send": (lambda rep, case, v: rep.send_draft(case, _required(v, "emailId")), "Draft sent."),
    "publish": (
        lambda rep, case, v: rep.publish(case, _required(v, "commentId")),
        "Comment published.",
    ),
    "merge": (lambda rep, case, v: rep.merge_into(case, _required(v, "into")), "Case merged."),
    "delete": (lambda rep, case, v: rep.delete(case), "Case deleted."),
    "status": (lambda rep, case, v: rep.set_status(case, _status(v)), "Status changed."),
    "close": (lambda rep, case, v: rep.close(case, _optional(v, "status")), "Case closed."),
    "reopen": (lambda rep, case, v: rep.reopen(case, _optional(v, "status")), "Case reopened."),
}


def see_other(location: str) -> web.Response:
    """303: the browser GETs the page again after a form post."""
    return web.Response(status=303, headers={"Location": location})


def case_page_url(org_id: str, case_id: str, **params: str) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/_emulator/orgs/{org_id}/cases/{case_id}" + (f"?{query}" if query else "")


class RepRoutes:
    """``POST /_emulator/orgs/{orgId}/cases/{caseId}/{action}`` with JSON
    ``{"text", "user", "public", "subject", "status", "emailId", "commentId", "into"}``
    (as the action needs), or the same fields form-encoded from the Case page.

    Actions: reply, note, email, draft, send (a draft: ``emailId``), publish (an
    internal comment: ``commentId``), status, close, reopen, merge (this Case into
    ``into``), delete."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def add_to(self, app: web.Application) -> None:
        for action in ACTIONS:
            app.router.add_post(
                f"/_emulator/orgs/{{org_id}}/cases/{{case_id}}/{action}", self._handler(action)
            )

    def _handler(self, action: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self.act(request, action)

        return handle

    async def act(self, request: web.Request, action: str) -> web.Response:
        org_id, case_id = request.match_info["org_id"], request.match_info["case_id"]
        # Another site's page cannot drive the rep's hands: same_origin.py.
        from_form = request.content_type in FORM_CONTENT_TYPES
        try:
            values = await _values(request, from_form)
        except RepError as error:
            return web.json_response({"error": str(error)}, status=400)
        username = _optional_safe(values, "user")
        org = self.state.orgs.get(org_id)
        if org is None:
            return web.json_response({"error": f"no org {org_id}"}, status=404)
        run, done = ACTIONS[action]
        try:
            rep = Rep(org, username)
            created = run(rep, case_id, values)
        except RepError as error:
            return self._answer(from_form, org_id, case_id, username, error=(400, str(error), None))
        except ApiError as error:
            message = _first_message(error.body)
            return self._answer(
                from_form, org_id, case_id, username, error=(error.status, message, error.body)
            )
        case = org.stored("Case", case_id) or {}
        body = {
            "id": created or case.get("Id"),
            "caseId": case.get("Id"),
            "status": case.get("Status"),
            "isClosed": case.get("IsClosed"),
            "isDeleted": bool(case.get("IsDeleted")),
            "masterRecordId": case.get("MasterRecordId"),
            "user": rep.user.username,
        }
        if from_form:
            return see_other(
                case_page_url(org_id, case_id, notice=done, **{"as": rep.user.username})
            )
        return web.json_response(body, status=201 if created else 200)

    def _answer(
        self,
        from_form: bool,
        org_id: str,
        case_id: str,
        username: str | None,
        *,
        error: tuple[int, str, Any],
    ) -> web.Response:
        status, message, salesforce = error
        if from_form:
            return see_other(
                case_page_url(org_id, case_id, error=message, **{"as": username or ""})
            )
        body: dict[str, Any] = {"error": message}
        if salesforce is not None:
            body["salesforce"] = salesforce  # the org's own error array
        return web.json_response(body, status=status)


async def _values(request: web.Request, from_form: bool) -> Mapping[str, Any]:
    if from_form:
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        values = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RepError("body: expected a JSON object") from None
    if not isinstance(values, dict):
        raise RepError("body: expected a JSON object")
    return values


def _optional_safe(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) and value else None


def _first_message(body: Any) -> str:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("message", ""))
    return "the org refused the change"
