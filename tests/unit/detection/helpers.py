"""Assertion helpers for the recognizer tables."""

from __future__ import annotations

from vault.detection import PiiDetector


def found(detector: PiiDetector, text: str, entity_type: str, language: str | None = None) -> list[str]:
    """The substrings of ``text`` reported as ``entity_type`` after overlap resolution."""
    return [text[e.start : e.end] for e in detector.analyze(text, language) if e.type == entity_type]
