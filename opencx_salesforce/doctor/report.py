"""What the doctor reports: each check's result, with the fix and the
troubleshooting symptom it belongs under, and the shapes the checks share."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.doctor.probe import masked_webhook_url
from opencx_salesforce.runtime import ROUTE_PREFIX, Runtime
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import Forbidden
from opencx_salesforce.web.admin.messages import (
    CONNECT_FAILS,
    CREDENTIALS_WONT_SAVE,
    STORE_REFUSES_WRITES,
)

# The troubleshooting symptoms (README, "Troubleshooting"): what the admin sees.
HANDOFF_WITHOUT_CASE = "Handoff runs but no Case"
REPLIES_LOST = "Rep replies don't reach the contact"
NEEDS_REAUTHORIZATION = "Needs re-authorization"
KEY_CHANGED = "Encryption key changed"
STORE_LOST = "The store lost its data"
SYMPTOMS = (
    CREDENTIALS_WONT_SAVE,
    CONNECT_FAILS,
    HANDOFF_WITHOUT_CASE,
    REPLIES_LOST,
    NEEDS_REAUTHORIZATION,
    KEY_CHANGED,
    STORE_LOST,
    STORE_REFUSES_WRITES,
)


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist."""

    id: str
    title: str
    status: Status
    detail: str
    fix: str | None = None  # what to do; set for every warn and fail
    symptom: str | None = None  # the troubleshooting heading the fix belongs to

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": str(self.status),
            "detail": self.detail,
            "fix": self.fix,
            "symptom": self.symptom,
        }


@dataclass(frozen=True)
class DoctorReport:
    results: list[CheckResult]
    api_calls: int  # Salesforce REST calls the checks spent
    webhook_url: str  # masked: the token is a secret

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        """Nothing failed (warnings allowed)."""
        return self.count(Status.FAIL) == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "webhook_url": self.webhook_url,
            "api_calls": self.api_calls,
            "summary": {str(s): self.count(s) for s in Status},
            "checks": [r.to_json() for r in self.results],
        }


@dataclass(frozen=True)
class Outcome:
    """What a check found; the runner adds its id and title."""

    status: Status
    detail: str
    fix: str | None = None
    symptom: str | None = None  # None: the check's own symptom


def ok(detail: str) -> Outcome:
    return Outcome(Status.OK, detail)


def warn(detail: str, fix: str, symptom: str | None = None) -> Outcome:
    return Outcome(Status.WARN, detail, fix, symptom)


def fail(detail: str, fix: str, symptom: str | None = None) -> Outcome:
    return Outcome(Status.FAIL, detail, fix, symptom)


@dataclass
class Context:
    services: Runtime
    client: SalesforceClient
    limits: dict[str, Any] | None = None
    limits_refused: Forbidden | None = None  # the user may not read /limits
    # Whether the org has EmailMessage (Describe Global); None: not looked at.
    has_email_message: bool | None = None

    @property
    def settings_page(self) -> str:
        return f"{self.services.host.public_url}{ROUTE_PREFIX}/admin"

    @property
    def masked_webhook_url(self) -> str:
        return masked_webhook_url(self.services.webhook_url)


CheckFunction = Callable[[Context], Awaitable[Outcome]]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    symptom: str
    needs: tuple[str, ...]
    run: CheckFunction
