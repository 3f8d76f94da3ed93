"""The segment expression language: accepted grammar, semantics on a small table, rejected input with positions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from vault.policy.purposes import load_purposes
from vault.segments.errors import ExpressionError
from vault.segments.expression import compile_expression, parse, tokenize
from vault.segments.features import FeatureCatalogue

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = FeatureCatalogue(load_purposes(ROOT / "policies" / "purposes.yaml"))
TABLE = pl.DataFrame({
    "customer_id": ["a", "b", "c", "d"],
    "tier": ["core", "identified", "general", "core"],
    "churn_risk": [0.8, 0.9, None, 0.2],
    "region": ["서울", "부산", None, "경기"],
    "label.blacklist": [False, False, False, True],
    "frequency": [5, 1, 0, 12],
    "monetary_krw": [500_000, 20_000, 0, 2_000_000],
    "recency_days": [3, 40, None, 1],
    "consent.marketing_email": [True, False, False, True],
    "last_purchase_at": [datetime(2026, 1, 5, tzinfo=UTC), datetime(2025, 12, 31, 15, tzinfo=UTC), None,
                         datetime(2025, 12, 31, 14, 59, tzinfo=UTC)],
}, schema_overrides={"last_purchase_at": pl.Datetime("us", "UTC")})


def members(expr: str) -> list[str]:
    return TABLE.filter(compile_expression(expr, CATALOGUE).predicate)["customer_id"].to_list()


@pytest.mark.parametrize(("expr", "want"), [
    ('tier == "core" and churn_risk > 0.7 and region in ["서울", "경기"] and not label.blacklist', ["a"]),
    ('tier == "core"', ["a", "d"]),
    ("tier != 'core'", ["b", "c"]),
    ("frequency between 1 and 5", ["a", "b"]),
    ("frequency not between 1 and 5", ["c", "d"]),
    ("churn_risk is null", ["c"]),
    ("churn_risk is not null and churn_risk < 0.85", ["a", "d"]),
    ("not (churn_risk > 0.5)", ["d"]),            # null stays unknown under not: c is not a member
    ('region not in ["서울"]', ["b", "d"]),       # c (no region) is neither in nor not in
    ("monetary_krw / frequency >= 100000", ["a", "d"]),  # c divides by zero: unknown
    ("frequency * 2 + 1 > 11 or recency_days - 1 == 0", ["d"]),
    ("-frequency < -4", ["a", "d"]),
    ("consent.marketing_email and label.blacklist == false", ["a"]),
    ('last_purchase_at >= "2026-01-01"', ["a", "b"]),  # 2026-01-01 00:00 KST = 2025-12-31 15:00 UTC
    ("frequency in [0, 12]", ["c", "d"]),
    ("frequency in []", []),
    ("true", ["a", "b", "c", "d"]),
    ("(frequency > 3 or frequency < 1) and not tier == 'general'", ["a", "d"]),
])
def test_semantics(expr: str, want: list[str]) -> None:
    assert members(expr) == want


def test_names_collected() -> None:
    c = compile_expression('tier == "core" and not label.blacklist and region in ["서울"]', CATALOGUE)
    assert c.names == {"tier", "label.blacklist", "region"}
    assert CATALOGUE.groups_for(c.names) >= {"tier", "labels", "demographics", "behaviour", "reach", "consent"}


def test_precedence() -> None:
    tree = parse("a.b or c.d and not e.f")
    assert type(tree).__name__ == "Binary" and tree.op == "or"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("expr", "position", "fragment"), [
    ('__import__("os").system("id")', 1, "function calls are not supported"),
    ("frequency.__class__", 1, "unknown name"),
    ("().__class__.__bases__", 2, "expected a value"),
    ("frequency.__class__ == 1", 1, "unknown name"),
    ("tier .upper == 'x'", 6, "unexpected '.'"),
    ("frequency > 1; DROP TABLE customers", 14, "unexpected character ';'"),
    ("frequency > 1 -- comment", 18, "unknown name 'comment'"),
    ("frequency > 1 OR 1=1", 19, "unexpected character '='"),
    ("frequency > 1 OR true", 15, "unexpected 'OR'"),
    ("frequency = 3", 11, "compare with =="),
    ("frequency >= ", 14, "end of expression"),
    ('tier == "core', 9, "unterminated string"),
    ("tier == 3", 9, "needs string"),
    ("tier == 'cor'", 9, "not a value of tier"),
    ("frequency and tier", 1, "needs bool"),
    ("frequency + 1", 1, "must be true or false"),
    ("frequency == null", 14, "is null"),
    ("regoin == 'x'", 1, "unknown name 'regoin'"),
    ("len(tier) > 1", 1, "function calls are not supported"),
    ("frequency in frequency", 14, "expected a list"),
    ("frequency in [1, 'a']", 18, "needs number"),
    ("eval('1')", 1, "function calls are not supported"),
    ("", 1, "empty"),
    ("frequency > 1 frequency", 15, "unexpected"),
    ("lambda: 1", 7, "unexpected character ':'"),
    ("frequency > 1 & 2", 15, "use and"),
    ("'a' ~ 'b'", 5, "unexpected character"),
])
def test_rejections_carry_the_column(expr: str, position: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(expr, CATALOGUE)
    assert info.value.position == position, info.value.detail
    assert fragment in info.value.detail


def test_unknown_names_list_valid_names() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("regoin == 'x'", CATALOGUE)
    assert "region" in info.value.extra["valid"] and "label.blacklist" in info.value.extra["valid"]
    assert "valid names:" in info.value.detail


def test_limits() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("(" * 100 + "true" + ")" * 100, CATALOGUE)
    with pytest.raises(ExpressionError, match="longer than"):
        compile_expression("true and " * 1000 + "true", CATALOGUE)
    assert [t.kind for t in tokenize('a.b == "x\\"y"')] == ["name", "op", "string", "end"]
