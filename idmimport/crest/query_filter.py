"""Parser for CREST ``_queryFilter`` expressions (spec section 6.2).

Pure module: plain text in, frozen dataclasses out; no Django, no database.

The grammar is the CREST one plus a lenient superset (tabs as whitespace, ``!!x``,
a quote glued to the end of a word, exponents in numbers). The parser is
iterative (operator-precedence with explicit stacks) so that nesting depth is
bounded by ``MAX_DEPTH`` alone, never by Python's recursion limit: a filter
nested 10,000 levels deep is rejected at level 257 in linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "MAX_DEPTH",
    "And",
    "Comparison",
    "FalseFilter",
    "FilterNode",
    "FilterValue",
    "Not",
    "Or",
    "Presence",
    "QueryFilterError",
    "TrueFilter",
    "format_pointer",
    "parse_number",
    "parse_query_filter",
]

# CREST's limit; counts every enclosing "(" and "!".
MAX_DEPTH = 256

FilterValue: TypeAlias = str | int | float | bool
Pointer: TypeAlias = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TrueFilter:
    """``true``: matches everything."""


@dataclass(frozen=True, slots=True)
class FalseFilter:
    """``false``: matches nothing."""


@dataclass(frozen=True, slots=True)
class And:
    """Conjunction; children in source order, at least two."""

    children: tuple[FilterNode, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Disjunction; children in source order, at least two."""

    children: tuple[FilterNode, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """Negation (``!``)."""

    child: FilterNode


@dataclass(frozen=True, slots=True)
class Presence:
    """``field pr``: the field is present and not null."""

    field: Pointer


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; ``operator`` is lower-cased and may be an extended one."""

    field: Pointer
    operator: str
    value: FilterValue


FilterNode: TypeAlias = (
    TrueFilter | FalseFilter | And | Or | Not | Presence | Comparison
)


class QueryFilterError(ValueError):
    """A ``_queryFilter`` that cannot be parsed.

    ``str()`` is CREST's exact message so the API can return it verbatim;
    ``detail`` and ``position`` (0-based character offset) say what went wrong
    and where, for logs and for an optional ``detail`` in the error body.
    """

    def __init__(self, filter_text: str, position: int, detail: str) -> None:
        self.filter_text = filter_text
        self.position = position
        self.detail = detail
        super().__init__(
            f"The value '{filter_text}' for parameter '_queryFilter' "
            "could not be parsed as a valid query filter"
        )

    def describe(self) -> str:
        """The CREST message followed by the detail and the position."""
        return f"{self}: {self.detail} at position {self.position}"


# ---------------------------------------------------------------------------
# Tokenizer

_WHITESPACE = frozenset(" \t\r\n")
_QUOTES = frozenset("\"'")
# A bare word ends at whitespace, a parenthesis or a quote; ending it at a quote
# is the lenient part that makes `sn eq"Jensen"` work.
_WORD_END = _WHITESPACE | _QUOTES | frozenset("()")

_LPAREN, _RPAREN, _NOT, _STRING, _WORD = "(", ")", "!", "string", "word"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str  # a word's text or a string literal's decoded value
    position: int


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Decode the literal opening at ``start``; return it and the index past it."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            return "".join(chars), i + 1
        if char == "\\":
            i += 1
            if i == len(text):
                raise QueryFilterError(text, i - 1, "trailing backslash")
            char = text[i]
        chars.append(char)
        i += 1
    raise QueryFilterError(text, start, "unterminated string literal")


def _tokenize(text: str) -> Iterator[_Token]:
    i = 0
    while i < len(text):
        char = text[i]
        if char in _WHITESPACE:
            i += 1
        elif char in "()!":
            # "!" is NOT only at the start of a token; inside a word it is literal.
            yield _Token({"(": _LPAREN, ")": _RPAREN, "!": _NOT}[char], char, i)
            i += 1
        elif char in _QUOTES:
            value, end = _read_string(text, i)
            yield _Token(_STRING, value, i)
            i = end
        else:
            end = i + 1
            while end < len(text) and text[end] not in _WORD_END:
                end += 1
            yield _Token(_WORD, text[i:end], i)
            i = end


# ---------------------------------------------------------------------------
# Literals and pointers

_OPERATOR = re.compile(r"[A-Za-z0-9_.]+")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_POINTER_ESCAPE = re.compile("~[01]")
_INT64 = range(-(2**63), 2**63)


def _decode_pointer(word: str) -> Pointer:
    """JSON pointer to segments; leading and trailing ``/`` are optional.

    Empty inner segments are kept (``a//b`` has an empty key in the middle),
    as in ForgeRock's ``JsonPointer``.
    """
    segments = word.split("/")
    if segments[0] == "":
        segments = segments[1:]
    if segments and segments[-1] == "":
        segments = segments[:-1]
    # One pass so "~01" decodes to "~1", not "/" (RFC 6901 section 4).
    return tuple(
        _POINTER_ESCAPE.sub(lambda m: "/" if m[0] == "~1" else "~", segment)
        for segment in segments
    )


def parse_number(word: str) -> int | float | None:
    """CREST number syntax: with ``.`` or an exponent a float, else a 64-bit int.

    Returns None for anything else, including out-of-range and infinite values.
    """
    if _INTEGER.fullmatch(word):
        number = int(word)
        return number if number in _INT64 else None
    if _FLOAT.fullmatch(word):
        number = float(word)
        return number if number not in (float("inf"), float("-inf")) else None
    return None


def _parse_value(text: str, token: _Token | None) -> FilterValue:
    if token is None:
        raise QueryFilterError(text, len(text), "missing value")
    if token.kind == _STRING:
        return token.text
    if token.kind == _WORD:
        lowered = token.text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        number = parse_number(token.text)
        if number is not None:
            return number
    raise QueryFilterError(text, token.position, f"invalid value {token.text!r}")


def format_pointer(field: Pointer) -> str:
    """Segments back to a JSON pointer string: ``("a", "b/c")`` -> ``/a/b~1c``."""
    return "".join(
        "/" + segment.replace("~", "~0").replace("/", "~1") for segment in field
    )


# ---------------------------------------------------------------------------
# Parser


class _Parser:
    """Operator-precedence parser over the token stream with explicit stacks.

    ``_operators`` holds ``"("``, ``"!"`` and n-ary ``["and"|"or", arity]``
    entries; ``_operands`` holds finished nodes. ``"!"`` binds tightest, then
    ``and``, then ``or``; parentheses group.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokenize(text)
        self._operands: list[FilterNode] = []
        self._operators: list[list] = []
        self._depth = 0

    def _next(self) -> _Token | None:
        return next(self._tokens, None)

    def _error(self, position: int, detail: str) -> QueryFilterError:
        return QueryFilterError(self._text, position, detail)

    def parse(self) -> FilterNode:
        if not self._text.strip(" \t\r\n"):
            raise self._error(0, "empty filter")
        expecting_operand = True
        for token in self._tokens:
            if expecting_operand:
                expecting_operand = self._operand_token(token)
            else:
                expecting_operand = self._operator_token(token)
        if expecting_operand:
            raise self._error(len(self._text), "unexpected end of filter")
        self._reduce_connectors(keep_or=False)
        if self._operators:
            raise self._error(len(self._text), "unbalanced '('")
        (node,) = self._operands
        return node

    # -- state: an operand is expected ---------------------------------------

    def _operand_token(self, token: _Token) -> bool:
        """Consume a token where a filter must start; True if one still must."""
        if token.kind in (_LPAREN, _NOT):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise self._error(token.position, f"nesting deeper than {MAX_DEPTH}")
            self._operators.append([token.kind])
            return True
        if token.kind != _WORD:
            raise self._error(token.position, "expected a filter")
        lowered = token.text.lower()
        if lowered == "true":
            self._push_operand(TrueFilter())
        elif lowered == "false":
            self._push_operand(FalseFilter())
        else:
            self._push_operand(self._comparison(token))
        return False

    def _comparison(self, field_token: _Token) -> Presence | Comparison:
        field = _decode_pointer(field_token.text)
        operator_token = self._next()
        if operator_token is None or operator_token.kind != _WORD:
            position = (
                len(self._text) if operator_token is None else (operator_token.position)
            )
            raise self._error(position, "expected an operator")
        if not _OPERATOR.fullmatch(operator_token.text):
            raise self._error(operator_token.position, "invalid operator")
        operator = operator_token.text.lower()
        if operator == "pr":
            return Presence(field)
        return Comparison(field, operator, _parse_value(self._text, self._next()))

    def _push_operand(self, node: FilterNode) -> None:
        # A finished operand completes every "!" waiting directly before it.
        while self._operators and self._operators[-1][0] == _NOT:
            self._operators.pop()
            self._depth -= 1
            node = Not(node)
        self._operands.append(node)

    # -- state: an operand was just completed --------------------------------

    def _operator_token(self, token: _Token) -> bool:
        """Consume a token after an operand; True if an operand must follow."""
        if token.kind == _RPAREN:
            self._reduce_connectors(keep_or=False)
            if not self._operators:
                raise self._error(token.position, "unbalanced ')'")
            self._operators.pop()  # the matching "("
            self._depth -= 1
            self._push_operand(self._operands.pop())
            return False
        lowered = token.text.lower() if token.kind == _WORD else ""
        if lowered not in ("and", "or"):
            raise self._error(token.position, "expected 'and', 'or' or ')'")
        if lowered == "or":
            # "and" binds tighter: "a and b or c" closes the And before the Or.
            self._reduce_connectors(keep_or=True)
        top = self._operators[-1] if self._operators else None
        if top is not None and top[0] == lowered:
            top[1] += 1  # n-ary: "a and b and c" is one And with three children
        else:
            self._operators.append([lowered, 1])
        return True

    def _reduce_connectors(self, *, keep_or: bool) -> None:
        """Fold pending ``and`` (and, unless ``keep_or``, ``or``) entries down to
        the nearest ``(`` into nodes."""
        while self._operators and self._operators[-1][0] in ("and", "or"):
            kind, arity = self._operators[-1]
            if keep_or and kind == "or":
                return
            self._operators.pop()
            children = tuple(self._operands[-arity - 1 :])
            del self._operands[-arity - 1 :]
            self._operands.append(And(children) if kind == "and" else Or(children))


def parse_query_filter(text: str) -> FilterNode:
    """Parse a ``_queryFilter`` value.

    Raises:
        QueryFilterError: the text is not a valid filter (CREST's 400 message).
    """
    return _Parser(text).parse()
