"""In-memory fakes for service unit tests (cosmicpython style): no database, real crypto and policies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vault.access.caller import Caller
from vault.access.guard import Guard
from vault.access.lawful_basis import LawfulBasisCheck
from vault.access.principals import Principal
from vault.audit.entry import AuditEvent
from vault.bootstrap import Policies, load_policies
from vault.config import PolicySettings, Settings
from vault.crypto.blind_index import BlindIndexer
from vault.crypto.envelope import CustomerKey, FieldCipher
from vault.crypto.keyring import Keyring
from vault.crypto.keys import LocalKeyProvider
from vault.crypto.pseudonym import Pseudonymizer
from vault.crypto.signing import Signer
from vault.customers import records
from vault.customers.errors import DuplicateCustomerError
from vault.customers.gate import restriction_error
from vault.customers.models import CustomerRow, IdempotencyRow
from vault.customers.service import CustomerDeps
from vault.policy.catalogue import FieldCatalogue
from vault.policy.purposes import Purpose

ROOT = Path(__file__).resolve().parents[2]


def policies() -> Policies:
    """The shipped policy files."""
    return load_policies(Settings(policy=PolicySettings(directory=ROOT / "policies")))


def keyring() -> Keyring:
    """A real keyring under fixed test keys (real AES-GCM, HMAC and Ed25519)."""
    provider = LocalKeyProvider({"k1": bytes(range(32))}, "k1")
    index = BlindIndexer(b"\x01" * 32, 1)
    return Keyring(provider, FieldCipher(provider), index, Pseudonymizer(b"\x02" * 32), Signer(b"\x03" * 32),
                   Signer(b"\x04" * 32), (index,))


@dataclass
class FakeAudit:
    """Collects events instead of chaining them into a table."""

    written: list[AuditEvent] = field(default_factory=list)  # with a change, in its transaction
    durable: list[AuditEvent] = field(default_factory=list)  # group-committed before data leaves

    async def record(self, session: object, event: AuditEvent) -> int:
        del session
        self.written.append(event)
        return len(self.written)

    async def record_durable(self, event: AuditEvent) -> int:
        self.durable.append(event)
        return len(self.durable)

    @property
    def all(self) -> list[AuditEvent]:
        return [*self.written, *self.durable]


@dataclass
class FakeLedger:
    """Consents held in a set of (customer id, purpose id)."""

    granted: set[tuple[uuid.UUID, str]] = field(default_factory=set)

    async def consenting(self, session: object, customer_ids: Sequence[uuid.UUID], purpose: Purpose) -> set[uuid.UUID]:
        del session
        return {c for c in customer_ids if (c, purpose.id) in self.granted}

    async def explain(self, session: object, customer_id: uuid.UUID, purpose: Purpose) -> str:
        del session, customer_id, purpose
        return "never_granted"


class FakeCustomers:
    """The customers table and its blind indexes as dictionaries."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, CustomerRow] = {}
        self.index: dict[tuple[str, bytes], set[uuid.UUID]] = {}
        self.refs: dict[bytes, uuid.UUID] = {}
        self.replays: dict[tuple[uuid.UUID, str], IdempotencyRow] = {}

    def bind(self, session: object, db: object) -> FakeCustomers:
        """The ``CustomerDeps.store`` factory: every service shares this one store."""
        del session, db
        return self

    async def fetch(self, customer_id: uuid.UUID) -> CustomerRow | None:
        return self.rows.get(customer_id)

    async def get(self, customer_id: uuid.UUID) -> CustomerRow | None:
        return self.rows.get(customer_id)

    async def add(self, sealed: records.SealedCustomer) -> None:
        ref = sealed.row["ref_digest"]
        if ref in self.refs:
            raise DuplicateCustomerError("a customer with this customer_ref already exists")
        row = CustomerRow(**sealed.row)
        self.rows[row.id] = row
        self.refs[ref] = row.id
        for ix in sealed.index_rows:
            self.index.setdefault((ix["field"], ix["digest"]), set()).add(row.id)

    async def find_indexed(self, field: str, digests: Sequence[bytes], *, limit: int) -> list[CustomerRow]:
        ids: set[uuid.UUID] = set()
        for d in digests:
            ids |= self.index.get((field, d), set())
            if field == "customer_ref" and d in self.refs:
                ids.add(self.refs[d])
        return [self.rows[i] for i in sorted(ids)][:limit]

    async def idempotent(self, principal_id: uuid.UUID, key: str) -> IdempotencyRow | None:
        return self.replays.get((principal_id, key))

    async def remember(self, record: IdempotencyRow) -> None:
        self.replays[(record.principal_id, record.key)] = record

    async def save_changes(self, keyring: Keyring, catalogue: FieldCatalogue, row: CustomerRow, key: CustomerKey,
                           changed: dict[str, str | None], now: datetime) -> None:
        if not changed:
            return
        row.sealed = records.reseal(key, row.sealed, changed)
        row.updated_at = now
        row.row_version += 1
        for name, value in changed.items():
            if catalogue[name].searchable and name != "customer_ref":
                for ids in self.index.values():
                    ids.discard(row.id)
                if value is not None:
                    self.index.setdefault((name, keyring.index.digest(name, value)), set()).add(row.id)

    async def flush(self) -> None:
        return None


@dataclass
class World:
    """A customer service's collaborators, all in memory."""

    deps: CustomerDeps
    audit: FakeAudit
    ledger: FakeLedger
    store: FakeCustomers


def world() -> World:
    """Real policies and crypto; fake storage, audit and consent ledger."""
    p = policies()
    audit, ledger, store = FakeAudit(), FakeLedger(), FakeCustomers()
    guard = Guard(p.access, p.purposes, LawfulBasisCheck(ledger), audit, restriction_error)  # type: ignore[arg-type]
    deps = CustomerDeps(keyring(), p.catalogue, p.purposes, guard, audit, None,  # type: ignore[arg-type]
                        store=store.bind)
    return World(deps, audit, ledger, store)


def caller(role: str, purpose: str | None, **kw: Any) -> Caller:
    """A principal of ``role`` asking for ``purpose``."""
    return Caller(Principal(uuid.uuid4(), f"{role}-svc", "service", role), purpose=purpose, request_id="r1", **kw)


