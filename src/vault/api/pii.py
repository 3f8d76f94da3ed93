"""/v1/pii/analyze: find personal data in free text (nothing is stored)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from vault.access.caller import Caller
from vault.access.permissions import PII_ANALYZE
from vault.api.deps import vault_of
from vault.audit.entry import AuditEvent, Outcome
from vault.bootstrap import Vault
from vault.detection.pool import DetectionPool
from vault.errors import InvalidInputError, RateLimitedError

MAX_TEXT = 100_000


class AnalyzeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/pii/analyze."""

    text: str
    language: str | None = None
    threshold: float | None = None
    redact: bool = False


class EntityRead(msgspec.Struct):
    """One detected entity; offsets are Python character indices into ``text``."""

    type: str
    start: int
    end: int
    score: float


class AnalyzeResponse(msgspec.Struct, kw_only=True):
    """Entities found, and the redacted text when asked for."""

    entities: list[EntityRead]
    redacted: str | None = None


def detector(state: State) -> DetectionPool:
    """The process's detection pool (worker processes start on first use)."""
    pool: DetectionPool = state.pii
    return pool


async def require_pii_analyze(vault: Vault, caller: Caller) -> None:
    """Only roles granted ``pii:analyze`` may run detection on arbitrary text (denials audited by the guard)."""
    await vault.guard.require_any_purpose(caller, PII_ANALYZE, "pii.analyze")


class PiiController(Controller):
    """PII detection for the roles that handle free text (application, call centre, compliance)."""

    path = "/v1/pii"
    tags = ["pii"]

    @post("/analyze", operation_id="AnalyzePii", status_code=200)
    async def analyze(self, data: JSONBody[AnalyzeRequest], caller: NamedDependency[Caller],
                      state: State) -> AnalyzeResponse:
        """Detect PII in Korean and English text (Presidio entity names); optionally return it redacted."""
        if len(data.text) > MAX_TEXT:
            raise InvalidInputError(f"text is longer than {MAX_TEXT} characters", field="text")
        if data.threshold is not None and not 0.0 <= data.threshold <= 1.0:
            raise InvalidInputError("threshold must be between 0 and 1", field="threshold")
        vault = vault_of(state)
        await require_pii_analyze(vault, caller)
        pii = detector(state)
        # Detection is CPU-bound (seconds for 100k characters): in worker processes, a few runs per principal.
        slots, key = vault.detection_slots, caller.principal.id if caller.principal else None
        if key is not None and not slots.try_acquire(key):
            raise RateLimitedError(f"at most {slots.limit} PII detection runs in flight per principal; retry shortly",
                                   retry_after=1)
        redacted: str | None = None
        try:
            if data.redact and data.threshold is None:
                result = await pii.redact(data.text, data.language)
                entities, redacted = list(result.entities), result.text
            else:
                entities = await pii.analyze(data.text, data.language, threshold=data.threshold)
                redacted = (await pii.redact(data.text, data.language)).text if data.redact else None
        finally:
            if key is not None:
                slots.release(key)
        types: dict[str, Any] = {}
        for e in entities:
            types[e.type] = types.get(e.type, 0) + 1
        await vault.audit.record_durable(AuditEvent(
            "pii.analyze", Outcome.ALLOWED, caller.actor, request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"{len(data.text)} chars; " + ", ".join(f"{k}={v}" for k, v in sorted(types.items()))))
        return AnalyzeResponse(entities=[EntityRead(e.type, e.start, e.end, round(e.score, 3)) for e in entities],
                               redacted=redacted)
