"""SOQL's keyword tables: reserved words, the words that start a clause, the
valid clauses this emulator refuses, and the word operators."""

from __future__ import annotations

from opencx_salesforce.emulator.soql.ast import Operator

# Words that can't name a field or be an alias.
# [src: soql_sosl sforce_api_calls_soql_alias.htm "Alias Notation"]
RESERVED = frozenset(
    {
        "AND",
        "ASC",
        "DESC",
        "EXCLUDES",
        "FIRST",
        "FROM",
        "GROUP",
        "HAVING",
        "IN",
        "INCLUDES",
        "LAST",
        "LIKE",
        "LIMIT",
        "NOT",
        "NULL",
        "NULLS",
        "OR",
        "SELECT",
        "USING",
        "WHERE",
        "WITH",
    }
)
# Words that start a clause after FROM, so are not an object alias.
CLAUSE_WORDS = RESERVED | {"ORDER", "OFFSET", "FOR", "UPDATE", "ALL"}
# Valid clauses this emulator does not evaluate, by their first word.
UNSUPPORTED_CLAUSES = {
    "USING": "USING SCOPE",
    "WITH": "WITH",
    "GROUP": "GROUP BY",
    "HAVING": "HAVING",
    "FOR": "FOR VIEW, FOR REFERENCE and FOR UPDATE",
    "ALL": "ALL ROWS",
    "UPDATE": "UPDATE TRACKING and UPDATE VIEWSTAT",
}
WORD_OPERATORS: dict[str, Operator] = {
    "LIKE": "LIKE",
    "IN": "IN",
    "INCLUDES": "INCLUDES",
    "EXCLUDES": "EXCLUDES",
}
LIST_OPERATORS = frozenset({"IN", "NOT IN", "INCLUDES", "EXCLUDES"})
