"""`vault audit verify|checkpoint|impact|inspection`."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vault.cli.common import err, fail, operator, out, run, settings, with_vault

if TYPE_CHECKING:  # the commands import what they run: `vault audit verify` needs no vault, only the database
    from vault.bootstrap import Vault

app = typer.Typer(help="Tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    checkpoint: Path = typer.Option(None, exists=True, dir_okay=False,
                                    help="Also check an exported checkpoint file (trusted key)"),
) -> None:
    """Verify the hash chain and checkpoint signatures; exit 1 naming the first broken entry.

    Reads the database with its synchronous driver only (no keys, policies or services are loaded).
    """
    from vault.audit.verify import LATEST_CHECKPOINT, verify_database

    config = settings()
    if checkpoint is None:
        latest = (config.audit.checkpoint_dir or config.var_dir / "checkpoints") / LATEST_CHECKPOINT
        hint = f" (the newest exported one is {latest})" if latest.exists() else ""
        err.print("[bold red]WARNING:[/bold red] no external checkpoint given: a log truncated (or rewritten "
                  "from some entry on) by someone with write access to the database still verifies. "
                  f"Pass --checkpoint FILE with a checkpoint kept outside the database{hint}.")
    result = verify_database(config.database_url, checkpoint_file=checkpoint)
    if result.ok:
        out.print(f"audit log intact: {result.entries} entries, {result.checkpoints} checkpoints, "
                  f"head {result.head_seq} {result.head_hash[:16]}")
        raise typer.Exit(0)
    err.print(f"audit log BROKEN at entry {result.broken_seq}: {result.reason}")
    raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    export: Path = typer.Option(None, help="Also write the checkpoint to this file (keep it outside the database)"),
) -> None:
    """Sign the current chain head with the audit Ed25519 key."""
    from vault.audit.verify import create_checkpoint, export_checkpoint

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


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{name} must be an ISO date or date-time, e.g. 2026-11-01 or 2026-11-01T09:00:00+09:00") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@app.command("impact")
def impact(
    principal: uuid.UUID = typer.Option(None, "--principal", help="Principal id"),
    key: str = typer.Option(None, "--key", help="API key prefix (as audit entries record it)"),
    kek_version: str = typer.Option(None, "--kek-version", help="KEK version, e.g. v1"),
    since: str = typer.Option(None, "--since", help="Start of the window (ISO; naive = UTC)"),
    until: str = typer.Option(None, "--until", help="End of the window, exclusive"),
    detected_at: str = typer.Option(None, "--detected-at", help="When the breach became known (default now)"),
    out_csv: Path = typer.Option(None, "--out", help="Write the notification list (CSV) here"),
) -> None:
    """Customers, data categories and counts a principal, key or KEK version touched; 72-hour clock."""
    from vault.access.caller import Caller
    from vault.audit.impact import ImpactQuery
    from vault.lib.files import write_private

    query = ImpactQuery(principal, key, kek_version, _when(since, "--since"), _when(until, "--until"),
                        _when(detected_at, "--detected-at"))

    async def go(vault: Vault) -> None:
        report = await vault.oversight().impact(query, Caller(None, operator=operator("audit impact")))
        doc = report.as_dict(limit=0)
        doc.pop("customers")
        doc.pop("truncated")
        if out_csv is not None:
            write_private(out_csv, report.notification_csv().encode())
            doc["notification_list"] = str(out_csv)
        print(json.dumps(doc, indent=2, ensure_ascii=False))

    run(with_vault(go))


@app.command("inspection")
def inspection(
    month: str = typer.Argument(..., help="YYYY-MM (Korean time)"),
    sign_off: str = typer.Option(None, "--sign-off", help="Sign off the report with this sha256 (as printed)"),
    conclusion: str = typer.Option("no_findings", help="no_findings | findings_followed_up"),
    key_env: str = typer.Option("VAULT_API_KEY", help="Env var with the signing compliance officer's API key"),
) -> None:
    """Print the monthly access-log inspection (JSON); with --sign-off, a compliance officer signs it off.

    Signing needs the officer's own API key (in the env var ``--key-env`` names), so the sign-off
    entry names the officer, not the shell user.
    """

    from vault.access.caller import Caller

    async def go(vault: Vault) -> None:
        caller = Caller(None, operator=operator("audit inspection"))
        if sign_off is not None:
            token = os.environ.get(key_env, "")
            if not token:
                raise fail(f"signing off needs the compliance officer's API key in ${key_env}")
            async with vault.db.read() as session:
                officer = await vault.principals(session).authenticate_key(token)
            report = await vault.oversight().sign_off(month, sign_off, conclusion, Caller(officer))
        else:
            report = await vault.oversight().inspection(month, caller)
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))

    run(with_vault(go))
