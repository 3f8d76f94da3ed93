"""Issue 10, finding 13: retention respects restriction and legal hold; bulk erasure takes two people.

- A soft-deleted customer past retention is kept while processing is restricted (GDPR Art. 18,
  kept for legal claims) or a data subject request about them is open (the legal hold while it
  is answered); the restriction is not cleared.
- A bulk erasure above the approval threshold is only a proposal until a *different* compliance
  officer approves the same customers and reason.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import Creds
from tests.integration.test_rights import OP, new_customer, officer
from vault.access.caller import Caller
from vault.audit.entry import Actor
from vault.audit.models import AuditSubjectRow
from vault.bootstrap import Vault
from vault.customers.models import CustomerRow
from vault.rights.erasure import ErasureProposal, ErasureResult
from vault.rights.errors import SecondApprovalError
from vault.rights.journal import ErasureJournal
from vault.rights.runner import RetentionJob, RightsRunner


async def test_retention_keeps_restricted_and_held_customers(vault: Vault, principals: dict[str, Creds]) -> None:
    plain, _ = await new_customer(vault)
    restricted, _ = await new_customer(vault)
    held, _ = await new_customer(vault)
    for cid in (plain, restricted, held):
        async with vault.db.write() as session:
            await vault.customers(session).soft_delete(cid, OP)
    rights = vault.rights()
    await rights.restrict(restricted, officer(principals))
    await rights.open_request("access", held, "pipa", officer(principals))
    async with vault.db.write() as session:
        await session.execute(update(CustomerRow).where(CustomerRow.id.in_([plain, restricted, held]))
                              .values(deleted_at=datetime.now(UTC) - timedelta(days=4000)))
    retention = RetentionJob(replace(vault.rights_deps, collection=None,
                                     journal=ErasureJournal(vault.settings.rights.erasure_journal)))
    report = await retention.run(OP)
    due = {d.customer_id for d in report.due}
    assert plain in due and restricted not in due and held not in due
    async with vault.db.read() as session:
        rows = {r.id: r for r in (await session.scalars(select(CustomerRow).where(
            CustomerRow.id.in_([plain, restricted, held])))).all()}
    assert rows[plain].status == "erased"
    assert rows[restricted].status == "deleted" and rows[restricted].wrapped_dek is not None
    assert rows[restricted].restricted_at is not None  # the restriction is not cleared
    assert rows[held].status == "deleted" and rows[held].wrapped_dek is not None


async def test_bulk_erasure_above_threshold_needs_a_second_officer(vault: Vault, principals: dict[str, Creds]) -> None:
    rights = RightsRunner(replace(vault.rights_deps, bulk_approval_over=3))
    ids = [(await new_customer(vault))[0] for _ in range(5)]
    first = officer(principals)
    proposal = await rights.erase_many(ids, first, reason="closed shop accounts")
    assert isinstance(proposal, ErasureProposal) and proposal.customers == 5
    async with vault.db.read() as session:
        alive = (await session.scalars(select(CustomerRow.id).where(
            CustomerRow.id.in_(ids), CustomerRow.wrapped_dek.is_not(None)))).all()
    assert len(alive) == 5  # nothing erased by the proposal
    # The proposer cannot approve; another reason or other customers do not match.
    with pytest.raises(SecondApprovalError, match="proposer"):
        await rights.erase_many(ids, first, reason="closed shop accounts", approves=proposal.proposal)
    async with vault.db.write() as session:
        second_principal, _ = await vault.principals(session).create(
            f"second-officer-{uuid.uuid4().hex[:6]}", "compliance_officer", Actor.cli("tests"))
    second = Caller(second_principal, purpose="legal_claims", request_id=uuid.uuid4().hex)
    with pytest.raises(SecondApprovalError, match="differ"):
        await rights.erase_many([*ids[:4], uuid.uuid4()], second, reason="closed shop accounts",
                                approves=proposal.proposal)
    with pytest.raises(SecondApprovalError, match="differ"):
        await rights.erase_many(ids, second, reason="another reason", approves=proposal.proposal)
    done = await rights.erase_many(ids, second, reason="closed shop accounts", approves=proposal.proposal)
    assert isinstance(done, ErasureResult) and len(done.erased) == 5
    # Below the threshold one officer suffices.
    small = [(await new_customer(vault))[0] for _ in range(2)]
    assert isinstance(await rights.erase_many(small, first, reason="two duplicates"), ErasureResult)


async def test_bulk_erasure_proposal_takes_ids_in_any_order(vault: Vault, principals: dict[str, Creds]) -> None:
    """The ids of a proposal are listed in the audit entry ascending, whatever order the officer gave them in
    (a descending list was a ValueError, i.e. a 500); the approval matches the same customers in another order."""
    rights = RightsRunner(replace(vault.rights_deps, bulk_approval_over=3))
    ids = sorted([(await new_customer(vault))[0] for _ in range(5)], key=lambda u: u.bytes, reverse=True)
    proposal = await rights.erase_many(ids, officer(principals), reason="reversed order")
    assert isinstance(proposal, ErasureProposal) and proposal.customers == 5
    async with vault.db.read() as session:
        stored = (await session.scalars(select(AuditSubjectRow.customer_id).where(
            AuditSubjectRow.seq == proposal.proposal))).all()
    assert sorted(stored, key=lambda u: u.bytes) == sorted(ids, key=lambda u: u.bytes)
