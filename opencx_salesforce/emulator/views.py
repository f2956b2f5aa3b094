"""The emulator's pages for people looking at it: every org with its Cases, and one
Case with all its fields, its comments (each marked Public or Internal), its emails,
the webhooks it rang, and forms to act on it as a rep.

Server-rendered with jinja2 (autoescaped, no script, no external assets); the forms
post to the rep routes (:mod:`opencx_salesforce.emulator.rep`), which redirect back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from opencx_salesforce.apex import names
from opencx_salesforce.emulator.package import deployment_of, find_runtime
from opencx_salesforce.emulator.rep import RepError, default_rep, rep_users
from opencx_salesforce.emulator.schema import FieldDef

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record
    from opencx_salesforce.emulator.state import EmulatorState

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Nothing but the page itself: no script, no framing, nothing cached. The Referer
# policy is same-origin, not no-referrer: under no-referrer browsers send
# "Origin: null" with form posts, which the rep routes' origin check refuses.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

EMAIL_STATUS_LABELS = {
    "0": "New",
    "1": "Read",
    "2": "Replied",
    "3": "Sent",
    "4": "Forwarded",
    "5": "Draft",
}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> web.Response:
    html = _environment().get_template(template).render(**context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)


def display_time(value: Any) -> str:
    """``2026-11-25T02:28:22.000+0000`` → ``2026-11-25 02:28:22 UTC``."""
    if not isinstance(value, str) or len(value) < 19:
        return ""
    try:
        moment = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    value: str
    custom: bool


class Views:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def index(self, request: web.Request) -> web.Response:
        orgs = [self._org_summary(org) for org in self.state.orgs.values()]
        return render(
            "index.html", title="Salesforce emulator", orgs=orgs, base_url=self.state.base_url
        )

    async def case_page(self, request: web.Request) -> web.Response:
        org = self.state.orgs.get(request.match_info["org_id"])
        case = org.stored("Case", request.match_info["case_id"]) if org else None
        if org is None or case is None:
            raise web.HTTPNotFound(text="No such org or Case.")
        users = rep_users(org)
        acting = request.query.get("as") or ""
        if acting not in {user.username for user in users}:
            try:
                acting = default_rep(org).username
            except RepError:
                acting = ""
        runtime = find_runtime(org)
        webhooks = [
            replace(entry, at=display_time(entry.at))
            for entry in (runtime.log if runtime else ())
            if entry.case_id == case["Id"]
        ]
        return render(
            "case.html",
            title=f"Case {case['CaseNumber']} · {org.seed.name}",
            org=org,
            case=case,
            opencx=self._is_opencx(org, case),
            summary=self._summary(org, case),
            fields=self._fields(org, case),
            comments=self._comments(org, case),
            emails=self._emails(org, case),
            webhooks=list(reversed(webhooks)),
            deployed=deployment_of(org).complete,
            users=users,
            acting=acting,
            statuses=org.seed.case_statuses,
            notice=request.query.get("notice", ""),
            error=request.query.get("error", ""),
            action_url=f"/_emulator/orgs/{org.id}/cases/{case['Id']}",
        )

    # --- the pieces ---------------------------------------------------------------------------

    def _org_summary(self, org: Org) -> dict[str, Any]:
        runtime = find_runtime(org)
        cases = sorted(
            (case for case in org.records["Case"].values() if not case.get("IsDeleted")),
            key=lambda case: str(case.get("CaseNumber")),
            reverse=True,
        )
        return {
            "org": org,
            "deployment": deployment_of(org),
            "webhooks": runtime.counters if runtime else None,
            "api_total": org.api_calls.total,
            "api_limit": org.api_calls.limit,
            "apps": org.seed.apps,
            "users": org.seed.users,
            "cases": [
                {
                    "id": case["Id"],
                    "number": case.get("CaseNumber"),
                    "subject": case.get("Subject") or "(no subject)",
                    "status": case.get("Status") or "",
                    "closed": bool(case.get("IsClosed")),
                    "origin": case.get("Origin") or "",
                    "opencx": self._is_opencx(org, case),
                    "created": display_time(case.get("CreatedDate")),
                    "url": f"/_emulator/orgs/{org.id}/cases/{case['Id']}",
                }
                for case in cases
            ],
        }

    def _is_opencx(self, org: Org, case: Record) -> bool:
        runtime = find_runtime(org)
        wanted = runtime.case_from_value if runtime else names.DEFAULT_CASE_FROM_VALUE
        value = case.get(names.CASE_FROM_FIELD)
        return isinstance(value, str) and value.casefold() == wanted.casefold()

    def _user_name(self, org: Org, user_id: Any) -> str:
        user = org.stored("User", user_id) if isinstance(user_id, str) else None
        return str(user.get("Name") or user.get("Username")) if user else str(user_id or "")

    def _display(self, org: Org, item: FieldDef, value: Any) -> str:
        if value is None or value == "":
            return ""
        if item.type == "datetime":
            return display_time(value)
        if item.type == "boolean":
            return "Yes" if value else "No"
        if item.type == "reference" and "User" in item.reference_to:
            name = self._user_name(org, value)
            return f"{name} ({value})" if name != value else str(value)
        return str(value)

    def _summary(self, org: Org, case: Record) -> list[tuple[str, str]]:
        wanted = (
            "CaseNumber",
            "Status",
            "Priority",
            "Origin",
            "SuppliedName",
            "SuppliedEmail",
            "OwnerId",
            "CreatedDate",
            "ClosedDate",
        )
        obj = org.schema.objects["Case"]
        return [
            (obj.fields[name].label, self._display(org, obj.fields[name], case.get(name)))
            for name in wanted
        ]

    def _fields(self, org: Org, case: Record) -> list[FieldRow]:
        obj = org.schema.objects["Case"]
        rows = [
            FieldRow(
                item.name, item.label, self._display(org, item, case.get(item.name)), item.custom
            )
            for item in obj.fields.values()
        ]
        # Custom fields first: they are what the plugin and its hooks add.
        return sorted(rows, key=lambda row: not row.custom)

    def _comments(self, org: Org, case: Record) -> list[dict[str, Any]]:
        comments = [
            comment
            for comment in org.records["CaseComment"].values()
            if comment.get("ParentId") == case["Id"] and not comment.get("IsDeleted")
        ]
        comments.sort(
            key=lambda comment: str(comment.get("CreatedDate"))
        )  # stable: insertion order
        return [
            {
                "id": comment["Id"],
                "body": comment.get("CommentBody") or "",
                "public": bool(comment.get("IsPublished")),
                "author": self._user_name(org, comment.get("CreatedById")),
                "created": display_time(comment.get("CreatedDate")),
            }
            for comment in comments
        ]

    def _emails(self, org: Org, case: Record) -> list[dict[str, Any]]:
        emails = [
            email
            for email in org.records["EmailMessage"].values()
            if email.get("ParentId") == case["Id"] and not email.get("IsDeleted")
        ]
        emails.sort(key=lambda email: str(email.get("MessageDate") or email.get("CreatedDate")))
        return [
            {
                "id": email["Id"],
                "incoming": bool(email.get("Incoming")),
                # A draft (Status '5') can be sent from the page.
                "draft": str(email.get("Status")) == "5" and not email.get("Incoming"),
                "from": _address(email.get("FromName"), email.get("FromAddress")),
                "to": email.get("ToAddress") or "",
                "subject": email.get("Subject") or "(no subject)",
                "status": EMAIL_STATUS_LABELS.get(
                    str(email.get("Status")), email.get("Status") or ""
                ),
                "body": email.get("TextBody") or email.get("HtmlBody") or "",
                "date": display_time(email.get("MessageDate") or email.get("CreatedDate")),
            }
            for email in emails
        ]


def _address(name: Any, address: Any) -> str:
    if name and address:
        return f"{name} <{address}>"
    return str(name or address or "")
