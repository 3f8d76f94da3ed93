"""The access / portability export (GDPR Art. 15 and 20, PIPA Art. 35): one JSON document.

Its shape is documented by ``docs/export.schema.json``; :data:`FORMAT` names the version.
Everything stored about the customer is decrypted: fields, replaced values (rectification
history), consent state and history with notice versions and evidence; the purposes with
lawful basis and retention; and the recipients: the third parties and foreign recipients
the data was actually provided to (the provision log), and, from the audit log, every principal and application that
accessed the data and why (the audit side table makes bulk reads count too).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vault.consent.rules import State, expires_at, why_not
from vault.crypto.errors import DecryptionError
from vault.customers.records import customer_key, open_fields
from vault.lib.clock import as_utc
from vault.rights.archive import open_record

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from vault.consent.models import ConsentStateRow
    from vault.crypto.envelope import CustomerKey
    from vault.crypto.keyring import Keyring
    from vault.customers.models import CustomerRow
    from vault.customers.notes import NoteRow
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue
    from vault.rights.models import FieldHistoryRow, ProvisionRow, RightsRequestRow, StatutoryArchiveRow

FORMAT = "customer-vault-export/1"
SCHEMA_ID = "https://customer-vault.example/schemas/export-1.json"
# Evidence of consent events is sealed per event (see vault.consent.service.evidence_field).
EVIDENCE = {"ip": "consent.evidence.ip", "user_agent": "consent.evidence.user_agent"}
# Audit actions that put a customer into something shared with others.
RECIPIENT_ACTIONS = ("extract.", "segment.", "contacts.")


# One audit entry naming the customer: seq, ts, principal id and name, role, action, purpose, outcome, fields, count.
AccessRow = tuple[int, datetime, uuid.UUID | None, str | None, str | None, str, str | None, str, str | None, int]


@dataclass(frozen=True, slots=True)
class ExportData:
    """Everything stored about one customer besides the record itself, as the repository reads it (still sealed):
    what :func:`build_export` decrypts and lays out."""

    history: Sequence[FieldHistoryRow] = ()  # by changed_at
    states: Sequence[ConsentStateRow] = ()
    events: Sequence[Mapping[str, Any]] = ()  # consent_events rows, by recorded_at, id
    provisions: Sequence[ProvisionRow] = ()  # by provided_at, id
    access: Sequence[AccessRow] = ()  # by seq: entries naming the customer, alone or in a bulk entry's side table
    notes: Sequence[NoteRow] = ()  # by id; none once the DEK is gone
    archive: Sequence[StatutoryArchiveRow] = ()  # by archived_at
    requests: Sequence[RightsRequestRow] = ()  # by received_at


def history_field(field: str, history_id: uuid.UUID) -> str:
    """The sealed field name of one replaced value: binds the ciphertext to its history row."""
    return f"history.{field}/{history_id.hex}"


def _ts(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _open(key: CustomerKey | None, name: str, blob: bytes | None) -> str | None:
    if key is None or blob is None:
        return None
    try:
        return key.open(name, blob)
    except DecryptionError:
        return None


def build_export(row: CustomerRow, data: ExportData, *, keyring: Keyring, catalogue: FieldCatalogue,
                 purposes: PurposeCatalogue, now: datetime) -> dict[str, Any]:
    """Assemble the export document of one customer (any status; an erased one yields its tombstone)."""
    key = customer_key(keyring, row) if row.wrapped_dek is not None else None
    values = open_fields(key, row.sealed) if key is not None else {}
    meta: dict[str, Any] = row.field_meta or {}
    created = _ts(row.created_at)
    fields = {
        name: {
            "value": values[name],
            "category": str(catalogue[name].category),
            "verified_at": str(meta[name]["verified_at"]) if isinstance(meta.get(name), dict) else created,
            "retention_days": catalogue[name].retention_days,
        }
        for name in catalogue.names if name in values
    }
    derived = {n: v for n, v in values.items() if n not in catalogue}  # pseudonymized records
    rectifications = [{
        "field": h.field, "previous_value": _open(key, history_field(h.field, h.id), h.sealed),
        "changed_at": _ts(h.changed_at), "request_id": str(h.request_id) if h.request_id else None,
        "changed_by": h.actor_name, "changed_by_role": h.actor_role,
    } for h in data.history]

    states = {(s.purpose, s.channel): s for s in data.states}
    current = []
    for p in purposes:
        if not p.is_consent:
            continue
        for ch in p.consent_channels:
            st = states.get((p.id, ch))
            state = State(st.status, as_utc(st.granted_at) if st.granted_at else None, as_utc(st.updated_at)) \
                if st else None
            reason = why_not(p, state, now)
            current.append({
                "purpose": p.id, "channel": ch or None,
                "status": "never_granted" if state is None else (
                    "expired" if state.status == "granted" and reason is not None else state.status),
                "current": reason is None,
                "granted_at": _ts(state.granted_at) if state else None,
                "expires_at": _ts(expires_at(p, state.granted_at)) if state and state.status == "granted" else None,
                "notice_version": st.notice_version if st else None,
                "notice_sha256": st.notice_hash if st else None,
            })
    consent_history = []
    for e in data.events:
        evidence = {k: _open(key, f"{name}/{e['id'].hex}", e[f"evidence_{k}"]) for k, name in EVIDENCE.items()}
        consent_history.append({
            "event_id": str(e["id"]), "purpose": e["purpose"], "channel": e["channel"] or None,
            "decision": e["kind"], "notice_version": e["notice_version"], "notice_sha256": e["notice_hash"],
            "source": e["source"], "collected_by": e["actor_name"], "collected_by_role": e["actor_role"],
            "occurred_at": _ts(e["occurred_at"]), "recorded_at": _ts(e["recorded_at"]),
            "receipt_id": str(e["receipt_id"]) if e["receipt_id"] else None,
            "evidence": {k: v for k, v in evidence.items() if v is not None},
        })

    granted = {p for (p, _), s in states.items() if s.granted_at is not None}
    purpose_docs = []
    # Actual disclosures from the provision log (PIPA 17/28-8, GDPR 15(1)(c)), not purposes ever granted.
    third_parties = [{
        "purpose": pr.purpose, "recipient": pr.recipient, "country": pr.country, "items": pr.items.split(","),
        "mechanism": pr.mechanism, "legal_basis": pr.legal_basis, "notice_version": pr.notice_version,
        "provided_at": _ts(pr.provided_at),
    } for pr in data.provisions]
    for p in purposes:
        applies = (not p.is_consent and p.required) or p.id in granted
        purpose_docs.append({
            "id": p.id, "title": p.title.model_dump(), "lawful_basis": str(p.lawful_basis),
            "statute_ref": p.statute_ref, "required": p.required, "fields": list(p.fields),
            "fields_held": [f for f in p.fields if f in values], "retention_days": p.retention_days,
            "applies": applies, "recipient": p.recipient, "country": p.country,
        })

    access_log = []
    by_who: dict[tuple[str | None, str | None, str | None], dict[str, Any]] = {}
    shared: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for seq, ts, pid, pname, role, action, purpose, outcome, flds, count in data.access:
        when = _ts(ts)
        access_log.append({"seq": seq, "at": when, "principal": pname, "role": role, "action": action,
                           "purpose": purpose, "outcome": outcome, "fields": flds.split(",") if flds else [],
                           "bulk": count > 1})
        if outcome != "allowed":
            continue
        who = by_who.setdefault((str(pid) if pid else None, pname, role), {
            "principal_id": str(pid) if pid else None, "principal": pname, "role": role,
            "purposes": set(), "actions": set(), "accesses": 0, "first_at": when, "last_at": when})
        who["accesses"] += 1
        who["last_at"] = when
        if purpose:
            who["purposes"].add(purpose)
        who["actions"].add(action)
        for prefix in RECIPIENT_ACTIONS:
            if action.startswith(prefix):
                shared[prefix.rstrip(".")].append({"seq": seq, "at": when, "action": action, "purpose": purpose,
                                                   "by": pname})
    accessed_by = [{**w, "purposes": sorted(w["purposes"]), "actions": sorted(w["actions"])}
                   for w in by_who.values()]

    notes = [{
        "id": str(n.id), "created_at": _ts(n.created_at), "language": n.language,
        "text": key.open(f"note:{n.id.hex}", n.original) if key is not None else "",
        "entity_counts": dict(n.entity_counts or {}),
    } for n in (data.notes if key is not None else ())]
    archived = [{
        "id": str(a.id), "statute": a.statute, "fields": a.fields, "archived_at": _ts(a.archived_at),
        "destroy_after": _ts(a.destroy_after), "reason": a.reason,
    } for a in (open_record(keyring, r) for r in data.archive)]
    return {
        "$schema": SCHEMA_ID,
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "controller": {"name": purposes.controller.name, "contact": purposes.controller.contact},
        "subject": {
            "id": str(row.id), "status": row.status, "created_at": created, "updated_at": _ts(row.updated_at),
            "deleted_at": _ts(row.deleted_at), "erased_at": _ts(row.erased_at),
            "restricted_at": _ts(row.restricted_at), "objected_to_direct_marketing_at": _ts(row.objected_marketing_at),
        },
        "fields": fields,
        "derived_fields": derived,
        "rectifications": rectifications,
        "notes": notes,
        "statutory_archive": archived,
        "consents": {"current": current, "history": consent_history},
        "purposes": purpose_docs,
        "recipients": {
            "third_parties": third_parties,
            "accessed_by": accessed_by,
            "extracts": shared.get("extract", []),
            "segments": shared.get("segment", []),
            "contact_lists": shared.get("contacts", []),
        },
        "access_log": access_log,
        "requests": [{
            "id": str(r.id), "kind": r.kind, "jurisdiction": r.jurisdiction, "received_at": _ts(r.received_at),
            "due_at": _ts(r.due_at), "status": r.status, "completed_at": _ts(r.completed_at), "outcome": r.outcome,
        } for r in data.requests],
    }
