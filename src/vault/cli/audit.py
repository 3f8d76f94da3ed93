"""`vault audit verify|checkpoint`."""

from __future__ import annotations

from pathlib import Path

import typer

from vault.audit.schedule import LATEST
from vault.audit.verify import create_checkpoint, export_checkpoint, verify_chain, verify_exported
from vault.bootstrap import Vault
from vault.cli.common import err, out, run, with_vault

app = typer.Typer(help="Tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    checkpoint: Path = typer.Option(None, exists=True, dir_okay=False,
                                    help="Also check an exported checkpoint file (trusted key)"),
) -> None:
    """Verify the hash chain and checkpoint signatures; exit 1 naming the first broken entry."""

    async def go(vault: Vault) -> int:
        if checkpoint is None:
            latest = (vault.settings.audit.checkpoint_dir or vault.settings.var_dir / "checkpoints") / LATEST
            hint = f" (the newest exported one is {latest})" if latest.exists() else ""
            err.print("[bold red]WARNING:[/bold red] no external checkpoint given: a log truncated (or rewritten "
                      "from some entry on) by someone with write access to the database still verifies. "
                      f"Pass --checkpoint FILE with a checkpoint kept outside the database{hint}.")
        async with vault.db.read() as session:
            result = await (verify_exported(session, checkpoint) if checkpoint else verify_chain(session))
        if result.ok:
            out.print(f"audit log intact: {result.entries} entries, {result.checkpoints} checkpoints, "
                      f"head {result.head_seq} {result.head_hash[:16]}")
            return 0
        err.print(f"audit log BROKEN at entry {result.broken_seq}: {result.reason}")
        return 1

    code = run(with_vault(go))
    raise typer.Exit(code)


@app.command("checkpoint")
def checkpoint(
    export: Path = typer.Option(None, help="Also write the checkpoint to this file (keep it outside the database)"),
) -> None:
    """Sign the current chain head with the audit Ed25519 key."""

    async def go(vault: Vault) -> None:
        async with vault.db.write() as session:
            row = await create_checkpoint(session, vault.keyring.audit_signer)
        if row is None:
            out.print("audit log is empty; nothing to checkpoint")
            return
        out.print(f"checkpoint at entry {row.seq}: {row.hash}")
        if export is not None:
            export_checkpoint(row, vault.keyring.audit_signer.public_pem(), export)
            out.print(f"exported to {export}")

    run(with_vault(go))
