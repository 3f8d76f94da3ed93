"""Keyed pseudonyms for analytics: stable within a project, unlinkable across projects."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID


class Pseudonymizer:
    """Derives a per-project key from the pseudonym root key, then HMACs customer ids."""

    def __init__(self, root_key: bytes) -> None:
        if len(root_key) < 32:
            raise ValueError("pseudonym root key must be at least 32 bytes")
        self._root = root_key

    def project_key(self, project: str) -> bytes:
        """The key for one analysis project."""
        return hmac.digest(self._root, b"vault.pseudonym|" + project.encode(), hashlib.sha256)

    def pseudonym(self, project: str, customer_id: UUID) -> str:
        """A 26-character base32 pseudonym of ``customer_id`` within ``project``."""
        mac = hmac.digest(self.project_key(project), customer_id.bytes, hashlib.sha256)
        return base64.b32encode(mac[:16]).decode().rstrip("=").lower()
