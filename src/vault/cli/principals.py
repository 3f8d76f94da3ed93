"""`vault principals create|list|revoke-key`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from vault.audit.entry import Actor
from vault.cli.common import operator, out, run, with_vault

if TYPE_CHECKING:  # `--help` and commands that open no vault do not import the composition root
    from vault.bootstrap import Vault

app = typer.Typer(help="Principals (people and services) and API keys.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Option(..., help="Unique name"),
    role: str = typer.Option(..., help="Role from policies/policy.csv"),
    kind: str = typer.Option("service", help="service (API key) or person (console login)"),
    password: str = typer.Option(None, help="Console password for a person (min. 12 characters)"),
) -> None:
    """Create a principal and print its API key once."""

    async def go(vault: Vault) -> None:
        async with vault.db.write() as session:
            principal, key = await vault.principals(session).create(
                name, role, Actor.cli(operator("principals")), kind=kind, password=password, with_key=kind == "service")
        out.print(f"principal {principal.id} ({principal.name}, role {principal.role})")
        if key is not None:
            out.print("API key (shown once, store it now):")
            print(key.secret)

    run(with_vault(go))


@app.command("list")
def list_() -> None:
    """List principals (no secrets)."""

    async def go(vault: Vault) -> None:
        async with vault.db.read() as session:
            for p in await vault.principals(session).list():
                state = "disabled" if p.disabled_at else p.status
                typer.echo(f"{p.id}  {p.name:30} {p.role:20} {p.kind:8} {state}")  # plain: no markup, no wrap

    run(with_vault(go))


@app.command("revoke-key")
def revoke_key(prefix: str = typer.Argument(..., help="Visible key prefix, e.g. cvk_1a2b3c4d")) -> None:
    """Revoke an API key."""

    async def go(vault: Vault) -> None:
        async with vault.db.write() as session:
            await vault.principals(session).revoke_key(prefix, Actor.cli(operator("principals")))
        out.print(f"revoked {prefix}")

    run(with_vault(go))
