"""`vault consent expire|verify-receipt|public-key`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer

from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.cli.common import err, fail, operator, out, run, with_vault
from vault.crypto.jws import MalformedTokenError, public_key_from_pem, verify_compact
from vault.crypto.signing import SignatureError

app = typer.Typer(help="Consent: expiry, receipts.", no_args_is_help=True)


@app.command("expire")
def expire(
    at: datetime = typer.Option(None, help="Evaluate at this time (ISO 8601 with offset; default now)"),
    batch_size: int = typer.Option(5000, min=1, help="Grants expired per transaction"),
) -> None:
    """Record `expired` events for grants past their purpose's reconfirmation interval."""

    async def go(vault: Vault) -> int:
        caller = Caller(None, purpose="legal_claims", operator=operator("consent expire"))
        total = 0
        while True:
            async with vault.db.write() as session:
                n = await vault.consent_expiry(session).expire_due(caller, at=at, limit=batch_size)
            total += n
            if n < batch_size:
                return total

    if at is not None and at.tzinfo is None:
        raise fail("--at must carry a UTC offset, e.g. 2026-12-01T00:00:00+09:00")
    out.print(f"expired {run(with_vault(go))} consents")


@app.command("public-key")
def public_key(
    output: Path = typer.Option(None, "--out", help="Write the PEM here instead of stdout"),
) -> None:
    """Print (or write) the Ed25519 public key that signs consent receipts, as PEM."""

    async def go(vault: Vault) -> str:
        return vault.keyring.receipt_signer.public_pem()

    pem = run(with_vault(go))
    if output is None:
        print(pem, end="")
    else:
        output.write_text(pem)
        out.print(f"receipt public key written to {output}")


def _token(path: Path) -> str:
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"{path}: not JSON and not a compact JWS") from exc
        token = doc.get("jws") if isinstance(doc, dict) else None
        if not isinstance(token, str):
            raise fail(f"{path}: JSON without a 'jws' member")
        return token
    return text


@app.command("verify-receipt")
def verify_receipt(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Receipt: compact JWS or the JSON of "
                                "GET /v1/consents/{event_id}/receipt"),
    public_key_file: Path = typer.Option(None, "--public-key", exists=True, dir_okay=False,
                                         help="PEM from `vault consent public-key`; fully offline when given"),
) -> None:
    """Verify a consent receipt's Ed25519 signature; exit 0 and print its claims, or exit 1."""
    token = _token(file)
    if public_key_file is not None:
        try:
            key = public_key_from_pem(public_key_file.read_bytes())
        except MalformedTokenError as exc:
            raise fail(f"{public_key_file}: {exc.detail}") from exc
    else:

        async def go(vault: Vault) -> bytes:
            return vault.keyring.receipt_signer.public_key

        key = run(with_vault(go))
    try:
        header, payload = verify_compact(token, key)
    except SignatureError as exc:
        err.print(f"receipt INVALID: {exc.detail}")
        raise typer.Exit(1) from None
    out.print(f"receipt valid (kid {header.get('kid')})")
    print(json.dumps(payload, indent=2, ensure_ascii=False))
