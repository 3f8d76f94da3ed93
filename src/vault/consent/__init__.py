"""Purposes of processing, consent events and receipts, consented contact resolution.

Only the purpose catalogue is re-exported here: ``vault.access`` imports it, so the
package root must not pull in the services (which import ``vault.access``). Use
``vault.consent.service``, ``.ledger``, ``.contacts`` and ``.imports`` directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
    from vault.policy.purposes import (
        CHANNEL_FIELDS,
        Channel,
        Controller,
        LawfulBasis,
        Notice,
        Purpose,
        PurposeCatalogue,
        load_purposes,
    )

# name -> module: each is imported on first use (PEP 562), so importing one submodule does not
# import the whole package (command start, tests/bench/test_cli_start_bench.py).
_EXPORTS = {
    "CHANNEL_FIELDS": "vault.policy.purposes",
    "Channel": "vault.policy.purposes",
    "Controller": "vault.policy.purposes",
    "LawfulBasis": "vault.policy.purposes",
    "Notice": "vault.policy.purposes",
    "Purpose": "vault.policy.purposes",
    "PurposeCatalogue": "vault.policy.purposes",
    "load_purposes": "vault.policy.purposes",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = ["CHANNEL_FIELDS", "Channel", "Controller", "LawfulBasis", "Notice", "Purpose", "PurposeCatalogue",
           "load_purposes"]
