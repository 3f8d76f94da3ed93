"""Shared customer segments: behaviour data, features, the expression language, versions, snapshots.

See docs/segments.md. Entry points: :class:`SegmentRunner` (the use cases, each in its own transactions),
:class:`BehaviourImporter` (CSV imports), :class:`LabelService` (department labels and interactions),
:func:`compile_expression`. The services behind the runner (versions, evaluation, compare, scopes) work on
the session they are given; their SQL is :mod:`vault.segments.repository`.
"""

from __future__ import annotations

from vault.segments.base import SegmentDeps
from vault.segments.behaviour import BehaviourReport
from vault.segments.expression import compile_expression
from vault.segments.features import FeatureCatalogue, FeatureEngine, FeatureTable
from vault.segments.importer import BehaviourImporter
from vault.segments.labels import LabelService
from vault.segments.runner import SegmentRunner
from vault.segments.views import parse_ref

__all__ = [
    "BehaviourImporter",
    "BehaviourReport",
    "FeatureCatalogue",
    "FeatureEngine",
    "FeatureTable",
    "LabelService",
    "SegmentDeps",
    "SegmentRunner",
    "compile_expression",
    "parse_ref",
]
