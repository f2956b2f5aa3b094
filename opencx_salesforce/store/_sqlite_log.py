"""Keeping the SQLite store's secrets out of the logs: aiosqlite logs every call
at DEBUG with the statement's parameters. Importing this module installs a filter
on the ``aiosqlite`` logger (once) that keeps the record and drops the values.
"""

from __future__ import annotations

import logging


class _WithoutParameters(logging.Filter):
    """aiosqlite logs every call at DEBUG with its arguments, and those are the
    statement's parameters: webhook tokens, CSRF keys, encrypted secrets. Keep the
    record (it still shows the store is busy), drop what it carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in ("executing %s", "operation %s completed"):
            record.msg = record.msg.replace("%s", "a statement (parameters not logged)")
            record.args = ()
        elif record.msg == "returning exception %s" and record.args:
            error = record.args[0] if isinstance(record.args, tuple) else record.args
            record.msg, record.args = "returning exception %s", (type(error).__name__,)
        return True


_AIOSQLITE_LOG = logging.getLogger("aiosqlite")
if not any(isinstance(f, _WithoutParameters) for f in _AIOSQLITE_LOG.filters):
    _AIOSQLITE_LOG.addFilter(_WithoutParameters())
