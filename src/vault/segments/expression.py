"""The segment definition language: a hand-written tokenizer, a Pratt parser and a type-checking compiler.

An expression such as::

    tier == "core" and churn_risk > 0.7 and region in ["서울", "경기"] and not label.blacklist

is tokenized, parsed into a small AST and compiled to a Polars expression over the feature columns
(:mod:`vault.segments.features`). Nothing is ever evaluated as Python (no ``eval``) or spliced into
SQL: names must be feature names, literals become Polars literals, and the only operators are the
ones below. Every error carries the 1-based column of the mistake; unknown names list the valid ones.

Grammar (lowest precedence first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum [ ("==" | "!=" | "<" | "<=" | ">" | ">=") sum
                      | ["not"] "in" list
                      | ["not"] "between" sum "and" sum
                      | "is" ["not"] "null" ]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | "null" | NAME | "(" expr ")" | list
    list       := "[" [literal ("," literal)*] "]"
    NAME       := IDENT ("." IDENT)*        e.g. consent.marketing_email, label.blacklist

Null follows SQL: a comparison with a missing value is unknown, and a customer is a member only
when the whole expression is true.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import polars as pl

from vault.segments.errors import ExpressionError
from vault.segments.features import BOOL, INSTANT, NUMBER, STRING

if TYPE_CHECKING:
    from vault.segments.features import FeatureCatalogue

MAX_LENGTH = 4000
MAX_DEPTH = 64
MAX_LIST = 1000
KEYWORDS = frozenset({"and", "or", "not", "in", "between", "is", "null", "true", "false"})
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,|\.)
""", re.VERBOSE)
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Token:
    """A lexeme with its 1-based column."""

    kind: str  # number, string, name, keyword, op, end
    text: str
    pos: int
    value: object = None


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens.

    Raises:
        ExpressionError: an unexpected character or an unterminated string, with its column.
    """
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    out: list[Token] = []
    i = 0
    while i < len(source):
        m = _TOKEN.match(source, i)
        if m is None:
            ch = source[i]
            if ch in "\"'":
                raise ExpressionError("unterminated string", i + 1)
            hint = {"=": " (compare with ==)", "&": " (use and)", "|": " (use or)", "!": " (use not or !=)",
                    ";": " (one expression only)"}.get(ch, "")
            raise ExpressionError(f"unexpected character {ch!r}{hint}", i + 1)
        kind = m.lastgroup
        text = m.group()
        if kind == "name":
            if text in KEYWORDS:
                out.append(Token("keyword", text, i + 1))
            else:
                out.append(Token("name", text, i + 1))
        elif kind == "number":
            value: float | int = float(text) if any(c in text for c in ".eE") else int(text)
            out.append(Token("number", text, i + 1, value))
        elif kind == "string":
            out.append(Token("string", text, i + 1, _unquote(text, i + 1)))
        elif kind == "op":
            out.append(Token("op", text, i + 1))
        i = m.end()
    out.append(Token("end", "", len(source) + 1))
    return out


def _unquote(text: str, pos: int) -> str:
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                raise ExpressionError(f"unknown escape \\{nxt} in string", pos + i + 1)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# -- AST ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Node:
    """Base of AST nodes; ``pos`` is the 1-based column where the node starts."""

    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: object  # int, float, str, bool or None


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "not" or "-"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # and, or, comparisons, + - * /
    left: Node
    right: Node
    op_pos: int = 0


@dataclass(frozen=True, slots=True)
class InList(Node):
    operand: Node
    items: ListLit
    negated: bool


@dataclass(frozen=True, slots=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node
    negated: bool


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    operand: Node
    negated: bool


# -- parser -------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._t = tokens
        self._i = 0
        self._depth = 0

    @property
    def cur(self) -> Token:
        return self._t[self._i]

    def _next(self) -> Token:
        tok = self._t[self._i]
        self._i += 1
        return tok

    def _is(self, kind: str, text: str | None = None) -> bool:
        tok = self.cur
        return tok.kind == kind and (text is None or tok.text == text)

    def _expect(self, kind: str, text: str, what: str) -> Token:
        if not self._is(kind, text):
            raise ExpressionError(f"expected {what}, found {_describe(self.cur)}", self.cur.pos)
        return self._next()

    def parse(self) -> Node:
        node = self.expr()
        if not self._is("end"):
            tok = self.cur
            extra = " (function calls are not supported)" if tok.text == "(" else ""
            raise ExpressionError(f"unexpected {_describe(tok)}{extra}", tok.pos)
        return node

    def expr(self) -> Node:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ExpressionError("expression is nested too deeply", self.cur.pos)
        try:
            return self._or()
        finally:
            self._depth -= 1

    def _or(self) -> Node:
        node = self._and()
        while self._is("keyword", "or"):
            op = self._next()
            node = Binary(node.pos, "or", node, self._and(), op.pos)
        return node

    def _and(self) -> Node:
        node = self._not()
        while self._is("keyword", "and"):
            op = self._next()
            node = Binary(node.pos, "and", node, self._not(), op.pos)
        return node

    def _not(self) -> Node:
        if self._is("keyword", "not"):
            tok = self._next()
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise ExpressionError("expression is nested too deeply", tok.pos)
            try:
                return Unary(tok.pos, "not", self._not())
            finally:
                self._depth -= 1
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._sum()
        tok = self.cur
        if tok.kind == "op" and tok.text in COMPARISONS:
            self._next()
            return Binary(left.pos, tok.text, left, self._sum(), tok.pos)
        negated = False
        if self._is("keyword", "not") and self._t[self._i + 1].kind == "keyword" \
                and self._t[self._i + 1].text in ("in", "between"):
            self._next()
            negated = True
        if self._is("keyword", "in"):
            self._next()
            if not self._is("op", "["):
                raise ExpressionError(f"expected a list [..] after in, found {_describe(self.cur)}", self.cur.pos)
            return InList(left.pos, left, self._list(), negated)
        if self._is("keyword", "between"):
            self._next()
            low = self._sum()
            self._expect("keyword", "and", "'and' between the bounds of between")
            high = self._sum()
            return Between(left.pos, left, low, high, negated)
        if self._is("keyword", "is"):
            self._next()
            neg = False
            if self._is("keyword", "not"):
                self._next()
                neg = True
            self._expect("keyword", "null", "null after is / is not")
            return IsNull(left.pos, left, neg)
        return left

    def _sum(self) -> Node:
        node = self._product()
        while self.cur.kind == "op" and self.cur.text in ("+", "-"):
            op = self._next()
            node = Binary(node.pos, op.text, node, self._product(), op.pos)
        return node

    def _product(self) -> Node:
        node = self._unary()
        while self.cur.kind == "op" and self.cur.text in ("*", "/"):
            op = self._next()
            node = Binary(node.pos, op.text, node, self._unary(), op.pos)
        return node

    def _unary(self) -> Node:
        if self._is("op", "-"):
            tok = self._next()
            operand = self._unary()
            if isinstance(operand, Literal) and isinstance(operand.value, int | float) \
                    and not isinstance(operand.value, bool):
                return Literal(tok.pos, -operand.value)
            return Unary(tok.pos, "-", operand)
        return self._primary()

    def _primary(self) -> Node:
        tok = self.cur
        if tok.kind in ("number", "string"):
            self._next()
            return Literal(tok.pos, tok.value)
        if tok.kind == "keyword" and tok.text in ("true", "false", "null"):
            self._next()
            return Literal(tok.pos, {"true": True, "false": False, "null": None}[tok.text])
        if tok.kind == "name":
            self._next()
            if self._is("op", "("):
                raise ExpressionError(f"function calls are not supported ({tok.text}(...)); use the operators "
                                      "and feature names", tok.pos)
            return Name(tok.pos, tok.text)
        if self._is("op", "("):
            self._next()
            node = self.expr()
            self._expect("op", ")", "')'")
            return node
        if self._is("op", "["):
            return self._list()
        raise ExpressionError(f"expected a value, a feature name or '(', found {_describe(tok)}", tok.pos)

    def _list(self) -> ListLit:
        start = self._expect("op", "[", "'['")
        items: list[Literal] = []
        if not self._is("op", "]"):
            while True:
                item = self._unary()
                if not isinstance(item, Literal) or item.value is None:
                    raise ExpressionError("list items must be numbers, strings or booleans", item.pos)
                items.append(item)
                if self._is("op", ","):
                    self._next()
                    continue
                break
        self._expect("op", "]", "',' or ']'")
        return ListLit(start.pos, tuple(items))


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "end of expression"
    return f"{tok.text!r}"


def parse(source: str) -> Node:
    """Parse ``source`` into an AST.

    Raises:
        ExpressionError: with the column of the syntax error.
    """
    if not source.strip():
        raise ExpressionError("expression is empty", 1)
    return _Parser(tokenize(source)).parse()


# -- compiler -----------------------------------------------------------------------------------------

@dataclass
class Compiled:
    """A type-checked expression: the Polars predicate plus the feature names it reads."""

    source: str
    predicate: pl.Expr
    names: set[str] = field(default_factory=set)


def _type_of_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUMBER
    return STRING


def _instant(text: str, pos: int) -> datetime:
    """A date (00:00 KST) or an instant (naive = KST) literal compared with an instant feature."""
    from vault.segments.behaviour import KST

    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=KST).astimezone(UTC)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ExpressionError(f"{text!r} is not a date (YYYY-MM-DD) or ISO-8601 instant", pos) from None
    return (at if at.tzinfo else at.replace(tzinfo=KST)).astimezone(UTC)


class _Compiler:
    def __init__(self, catalogue: FeatureCatalogue) -> None:
        self._cat = catalogue
        self.names: set[str] = set()

    def compile(self, node: Node) -> tuple[pl.Expr, str]:
        if isinstance(node, Literal):
            kind = _type_of_value(node.value)
            if isinstance(node.value, float) and not math.isfinite(node.value):
                raise ExpressionError("number is out of range", node.pos)
            return pl.lit(node.value), kind
        if isinstance(node, Name):
            if node.name not in self._cat:
                raise ExpressionError(f"unknown name {node.name!r}", node.pos, valid=self._cat.names)
            self.names.add(node.name)
            return pl.col(node.name), self._cat[node.name].type
        if isinstance(node, ListLit):
            raise ExpressionError("a list can only follow in", node.pos)
        if isinstance(node, Unary):
            expr, kind = self.compile(node.operand)
            if node.op == "not":
                self._want(node.operand, kind, BOOL, "not")
                return ~expr, BOOL
            self._want(node.operand, kind, NUMBER, "unary -")
            return -expr, NUMBER
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, InList):
            expr, kind = self.compile(node.operand)
            if kind not in (NUMBER, STRING):
                raise ExpressionError(f"in needs a number or string on the left, not {kind}", node.operand.pos)
            if len(node.items.items) > MAX_LIST:
                raise ExpressionError(f"a list may hold at most {MAX_LIST} items", node.items.pos)
            for item in node.items.items:
                self._want(item, _type_of_value(item.value), kind, "in list")
                self._check_domain(node.operand, item)
            # OR of equalities: a missing value stays unknown (SQL semantics); an empty list is false
            member = pl.any_horizontal([expr.eq(pl.lit(item.value)) for item in node.items.items]) \
                if node.items.items else pl.lit(False)
            return (~member if node.negated else member), BOOL
        if isinstance(node, Between):
            expr, kind = self.compile(node.operand)
            if kind not in (NUMBER, INSTANT):
                raise ExpressionError(f"between needs a number or instant, not {kind}", node.operand.pos)
            low = self._operand(node.low, kind)
            high = self._operand(node.high, kind)
            inside = (expr >= low) & (expr <= high)
            return (~inside if node.negated else inside), BOOL
        if isinstance(node, IsNull):
            expr, _ = self.compile(node.operand)
            return (expr.is_not_null() if node.negated else expr.is_null()), BOOL
        raise ExpressionError("unsupported expression", node.pos)  # pragma: no cover

    def _operand(self, node: Node, kind: str) -> pl.Expr:
        """Compile ``node`` as a value comparable with ``kind`` (string literals become instants)."""
        if kind == INSTANT and isinstance(node, Literal) and isinstance(node.value, str):
            return pl.lit(_instant(node.value, node.pos), dtype=pl.Datetime("us", "UTC"))
        expr, got = self.compile(node)
        if got == "null":
            raise ExpressionError("compare with null using 'is null' / 'is not null'", node.pos)
        self._want(node, got, kind, "comparison")
        return expr

    def _binary(self, node: Binary) -> tuple[pl.Expr, str]:
        if node.op in ("and", "or"):
            left, lk = self.compile(node.left)
            right, rk = self.compile(node.right)
            self._want(node.left, lk, BOOL, node.op)
            self._want(node.right, rk, BOOL, node.op)
            return (left & right if node.op == "and" else left | right), BOOL
        if node.op in ("+", "-", "*", "/"):
            left, lk = self.compile(node.left)
            right, rk = self.compile(node.right)
            self._want(node.left, lk, NUMBER, f"'{node.op}'")
            self._want(node.right, rk, NUMBER, f"'{node.op}'")
            if node.op == "+":
                return left + right, NUMBER
            if node.op == "-":
                return left - right, NUMBER
            if node.op == "*":
                return left * right, NUMBER
            # x / 0 is unknown (null), as in SQL, not infinity
            return pl.when(right != 0).then(left.cast(pl.Float64) / right), NUMBER
        # comparisons
        if (isinstance(node.left, Literal) and node.left.value is None) or \
                (isinstance(node.right, Literal) and node.right.value is None):
            at = node.left.pos if isinstance(node.left, Literal) and node.left.value is None else node.right.pos
            raise ExpressionError("compare with null using 'is null' / 'is not null'", at)
        left_is_instant_str = isinstance(node.left, Literal) and isinstance(node.left.value, str)
        if left_is_instant_str:
            right, rk = self.compile(node.right)
            left = self._operand(node.left, rk)
            kind = rk
        else:
            left, kind = self.compile(node.left)
            right = self._operand(node.right, kind)
        if node.op in ("<", "<=", ">", ">=") and kind not in (NUMBER, STRING, INSTANT):
            raise ExpressionError(f"{node.op} needs numbers, strings or instants, not {kind}", node.op_pos)
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(other, Literal):
                self._check_domain(side, other)
        ops = {"==": left.eq(right), "!=": left.ne(right), "<": left < right, "<=": left <= right,
               ">": left > right, ">=": left >= right}
        return ops[node.op], BOOL

    def _check_domain(self, side: Node, literal: Literal) -> None:
        if isinstance(side, Name) and side.name in self._cat:
            allowed = self._cat[side.name].values
            if allowed is not None and isinstance(literal.value, str) and literal.value not in allowed:
                raise ExpressionError(f"{literal.value!r} is not a value of {side.name}; valid values: "
                                      f"{', '.join(allowed)}", literal.pos)

    @staticmethod
    def _want(node: Node, got: str, want: str, where: str) -> None:
        if got != want:
            if got == "null":
                raise ExpressionError("null can only be tested with 'is null' / 'is not null'", node.pos)
            raise ExpressionError(f"type error: {where} needs {want}, but this is {got}", node.pos)


def compile_expression(source: str, catalogue: FeatureCatalogue) -> Compiled:
    """Parse and type-check ``source``; the result selects rows of a feature table.

    Raises:
        ExpressionError: syntax, unknown name (listing valid names) or type error, with the column.
    """
    tree = parse(source)
    compiler = _Compiler(catalogue)
    expr, kind = compiler.compile(tree)
    if kind != BOOL:
        raise ExpressionError(f"a segment expression must be true or false, but this is {kind}", tree.pos)
    return Compiled(source, expr.fill_null(False), compiler.names)
