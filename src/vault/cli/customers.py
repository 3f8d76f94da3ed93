"""`vault customers import`."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vault.access.caller import Caller
from vault.bootstrap import Vault, build_detector
from vault.cli.common import fail, operator, out, run, with_vault
from vault.customers.importer import describe_discovery, write_report

app = typer.Typer(help="Customer records.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV with the documented header"),
    report: Path = typer.Option(None, help="Where to write rejected rows (default FILE.report.csv)"),
    all_or_nothing: bool = typer.Option(False, "--all-or-nothing", help="Refuse the whole file if any row is bad"),
    batch_size: int = typer.Option(5000, min=1, help="Rows per transaction"),
    encoding: str = typer.Option("utf-8-sig", help="File encoding (Korean Excel exports are often cp949)"),
    ignore_unknown_columns: bool = typer.Option(
        False, "--ignore-unknown-columns",
        help="Import without columns the field catalogue does not declare (they are never stored)"),
    purpose: str = typer.Option(
        "service_delivery",
        help="Purpose of collection: rows with a value in a field it does not use are rejected (audited)"),
    covered_by: str = typer.Option(
        None, "--covered-by",
        help="Under a statute purpose (tax_reporting): the file lists customers the statute covers (e.g. one "
             "draw's prize winners), citing this reference; needed to keep statute-only values (RRNs)"),
) -> None:
    """Import customers; bad rows go to a report by line number, valid rows are kept.

    Only the fields the purpose uses are collected: a row with a value in another column (an
    RRN under service_delivery) is rejected and reported; empty cells are no value.

    Rows kept with a data-quality flag (an RRN whose check digit does not match: numbers
    re-issued since October 2020 have none) are listed in the report as warnings; see
    ``vault customers flags``.
    """
    report_path = report or file.with_name(file.name + ".report.csv")
    with file.open("rb") as fh:
        total = sum(1 for _ in fh) - 1

    async def go(vault: Vault) -> None:
        vault.policies.access.check_purpose(purpose)
        importer = vault.importer()
        with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=False) as bar:
            task = bar.add_task("import", total=max(total, 0))
            result = await importer.run(file, Caller(None, purpose=purpose, operator=operator("customers import")),
                                        batch_size=batch_size, all_or_nothing=all_or_nothing,
                                        progress=lambda n: bar.advance(task, n),
                                        ignore_unknown_columns=ignore_unknown_columns, detector=build_detector,
                                        encoding=encoding, covered_by=covered_by)
        if result.discovery:
            out.print("undeclared columns: " + describe_discovery(result.discovery))
        if result.dropped_columns:
            out.print(f"dropped undeclared columns {result.dropped_columns} (not stored)")
        if result.errors or result.warnings:
            write_report(result, report_path)
        warned = len({w.line for w in result.warnings})
        out.print(f"rows: {result.rows}, created: {result.created}, already present: {result.unchanged}, "
                  f"rejected: {result.rejected}, kept with warnings: {warned}"
                  + (f" (see {report_path})" if result.errors or result.warnings else ""))
        header_error = next((e for e in result.errors if e.line == 1), None)
        if header_error is not None:
            raise fail(f"file refused, nothing written: {header_error.reason}")
        if result.refused:
            raise fail(f"--all-or-nothing: file refused because {result.rejected} rows are invalid; nothing written")
        if result.errors:
            raise typer.Exit(2)

    run(with_vault(go))


@app.command("flags")
def flags(
    code: str = typer.Option(None, help="Only this flag code (e.g. check_digit_unverified)"),
    field: str = typer.Option(None, help="Only flags on this field (e.g. rrn)"),
    customer: uuid.UUID = typer.Option(None, help="Only this customer"),
    limit: int = typer.Option(1000, min=1, max=100_000, help="At most this many flags"),
) -> None:
    """List data-quality flags as JSON lines ``{"customer_id","field","code","flagged_at"}`` (no values; audited)."""

    async def go(vault: Vault) -> None:
        async with vault.db.read() as session:
            found = await vault.quality(session).list(
                Caller(None, purpose=None, operator=operator("customers flags")),
                code=code, field=field, customer_id=customer, limit=limit)
        for f in found:
            sys.stdout.write(json.dumps({"customer_id": str(f.customer_id), "field": f.field, "code": f.code,
                                         "flagged_at": f.flagged_at.isoformat()}) + "\n")

    run(with_vault(go))
