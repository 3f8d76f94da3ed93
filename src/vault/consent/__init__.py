"""Purposes of processing, consent events and receipts, consented contact resolution.

Only the purpose catalogue is re-exported here: ``vault.access`` imports it, so the
package root must not pull in the services (which import ``vault.access``). Use
``vault.consent.service``, ``.ledger``, ``.contacts`` and ``.imports`` directly.
"""

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

__all__ = ["CHANNEL_FIELDS", "Channel", "Controller", "LawfulBasis", "Notice", "Purpose", "PurposeCatalogue",
           "load_purposes"]
