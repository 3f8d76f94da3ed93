"""`vault customers import`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.cli.common import fail, out, run, with_vault
from vault.customers.importer import write_report

app = typer.Typer(help="Customer records.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV with the documented header"),
    report: Path = typer.Option(None, help="Where to write rejected rows (default FILE.report.csv)"),
    all_or_nothing: bool = typer.Option(False, "--all-or-nothing", help="Refuse the whole file if any row is bad"),
    batch_size: int = typer.Option(2000, min=1, help="Rows per transaction"),
    purpose: str = typer.Option("service_delivery", help="Purpose of collection recorded in the audit log"),
) -> None:
    """Import customers; bad rows go to a report by line number, valid rows are kept."""
    report_path = report or file.with_name(file.name + ".report.csv")
    total = sum(1 for _ in file.open(encoding="utf-8-sig")) - 1

    async def go(vault: Vault) -> None:
        vault.policies.access.check_purpose(purpose)
        importer = vault.importer()
        with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=False) as bar:
            task = bar.add_task("import", total=max(total, 0))
            result = await importer.run(file, Caller(None, purpose=purpose, operator="import"),
                                        batch_size=batch_size, all_or_nothing=all_or_nothing,
                                        progress=lambda n: bar.advance(task, n))
        if result.errors:
            write_report(result, report_path)
        out.print(f"rows: {result.rows}, created: {result.created}, already present: {result.unchanged}, "
                  f"rejected: {result.rejected}" + (f" (see {report_path})" if result.errors else ""))
        if result.refused:
            raise fail(f"--all-or-nothing: file refused because {result.rejected} rows are invalid; nothing written")
        if result.errors:
            raise typer.Exit(2)

    run(with_vault(go))
