"""Issue 10, finding 3 (writer side): client-controlled values cannot poison the audit writer.

Only bounded, escaped renderings reach audit columns, and one entry the database refuses
fails only its own request, never the others in the same group-commit batch.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from vault.audit import Actor, AuditEvent, AuditWriteError, Outcome, verify_chain
from vault.audit.models import AuditEntryRow
from vault.audit.render import text, token
from vault.bootstrap import Vault

ACTOR = Actor(uuid.uuid4(), "writer-test", "application")


async def _row(vault: Vault, seq: int) -> AuditEntryRow:
    async with vault.db.read() as session:
        row = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.seq == seq))).one()
    return row


async def test_oversized_and_hostile_values_are_bounded(vault: Vault) -> None:
    purpose = "p" * 61
    detail = "x" * 8_000_000
    bidi = Actor(uuid.uuid4(), "evil\u202egnp.exe\x00\n" + "n" * 300, "r" * 80)
    seq = await vault.audit.record_durable(AuditEvent(
        "customer.read", Outcome.DENIED, bidi, purpose=purpose, detail=detail, fields=("email", "a b" * 40),
        request_id="r" * 500, client_ip="1" * 500))
    row = await _row(vault, seq)
    assert row.purpose is not None and row.purpose.startswith("invalid:61:") and len(row.purpose) <= 60
    assert row.detail is not None and len(row.detail) <= 500 and row.detail.endswith("[8000000 chars]")
    assert row.principal_name is not None and len(row.principal_name) <= 100
    assert "\u202e" not in row.principal_name and "\x00" not in row.principal_name
    assert "\\u202e" in row.principal_name
    assert row.role is not None and len(row.role) <= 40
    assert row.request_id is not None and len(row.request_id) <= 64
    assert row.fields is not None and row.fields.startswith("email,invalid:")
    async with vault.db.read() as session:
        assert (await verify_chain(session)).ok


async def test_one_bad_entry_never_fails_another(vault: Vault) -> None:
    good = [AuditEvent("customer.read", Outcome.ALLOWED, ACTOR, purpose="service_delivery",
                       customer_id=uuid.uuid4(), request_id=f"good{i}") for i in range(40)]
    # A customer id the database cannot store: the batch holding it fails as a whole.
    bad = AuditEvent("customer.read", Outcome.ALLOWED, ACTOR, purpose="service_delivery",
                     customer_id="not-a-uuid")  # type: ignore[arg-type]
    results = await asyncio.gather(*(vault.audit.record_durable(e) for e in [*good[:20], bad, *good[20:]]),
                                   return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], AuditWriteError)
    assert isinstance(results[20], AuditWriteError)
    seqs = [r for r in results if isinstance(r, int)]
    assert len(set(seqs)) == 40
    async with vault.db.read() as session:
        assert (await verify_chain(session)).ok


@pytest.mark.parametrize(("value", "expected"), [
    ("service_delivery", "service_delivery"),
    ("legal_claims", "legal_claims"),
    ("x" * 60, "x" * 60),
])
def test_plain_tokens_pass_unchanged(value: str, expected: str) -> None:
    assert token(value) == expected


def test_renderings_are_bounded_and_escaped() -> None:
    assert token("x" * 61, 60).startswith("invalid:61:")  # type: ignore[union-attr]
    assert token("drop table;--") != "drop table;--"
    assert text("a\u200bb\u202ec") == "a\\u200bb\\u202ec"
    long = text("y" * 10_000, 100)
    assert long is not None and len(long) <= 100 and long.endswith("[10000 chars]")
