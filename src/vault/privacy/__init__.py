"""Analytics extracts: keyed pseudonyms, generalization, k-anonymity / l-diversity, release gate.

See docs/extracts.md. Nothing here imports a web or CLI framework.
"""

from vault.privacy.anonymize import Anonymized, Climb, anonymize
from vault.privacy.errors import (
    DirectIdentifierError,
    ExtractSpecError,
    ExtractWriteError,
    ReleaseRefusedError,
    TargetUnmeetableError,
)
from vault.privacy.generalize import POSTAL_REGIONS, SUPPRESS, generalize
from vault.privacy.service import ExtractDeps, ExtractResult, ExtractService
from vault.privacy.spec import ExtractPlan, ExtractSpec, load_spec, parse_spec, resolve
from vault.privacy.writer import manifest_path, output_format

__all__ = [
    "POSTAL_REGIONS",
    "SUPPRESS",
    "Anonymized",
    "Climb",
    "DirectIdentifierError",
    "ExtractDeps",
    "ExtractPlan",
    "ExtractResult",
    "ExtractService",
    "ExtractSpec",
    "ExtractSpecError",
    "ExtractWriteError",
    "ReleaseRefusedError",
    "TargetUnmeetableError",
    "anonymize",
    "generalize",
    "load_spec",
    "manifest_path",
    "output_format",
    "parse_spec",
    "resolve",
]
