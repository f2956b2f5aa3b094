"""A cursor over SOQL tokens for the parser: looking ahead, taking expected
tokens, and the MALFORMED_QUERY errors for an unexpected token or a valid but
unsupported construct."""

from __future__ import annotations

from typing import NoReturn

from opencx_salesforce.emulator.soql.errors import located
from opencx_salesforce.emulator.soql.lexer import Kind, Token


class TokenStream:
    """The tokens of one query text and the position in them."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.last = len(tokens) - 1  # the EOF token

    def peek(self, ahead: int = 0) -> Token:
        at = self.index + ahead
        return self.tokens[at if at < self.last else self.last]

    def advance(self) -> Token:
        token = self.peek()
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.peek().upper in words

    def take_word(self, word: str) -> bool:
        if self.at_word(word):
            self.advance()
            return True
        return False

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            self.unexpected()
        return self.advance()

    def expect(self, kind: Kind) -> Token:
        if self.peek().kind is not kind:
            self.unexpected()
        return self.advance()

    def unexpected(self, token: Token | None = None) -> NoReturn:
        token = token or self.peek()
        raise located(
            "MALFORMED_QUERY", self.text, token.start, f"unexpected token: '{token.text}'"
        )

    def unsupported(self, what: str, token: Token | None = None) -> NoReturn:
        token = token or self.peek()
        raise located(
            "MALFORMED_QUERY",
            self.text,
            token.start,
            f"{what} is valid SOQL but not supported by the opencx-salesforce emulator",
        )
