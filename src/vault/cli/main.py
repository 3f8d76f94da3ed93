"""Entry point of the ``vault`` command."""

from __future__ import annotations

import typer

from vault.cli import audit, backup, consent, customers, extract, keys, notices, principals, rights, setup
from vault.cli.common import err
from vault.errors import VaultError

app = typer.Typer(help="Customer Vault: encrypted customer data with consent, purpose-bound access and audit.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command("init")(setup.init)
app.command("demo")(setup.demo)
app.command("serve")(setup.serve)
app.add_typer(customers.app, name="customers")
app.add_typer(principals.app, name="principals")
app.add_typer(audit.app, name="audit")
app.add_typer(consent.app, name="consent")
app.add_typer(extract.app, name="extract")
app.add_typer(rights.app, name="rights")
app.add_typer(rights.retention_app, name="retention")
app.add_typer(keys.app, name="keys")
app.add_typer(backup.app, name="backup")
app.add_typer(notices.app, name="notices")

try:  # the PII scanner is built in parallel; mount it when present
    from vault.cli.pii import pii_app  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover
    pass
else:
    app.add_typer(pii_app, name="pii")


def main() -> None:
    """Console entry point: vault errors (bad policy files, missing keys) end with one line, not a trace."""
    try:
        app()
    except VaultError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
