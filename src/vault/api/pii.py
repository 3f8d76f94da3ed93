"""/v1/pii/analyze: find personal data in free text (nothing is stored)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from vault.access.caller import Caller
from vault.api.deps import vault_of
from vault.audit.entry import AuditEvent, Outcome
from vault.bootstrap import build_detector
from vault.errors import InvalidInputError
from vault.lib.pii import PiiPort

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


async def detector(state: State) -> PiiPort:
    """The process's detector, built on first use (the analyzer is built once per process)."""
    lock: asyncio.Lock = state.pii_lock
    async with lock:
        if getattr(state, "pii", None) is None:
            state.pii = await asyncio.to_thread(build_detector)
    found: PiiPort = state.pii
    return found


class PiiController(Controller):
    """PII detection for any authenticated principal."""

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
        pii = await detector(state)
        entities = await asyncio.to_thread(pii.analyze, data.text, data.language, threshold=data.threshold)
        redacted = pii.redact(data.text, data.language).text if data.redact else None
        types: dict[str, Any] = {}
        for e in entities:
            types[e.type] = types.get(e.type, 0) + 1
        await vault_of(state).audit.record_durable(AuditEvent(
            "pii.analyze", Outcome.ALLOWED, caller.actor, request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"{len(data.text)} chars; " + ", ".join(f"{k}={v}" for k, v in sorted(types.items()))))
        return AnalyzeResponse(entities=[EntityRead(e.type, e.start, e.end, round(e.score, 3)) for e in entities],
                               redacted=redacted)
