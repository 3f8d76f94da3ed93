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

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.subjects import SubjectList
from vault.errors import VaultError
from vault.lib.clock import utcnow
from vault.privacy.anonymize import Anonymized, anonymize
from vault.privacy.collect import (
    PARTITION_ROWS,
    count_customers,
    executor_for,
    plan_tasks,
    run_all,
    scope_tasks,
)
from vault.privacy.errors import ExtractSpecError, ReleaseRefusedError, TargetUnmeetableError
from vault.privacy.generalize import generalize
from vault.privacy.repository import ProjectRepository
from vault.privacy.spec import RangeFilter, resolve
from vault.privacy.writer import StagedFile, manifest_path, output_format, write_frame, write_json

if TYPE_CHECKING:
    from concurrent.futures import Executor
    from pathlib import Path

    from numpy.typing import NDArray
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.lib.pii import PiiPort
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue
    from vault.privacy.behaviour import SegmentScope, SegmentScopes
    from vault.privacy.collect import Collected, CollectTask
    from vault.privacy.spec import ExtractPlan, ExtractSpec

Clock = Callable[[], datetime]
#: Called with (ranges done, ranges in all) while the population is read.
Progress = Callable[[int, int], None]
MANIFEST_VERSION = 1
#: Distinct values per column the release gate looks at (evenly spread when a column has more).
GATE_SAMPLE = 2000
#: Characters of a project pseudonym (128 bits in base32, vault.crypto.pseudonym).
PSEUDONYM_WIDTH = 26


@dataclass(frozen=True)
class ExtractDeps:
    """Collaborators of :class:`ExtractService`, built once per process."""

    #: The database URL the population's worker processes connect to (:mod:`vault.privacy.collect`).
    url: str
    keyring: Keyring
    catalogue: FieldCatalogue
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow
    #: Resolves ``segment: name@version`` (wired to vault.segments by the composition root).
    segments: SegmentScopes | None = None


@dataclass(frozen=True)
class ExtractResult:
    """Where the extract went and what its manifest says."""

    out: Path
    manifest_path: Path
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Prepared:
    """An admitted extract: the resolved plan, the output format, when it was made, and its segment scope."""

    plan: ExtractPlan
    format: str
    generated_at: datetime
    reference: date
    scope: SegmentScope | None


@dataclass(frozen=True)
class Planned:
    """The population's id ranges, the project's pseudonym key version and the started workers."""

    tasks: list[CollectTask]
    key_version: int
    executor: Executor


@dataclass
class _Population:
    """The eligible customers' pseudonyms and decrypted values (columnar), plus what was skipped."""

    subjects: SubjectList
    pseudonyms: list[str]
    values: dict[str, list[str | None]]
    scanned: int = 0
    without_basis: int = 0
    filtered_out: int = 0
    outside_segment: int = 0
    key_version: int = 1
    kept: bytearray = field(default_factory=bytearray)


