"""Logs as one JSON object per line, with the conversation they are about.

``opencx-salesforce serve --log-format json`` (or a host that installs
:class:`JsonFormatter` on its own handler) writes each record as::

    {"time": "2026-12-04T11:20:00.123Z", "level": "WARNING",
     "logger": "opencx_salesforce.cases", "message": "...",
     "session_id": "s_…", "case_id": "500…", "job_id": "handoff:s_…"}

The ids come from :func:`log_context`, which the plugin wraps around each piece
of work; a record outside any context simply has none. Exceptions are rendered
into ``"exception"`` as text. Nothing here adds a value the message did not
already hold, so the rule that no message carries a secret holds for JSON too.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = ("session_id", "case_id", "job_id")
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "opencx_log_context", default=None
)


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Records logged inside carry these ids (``session_id``, ``case_id``,
    ``job_id``), on top of any outer context; ``None`` values are left out."""
    unknown = set(ids) - set(CONTEXT_KEYS)
    if unknown:
        raise TypeError(f"unknown log context keys: {sorted(unknown)}")
    merged = {**(_context.get() or {}), **{k: v for k, v in ids.items() if v}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module docstring for the keys."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(current_context())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Never let an odd value break the log line: anything not JSON becomes text.
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str, fmt: str) -> None:
    """The root logger for a command: ``fmt`` is ``"text"`` or ``"json"``."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
