"""SOQL text to a :class:`~opencx_salesforce.emulator.soql.ast.Query`, by recursive descent.

The grammar, clause order included (USING SCOPE, WHERE, WITH, GROUP BY, ORDER
BY, LIMIT, OFFSET, FOR):

    query      := SELECT item ("," item)* FROM name [alias] [WHERE logical]
                  [ORDER BY order ("," order)*] [LIMIT int] [OFFSET int]
    item       := path | COUNT "(" [path] ")" [alias] | "(" query ")"
    logical    := cond (AND cond)* | cond (OR cond)* | NOT cond
    cond       := "(" logical ")" | path operator value

AND and OR can't be mixed without parentheses, and NOT takes one condition:
"Parentheses are required whenever you mix the operators." A mixed chain fails
at the second operator with ``unexpected token: 'OR'``.
[src: soql_sosl sforce_api_calls_soql_select_logicaloperators.htm;
 sforce_api_calls_soql_select_conditionexpression.htm; Summer '24 release notes
 "unexpected token: 'OR'"]

Syntax errors are MALFORMED_QUERY ``unexpected token: '<text>'`` (``'<EOF>'`` at
the end) at the offending token. [src: SALESFORCE.md §5, §10; Summer '24
release notes, "SOQL: Changed Error Messages"]

Valid SOQL this emulator does not evaluate (GROUP BY, HAVING, WITH, USING
SCOPE, FOR ..., TYPEOF, functions other than COUNT) is refused with a
MALFORMED_QUERY that says so, rather than a made-up syntax error.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from opencx_salesforce.emulator.soql import dates
from opencx_salesforce.emulator.soql.ast import (
    And,
    BooleanValue,
    Comparison,
    Condition,
    CountItem,
    DateLiteral,
    DateTimeValue,
    DateValue,
    FieldItem,
    FieldRef,
    Not,
    NullValue,
    NumberValue,
    Operator,
    Or,
    OrderItem,
    Query,
    Scalar,
    SelectItem,
    SemiJoin,
    StringValue,
    SubqueryItem,
    Value,
    ValueList,
)
from opencx_salesforce.emulator.soql.errors import located
from opencx_salesforce.emulator.soql.keywords import (
    CLAUSE_WORDS,
    LIST_OPERATORS,
    RESERVED,
    UNSUPPORTED_CLAUSES,
    WORD_OPERATORS,
)
from opencx_salesforce.emulator.soql.lexer import Kind, Token, tokenize
from opencx_salesforce.emulator.soql.token_stream import TokenStream


def parse(text: str) -> Query:
    """Parse one SOQL query; raises :class:`SoqlError` (MALFORMED_QUERY)."""
    parser = _Parser(text, tokenize(text))
    query = parser.query(nested=False)
    parser.expect_end()
    return query


class _Parser(TokenStream):
    """Recursive descent over the grammar in this module's docstring."""

    def expect_end(self) -> None:
        self.refuse_unsupported_clause()
        if self.peek().kind is not Kind.EOF:
            self.unexpected()

    def refuse_unsupported_clause(self) -> None:
        word = self.peek().upper
        if word in UNSUPPORTED_CLAUSES:
            self.unsupported(UNSUPPORTED_CLAUSES[word])

    # --- query -------------------------------------------------------------------

    def query(self, *, nested: bool) -> Query:
        start = self.expect_word("SELECT")
        items = [self.select_item()]
        while self.peek().kind is Kind.COMMA:
            self.advance()
            items.append(self.select_item())
        self.expect_word("FROM")
        sobject = self.object_name(dotted=nested)
        alias = None
        after = self.peek()
        if after.kind is Kind.WORD and after.upper not in CLAUSE_WORDS:
            alias = self.advance().text
        self.refuse_unsupported_clause()
        where = None
        if self.take_word("WHERE"):
            where = self.logical()
        self.refuse_unsupported_clause()
        order_by: list[OrderItem] = []
        if self.at_word("ORDER"):
            self.advance()
            self.expect_word("BY")
            order_by.append(self.order_item())
            while self.peek().kind is Kind.COMMA:
                self.advance()
                order_by.append(self.order_item())
        limit = self.count_clause("LIMIT")
        offset = self.count_clause("OFFSET")
        return Query(
            select=tuple(items),
            sobject=sobject,
            alias=alias,
            where=where,
            order_by=tuple(order_by),
            limit=limit,
            offset=offset,
            pos=start.start,
            text=self.text,
        )

    def object_name(self, *, dotted: bool) -> FieldRef:
        # Any word may name an object here: Group and Order are objects.
        first = self.expect(Kind.WORD)
        parts = [first.text]
        while dotted and self.peek().kind is Kind.DOT:
            self.advance()
            parts.append(self.expect(Kind.WORD).text)
        return FieldRef(tuple(parts), pos=first.start)

    def count_clause(self, word: str) -> int | None:
        if not self.take_word(word):
            return None
        number = self.expect(Kind.NUMBER)
        if not number.text.isdigit():
            self.unexpected(number)
        return int(number.text)

    def select_item(self) -> SelectItem:
        token = self.peek()
        if token.kind is Kind.LPAREN:
            self.advance()
            query = self.query(nested=True)
            self.expect(Kind.RPAREN)
            return SubqueryItem(query)
        if token.kind is Kind.WORD and self.peek(1).kind is Kind.LPAREN:
            return self.function_item()
        if token.upper == "TYPEOF":
            self.unsupported("TYPEOF")
        return FieldItem(self.field_ref())

    def function_item(self) -> CountItem:
        name = self.advance()
        if name.upper != "COUNT":
            self.unsupported(f"{name.text.upper()}()", name)
        self.expect(Kind.LPAREN)
        field = None if self.peek().kind is Kind.RPAREN else self.field_ref()
        self.expect(Kind.RPAREN)
        alias = None
        after = self.peek()
        if field is not None and after.kind is Kind.WORD and after.upper not in CLAUSE_WORDS:
            alias = self.advance().text
        return CountItem(field, alias, pos=name.start)

    def field_ref(self) -> FieldRef:
        first = self.name()
        parts = [first.text]
        while self.peek().kind is Kind.DOT:
            self.advance()
            parts.append(self.name().text)
        return FieldRef(tuple(parts), pos=first.start)

    def name(self) -> Token:
        token = self.peek()
        if token.kind is not Kind.WORD or token.upper in RESERVED:
            self.unexpected()
        return self.advance()

    def order_item(self) -> OrderItem:
        field = self.field_ref()
        descending = False
        if self.at_word("ASC", "DESC"):
            descending = self.advance().upper == "DESC"
        nulls: Literal["FIRST", "LAST"] | None = None
        if self.take_word("NULLS"):
            if not self.at_word("FIRST", "LAST"):
                self.unexpected()
            nulls = "FIRST" if self.advance().upper == "FIRST" else "LAST"
        return OrderItem(field, descending, nulls)

    # --- conditions --------------------------------------------------------------

    def logical(self) -> Condition:
        if self.take_word("NOT"):
            return Not(self.conditional())
        first = self.conditional()
        for word, node in (("AND", And), ("OR", Or)):
            if self.at_word(word):
                items = [first]
                while self.take_word(word):
                    items.append(self.conditional())
                return node(tuple(items))
        return first

    def conditional(self) -> Condition:
        if self.peek().kind is Kind.LPAREN:
            self.advance()
            inner = self.logical()
            self.expect(Kind.RPAREN)
            return inner
        return self.field_expression()

    def field_expression(self) -> Comparison:
        if self.peek().kind is Kind.WORD and self.peek(1).kind is Kind.LPAREN:
            self.unsupported(f"{self.peek().text.upper()}() in WHERE")
        field = self.field_ref()
        operator = self.operator()
        if operator in LIST_OPERATORS:
            value: Value = self.list_value(semi_join=operator in ("IN", "NOT IN"))
        else:
            value = self.scalar()
        return Comparison(field, operator, value, pos=field.pos)

    def operator(self) -> Operator:
        token = self.peek()
        if token.kind is Kind.OPERATOR:
            self.advance()
            text = "!=" if token.text == "<>" else token.text
            for symbol in ("=", "!=", "<", ">", "<=", ">="):
                if text == symbol:
                    return symbol
        if token.upper in WORD_OPERATORS:
            self.advance()
            return WORD_OPERATORS[token.upper]
        if token.upper == "NOT" and self.peek(1).upper == "IN":
            self.advance()
            self.advance()
            return "NOT IN"
        self.unexpected()

    def list_value(self, *, semi_join: bool) -> ValueList | SemiJoin:
        opening = self.expect(Kind.LPAREN)
        if semi_join and self.at_word("SELECT"):
            query = self.query(nested=False)
            self.expect(Kind.RPAREN)
            return SemiJoin(query, pos=opening.start)
        items = [self.scalar()]
        while self.peek().kind is Kind.COMMA:
            self.advance()
            items.append(self.scalar())
        self.expect(Kind.RPAREN)
        return ValueList(tuple(items), pos=opening.start)

    def scalar(self) -> Scalar:
        token = self.peek()
        if token.kind is Kind.STRING and isinstance(token.value, str):
            self.advance()
            return StringValue(token.value, token.escaped_wildcards, pos=token.start)
        if token.kind in (Kind.NUMBER, Kind.MINUS, Kind.PLUS):
            return self.number()
        if token.kind is Kind.DATETIME and isinstance(token.value, datetime):
            self.advance()
            return DateTimeValue(token.value, pos=token.start)
        if token.kind is Kind.DATE and isinstance(token.value, date):
            self.advance()
            return DateValue(token.value, pos=token.start)
        if token.kind is Kind.COLON and self.peek(1).kind is Kind.WORD:
            # The platform's message for a bind outside Apex (as reported by sf CLI
            # users; errorCode UNCONFIRMED, MALFORMED_QUERY assumed).
            raise located(
                "MALFORMED_QUERY",
                self.text,
                token.start,
                "Bind variables only allowed in Apex code",
            )
        word = token.upper
        if word in ("TRUE", "FALSE"):
            self.advance()
            return BooleanValue(word == "TRUE", pos=token.start)
        if word == "NULL":
            self.advance()
            return NullValue(pos=token.start)
        if word in dates.SIMPLE:
            self.advance()
            return DateLiteral(word, pos=token.start)
        if word in dates.WITH_NUMBER:
            self.advance()
            self.expect(Kind.COLON)
            amount = self.number()
            if amount.value != amount.value.to_integral_value():
                self.unexpected(self.tokens[self.index - 1])
            return DateLiteral(word, int(amount.value), pos=token.start)
        self.unexpected()

    def number(self) -> NumberValue:
        start = self.peek()
        sign = 1
        if start.kind in (Kind.MINUS, Kind.PLUS):
            sign = -1 if self.advance().kind is Kind.MINUS else 1
        digits = self.expect(Kind.NUMBER)
        return NumberValue(Decimal(digits.text) * sign, pos=start.start)


__all__ = ["parse"]
