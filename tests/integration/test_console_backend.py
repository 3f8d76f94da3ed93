"""The console's domain side on the real database: sessions (idle timeout, lifetime, logout, CSRF binding),
TOTP (enrol, confirm, second factor, replay, five failures), access-review sign-off and receipt verification."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from vault.access.caller import Caller
from vault.access.errors import CsrfRejectedError, SecondFactorRequiredError, SessionExpiredError
from vault.access.principals import Principal
from vault.access.sessions import ConsoleSession, ConsoleSessionRow, check_csrf, csrf_token
from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.audit.models import AuditEntryRow
from vault.audit.reviews import ReviewAlreadySignedError, ReviewNotFoundError, ReviewService, SelfReviewError
from vault.audit.stats import KST, monthly_activity
from vault.bootstrap import Vault
from vault.consent.receipts import verify_receipt
from vault.consent.service import ConsentChoice
from vault.errors import VaultError

OP = Caller(None, purpose="service_delivery", operator="tests")


async def person(vault: Vault, role: str = "compliance_officer") -> Principal:
    async with vault.db.write() as session:
        p, _ = await vault.principals(session).create(f"p-{uuid.uuid4().hex[:8]}", role, Actor.cli("tests"),
                                                      kind="person", password="long enough password", with_key=False)
    return p


async def start(vault: Vault, p: Principal) -> str:
    async with vault.db.write() as session:
        return (await vault.console_sessions(session).start(p)).token


async def resume(vault: Vault, token: str) -> ConsoleSession | VaultError:
    async with vault.db.write() as session:
        return await vault.console_sessions(session).resume(token)


async def age(vault: Vault, token: str, *, idle: timedelta = timedelta(0), life: timedelta = timedelta(0)) -> None:
    """Move a session back in time (what 30 idle minutes would do)."""
    from vault.access.sessions import session_id

    async with vault.db.write() as session:
        row = await session.get(ConsoleSessionRow, session_id(token))
        assert row is not None
        row.last_seen_at = row.last_seen_at - idle
        row.expires_at = row.expires_at - life


async def actions(vault: Vault, name: str, action: str) -> list[AuditEntryRow]:
    async with vault.db.read() as session:
        q = select(AuditEntryRow).where(AuditEntryRow.principal_name == name, AuditEntryRow.action == action)
        return list((await session.scalars(q.order_by(AuditEntryRow.seq))).all())


async def test_session_resumes_then_ends_after_idle_timeout(vault: Vault) -> None:
    p = await person(vault)
    token = await start(vault, p)
    live = await resume(vault, token)
    assert isinstance(live, ConsoleSession) and live.principal.id == p.id and not live.mfa_pending
    assert live.csrf_token == csrf_token(token)
    await age(vault, token, idle=timedelta(minutes=29))
    assert isinstance(await resume(vault, token), ConsoleSession), "29 idle minutes: still live (and touched)"
    await age(vault, token, idle=timedelta(minutes=31))
    assert isinstance(await resume(vault, token), SessionExpiredError)
    assert isinstance(await resume(vault, token), SessionExpiredError), "ended for good"
    ends = await actions(vault, p.name, "auth.logout")
    assert [e.detail for e in ends] == ["idle"]


async def test_session_lifetime_and_logout(vault: Vault) -> None:
    p = await person(vault)
    token = await start(vault, p)
    await age(vault, token, life=timedelta(hours=13))
    assert isinstance(await resume(vault, token), SessionExpiredError)
    token = await start(vault, p)
    async with vault.db.write() as session:
        await vault.console_sessions(session).end(token)
    assert isinstance(await resume(vault, token), SessionExpiredError)
    assert [e.detail for e in await actions(vault, p.name, "auth.logout")] == ["lifetime", "logout"]
    assert isinstance(await resume(vault, "not-a-token"), SessionExpiredError)


def test_csrf_token_is_bound_to_its_session() -> None:
    check_csrf("token-a", csrf_token("token-a"))
    for bad in (None, "", csrf_token("token-b"), csrf_token("token-a")[:-1] + "0"):
        with pytest.raises(CsrfRejectedError):
            check_csrf("token-a", bad)


async def test_totp_second_factor(vault: Vault) -> None:
    p = await person(vault)
    async with vault.db.write() as session:
        enrol = await vault.console_sessions(session).enroll_totp(p)
    assert enrol.uri.startswith("otpauth://totp/") and enrol.secret_base32 in enrol.uri
    totp = pyotp.TOTP(enrol.secret_base32)
    async with vault.db.write() as session:
        await vault.console_sessions(session).confirm_totp(p, totp.now())
    token = await start(vault, p)
    pending = await resume(vault, token)
    assert isinstance(pending, ConsoleSession) and pending.mfa_pending

    async def code(value: str) -> ConsoleSession | VaultError:
        async with vault.db.write() as session:
            return await vault.console_sessions(session).second_factor(token, value)

    assert isinstance(await code("12345"), SecondFactorRequiredError)
    ok = await code(totp.at(datetime.now(UTC) + timedelta(seconds=30)))
    assert isinstance(ok, ConsoleSession) and not ok.mfa_pending
    # A used code (or an older one) is refused next time: no replay.
    token2 = await start(vault, p)
    token = token2
    assert isinstance(await code(totp.now()), SecondFactorRequiredError)
    for _ in range(3):
        assert isinstance(await code("000000" if totp.now() != "000000" else "111111"), SecondFactorRequiredError)
    assert isinstance(await code("999999" if totp.now() != "999999" else "888888"), SessionExpiredError)
    assert isinstance(await resume(vault, token2), SessionExpiredError), "five wrong codes end the session"
    outcomes = [e.outcome for e in await actions(vault, p.name, "auth.totp")]
    assert outcomes == ["denied", "allowed", "denied", "denied", "denied", "denied", "denied"]


async def test_review_sign_off(vault: Vault) -> None:
    reviewer, reviewed = await person(vault), await person(vault, "crm_agent")
    for _ in range(3):
        await vault.audit.record_durable(AuditEvent("customer.read", Outcome.ALLOWED, reviewed.actor,
                                                    purpose="customer_support", customer_id=uuid.uuid4()))
    await vault.audit.record_durable(AuditEvent("customer.read", Outcome.DENIED, reviewed.actor,
                                                detail="subject.restricted: processing restricted"))
    month = datetime.now(UTC).astimezone(KST).strftime("%Y-%m")
    async with vault.db.read() as session:
        [pm] = await monthly_activity(session, month, principal_id=reviewed.id)
    assert (pm.reads, pm.denials, pm.restricted_touches) == (3, 1, 1) and "restricted" in pm.flags
    async with vault.db.write() as session:
        signed = await ReviewService(session, vault.audit).sign_off(reviewed.id, month, reviewer.actor,
                                                                    reference="REV-1")
    assert signed.summary["reads"] == 3 and signed.reviewer_name == reviewer.name
    with pytest.raises(ReviewAlreadySignedError):
        async with vault.db.write() as session:
            await ReviewService(session, vault.audit).sign_off(reviewed.id, month, reviewer.actor)
    with pytest.raises(SelfReviewError):
        async with vault.db.write() as session:
            await ReviewService(session, vault.audit).sign_off(reviewer.id, month, reviewer.actor)
    with pytest.raises(ReviewNotFoundError):
        async with vault.db.write() as session:
            await ReviewService(session, vault.audit).sign_off(reviewed.id, "2001-01", reviewer.actor)
    entries = await actions(vault, reviewer.name, "review.signoff")
    assert len(entries) == 1 and f"principal={reviewed.id}" in (entries[0].detail or "")


async def test_receipt_verification_against_key_and_ledger(vault: Vault) -> None:
    ref = f"t-{uuid.uuid4().hex[:10]}"
    async with vault.db.write() as session:
        view, _ = await vault.customers(session).create(
            {"customer_ref": ref, "name": "Kim Minji", "email": f"{ref}@example.org"}, OP)
        result = await vault.consents(session).record(
            view.id, [ConsentChoice("marketing_email", "grant", notice_version="2026-11")], OP,
            source="web_form")
    assert result.receipt is not None
    token = result.receipt.jws
    async with vault.db.read() as session:
        good = await verify_receipt(session, vault.keyring, token)
        assert good.ok and good.customer_id == str(view.id) and len(good.consents) == 1
        head, body, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims["consents"][0]["decision"] = "refused"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        bad = await verify_receipt(session, vault.keyring, f"{head}.{forged}.{sig}")
        assert not bad.signature_valid and not bad.ok
        assert not (await verify_receipt(session, vault.keyring, "not a receipt")).ok
