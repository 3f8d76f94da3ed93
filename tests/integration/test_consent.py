"""Consent on the real database (SQLite and PostgreSQL): decisions, lawful basis, expiry, contact resolution."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from vault.access.caller import Caller
from vault.access.errors import NoLawfulBasisError
from vault.access.lawful_basis import LawfulBasisCheck
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.audit.verify import verify_chain
from vault.bootstrap import Vault
from vault.consent.contact_pages import ContactPool
from vault.consent.contacts import ContactDeps, ContactQuery, ContactResolver
from vault.consent.expiry import ConsentExpiry
from vault.consent.ledger import SqlConsentLedger
from vault.consent.models import ConsentEventRow, ConsentStateRow
from vault.consent.reads import ConsentReads
from vault.consent.service import ConsentChoice, ConsentService, Evidence
from vault.customers.importer import HEADER
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.customers.records import seal_new

OP = Caller(None, purpose="service_delivery", operator="tests")
NOW = datetime.now(UTC)
# A fixed Korean afternoon and night (tests must not depend on when they run).
DAY = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)     # 14:00 KST
NIGHT = datetime(2026, 6, 1, 13, 30, tzinfo=UTC)  # 22:30 KST


def consents(vault: Vault, session, at: datetime) -> ConsentService:  # type: ignore[no-untyped-def]
    return ConsentService(session, replace(vault.consent_deps, clock=lambda: at))


def reads(vault: Vault, session, at: datetime) -> ConsentReads:  # type: ignore[no-untyped-def]
    return ConsentReads(session, replace(vault.consent_deps, clock=lambda: at))


def expiry(vault: Vault, session, at: datetime) -> ConsentExpiry:  # type: ignore[no-untyped-def]
    return ConsentExpiry(session, replace(vault.consent_deps, clock=lambda: at))


def resolver(vault: Vault, at: datetime, page_size: int = 5000, pool: ContactPool | None = None) -> ContactResolver:
    p = vault.policies
    return ContactResolver(ContactDeps(vault.db, vault.keyring, p.purposes, vault.guard, vault.audit,
                                       clock=lambda: at, pool=pool, parallel_min=1), page_size=page_size)


async def new_customer(vault: Vault, **values: str) -> uuid.UUID:
    ref = f"t-{uuid.uuid4().hex[:10]}"
    base = {"customer_ref": ref, "name": "Kim Minji", "email": f"{ref}@example.org", "phone": "010-2345-6789"}
    async with vault.db.write() as session:
        view, _ = await vault.customers(session).create({**base, **values}, OP)
    return view.id


async def decide(vault: Vault, cid: uuid.UUID, at: datetime, *choices: ConsentChoice, **kw: object) -> None:
    async with vault.db.write() as session:
        await consents(vault, session, at).record(cid, choices, OP, source=str(kw.pop("source", "web_form")),
                                                  **kw)  # type: ignore[arg-type]


async def resolve(vault: Vault, purpose: str, channel: str, at: datetime,
                  ids: tuple[uuid.UUID, ...] | None = None) -> tuple[list[bytes], int]:
    r = resolver(vault, at)
    plan = await r.plan(ContactQuery(channel, at, ids), OP.for_purpose(purpose))
    chunks = [c async for c in r.stream(plan)]
    lines = [line for c in chunks for line in c.splitlines()]
    return lines, plan.count


def grant(purpose: str, *channels: str, version: str | None = None) -> ConsentChoice:
    return ConsentChoice(purpose, "grant", channels or None, version or "2026-01")


async def test_withdraw_then_resolve_at_once_customer_is_gone(vault: Vault) -> None:
    cid = await new_customer(vault)
    await decide(vault, cid, DAY, grant("marketing_email"))
    lines, _ = await resolve(vault, "marketing_email", "email", DAY, (cid,))
    assert len(lines) == 1 and str(cid).encode() in lines[0] and b"@example.org" in lines[0]
    await decide(vault, cid, DAY + timedelta(seconds=1), ConsentChoice("marketing_email", "withdraw"))
    lines, count = await resolve(vault, "marketing_email", "email", DAY + timedelta(seconds=1), (cid,))
    assert lines == [] and count == 0


async def test_withdrawn_consent_denies_the_next_read_saying_why(vault: Vault) -> None:
    cid = await new_customer(vault)
    purpose = vault.policies.purposes.get("marketing_email")
    assert purpose is not None
    check = LawfulBasisCheck(SqlConsentLedger(clock=lambda: DAY + timedelta(minutes=5)))
    async with vault.db.read() as session:
        with pytest.raises(NoLawfulBasisError, match="never granted") as exc:
            await check.require(session, cid, purpose)
        assert exc.value.extra["reason"] == "never_granted"
    await decide(vault, cid, DAY, grant("marketing_email"))
    async with vault.db.read() as session:
        await check.require(session, cid, purpose)
    await decide(vault, cid, DAY + timedelta(minutes=1), ConsentChoice("marketing_email", "withdraw"))
    async with vault.db.read() as session:
        with pytest.raises(NoLawfulBasisError, match="withdrawn"):
            await check.require(session, cid, purpose)


async def test_night_sms_needs_the_night_opt_in(vault: Vault) -> None:
    plain, night_ok = await new_customer(vault), await new_customer(vault)
    await decide(vault, plain, DAY, grant("marketing_sms", "sms"))
    await decide(vault, night_ok, DAY, grant("marketing_sms", "sms"), grant("night_advertising", "sms"))
    ids = (plain, night_ok)
    day_lines, _ = await resolve(vault, "marketing_sms", "sms", DAY, ids)
    assert len(day_lines) == 2 and all(b'"phone":"+8210' in line for line in day_lines)
    night_lines, count = await resolve(vault, "marketing_sms", "sms", NIGHT, ids)
    assert count == 1 and len(night_lines) == 1 and str(night_ok).encode() in night_lines[0]
    # a night opt-in alone is not a marketing consent
    only_night = await new_customer(vault)
    await decide(vault, only_night, DAY, grant("night_advertising", "sms"))
    assert (await resolve(vault, "marketing_sms", "sms", NIGHT, (only_night,)))[1] == 0


async def test_two_year_old_marketing_consent_is_expired_and_excluded(vault: Vault) -> None:
    old, fresh = await new_customer(vault), await new_customer(vault)
    two_years_ago = DAY - timedelta(days=731)
    await decide(vault, old, two_years_ago, grant("marketing_email"))
    await decide(vault, fresh, DAY - timedelta(days=715), grant("marketing_email"))  # lapses in 15 days
    lines, count = await resolve(vault, "marketing_email", "email", DAY, (old, fresh))
    assert count == 1 and str(fresh).encode() in lines[0]
    async with vault.db.read() as session:
        state = {s.purpose: s for s in await reads(vault, session, DAY).state(old, OP)}
        assert state["marketing_email"].status == "expired" and not state["marketing_email"].current
        due = await expiry(vault, session, DAY).due(OP, purpose_id="marketing_email", limit=5000)
    assert fresh in {d.customer_id for d in due} and old not in {d.customer_id for d in due}
    async with vault.db.write() as session:
        expired = await expiry(vault, session, DAY).expire_due(OP, limit=100_000)
    assert expired >= 1
    async with vault.db.read() as session:
        kinds = [r.kind for r in (await session.scalars(select(ConsentEventRow).where(
            ConsentEventRow.customer_id == old).order_by(ConsentEventRow.recorded_at))).all()]
        row = await session.get(ConsentStateRow, (old, "marketing_email", "email"))
    assert kinds == ["granted", "expired"] and row is not None and row.status == "expired"
    async with vault.db.write() as session:  # running it again finds nothing new for this customer
        await expiry(vault, session, DAY).expire_due(OP, limit=100_000)
    async with vault.db.read() as session:
        n = len((await session.scalars(select(ConsentEventRow.id).where(ConsentEventRow.customer_id == old))).all())
    assert n == 2


async def test_history_survives_every_update_and_is_append_only(vault: Vault, db_target) -> None:  # type: ignore[no-untyped-def]
    cid = await new_customer(vault)
    for i, action in enumerate(["grant", "withdraw", "grant", "refuse"]):
        await decide(vault, cid, DAY + timedelta(minutes=i), ConsentChoice("marketing_email", action,
                                                                        notice_version="2026-01"),
                     evidence=Evidence("203.0.113.7", "Mozilla/5.0 test"))
        async with vault.db.write() as session:
            await vault.customers(session).update(cid, {"phone": f"010-5555-{1000 + i}"}, OP)
    async with vault.db.read() as session:
        history = await reads(vault, session, DAY + timedelta(hours=1)).history(cid, OP, with_evidence=True)
    assert [e.kind for e in history] == ["granted", "withdrawn", "granted", "refused"]
    assert all(e.evidence == {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 test"} for e in history)
    assert all(e.notice_version == "2026-01" and e.receipt_id is not None for e in history)
    async with vault.db.read() as session:
        raw = (await session.execute(select(ConsentEventRow.evidence_ip).where(
            ConsentEventRow.customer_id == cid))).scalars().all()
    assert all(b"203.0.113.7" not in blob for blob in raw if blob)
    for sql in ("UPDATE consent_events SET kind = 'granted'", "DELETE FROM consent_events",
                "DELETE FROM consent_receipts"):
        with pytest.raises((DBAPIError, IntegrityError)):
            async with vault.db.write() as session:
                await session.execute(text(sql))


async def test_contact_resolution_is_audited_with_subjects(vault: Vault) -> None:
    ids = [await new_customer(vault) for _ in range(3)]
    for cid in ids:
        await decide(vault, cid, DAY, grant("marketing_email"))
    r = resolver(vault, DAY)
    plan = await r.plan(ContactQuery("email", DAY, tuple(ids)), OP.for_purpose("marketing_email"))
    async with vault.db.read() as session:
        entry = await session.get(AuditEntryRow, plan.audit_seq)
        subjects = set((await session.scalars(select(AuditSubjectRow.customer_id).where(
            AuditSubjectRow.seq == plan.audit_seq))).all())
    assert entry is not None and entry.action == "contacts.resolve" and entry.subject_count == 3
    assert subjects == set(ids) and entry.purpose == "marketing_email" and "@" not in (entry.detail or "")


async def test_large_resolution_streams_in_pages_and_audits_in_bulk(vault: Vault) -> None:
    """More customers than one page and than group commit takes: bulk audit path, several pages."""
    n = 2600
    rows, index_rows, states = [], [], []
    for i in range(n):
        sealed = seal_new(vault.keyring, vault.policies.catalogue,
                          {"customer_ref": f"bulk-{uuid.uuid4().hex[:8]}-{i}", "email": f"b{i}@example.net"})
        rows.append(sealed.row)
        index_rows.extend(sealed.index_rows)
        if i % 2 == 0:
            states.append({"customer_id": sealed.row["id"], "purpose": "marketing_email", "channel": "email",
                           "status": "granted", "granted_at": DAY, "notice_version": "2026-01",
                           "notice_hash": "x", "event_id": uuid.uuid4(), "updated_at": DAY})
    async with vault.db.write() as session:
        await session.execute(insert(CustomerRow), rows)
        await session.execute(insert(CustomerIndexRow), index_rows)
        await session.execute(insert(ConsentStateRow), states)
    r = resolver(vault, DAY, page_size=500)
    plan = await r.plan(ContactQuery("email", DAY), OP.for_purpose("marketing_email"))
    seen = [line for c in [c async for c in r.stream(plan)] for line in c.splitlines()]
    assert plan.count >= n // 2 and len(seen) == plan.count
    assert len({line for line in seen}) == len(seen)
    async with vault.db.read() as session:
        assert (await verify_chain(session)).ok


async def test_worker_processes_send_what_a_thread_sends(vault: Vault) -> None:
    """Pass 2 in a worker process (ranges compiled to the driver's SQL, read ahead while the audit entry
    commits) streams the same lines, in the same order, as in a thread of this process; both are audited."""
    ids = sorted([await new_customer(vault) for _ in range(7)])  # the stream's order (UUIDv7 within a ms is not)
    for cid in ids[:6]:
        await decide(vault, cid, DAY, grant("marketing_email"))
    await decide(vault, ids[1], DAY, ConsentChoice("marketing_email", "withdraw"))
    pool = ContactPool(1)
    try:
        answers = []
        for r in (resolver(vault, DAY, page_size=2), resolver(vault, DAY, page_size=2, pool=pool), None,
                  resolver(vault, DAY, page_size=2, pool=pool)):
            if r is None:  # the worker dies (out of memory, killed): the next answer goes to a new pool
                os.kill(pool.executor().submit(os.getpid).result(), signal.SIGKILL)
                continue
            plan = await r.plan(ContactQuery("email", DAY, tuple(ids)), OP.for_purpose("marketing_email"))
            answers.append((plan.count, [line for c in [c async for c in r.stream(plan)] for line in c.splitlines()]))
        assert pool._executor is not None  # the answers did go to the worker
    finally:
        pool.close()
    (count, lines), (count_w, lines_w), (_, lines_again) = answers
    assert count == count_w == 5 and lines_w == lines == lines_again
    assert [uuid.UUID(json.loads(line)["customer_id"]) for line in lines] == [ids[0], *ids[2:6]]
    assert all(json.loads(line)["email"].endswith("@example.org") for line in lines)


async def test_withdrawal_mid_stream_drops_the_customer_from_ranges_not_yet_read(vault: Vault) -> None:
    ids = sorted([await new_customer(vault) for _ in range(6)])  # the stream's order
    for cid in ids:
        await decide(vault, cid, DAY, grant("marketing_email"))
    r = resolver(vault, DAY, page_size=1)  # one id per range; two ranges read ahead of the client
    plan = await r.plan(ContactQuery("email", DAY, tuple(ids)), OP.for_purpose("marketing_email"))
    assert plan.count == 6
    stream = r.stream(plan)
    first = await anext(stream)
    await asyncio.sleep(0.2)  # time for any read-ahead to happen: only the next range may have been read
    await decide(vault, ids[-1], DAY + timedelta(seconds=1), ConsentChoice("marketing_email", "withdraw"))
    lines = [line for c in [first, *[c async for c in stream]] for line in c.splitlines()]
    assert [uuid.UUID(json.loads(line)["customer_id"]) for line in lines] == ids[:5]


async def test_import_flags_become_consent_events_in_the_same_transaction(vault: Vault, tmp_path: Path) -> None:
    ref = f"imp-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "c.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerow([ref, "박서준", f"{ref}@example.org", "010-7777-8888", "", "", "", "", "", "", "",
                    "y", "n", "y", "n"])
    report = await vault.importer().run(path, OP, keep_ids=True)
    assert report.created == 1  # refusing optional purposes never blocks creating the customer
    cid = report.created_ids[0]
    async with vault.db.read() as session:
        events = (await session.scalars(select(ConsentEventRow).where(ConsentEventRow.customer_id == cid))).all()
    got = {(e.purpose, e.channel, e.kind, e.source) for e in events}
    assert got == {("marketing_email", "email", "granted", "import"), ("marketing_sms", "sms", "refused", "import"),
                   ("night_advertising", "sms", "granted", "import"), ("analytics", "", "refused", "import")}
    report = await vault.importer().run(path, OP)
    assert report.created == 0
    async with vault.db.read() as session:
        again = (await session.scalars(select(ConsentEventRow.id).where(ConsentEventRow.customer_id == cid))).all()
    assert len(again) == 4


async def test_imported_consents_over_several_batches_pair_each_state_with_its_event(
        vault: Vault, tmp_path: Path) -> None:
    """Imported flags are written batch by batch (on SQLite through a per-connection stage): every
    customer gets one event per filled flag and a state pointing at that event, nothing more."""
    p = uuid.uuid4().hex[:8]
    flags = [("y", "n", "", "y"), ("n", "", "", ""), ("", "", "", ""), ("y", "y", "y", "y"), ("n", "n", "n", "n")]
    path = tmp_path / "batches.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i, f in enumerate(flags):
            w.writerow([f"{p}-{i}", "", f"{p}{i}@example.org", "", "", "", "", "", "", "", "", *f])
    report = await vault.importer().run(path, OP, keep_ids=True, batch_size=2)
    assert report.created == len(flags) and not report.errors
    async with vault.db.read() as session:
        events = (await session.scalars(select(ConsentEventRow).where(
            ConsentEventRow.customer_id.in_(report.created_ids)))).all()
        states = (await session.scalars(select(ConsentStateRow).where(
            ConsentStateRow.customer_id.in_(report.created_ids)))).all()
    by_id = {e.id: e for e in events}
    columns = {"marketing_email": 0, "marketing_sms": 1, "night_advertising": 2, "analytics": 3}
    for cid, f in zip(report.created_ids, flags, strict=True):
        mine = [e for e in events if e.customer_id == cid]
        assert sorted(columns[e.purpose] for e in mine) == [i for i, v in enumerate(f) if v]
        for e in mine:
            assert e.kind == ("granted" if f[columns[e.purpose]] == "y" else "refused") and e.source == "import"
        for s in (s for s in states if s.customer_id == cid):
            event = by_id[s.event_id]
            assert (event.customer_id, event.purpose, event.channel) == (cid, s.purpose, s.channel)
            assert s.status == ("unverified" if event.kind == "granted" else "refused")
            assert (s.granted_at is not None) == (event.kind == "granted")
    assert len(states) == len(events) == sum(1 for f in flags for v in f if v)
    async with vault.db.read() as session:  # one bulk audit entry per batch, its subjects in the side table
        entries = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "customer.import").order_by(AuditEntryRow.seq.desc()).limit(3))).all()
        subjects = (await session.execute(select(AuditSubjectRow.seq, AuditSubjectRow.customer_id).where(
            AuditSubjectRow.seq.in_([e.seq for e in entries])))).all()
        assert (await verify_chain(session)).ok
    assert sorted(e.subject_count for e in entries) == [1, 2, 2]
    assert {c for _, c in subjects} == set(report.created_ids) and len(subjects) == len(flags)
