"""The emulator's SOQL engine: a tokenizer and recursive-descent parser to a
typed syntax tree, and an evaluator over any :class:`SoqlSource`.

Use::

    query = parse("SELECT Id, Contact.Email FROM Case WHERE IsClosed = false")
    result = execute(query, source, api_version="62.0", now=clock.utcnow())
    result.total_size, result.records

Both raise :class:`SoqlError` (``error_code``, ``message``; HTTP 400 with
:meth:`SoqlError.body`) for what Salesforce would refuse.
"""

from opencx_salesforce.emulator.soql.ast import Query
from opencx_salesforce.emulator.soql.errors import SoqlError
from opencx_salesforce.emulator.soql.evaluate import execute
from opencx_salesforce.emulator.soql.parser import parse
from opencx_salesforce.emulator.soql.render import render
from opencx_salesforce.emulator.soql.result import QueryResult
from opencx_salesforce.emulator.soql.source import FieldInfo, SoqlSource

__all__ = [
    "FieldInfo",
    "Query",
    "QueryResult",
    "SoqlError",
    "SoqlSource",
    "execute",
    "parse",
    "render",
]
