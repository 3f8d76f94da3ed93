"""Shared CLI plumbing: settings, opening the vault, error reporting."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from vault.bootstrap import Vault, open_vault
from vault.config import Settings, get_settings
from vault.errors import VaultError

T = TypeVar("T")
err = Console(stderr=True)
out = Console()


def settings() -> Settings:
    """The process settings."""
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
    vault = await open_vault(settings())
    try:
        return await fn(vault)
    finally:
        await vault.close()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return an Exit to raise."""
    err.print(f"[red]error:[/red] {message}")
    sys.stderr.flush()
    return typer.Exit(code)
