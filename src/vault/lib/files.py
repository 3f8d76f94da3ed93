"""Files that hold personal data or keys outside the database (exports, backups): private from birth.

``open_private`` creates (or truncates) a file with mode 0600 *at creation* (never readable to
others, whatever the umask, not even for an instant) and refuses to follow a symlink at the
path, so a link planted where an export or backup is about to go cannot redirect it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class UnsafePathError(OSError):
    """The target is a symlink (or otherwise not a plain file we may create)."""


def open_private(path: Path) -> int:
    """Open ``path`` for writing, created with mode 0600, truncated; refuses a symlink. Returns the fd.

    Raises:
        UnsafePathError: ``path`` is a symlink.
        OSError: any other reason it cannot be opened.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if path.is_symlink():
            raise UnsafePathError(f"{path} is a symbolic link; refusing to write through it") from exc
        raise
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as :func:`open_private` creates it."""
    fd = open_private(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