class ExtractService:
    """Builds extracts in three steps, and never opens a transaction (:class:`vault.privacy.runner.ExtractRunner`
    runs them): :meth:`prepare` (authorize, segment scope), :meth:`plan` on a read transaction (the id ranges),
    :meth:`build` outside any (workers read the database themselves; audited through the group-commit log).
    """

    def __init__(self, deps: ExtractDeps, detector: PiiPort, *, partition_rows: int = PARTITION_ROWS,
                 workers: int | None = None) -> None:
        self._d = deps
        self._detector = detector
        self._partition_rows = partition_rows
        self._workers = workers

    async def prepare(self, spec: ExtractSpec, out: Path, caller: Caller) -> Prepared:
        """Resolve the spec, authorize the caller and find the segment scope (runs no statement of its own).

        Raises:
            ExtractSpecError / DirectIdentifierError: the spec asks for something not allowed.
            AccessDeniedError: the caller's role may not create extracts for the purpose (audited).
            SegmentNotFoundError / SegmentStateError: the spec's segment version cannot scope an extract (audited).
        """
        fmt = output_format(out)
        plan = resolve(spec, self._d.catalogue, self._d.purposes)
        await self._authorize(plan, caller)
        generated_at = self._d.clock()
        reference = spec.reference_date or generated_at.date()
        scope = await self._scope(plan, caller)
        return Prepared(plan, fmt, generated_at, reference, scope)

    async def plan(self, session: AsyncSession, prepared: Prepared) -> Planned:
        """Cut the eligible population into id ranges on ``session`` (a read transaction) and start the workers.

        The caller passes the result to :meth:`build`, which shuts the workers down.
        """
        plan = prepared.plan
        fields = tuple(sorted(plan.fields))
        provider = self._d.keyring.provider
        executor: Executor | None = None
        try:
            # A project registered for analysts may have rotated its pseudonym key; a CLI-only project is version 1.
            key_version = await ProjectRepository(session).key_version(plan.spec.project) or 1
            pseudonyms = self._d.keyring.pseudonyms.for_project(plan.spec.project, key_version)
            total = await count_customers(session)
            executor = executor_for(total, provider, self._workers)  # its workers start while we plan
            tasks, _ = await plan_tasks(session, self._d.url, plan.purpose, prepared.generated_at, fields,
                                        plan.filters, provider, pseudonyms, self._partition_rows, total=total)
        except BaseException:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            raise
        return Planned(tasks, key_version, executor)

    async def build(self, prepared: Prepared, planned: Planned, out: Path, caller: Caller, *, spec_sha256: str,
                    progress: Progress | None = None) -> ExtractResult:
        """Read and decrypt the planned population, anonymize it, gate, audit and write it to ``out`` (+ manifest).

        Raises:
            TargetUnmeetableError: k / l cannot be met within ``max_suppression`` even at the top of every
                ladder (audited, with the worst classes; nothing written).
            ReleaseRefusedError: the release gate found structured identifiers (audited; nothing written).
            ExtractWriteError, AuditWriteError: nothing is left at ``out``.
        """
        plan, fmt, scope, reference = prepared.plan, prepared.format, prepared.scope, prepared.reference
        spec = plan.spec
        generated_at = prepared.generated_at
        population = await self._collect(plan, planned, progress or _no_progress, scope)
        if scope is not None:
            _attach_behaviour(plan, population, scope)
        sensitive = {s.field: _generalized(s.step, population.values[s.field], reference)
                     for s in plan.sensitive_attributes}
        try:
            result = anonymize(
                [(q.field, population.values[q.field], q.ladder) for q in plan.quasi_identifiers],
                list(sensitive.values()), k=spec.k, l_div=spec.l, max_suppression=spec.max_suppression,
                reference=reference, sensitive_names=list(sensitive))
        except TargetUnmeetableError as exc:
            await self._audit_failure(plan, caller, Outcome.FAILED, exc.detail, population.subjects)
            raise
        frame = _frame(plan, population, result, sensitive)
        scanned = await self._release_gate(plan, frame, caller, population.subjects)
        eligible = len(population.pseudonyms)
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
            "pseudonym_key_version": population.key_version,
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
            "rows": frame.height,
            "suppressed_rows": result.suppressed,
            "suppressed_share": round(result.suppressed_share, 6),
            "max_suppression": spec.max_suppression,
            "eligible_customers": eligible,
            "customers_without_basis": population.without_basis,
            "filtered_out": population.filtered_out,
            "segment": None if scope is None else {
                "ref": scope.ref, "snapshot_id": str(scope.snapshot_id), "as_of": scope.as_of.isoformat(),
                "members": scope.frame.height, "outside_segment": population.outside_segment},
            "behaviour": {name: {"definition": b.aggregate.doc, "numeric": b.aggregate.numeric, "top": b.top,
                                 "bottom": b.bottom, "buckets": list(b.buckets)} for name, b in plan.behaviour.items()},
            "filters": {name: (f.model_dump(by_alias=True, exclude_none=True) if isinstance(f, RangeFilter)
                               else list(f)) for name, f in plan.filters.items()},
            "generalization_steps": [
                {"field": c.field, "from": c.from_level, "to": c.to_level, "distinct_values": c.distinct_values,
                 "failing_rows": c.failing_rows} for c in result.climbs],
            "release_gate": {"detector": "vault.detection", "entity_types": sorted(self._detector.structured_types),
                             "values_scanned": scanned, "findings": 0},
        }
        return await self._publish(plan, out, fmt, frame, manifest, population.subjects, caller)

    # -- steps ----------------------------------------------------------------------------------------

    async def _authorize(self, plan: ExtractPlan, caller: Caller) -> None:
        await self._d.guard.require(caller.for_purpose(plan.purpose.id), perms.EXTRACTS_CREATE, "extract.create",
                                    fields=tuple(plan.columns[1:]), context=f"project={plan.spec.project!r}")

    async def _scope(self, plan: ExtractPlan, caller: Caller) -> SegmentScope | None:
        """The segment version's frozen snapshot and its members' aggregates, when the spec names one."""
        if plan.spec.segment is None:
            return None
        if self._d.segments is None:
            raise ExtractSpecError("segment: segment-scoped extracts are not available in this process")
        try:
            return await self._d.segments(plan.spec.segment, caller.for_purpose(plan.purpose.id))
        except VaultError as exc:
            await self._audit_failure(plan, caller, Outcome.FAILED, f"segment={plan.spec.segment} {exc.code}")
            raise

    async def _collect(self, plan: ExtractPlan, planned: Planned, progress: Progress,
                       scope: SegmentScope | None = None) -> _Population:
        """Eligible customers with a lawful basis, read and decrypted per id range (see :mod:`.collect`).

        With a segment scope, only its members are decrypted (the others are counted in ``outside_segment``).
        Shuts the planned workers down.
        """
        fields = tuple(sorted(plan.fields))
        futures: list[asyncio.Future[Collected]] = []
        try:
            tasks = planned.tasks
            if scope is not None:
                tasks = scope_tasks(tasks, sorted(scope.frame.get_column("customer_id").to_list()))
            pop = _Population(SubjectList(), [], {name: [] for name in fields}, key_version=planned.key_version)
            futures = [asyncio.wrap_future(f) for f in run_all(planned.executor, tasks)]
            for done, future in enumerate(futures, start=1):
                part = await future
                pop.subjects.extend_packed(part.ids)
                pop.pseudonyms.extend(part.pseudonyms)
                for name in fields:
                    pop.values[name].extend(part.values[name])
                pop.scanned += part.scanned
                pop.without_basis += part.without_basis
                pop.filtered_out += part.filtered_out
                pop.outside_segment += part.outside_segment
                pop.kept += part.kept
                progress(done, len(futures))
        except BaseException:
            for pending in futures:
                pending.cancel()
            await asyncio.gather(*futures, return_exceptions=True)
            raise
        finally:
            planned.executor.shutdown(wait=False, cancel_futures=True)
        return pop

    async def _release_gate(self, plan: ExtractPlan, frame: pl.DataFrame, caller: Caller,
                            subjects: SubjectList) -> int:
        """Scan each data column's distinct values for structured identifiers; returns how many were scanned.

        Raises:
            ReleaseRefusedError: naming the column and entity types (never the value); audited.
        """
        scanned = 0
        gate = self._detector.structured_types
        for column in plan.columns[1:]:
            if column in plan.behaviour:  # numbers and codes the vault computed, not text it was given
                continue
            distinct = sorted(v for v in frame.get_column(column).unique().to_list() if v is not None and v != "*")
            step = max(1, len(distinct) // GATE_SAMPLE)
            found: set[str] = set()
            for value in distinct[::step][:GATE_SAMPLE]:
                scanned += 1
                found.update(e.type for e in self._detector.analyze(value) if e.type in gate)
            if found:
                detail = (f"release refused: column {column!r} holds values detected as {', '.join(sorted(found))}; "
                          "nothing was written")
                await self._audit_failure(plan, caller, Outcome.FAILED, detail, subjects)
                raise ReleaseRefusedError(detail, column=column, entity_types=sorted(found))
        return scanned

    async def _publish(self, plan: ExtractPlan, out: Path, fmt: str, frame: pl.DataFrame,
                       manifest: dict[str, Any], subjects: SubjectList, caller: Caller) -> ExtractResult:
        """Stage both files, commit the audit entry, then rename them into place."""
        target = manifest_path(out)
        data = StagedFile(out)
        meta: StagedFile | None = None
        try:
            await asyncio.to_thread(write_frame, data, fmt, frame)
            manifest["file_sha256"] = await asyncio.to_thread(data.sha256)
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

    async def _audit_failure(self, plan: ExtractPlan, caller: Caller, outcome: Outcome, detail: str,
                             subjects: SubjectList | None = None) -> None:
        """Audit a refusal; ``subjects`` are the customers already decrypted for it (nothing was released)."""
        event = AuditEvent("extract.create", outcome, caller.actor, purpose=plan.purpose.id,
                           fields=tuple(plan.columns[1:]), request_id=caller.request_id, client_ip=caller.client_ip,
                           detail=f"project={plan.spec.project!r} {detail}"[:500])
        with contextlib.suppress(VaultError):  # the refusal itself must still reach the caller
            if subjects is not None and len(subjects):
                await self._d.audit.record_bulk_durable(event, subjects)
            else:
                await self._d.audit.record_durable(event)


def _generalized(step: str, values: list[str | None], reference: date) -> list[str | None]:
    """``generalize`` over a column, once per distinct value."""
    memo: dict[str | None, str | None] = {}
    out: list[str | None] = []
    for value in values:
        if value not in memo:
            memo[value] = generalize(step, value, reference)
        out.append(memo[value])
    return out


def _attach_behaviour(plan: ExtractPlan, population: _Population, scope: SegmentScope) -> None:
    """Each released row's behaviour columns as text: numbers top/bottom-coded, codes as they are."""
    if not plan.behaviour:
        return
    kept = population.kept.hex()
    ids = pl.DataFrame({"customer_id": [kept[i:i + 32] for i in range(0, len(kept), 32)]},
                       schema={"customer_id": pl.String}).with_row_index("_row")
    joined = ids.join(scope.frame, on="customer_id", how="left").sort("_row")
    for name, b in plan.behaviour.items():
        column = pl.col(name)
        if b.aggregate.numeric:
            text = column.cast(pl.Int64).cast(pl.String)
            if b.bottom is not None:
                text = pl.when(column.cast(pl.Int64) < b.bottom).then(pl.lit(f"<{b.bottom}")).otherwise(text)
            if b.top is not None:
                text = pl.when(column.cast(pl.Int64) >= b.top).then(pl.lit(f"{b.top}+")).otherwise(text)
        else:
            text = column.cast(pl.String)
        population.values[name] = joined.select(text.alias(name)).get_column(name).to_list()


def _no_progress(done: int, total: int) -> None:
    del done, total


def _frame(plan: ExtractPlan, population: _Population, result: Anonymized,
           sensitive: dict[str, list[str | None]]) -> pl.DataFrame:
    """The released rows, ordered by pseudonym (id order would leak when customers joined)."""
    kept = _by_pseudonym(population.pseudonyms, result.kept)
    columns: dict[str, pl.Series] = {
        plan.spec.pseudonym_column: pl.Series(population.pseudonyms, dtype=pl.String).gather(kept)}
    for q in plan.quasi_identifiers:
        labels = pl.Series(result.labels[q.field], dtype=pl.String)
        columns[q.field] = labels.gather(result.codes[q.field][kept]) if len(kept) else labels.clear()
    for s in plan.sensitive_attributes:
        columns[s.field] = pl.Series(sensitive[s.field], dtype=pl.String).gather(kept)
    return pl.DataFrame(columns)


def _by_pseudonym(pseudonyms: list[str], kept: NDArray[np.int64]) -> NDArray[np.int64]:
    """``kept`` (row numbers) reordered by the rows' pseudonyms.

    Project pseudonyms are 26 ASCII characters: they are compared as four big-endian 64-bit integers (byte
    order is string order, so the order is the same), a numeric sort about 4x faster than sorting the strings.
    """
    text = "".join(pseudonyms).encode()
    if len(text) != PSEUDONYM_WIDTH * len(pseudonyms) or any(len(p) != PSEUDONYM_WIDTH for p in pseudonyms):
        by_string: NDArray[np.int64] = kept[pl.Series(pseudonyms, dtype=pl.String).gather(kept).arg_sort().to_numpy()]
        return by_string
    padded = np.zeros((len(pseudonyms), 32), dtype=np.uint8)
    padded[:, :PSEUDONYM_WIDTH] = np.frombuffer(text, dtype=np.uint8).reshape(-1, PSEUDONYM_WIDTH)
    keys = padded[kept].view(">u8").astype(np.uint64)
    ranked = pl.DataFrame({f"k{i}": keys[:, i] for i in range(4)}).with_row_index("row")
    ordered: NDArray[np.int64] = kept[ranked.sort(["k0", "k1", "k2", "k3"]).get_column("row").to_numpy()]
    return ordered


def _detail(manifest: dict[str, Any]) -> str:
    levels = ",".join(f"{k}={v}" for k, v in manifest["generalization"].items())
    segment = manifest.get("segment")
    scoped = f"segment={segment['ref']} snapshot={segment['snapshot_id']} " if segment else ""
    return (f"project={manifest['project']!r} {scoped}format={manifest['format']} rows={manifest['rows']} "
            f"suppressed={manifest['suppressed_rows']} k={manifest['k']} l={manifest['l']} levels={levels} "
            f"spec_sha256={manifest['spec_sha256']} file_sha256={manifest['file_sha256']}")[:1000]

