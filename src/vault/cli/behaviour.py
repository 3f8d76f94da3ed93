"""`vault transactions import`, `vault interactions import`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.cli.common import fail, out, run, with_vault
from vault.segments.behaviour import write_report

transactions_app = typer.Typer(help="Purchase transactions (behaviour data for segments; no PII).",
                               no_args_is_help=True)
interactions_app = typer.Typer(help="Service interactions (behaviour data for segments; no PII).",
                               no_args_is_help=True)

FILE = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV with the documented header")
REPORT = typer.Option(None, help="Where to write rejected rows (default FILE.report.csv)")
ALL_OR_NOTHING = typer.Option(False, "--all-or-nothing", help="Refuse the whole file if any row is bad")
BATCH = typer.Option(50_000, min=1, help="Rows per transaction")
ENCODING = typer.Option("utf-8-sig", help="File encoding")
PURPOSE = typer.Option("service_delivery", help="Purpose of collection recorded in the audit log")


@transactions_app.command("import")
def import_transactions(file: Path = FILE, report: Path = REPORT, all_or_nothing: bool = ALL_OR_NOTHING,
                        batch_size: int = BATCH, encoding: str = ENCODING, purpose: str = PURPOSE) -> None:
    """Import transactions (customer_ref,occurred_at,amount_krw,channel,category,returned); idempotent."""
    _import("transactions", file, report, all_or_nothing, batch_size, encoding, purpose)


@interactions_app.command("import")
def import_interactions(file: Path = FILE, report: Path = REPORT, all_or_nothing: bool = ALL_OR_NOTHING,
                        batch_size: int = BATCH, encoding: str = ENCODING, purpose: str = PURPOSE) -> None:
    """Import interactions (customer_ref,occurred_at,department,kind,satisfaction); idempotent."""
    _import("interactions", file, report, all_or_nothing, batch_size, encoding, purpose)


def _import(kind: Literal["transactions", "interactions"], file: Path, report: Path | None, all_or_nothing: bool,
            batch_size: int, encoding: str, purpose: str) -> None:
    report_path = report or file.with_name(file.name + ".report.csv")
    with file.open("rb") as fh:
        total = sum(1 for _ in fh) - 1

    async def go(vault: Vault) -> None:
        vault.policies.access.check_purpose(purpose)
        importer = vault.behaviour_importer()
        caller = Caller(None, purpose=purpose, operator=f"{kind}-import")
        with Progress(TextColumn(f"importing {kind}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=False) as bar:
            task = bar.add_task("import", total=max(total, 0))
            method = importer.transactions if kind == "transactions" else importer.interactions
            result = await method(file, caller, batch_size=batch_size, all_or_nothing=all_or_nothing,
                                  progress=lambda n: bar.advance(task, n), encoding=encoding)
        if result.errors:
            write_report(result, report_path)
        out.print(f"rows: {result.rows}, created: {result.created}, already present: {result.unchanged}, "
                  f"rejected: {result.rejected}" + (f" (see {report_path})" if result.errors else ""))
        header_error = next((e for e in result.errors if e.line == 1), None)
        if header_error is not None:
            raise fail(f"file refused, nothing written: {header_error.reason}")
        if result.refused:
            raise fail(f"--all-or-nothing: file refused because {result.rejected} rows are invalid; nothing written")
        if result.errors:
            raise typer.Exit(2)

    run(with_vault(go))
