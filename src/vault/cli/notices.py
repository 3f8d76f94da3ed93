"""`vault notices usage`: the periodic notice of use and provision (PIPA art. 20-2)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.cli.common import err, fail, operator, run, with_vault

app = typer.Typer(help="Notices to data subjects the application sends.", no_args_is_help=True)


def _when(value: str | None, default: datetime, name: str) -> datetime:
    if value is None:
        return default
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{name} must be an ISO date or date-time") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@app.command("usage")
def usage(
    since: str = typer.Option(None, help="Start of the period (default: one year ago)"),
    until: str = typer.Option(None, help="End of the period, exclusive (default: now)"),
    out_file: Path = typer.Option(None, "--out", help="Write JSON lines here (default: stdout)"),
) -> None:
    """One JSON line per active customer: the purposes their data is used for (items, retention) and the
    provisions to third parties or abroad in the period (recipient, country, items, mechanism, time).

    The application resolves each customer's contact and sends the notice; the run is audited.
    """
    now = datetime.now(UTC)
    start, end = _when(since, now - timedelta(days=365), "--since"), _when(until, now, "--until")

    async def go(vault: Vault) -> int:
        sink = out_file.open("w", encoding="utf-8") if out_file is not None else sys.stdout
        n = 0
        try:
            async for notice in vault.usage_notices().run(Caller(None, operator=operator("notices usage")),
                                                          since=start, until=end):
                sink.write(json.dumps({"customer_id": str(notice.customer_id), "period": {
                    "from": start.isoformat(), "until": end.isoformat()}, "purposes": notice.purposes,
                    "provisions": notice.provisions}, ensure_ascii=False) + "\n")
                n += 1
        finally:
            if out_file is not None:
                sink.close()
        return n

    count = run(with_vault(go))
    err.print(f"{count} usage notices")
