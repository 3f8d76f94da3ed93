"""`extract.create`: a pseudonymized, k-anonymous (and optionally l-diverse) extract for analytics.

1. The spec is resolved against the field catalogue and the purpose (no direct identifier
   ever; only fields the purpose uses), and the caller's role must hold ``extracts:create``
   for the purpose (the local operator may always).
2. Eligible customers are streamed in keyset pages over ``customers.id``: active, not erased,
   not restricted, and with a lawful basis for the purpose *now* (for ``analytics``: a current
   consent). Only the spec's fields are decrypted; direct identifiers never are.
3. Each row gets the project's keyed pseudonym; quasi-identifiers are generalized and the
   rows suppressed until every equivalence class has >= k rows (:mod:`vault.privacy.anonymize`).
4. The PII detector scans the output's distinct cell values; a structured identifier
   (e-mail, phone, RRN, card, ...) refuses the release.
5. The file and its manifest are staged, one audit entry (count, subject digest, ids in the side
   table; no PII) is committed, and only then are both renamed into place.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.subjects import SubjectList
from vault.crypto.keys import WrappedKey
from vault.customers.gate import contactable_clause
from vault.customers.models import CustomerRow
from vault.customers.records import open_fields
from vault.errors import VaultError
from vault.lib.clock import utcnow
from vault.privacy.anonymize import anonymize
from vault.privacy.errors import ReleaseRefusedError
from vault.privacy.generalize import generalize
from vault.privacy.spec import RangeFilter, resolve
from vault.privacy.writer import StagedFile, manifest_path, output_format, write_json, write_rows

if TYPE_CHECKING:
    from pathlib import Path

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.lib.pii import PiiPort
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue
    from vault.privacy.spec import ExtractPlan, ExtractSpec

Clock = Callable[[], datetime]
MANIFEST_VERSION = 1
#: Distinct values per column the release gate looks at (evenly spread when a column has more).
GATE_SAMPLE = 2000


@dataclass(frozen=True)
class ExtractDeps:
    """Collaborators of :class:`ExtractService`, built once per process."""

    db: Database
    keyring: Keyring
    catalogue: FieldCatalogue
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow


@dataclass(frozen=True)
class ExtractResult:
    """Where the extract went and what its manifest says."""

    out: Path
    manifest_path: Path
    manifest: dict[str, Any]


@dataclass
class _Population:
    """The eligible customers' pseudonyms and decrypted values (columnar), plus what was skipped."""

    subjects: SubjectList
    pseudonyms: list[str]
    values: dict[str, list[str | None]]
    scanned: int = 0
    without_basis: int = 0
    filtered_out: int = 0


