"""The PII-detection port: what the domain needs from a detector, and the values it returns.

``vault.detection`` (Presidio, about 2 s to import) implements it and is a leaf: the
domain packages (customers' notes and import discovery, the extract release gate) only
see this protocol, and the composition root (API, CLI) builds the real detector lazily.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class DetectedEntity:
    """One piece of personal data: its type, its ``[start, end)`` in Python characters, and a 0-1 score."""

    type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class RedactedText:
    """Text with each detected entity replaced by a label; ``entities`` point into the original text."""

    text: str
    entities: tuple[DetectedEntity, ...]


@dataclass(frozen=True)
class ColumnVerdict:
    """What a column of imported values appears to hold.

    Attributes:
        entity_type: The type most sampled values are, if it reaches the ratio; else None.
        is_pii: Whether the column should be treated as personal data (a dominant
            type, or personal data in at least ``min_ratio`` of the values, e.g. free-text notes).
        ratio: Share of sampled values whose main entity is ``entity_type`` (or, without
            a dominant type, share of values containing any entity).
        sampled: Number of non-empty values looked at.
        type_counts: For each type, how many sampled values had it as their main entity.
    """

    entity_type: str | None
    is_pii: bool
    ratio: float
    sampled: int
    type_counts: Mapping[str, int] = field(default_factory=dict)


class PiiPort(Protocol):
    """Finds personal data in free text (implemented by :class:`vault.detection.PiiDetector`)."""

    @property
    def structured_types(self) -> frozenset[str]:
        """Entity types with a fixed format (ids, numbers, addresses of mail): what a release gate refuses."""
        ...

    def analyze(self, text: str, language: str | None = None, *,
                threshold: float | None = None) -> list[DetectedEntity]:
        """Non-overlapping entities in ``text``, sorted by start offset."""
        ...

    def redact(self, text: str, language: str | None = None) -> RedactedText:
        """``text`` with each entity replaced by a label."""
        ...

    def classify_column(self, values: Sequence[str], *, sample_size: int = 200,
                        min_ratio: float = 0.5) -> ColumnVerdict:
        """What an unknown import column appears to hold."""
        ...
