"""What a query returns, before the endpoint pages it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class QueryResult:
    """Every matching record in the documented JSON shape (``attributes``
    first, then the selected fields under canonical names, parents nested,
    child subqueries as ``{"totalSize", "done", "records"}`` or null).

    ``total_size`` is the number of rows the query matched; for ``SELECT
    COUNT()`` it is the count and ``records`` is empty.
    [src: api_rest resources_query.htm; soql_sosl
     sforce_api_calls_soql_relationships_query_results.htm;
     sforce_api_calls_soql_select_count.htm]"""

    total_size: int
    records: list[dict[str, Any]] = field(default_factory=list)

    def as_response(self) -> dict[str, Any]:
        """The whole result as one ``/query`` response (``done`` true)."""
        return {"totalSize": self.total_size, "done": True, "records": self.records}
