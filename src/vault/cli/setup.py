"""`vault init`, `vault demo`, `vault serve`."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer
from sqlalchemy import create_engine

from vault.access.caller import Caller
from vault.audit.entry import Actor
from vault.bootstrap import Vault, key_provider, load_policies
from vault.cli.common import err, fail, operator, out, run, settings, with_vault
from vault.crypto.errors import KeyFileError
from vault.crypto.keys import generate_key_file
from vault.db.engine import Database, is_postgres, sync_url
from vault.db.roles import ServiceRoleError, grant_service_role
from vault.keys.store import ensure_system_keys

DEMO_ROLES = ("application", "analyst", "marketing", "sales", "crm_agent", "compliance_officer", "admin")


def init() -> None:
    """Create var/, a key file (mode 0600, never overwritten), the database at head and the system keys."""
    s = settings()
    load_policies(s)  # refuse to initialize against invalid policy files
    s.var_dir.mkdir(parents=True, exist_ok=True)
    if s.crypto.kek_provider == "file":
        if s.crypto.kek_file.exists():
            out.print(f"key file {s.crypto.kek_file} exists; keeping it (keys are never overwritten)")
        else:
            try:
                generate_key_file(s.crypto.kek_file)
            except KeyFileError as exc:
                raise fail(exc.detail) from exc
            out.print(f"created key file {s.crypto.kek_file} (mode 0600) - back it up separately from the database")
    from vault.db.migrate import upgrade_head  # alembic: only `vault init` pays for importing it

    owner_url = s.database_owner_url or s.database_url
    upgrade_head(owner_url)
    if s.database_service_role:
        if not is_postgres(owner_url):
            raise fail("database_service_role applies to PostgreSQL only (SQLite has no roles)")
        engine = create_engine(sync_url(owner_url))
        try:
            with engine.begin() as conn:
                grant_service_role(conn, s.database_service_role)
        except ServiceRoleError as exc:
            raise fail(exc.detail) from exc
        finally:
            engine.dispose()
        out.print(f"role {s.database_service_role}: INSERT and SELECT only on the audit tables")
    provider = key_provider(s, create=True)

    async def keys() -> list[str]:
        db = Database(owner_url)
        try:
            async with db.write() as session:
                return await ensure_system_keys(session, provider)
        finally:
            await db.dispose()

    created = run(keys())
    out.print(f"database at head; system keys {'created: ' + ', '.join(created) if created else 'present'}")


def demo(
    count: int = typer.Option(1000, help="Number of synthetic customers"),
    credentials: Path = typer.Option(Path("var/demo-credentials.txt"),
                                     help="Where demo API keys and console logins are written"),
) -> None:
    """Load synthetic Korean and English customers and create one demo principal per role."""
    s = settings()
    csv_path = s.var_dir / "demo-customers.csv"

    async def go(vault: Vault) -> None:
        from vault.customers.demo import DEMO_DRAW, prize_winners, write_demo_csv  # faker: only `vault demo`

        rows = write_demo_csv(csv_path, count)
        demo_refs = [r["customer_ref"] for r in rows]
        caller = Caller(None, purpose="service_delivery", operator=operator("demo"))
        report = await vault.importer().run(
            csv_path, caller)
        csv_path.unlink()
        out.print(f"demo customers: {report.created} created, {report.unchanged} already present, "
                  f"{report.rejected} rejected")
        # Prize winners: recorded as covered by the withholding statute, then their RRN is collected under
        # tax_reporting (the only purpose that collects RRNs, and only for customers its statute covers).
        tax = Caller(None, purpose="tax_reporting", operator=operator("demo"))
        winners = 0
        for ref, rrn in prize_winners(rows):
            async with vault.db.write() as session:
                customers = vault.customers(session)
                found = await customers.lookup("customer_ref", ref, tax)
                if not found or "rrn" in found[0].fields:
                    continue
                await customers.record_cohort(found[0].id, "prize_winners", DEMO_DRAW, tax)
                await customers.update(found[0].id, {"rrn": rrn}, tax)
                winners += 1
        out.print(f"demo prize winners with an RRN collected under tax_reporting: {winners}")
        lines = []
        async with vault.db.write() as session:
            svc = vault.principals(session)
            existing = {p.name for p in await svc.list()}
            for role in DEMO_ROLES:
                name = f"demo-{role}"
                if name in existing:
                    continue
                _, key = await svc.create(name, role, Actor.cli(operator("demo")))
                assert key is not None
                lines.append(f"{role}\t{name}\t{key.secret}")
            for role in DEMO_ROLES:  # people log in to the console at /console with a name and a password
                name = f"console-{role}"
                if name in existing:
                    continue
                password = secrets.token_urlsafe(12)
                await svc.create(name, role, Actor.cli("demo"), kind="person", password=password, with_key=False)
                lines.append(f"console\t{role}\t{name}\t{password}")
        if lines:
            credentials.parent.mkdir(parents=True, exist_ok=True)
            with credentials.open("a") as fh:
                fh.write("".join(line + "\n" for line in lines))
            credentials.chmod(0o600)
            out.print(f"demo API keys and console logins written to {credentials}")
        from vault.cli.segments import demo_segments  # segments build on the demo principals above

        await demo_segments(vault, demo_refs, s.var_dir)
        await _demo_analytics(vault)

    run(with_vault(go))


async def _demo_analytics(vault: Vault) -> None:
    """An analysis project for the demo analysts with a few DP queries charged to its ε ledger (console pages
    /console/budgets and /console/extracts)."""
    from vault.bootstrap import build_detector
    from vault.errors import VaultError

    async with vault.db.read() as session:
        members = [p.id for p in await vault.principals(session).list()
                   if p.role == "analyst" and p.name in ("demo-analyst", "console-analyst")]
    analysts = vault.analysts(build_detector)
    caller = Caller(None, purpose="analytics", operator=operator("demo"))
    try:
        await analysts.projects.create("demo-churn", caller, description="Churn study on pseudonymized data (demo)",
                                       epsilon_budget=3.0, members=members)
    except VaultError:
        return  # the demo ran before: the project and its ledger are there
    await analysts.stats.refresh(caller)
    for by, epsilon in ((["age_band10"], 0.2), (["region"], 0.3), (["gender", "age_band10"], 0.5)):
        await analysts.stats.counts("demo-churn", by, {}, epsilon, caller)
    out.print("demo analytics: project demo-churn (ε budget 3.0), 1.0 spent on three DP counts")


def serve(
    host: str = typer.Option(None, help="Bind address (default from VAULT_API__HOST)"),
    port: int = typer.Option(None, help="Port (default from VAULT_API__PORT)"),
    workers: int = typer.Option(None, help="Worker processes"),
) -> None:
    """Serve the HTTP API on host:port."""
    import uvicorn

    s = settings()
    err.print(f"serving Customer Vault on http://{host or s.api.host}:{port or s.api.port}")
    uvicorn.run(
        "vault.api.app:create_served_app", factory=True, host=host or s.api.host, port=port or s.api.port,
        workers=workers or s.api.workers, access_log=False, log_level="warning", lifespan="on",
        http="vault.api.limits:BoundedHttpToolsProtocol",  # caps the request head before it is buffered
        limit_concurrency=s.api.max_connections,  # beyond: 503 before the app (and authentication) runs
    )
