"""Presidio-based PII detection for Korean and English free text, fully offline.

Build the analyzer once with :func:`build_analyzer` and hand it to
:class:`PiiDetector`; see ``docs/pii-detection.md``.
"""

from __future__ import annotations

from vault.detection.registry import ANY_LANGUAGE, LANGUAGES, RecognizerSpec, build_analyzer, default_recognizers
from vault.detection.service import ColumnVerdict, DetectedEntity, PiiDetector, RedactedText

__all__ = [
    "ANY_LANGUAGE",
    "LANGUAGES",
    "ColumnVerdict",
    "DetectedEntity",
    "PiiDetector",
    "RecognizerSpec",
    "RedactedText",
    "build_analyzer",
    "default_recognizers",
]
