"""Shared CLI plumbing: settings, opening the vault, error reporting."""

from __future__ import annotations

import asyncio
import gc
import getpass
import os
import socket
import sys
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from vault.errors import AccessDeniedError, VaultError

if TYPE_CHECKING:  # imported by the functions that use them: a command pays only for what it runs
    from collections.abc import Awaitable, Callable

    from rich.console import Console

    from vault.access.caller import Caller
    from vault.access.permissions import Permission
    from vault.bootstrap import Vault
    from vault.config import Settings

T = TypeVar("T")


class _LazyConsole:
    """A rich console built on first print: a command that prints nothing through rich does not import it."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """``rich.console.Console.print``."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        self._console.print(*objects, **kwargs)


err = _LazyConsole(stderr=True)
out = _LazyConsole(stderr=False)


def settings() -> Settings:
    """The process settings."""
    from vault.config import get_settings

    return get_settings()


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine; turn vault errors into a one-line message and exit code 1."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except VaultError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None


async def with_vault(fn: Callable[[Vault], Awaitable[T]]) -> T:
    """Open the vault, call ``fn``, always close it."""
    # Opening imports most of what a command runs (SQLAlchemy, pydantic, the models): objects that live
    # until exit, which the cyclic collector would otherwise walk again and again while they are made.
    paused = gc.isenabled()
    gc.disable()
    try:
        from vault.bootstrap import open_vault

        vault = await open_vault(settings())
    finally:
        if paused:
            gc.enable()
    try:
        return await fn(vault)
    finally:
        await vault.close()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return an Exit to raise."""
    err.print(f"[red]error:[/red] {message}")
    sys.stderr.flush()
    return typer.Exit(code)


def operator(command: str) -> str:
    """Who runs this CLI command, for the audit log: OS user, host and command (never a secret)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()} ({command})"


async def acting_principal(vault: Vault, permission: Permission, command: str, purpose: str | None = None) -> Caller:
    """The named principal a privileged command acts as, from ``VAULT_API_KEY``.

    Erasure, export and key management act on every customer's data or keys: shell access to the
    key file is not enough, the operator names (and proves) the principal whose rights apply, and
    the audit log records both.

    Raises:
        typer.Exit: no key, an invalid key, or a principal without ``permission``.
    """
    from vault.access.caller import Caller
    from vault.access.errors import InvalidCredentialsError

    key = vault.settings.api_key
    if key is None or not key.get_secret_value().strip():
        raise fail(f"`vault {command}` acts as a named principal: set VAULT_API_KEY to the API key of a "
                   f"principal holding {permission} (docs/operations.md)")
    try:
        async with vault.db.read() as session:
            principal = await vault.principals(session).authenticate_key(key.get_secret_value().strip())
        vault.policies.access.require(principal, permission, purpose or "*")
    except (InvalidCredentialsError, AccessDeniedError) as exc:
        raise fail(f"`vault {command}`: {exc.detail}") from None
    return Caller(principal, purpose=purpose, operator=operator(command), request_id=uuid.uuid4().hex)
