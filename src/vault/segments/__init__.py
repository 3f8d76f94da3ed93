"""Shared customer segments: behaviour data, features, the expression language, versions, snapshots.

See docs/segments.md. Entry points: :class:`SegmentService` (use cases), :class:`BehaviourImporter`
(CSV imports), :class:`LabelService` (department labels and interactions), :func:`compile_expression`.
"""

from __future__ import annotations

from vault.segments.behaviour import BehaviourImporter, BehaviourReport
from vault.segments.expression import compile_expression
from vault.segments.features import FeatureCatalogue, FeatureEngine, FeatureTable
from vault.segments.labels import LabelService
from vault.segments.service import SegmentDeps, SegmentService, parse_ref

__all__ = [
    "BehaviourImporter",
    "BehaviourReport",
    "FeatureCatalogue",
    "FeatureEngine",
    "FeatureTable",
    "LabelService",
    "SegmentDeps",
    "SegmentService",
    "compile_expression",
    "parse_ref",
]
