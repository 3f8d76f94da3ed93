"""`vault keys status|rotate|retire|rotate-index|finalize-index`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vault.access.permissions import KEYS_MANAGE
from vault.cli.common import acting_principal, out, run, with_vault

if TYPE_CHECKING:  # `--help` and commands that open no vault do not import the composition root
    from vault.bootstrap import Vault

app = typer.Typer(help="Key-encryption keys and blind-index keys: status, rotation, retirement.",
                  no_args_is_help=True)


def _bar(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


@app.command("status")
def status() -> None:
    """KEK versions and how many DEKs and system keys each wraps; blind-index versions."""

    async def go(vault: Vault) -> None:
        s = await vault.key_rotation().status()
        out.print(f"current KEK version: {s.current}")
        for u in s.kek:
            flags = ", ".join(f for f in ("current" if u.current else "", "" if u.available else "NOT AVAILABLE") if f)
            out.print(f"  {u.version:10} {u.deks:>10} DEKs {u.system_keys:>3} system keys  {flags}")
        if s.pending_rewrap:
            out.print(f"{s.pending_rewrap} still under older versions: run `vault keys rotate --resume`")
        for i in s.index:
            out.print(f"  blind index v{i.version}: {i.customers} customers{' (retired)' if i.retired else ''}")
        out.print(f"erased customers (no DEK): {s.erased}")

    run(with_vault(go))


@app.command("rotate")
def rotate(
    resume: bool = typer.Option(False, "--resume", help="Only finish rewrapping under the current version"),
    batch_size: int = typer.Option(5000, min=1, help="DEKs per short write transaction"),
) -> None:
    """Create a new KEK version and rewrap every DEK and system key under it, while the vault serves."""

    async def go(vault: Vault) -> None:
        caller = await acting_principal(vault, KEYS_MANAGE, "keys rotate")
        rotation = vault.key_rotation(batch_size=batch_size, actor=caller.actor)
        if not resume:
            out.print(f"new KEK version {await rotation.add_version()} is current")
        with _bar("rewrapping") as bar:
            task = bar.add_task("rewrap", total=await rotation.pending())
            done = await rotation.rewrap(progress=lambda n: bar.advance(task, n))
        out.print(f"rewrapped {done} DEKs under {vault.keyring.provider.current_version}; "
                  "retire old versions with `vault keys retire VERSION` once `vault keys status` shows them unused")

    run(with_vault(go))


@app.command("retire")
def retire(version: str = typer.Argument(..., help="KEK version to remove, e.g. v1")) -> None:
    """Remove an old KEK version from the provider (refused while anything is wrapped under it)."""

    async def go(vault: Vault) -> None:
        caller = await acting_principal(vault, KEYS_MANAGE, "keys retire")
        await vault.key_rotation(actor=caller.actor).retire(version)
        out.print(f"KEK version {version} retired; back up the key file again")

    run(with_vault(go))


@app.command("rotate-index")
def rotate_index(
    resume: bool = typer.Option(False, "--resume", help="Only finish rebuilding under the newest version"),
    batch_size: int = typer.Option(2000, min=1, help="Customers per short write transaction"),
) -> None:
    """Add a blind-index key version and rebuild every customer's digests (lookups keep working)."""

    async def go(vault: Vault) -> None:
        caller = await acting_principal(vault, KEYS_MANAGE, "keys rotate-index")
        rotation = vault.key_rotation(batch_size=batch_size, actor=caller.actor)
        catalogue = vault.policies.catalogue
        with _bar("rebuilding indexes") as bar:
            if resume:
                task = bar.add_task("rebuild", total=await rotation.index_behind(vault.keyring.index.version))
                await rotation.rebuild_index(vault.keyring, catalogue, progress=lambda n: bar.advance(task, n))
                version = vault.keyring.index.version
            else:
                task = bar.add_task("rebuild", total=None)
                version, _ = await rotation.rotate_index(catalogue, progress=lambda n: bar.advance(task, n))
        out.print(f"blind-index version {version} built; restart API workers, then `vault keys finalize-index`")

    run(with_vault(go))


@app.command("finalize-index")
def finalize_index() -> None:
    """Drop digests under older index versions and retire those versions."""

    async def go(vault: Vault) -> None:
        caller = await acting_principal(vault, KEYS_MANAGE, "keys finalize-index")
        retired = await vault.key_rotation(actor=caller.actor).finalize_index(vault.keyring)
        out.print(f"blind-index version {vault.keyring.index.version} is the only one; {retired} retired")

    run(with_vault(go))
