"""`vault segments preview|evaluate|diff|create|list|show|conflicts|load`."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer

from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.cli.common import err, out, run, with_vault
from vault.segments.errors import ExpressionError
from vault.segments.seeds import load_seeds

app = typer.Typer(help="Shared customer segments (docs/segments.md).", no_args_is_help=True)
AS_OF = typer.Option(None, "--as-of", help="As-of date YYYY-MM-DD (Asia/Seoul day; default today)")


def _caller() -> Caller:
    return Caller(None, operator="segments-cli")


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print("[red]error:[/red] --as-of must be a date YYYY-MM-DD")
        raise typer.Exit(2) from None


def _print(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def _expression_failed(exc: ExpressionError, expression: str) -> typer.Exit:
    _print_err = {"error": "invalid_expression", "message": exc.message, "position": exc.position,
                  **({"valid": exc.extra["valid"]} if "valid" in exc.extra else {})}
    err.print(f"[red]error:[/red] {exc.detail}")
    err.print(expression, markup=False, highlight=False)
    err.print(" " * (exc.position - 1) + "^", markup=False, highlight=False)
    sys.stderr.write(json.dumps(_print_err, ensure_ascii=False) + "\n")
    return typer.Exit(2)


@app.command("preview")
def preview(expression: str = typer.Option(..., "--expression", "-e", help="Segment expression"),
            as_of: str = AS_OF) -> None:
    """Evaluate an expression over every customer not erased; prints one JSON object with `size`."""
    day = _as_of(as_of)

    async def go(vault: Vault) -> None:
        try:
            result = await vault.segments().preview(expression, _caller(), day)
        except ExpressionError as exc:
            raise _expression_failed(exc, expression) from None
        _print({"size": result.size, "population": result.population, "as_of": result.as_of.isoformat(),
                "expression": expression, "features": result.names, "tiers": result.summary.get("tiers"),
                "quadrants": result.summary.get("quadrants"), "summary": result.summary.get("features")})

    run(with_vault(go))


@app.command("evaluate")
def evaluate(ref: str = typer.Argument(..., help="NAME@VERSION"), as_of: str = AS_OF) -> None:
    """Evaluate a version and store its membership snapshot; prints the snapshot as JSON."""
    day = _as_of(as_of)

    async def go(vault: Vault) -> None:
        snap = await vault.segments().evaluate(ref, _caller(), day)
        _print({"snapshot_id": str(snap.id), "segment": snap.ref, "as_of": snap.as_of.isoformat(),
                "size": snap.size, "population": snap.population, "trial": snap.summary.get("trial", False),
                "tiers": snap.summary.get("tiers"), "quadrants": snap.summary.get("quadrants")})

    run(with_vault(go))


@app.command("diff")
def diff(base: str = typer.Argument(..., help="NAME@V1 (its latest snapshot)"),
         target: str = typer.Argument(..., help="NAME@V2 (its latest snapshot)"),
         base_as_of: str = typer.Option(None, "--base-as-of", help="Use the base's snapshot at this as-of date"),
         target_as_of: str = typer.Option(None, "--target-as-of", help="Use the target's snapshot at this date"),
         ids: bool = typer.Option(False, "--ids", help="List the customer ids who joined and left")) -> None:
    """Who joined and who left between the latest snapshots of two versions (evaluated now if none exists)."""
    days = (_as_of(base_as_of), _as_of(target_as_of))

    async def go(vault: Vault) -> None:
        svc = vault.segments()
        snaps = []
        for ref, day in zip((base, target), days, strict=True):
            snap = await svc.latest_snapshot(ref, day)
            if snap is None:
                snap = await svc.evaluate(ref, _caller(), day)
            snaps.append(snap)
        d = await svc.diff(snaps[0].id, snaps[1].id, _caller(), with_ids=ids)

        def side(s: Any) -> dict[str, Any]:
            return {"count": s.count, "by_tier": s.by_tier, "by_quadrant": s.by_quadrant,
                    **({"customer_ids": [str(c) for c in s.ids]} if ids else {})}

        _print({"base": {"segment": d.base.ref, "snapshot_id": str(d.base.id), "as_of": d.base.as_of.isoformat(),
                         "size": d.base.size},
                "target": {"segment": d.target.ref, "snapshot_id": str(d.target.id),
                           "as_of": d.target.as_of.isoformat(), "size": d.target.size},
                "joined": side(d.joined), "left": side(d.left), "stayed": d.stayed, "tier_changes": d.tier_changes})

    run(with_vault(go))


@app.command("create")
def create(name: str = typer.Argument(..., help="Segment name (a-z 0-9 _ -)"),
           expression: str = typer.Option(..., "--expression", "-e"),
           description: str = typer.Option("", "--description"),
           department: str = typer.Option("marketing", "--department", help="Owning department"),
           analysis: bool = typer.Option(False, "--analysis", help="Not a targeting segment")) -> None:
    """Create the next version of a segment as a draft (needs marketing, sales and crm_agent sign-off)."""
    async def go(vault: Vault) -> None:
        try:
            v = await vault.segments().create(name, expression, _caller(), description=description,
                                              targeting=not analysis, owner_department=department)
        except ExpressionError as exc:
            raise _expression_failed(exc, expression) from None
        _print({"segment": v.ref, "status": v.status})

    run(with_vault(go))


@app.command("list")
def list_() -> None:
    """Every version with its status and sign-offs."""
    async def go(vault: Vault) -> None:
        for v in await vault.segments().versions(_caller()):
            _print({"segment": v.ref, "status": v.status, "approvals": v.approvals, "targeting": v.targeting,
                    "owner_department": v.owner_department, "expression": v.expression})

    run(with_vault(go))


@app.command("conflicts")
def conflicts(ref: str = typer.Argument(..., help="NAME@VERSION")) -> None:
    """Members of the latest snapshot blocked (blacklist / do_not_contact) by another department."""
    async def go(vault: Vault) -> None:
        r = await vault.segments().conflicts(ref, _caller())
        _print({"segment": r.snapshot.ref, "snapshot_id": str(r.snapshot.id), "owner_department": r.owner_department,
                "count": r.count, "by_label": r.by_label, "by_department": r.by_department,
                "customer_ids": [str(c) for c in r.customer_ids]})

    run(with_vault(go))


@app.command("load")
def load(directory: Path = typer.Argument(None, help="Seed folder (default policies/segments)")) -> None:
    """Create draft versions for seed definitions whose expression differs from the newest version."""
    async def go(vault: Vault) -> None:
        folder = directory or vault.settings.policy.directory / "segments"
        for v in await load_seeds(vault.segments(), folder, _caller()):
            _print({"segment": v.ref, "status": v.status})

    run(with_vault(go))


async def demo_segments(vault: Vault, refs: list[str], tmp: Path) -> None:
    """Demo behaviour data, a few department labels, and the seed segments signed off, active and evaluated."""
    import random

    from sqlalchemy import select

    from vault.access.models import PrincipalRow
    from vault.access.principals import Principal
    from vault.customers.models import CustomerRow
    from vault.segments.demo import write_behaviour_csvs
    from vault.segments.features import today_kst
    from vault.segments.views import APPROVERS

    tx, ix = tmp / "demo-transactions.csv", tmp / "demo-interactions.csv"
    write_behaviour_csvs(refs, today_kst(), tx, ix)
    importer = vault.behaviour_importer()
    operator = Caller(None, purpose="service_delivery", operator="demo")
    t = await importer.transactions(tx, operator)
    i = await importer.interactions(ix, operator)
    tx.unlink()
    ix.unlink()
    out.print(f"demo transactions: {t.created} created, {t.unchanged} already present; "
              f"interactions: {i.created} created, {i.unchanged} already present")
    async with vault.db.write() as session:
        rows = {r.role: r for r in (await session.scalars(
            select(PrincipalRow).where(PrincipalRow.name.like("demo-%")))).all()}
        ids = sorted((await session.scalars(select(CustomerRow.id).where(CustomerRow.erased_at.is_(None)))).all())
        labels = vault.labels(session)
        if ids and not await labels.labels_of(ids[0], operator, history=True):
            rng = random.Random(7)
            for cid in rng.sample(ids, min(len(ids), 40)):
                await labels.set(cid, "vip", "high_spend", operator, department="marketing")
            for cid in rng.sample(ids, min(len(ids), 25)):
                await labels.set(cid, "blacklist", "abusive_returns", operator, department="after_sales")
            for cid in rng.sample(ids, min(len(ids), 15)):
                await labels.set(cid, "do_not_contact", "customer_request", operator, department="crm")
            await labels.set(ids[0], "complaint_risk", "open_complaint", operator, department="crm")
    svc = vault.segments()
    created = await load_seeds(svc, vault.settings.policy.directory / "segments", operator)
    for v in created:
        for role in APPROVERS:
            row = rows.get(role)
            if row is None:
                continue
            caller = Caller(Principal(row.id, row.name, row.kind, row.role), operator=row.name)
            await svc.approve(v.ref, caller)
        approved = await svc.get(v.ref, operator)
        if approved.status == "approved":
            await svc.activate(v.ref, operator)
            await svc.evaluate(v.ref, operator)
    if created:
        out.print("demo segments: " + ", ".join(v.ref for v in created) + " (signed off, active, evaluated)")
        marketing = rows.get("marketing")
        if marketing is not None and any(v.ref == "core-customers@1" for v in created):
            # a next version waiting for sales and CRM, so the console shows sign-off and the diffs
            caller = Caller(Principal(marketing.id, marketing.name, marketing.kind, marketing.role),
                            operator=marketing.name)
            draft = await svc.create(
                "core-customers", 'tier == "core" and churn_risk < 0.6 and not label.blacklist '
                "and not label.do_not_contact", caller,
                description="Core customers still buying at their usual rhythm (churn risk below 0.6).")
            await svc.approve(draft.ref, caller)
            out.print(f"demo segments: {draft.ref} drafted, approved by marketing, waiting for sales and CRM")
