"""`vault rights ...` (data subject requests) and `vault retention run`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import typer

from vault.access.caller import Caller
from vault.access.permissions import SUBJECTS_ERASE, SUBJECTS_EXPORT, Permission
from vault.bootstrap import Vault
from vault.cli.common import acting_principal, operator, out, run, with_vault
from vault.lib.files import write_private

app = typer.Typer(help="Data subject rights: export, erase, restrict, object, replay erasures.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention: erase or pseudonymize customers past retention.", no_args_is_help=True)
LEGAL = "legal_claims"


def _caller(command: str) -> Caller:
    return Caller(None, purpose=LEGAL, operator=operator(command), request_id=uuid.uuid4().hex)


async def _as_principal(vault: Vault, permission: Permission, command: str) -> Caller:
    """Erasure and export act as a named principal (VAULT_API_KEY), whose permissions apply."""
    return await acting_principal(vault, permission, command, LEGAL)


@app.command("export")
def export(
    customer: uuid.UUID = typer.Option(..., help="Customer id"),
    out_file: Path = typer.Option(..., "--out", help="Where to write the JSON document (mode 0600)"),
    request: uuid.UUID = typer.Option(None, help="Registered access/portability request it answers"),
) -> None:
    """Write everything stored about a customer as one JSON document (docs/export.schema.json)."""

    async def go(vault: Vault) -> None:
        caller = await _as_principal(vault, SUBJECTS_EXPORT, "rights export")
        doc = await vault.rights().export(customer, caller, request_id=request)
        write_private(out_file, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode())
        out.print(f"exported customer {customer} to {out_file} ({len(doc['fields'])} fields, "
                  f"{len(doc['access_log'])} audit entries)")

    run(with_vault(go))


@app.command("erase")
def erase(
    customer: uuid.UUID = typer.Option(..., help="Customer id"),
    request: uuid.UUID = typer.Option(None, help="Registered erasure request it answers"),
) -> None:
    """Erase a customer by crypto-shredding (journaled first)."""

    async def go(vault: Vault) -> None:
        caller = await _as_principal(vault, SUBJECTS_ERASE, "rights erase")
        result = await vault.rights().erase(customer, caller, request_id=request)
        out.print(f"customer {customer}: {'erased' if result.erased else 'already erased'}")

    run(with_vault(go))


@app.command("replay-erasures")
def replay_erasures(
    journal: Path = typer.Option(None, help="Journal file (default VAULT_RIGHTS__ERASURE_JOURNAL)"),
) -> None:
    """Re-apply the erasure journal (run it after every backup restore)."""

    async def go(vault: Vault) -> None:
        if journal is not None:
            vault.settings.rights.erasure_journal = journal
        r = await vault.rights().replay_erasures(_caller("replay-erasures"))
        out.print(f"journal entries: {r.entries}; erased again: {r.erased}; pseudonymized again: {r.pseudonymized}; "
                  f"already done: {r.already}; not in this database: {r.absent}")

    run(with_vault(go))


@app.command("requests")
def requests(status: str = typer.Option("open", help="open, overdue, received, in_progress, completed, rejected"),
             ) -> None:
    """List registered requests, overdue ones first."""

    async def go(vault: Vault) -> None:
        for r in await vault.rights().list_requests(_caller("rights-requests"), status=status, limit=1000):
            flag = "OVERDUE" if r.overdue else ""
            out.print(f"{r.id}  {r.kind:14} {r.jurisdiction:5} customer {r.customer_id}  due "
                      f"{r.due_at.date()}  {r.status:12} {flag}")

    run(with_vault(go))


@retention_app.command("run")
def retention_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Report who is due; change nothing"),
    mode: str = typer.Option("erase", help="erase, or pseudonymize (keep generalized quasi-identifiers)"),
    report: Path = typer.Option(None, help="Write the report (ids and dates only) as JSON here"),
) -> None:
    """Apply retention per field and purpose: destroy fields whose every purpose ended, erase or pseudonymize
    customers with nothing left, archive what only a statute keeps; lists the customers held and why."""

    async def go(vault: Vault) -> None:
        result = await vault.retention().run(_caller("retention"), dry_run=dry_run, mode=mode)
        if report is not None:
            report.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        verb = "would be" if dry_run else ("erased" if mode == "erase" else "pseudonymized")
        held = sorted({(str(h.customer_id), h.kind, h.basis) for h in result.held})
        out.print(f"{len(result.due)} customers past retention; {result.applied if not dry_run else len(result.due)} "
                  f"{verb}; {len(result.fields_due)} with some fields past retention "
                  f"({'to be ' if dry_run else ''}destroyed or archived, other fields kept); "
                  f"{result.archived} archived; {result.archive_destroyed} archive records destroyed"
                  + (f"; report in {report}" if report else ""))
        for cid, kind, basis in held:
            out.print(f"held: customer {cid} ({kind}): {basis}", soft_wrap=True)

    run(with_vault(go))
