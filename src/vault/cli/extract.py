"""`vault extract create`: pseudonymized, k-anonymous extracts for analytics (docs/extracts.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.markup import escape

from vault.access.caller import Caller
from vault.bootstrap import Vault, build_detector
from vault.cli.common import err, operator, out, with_vault
from vault.errors import VaultError
from vault.privacy import ExtractSpec, TargetUnmeetableError, load_spec, output_format

app = typer.Typer(help="Pseudonymized, k-anonymous extracts for analytics.", no_args_is_help=True)


@app.command("create")
def create(
    spec: Path = typer.Option(..., "--spec", exists=True, dir_okay=False, readable=True,
                              help="Extract spec (YAML, see docs/extracts.md)"),
    out_path: Path = typer.Option(..., "--out", dir_okay=False,
                                  help="OUT.csv or OUT.parquet; the manifest goes to OUT.manifest.json"),
) -> None:
    """Write a k-anonymous, pseudonymized extract and its manifest (nothing is written on any error)."""
    try:
        parsed, digest = load_spec(spec)
        output_format(out_path)
        asyncio.run(with_vault(lambda vault: _create(vault, parsed, digest, out_path)))
    except TargetUnmeetableError as exc:
        err.print(f"[red]error:[/red] {escape(exc.detail)}", soft_wrap=True)
        err.print("worst classes at the top of every ladder (generalized values, rows, distinct sensitive values):",
                  soft_wrap=True)
        for c in exc.extra.get("worst_classes", []):
            err.print(escape(f"  {json.dumps(c['class'], ensure_ascii=False)} rows={c['rows']} "
                             f"distinct={json.dumps(c['distinct'], ensure_ascii=False)} fails={','.join(c['fails'])}"),
                      soft_wrap=True)
        raise typer.Exit(2) from None
    except VaultError as exc:
        err.print(f"[red]error:[/red] {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None


async def _create(vault: Vault, spec: ExtractSpec, digest: str, out_path: Path) -> None:
    service = vault.extracts(build_detector())
    caller = Caller(None, purpose=spec.purpose, operator=operator("extract create"))
    result = await service.create(spec, out_path, caller, spec_sha256=digest)
    m = result.manifest
    share = m["suppressed_share"]
    levels = ", ".join(f"{k}={v}" for k, v in m["generalization"].items())
    out.print(escape(f"wrote {result.out} ({m['format']}): rows {m['rows']}, suppressed {m['suppressed_rows']} "
                     f"({share:.2%} of {m['eligible_customers']} eligible), "
                     f"k={m['k']} (smallest class {m['achieved_k']}), l={m['l']}, generalization: {levels}"),
              soft_wrap=True)
    out.print(escape(f"manifest: {result.manifest_path}"), soft_wrap=True)