class ExtractService:
    """Builds extracts; opens its own read transaction and audits through the group-commit log."""

    def __init__(self, deps: ExtractDeps, detector: PiiPort, *, page_size: int = 2000) -> None:
        self._d = deps
        self._detector = detector
        self._page = page_size

    async def create(self, spec: ExtractSpec, out: Path, caller: Caller, *, spec_sha256: str) -> ExtractResult:
        """Build, check, audit and write the extract described by ``spec`` to ``out`` (+ its manifest).

        Raises:
            ExtractSpecError / DirectIdentifierError: the spec asks for something not allowed.
            AccessDeniedError: the caller's role may not create extracts for the purpose (audited).
            ReleaseRefusedError: the release gate found structured identifiers (audited; nothing written).
            ExtractWriteError, AuditWriteError: nothing is left at ``out``.
        """
        fmt = output_format(out)
        plan = resolve(spec, self._d.catalogue, self._d.purposes)
        await self._authorize(plan, caller)
        generated_at = self._d.clock()
        reference = spec.reference_date or generated_at.date()
        population = await self._collect(plan)
        result = anonymize(
            [(q.field, population.values[q.field], q.ladder) for q in plan.quasi_identifiers],
            [[generalize(s.step, v, reference) for v in population.values[s.field]]
             for s in plan.sensitive_attributes],
            k=spec.k, l_div=spec.l, max_suppression=spec.max_suppression, reference=reference)
        sensitive = {s.field: [generalize(s.step, v, reference) for v in population.values[s.field]]
                     for s in plan.sensitive_attributes}
        data_columns = [result.columns[q.field] for q in plan.quasi_identifiers] + [
            sensitive[s.field] for s in plan.sensitive_attributes]
        rows = sorted(([population.pseudonyms[i], *(c[i] for c in data_columns)] for i in result.kept),
                      key=lambda r: r[0] or "")
        scanned = await self._release_gate(plan, rows, caller)
        manifest: dict[str, Any] = {
            "manifest_version": MANIFEST_VERSION,
            "project": spec.project,
            "purpose": plan.purpose.id,
            "generated_at": generated_at.isoformat().replace("+00:00", "Z"),
            "reference_date": reference.isoformat(),
            "spec_sha256": spec_sha256,
            "format": fmt,
            "file": out.name,
            "columns": plan.columns,
            "pseudonym_column": spec.pseudonym_column,
            "quasi_identifiers": [q.field for q in plan.quasi_identifiers],
            "generalization": result.levels,
            "generalization_ladders": {q.field: list(q.ladder) for q in plan.quasi_identifiers},
            "sensitive_attributes": [s.field for s in plan.sensitive_attributes],
            "sensitive_generalization": {s.field: s.step for s in plan.sensitive_attributes},
            "k": spec.k,
            "l": spec.l,
            "achieved_k": result.min_class_size,
            "achieved_l": result.min_diversity,
            "equivalence_classes": result.classes,
            "rows": len(rows),
            "suppressed_rows": result.suppressed,
            "max_suppression": spec.max_suppression,
            "eligible_customers": len(population.pseudonyms),
            "customers_without_basis": population.without_basis,
            "filtered_out": population.filtered_out,
            "filters": {name: (f.model_dump(by_alias=True, exclude_none=True) if isinstance(f, RangeFilter)
                               else list(f)) for name, f in plan.filters.items()},
            "generalization_steps": [
                {"field": c.field, "from": c.from_level, "to": c.to_level, "distinct_values": c.distinct_values,
                 "failing_rows": c.failing_rows} for c in result.climbs],
            "release_gate": {"detector": "vault.detection", "entity_types": sorted(self._detector.structured_types),
                             "values_scanned": scanned, "findings": 0},
        }
        return await self._publish(plan, out, fmt, rows, manifest, population.subjects, caller)

    # -- steps ----------------------------------------------------------------------------------------

    async def _authorize(self, plan: ExtractPlan, caller: Caller) -> None:
        await self._d.guard.require(caller.for_purpose(plan.purpose.id), perms.EXTRACTS_CREATE, "extract.create",
                                    fields=tuple(plan.columns[1:]), context=f"project={plan.spec.project!r}")

    async def _collect(self, plan: ExtractPlan) -> _Population:
        """Keyset-paginate eligible customers, keep those with a lawful basis, decrypt only the plan's fields."""
        fields = plan.fields
        pop = _Population(SubjectList(), [], {name: [] for name in fields})
        pseudonym = self._d.keyring.pseudonyms.pseudonym
        cipher = self._d.keyring.cipher
        project = plan.spec.project
        eligible = and_(CustomerRow.status == "active", CustomerRow.erased_at.is_(None),
                        CustomerRow.wrapped_dek.is_not(None), contactable_clause(plan.purpose))
        cols = (CustomerRow.id, CustomerRow.kek_version, CustomerRow.wrapped_dek, CustomerRow.dek_version,
                CustomerRow.sealed)
        last: uuid.UUID | None = None
        async with self._d.db.read() as session:
            while True:
                q = select(*cols).where(eligible, *([CustomerRow.id > last] if last else []))
                page = (await session.execute(q.order_by(CustomerRow.id).limit(self._page))).all()
                if not page:
                    break
                last = page[-1][0]
                pop.scanned += len(page)
                allowed = await self._d.guard.lawful.with_basis(session, [r[0] for r in page], plan.purpose)
                pop.without_basis += len(page) - len(allowed)
                for cid, kek_version, wrapped, dek_version, sealed in page:
                    if cid not in allowed or kek_version is None or wrapped is None:
                        continue
                    key = cipher.customer_key(cid, WrappedKey(kek_version, wrapped), dek_version)
                    values = open_fields(key, sealed, fields)
                    pop.subjects.append(cid)  # decrypted for this extract: audited, released or not
                    if not _passes(plan, values):
                        pop.filtered_out += 1
                        continue
                    pop.pseudonyms.append(pseudonym(project, cid))
                    for name in fields:
                        pop.values[name].append(values.get(name))
                if len(page) < self._page:
                    break
        return pop

    async def _release_gate(self, plan: ExtractPlan, rows: list[list[str | None]], caller: Caller) -> int:
        """Scan each data column's distinct values for structured identifiers; returns how many were scanned.

        Raises:
            ReleaseRefusedError: naming the column and entity types (never the value); audited.
        """
        scanned = 0
        gate = self._detector.structured_types
        for i, column in enumerate(plan.columns[1:], start=1):
            distinct = sorted({v for row in rows if (v := row[i]) is not None and v != "*"})
            step = max(1, len(distinct) // GATE_SAMPLE)
            found: set[str] = set()
            for value in distinct[::step][:GATE_SAMPLE]:
                scanned += 1
                found.update(e.type for e in self._detector.analyze(value) if e.type in gate)
            if found:
                detail = (f"release refused: column {column!r} holds values detected as {', '.join(sorted(found))}; "
                          "nothing was written")
                await self._audit_failure(plan, caller, Outcome.FAILED, detail)
                raise ReleaseRefusedError(detail, column=column, entity_types=sorted(found))
        return scanned

    async def _publish(self, plan: ExtractPlan, out: Path, fmt: str, rows: list[list[str | None]],
                       manifest: dict[str, Any], subjects: SubjectList, caller: Caller) -> ExtractResult:
        """Stage both files, commit the audit entry, then rename them into place."""
        target = manifest_path(out)
        data = StagedFile(out)
        meta: StagedFile | None = None
        try:
            write_rows(data, fmt, plan.columns, rows)
            manifest["file_sha256"] = data.sha256()
            meta = StagedFile(target)
            seq = await self._d.audit.record_bulk_durable(AuditEvent(
                "extract.create", Outcome.ALLOWED, caller.actor, purpose=plan.purpose.id,
                fields=tuple(plan.columns[1:]), request_id=caller.request_id, client_ip=caller.client_ip,
                detail=_detail(manifest)), subjects)
            manifest["audit_seq"] = seq
            write_json(meta, manifest)
            data.commit()
            meta.commit()
        except BaseException:
            data.discard()
            if meta is not None:
                meta.discard()
            raise
        return ExtractResult(out, target, manifest)

    async def _audit_failure(self, plan: ExtractPlan, caller: Caller, outcome: Outcome, detail: str) -> None:
        with contextlib.suppress(VaultError):  # the refusal itself must still reach the caller
            await self._d.audit.record_durable(AuditEvent(
                "extract.create", outcome, caller.actor, purpose=plan.purpose.id,
                fields=tuple(plan.columns[1:]), request_id=caller.request_id, client_ip=caller.client_ip,
                detail=f"project={plan.spec.project!r} {detail}"[:500]))


def _passes(plan: ExtractPlan, values: dict[str, str]) -> bool:
    for name, rule in plan.filters.items():
        value = values.get(name)
        if value is None:
            return False
        if isinstance(rule, RangeFilter):
            if not rule.accepts(value):
                return False
        elif value not in rule:
            return False
    return True


def _detail(manifest: dict[str, Any]) -> str:
    levels = ",".join(f"{k}={v}" for k, v in manifest["generalization"].items())
    return (f"project={manifest['project']!r} format={manifest['format']} rows={manifest['rows']} "
            f"suppressed={manifest['suppressed_rows']} k={manifest['k']} l={manifest['l']} levels={levels} "
            f"spec_sha256={manifest['spec_sha256']} file_sha256={manifest['file_sha256']}")[:1000]

