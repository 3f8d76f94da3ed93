"""Key management errors."""

from __future__ import annotations

from vault.errors import ConflictError


class KeyInUseError(ConflictError):
    """A key version cannot be retired while data is still wrapped or indexed under it."""

    code = "keys.in_use"
    title = "Key version still in use"
