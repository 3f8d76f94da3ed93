"""Analytics extracts: keyed pseudonyms, generalization, k-anonymity / l-diversity, release gate.

See docs/extracts.md. Nothing here imports a web or CLI framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
    from vault.privacy.anonymize import Anonymized, Climb
    from vault.privacy.errors import (
        DirectIdentifierError,
        ExtractSpecError,
        ExtractWriteError,
        ReleaseRefusedError,
        TargetUnmeetableError,
    )
    from vault.privacy.generalize import POSTAL_REGIONS, SUPPRESS
    from vault.privacy.service import ExtractDeps, ExtractResult, ExtractService
    from vault.privacy.spec import ExtractPlan, ExtractSpec, load_spec, parse_spec, resolve
    from vault.privacy.writer import manifest_path, output_format

# name -> module, each imported on first use (PEP 562): an extract's worker process imports
# vault.privacy.collect without NumPy, Polars and the service (about 0.5 s less per worker).
# The functions `anonymize` and `generalize` share their modules' names: import them from
# vault.privacy.anonymize / vault.privacy.generalize.
_EXPORTS = {
    "Anonymized": "vault.privacy.anonymize",
    "Climb": "vault.privacy.anonymize",
    "DirectIdentifierError": "vault.privacy.errors",
    "ExtractSpecError": "vault.privacy.errors",
    "ExtractWriteError": "vault.privacy.errors",
    "ReleaseRefusedError": "vault.privacy.errors",
    "TargetUnmeetableError": "vault.privacy.errors",
    "POSTAL_REGIONS": "vault.privacy.generalize",
    "SUPPRESS": "vault.privacy.generalize",
    "ExtractDeps": "vault.privacy.service",
    "ExtractResult": "vault.privacy.service",
    "ExtractService": "vault.privacy.service",
    "ExtractPlan": "vault.privacy.spec",
    "ExtractSpec": "vault.privacy.spec",
    "load_spec": "vault.privacy.spec",
    "parse_spec": "vault.privacy.spec",
    "resolve": "vault.privacy.spec",
    "manifest_path": "vault.privacy.writer",
    "output_format": "vault.privacy.writer",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)

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
    "load_spec",
    "manifest_path",
    "output_format",
    "parse_spec",
    "resolve",
]
