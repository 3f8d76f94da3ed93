"""The KEK key file: its on-disk format, versions added and retired atomically.

A JSON document ``{"format": "customer-vault-kek/1", "current": "v2", "keys": {"v1": base64,
...}, "history": [...]}``, mode 0600, replaced atomically (temp file, fsync, rename, fsync of
the folder) so a crash mid-rotation leaves the old or the new file, never half of one. The
provider that serves wraps and unwraps from it is :class:`vault.crypto.keys.FileKeyProvider`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import TYPE_CHECKING, Any

from vault.crypto.errors import KeyFileError, KeyUnavailableError
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

KEY_FILE_FORMAT = "customer-vault-kek/1"


def next_version(existing: Iterable[str]) -> str:
    """``v<n+1>`` after the highest ``v<n>`` among ``existing``."""
    numbers = [int(v[1:]) for v in existing if v.startswith("v") and v[1:].isdigit()]
    return f"v{max(numbers, default=0) + 1}"


def _write_key_doc(path: Path, doc: dict[str, object]) -> None:
    """Replace the key file atomically (temp file 0600, fsync, rename, fsync the folder)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _load_doc(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} not found; run `vault init` first") from exc
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"key file {path} is unreadable or not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != KEY_FILE_FORMAT or not isinstance(doc.get("keys"), dict):
        raise KeyFileError(f"key file {path} is not a {KEY_FILE_FORMAT} file")
    return doc


def add_key_file_version(path: Path) -> str:
    """Add a new random KEK version to a key file and make it current (existing keys are kept)."""
    doc = _load_doc(path)
    version = next_version(doc["keys"])
    doc["keys"][version] = base64.b64encode(os.urandom(32)).decode()
    doc["current"] = version
    doc.setdefault("history", []).append({"version": version, "created_at": utcnow().isoformat()})
    _write_key_doc(path, doc)
    return version


def remove_key_file_version(path: Path, version: str) -> None:
    """Remove a retired KEK version from a key file.

    Raises:
        KeyUnavailableError: ``version`` is current or not in the file.
    """
    doc = _load_doc(path)
    if version == doc.get("current"):
        raise KeyUnavailableError(f"KEK version {version!r} is current; rotate before retiring it")
    if version not in doc["keys"]:
        raise KeyUnavailableError(f"KEK version {version!r} is not in {path}")
    del doc["keys"][version]
    doc.setdefault("history", []).append({"version": version, "retired_at": utcnow().isoformat()})
    _write_key_doc(path, doc)


def generate_key_file(path: Path) -> None:
    """Create a new key file with one random KEK version, mode 0600.

    Raises:
        KeyFileError: if the file already exists (keys are never overwritten).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    doc = {
        "format": KEY_FILE_FORMAT,
        "current": "v1",
        "keys": {"v1": base64.b64encode(os.urandom(32)).decode()},
        "created_at": utcnow().isoformat(),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"key file {path} already exists; refusing to overwrite keys") from exc
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def read_key_file(path: Path) -> tuple[dict[str, bytes], str]:
    """The KEK versions and the current version of a key file."""
    doc = _load_doc(path)
    try:
        keys = {str(v): base64.b64decode(k, validate=True) for v, k in doc["keys"].items()}
        return keys, str(doc["current"])
    except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise KeyFileError(f"key file {path} has malformed keys") from exc
