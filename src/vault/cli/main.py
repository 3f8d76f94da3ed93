"""Entry point of the ``vault`` command.

Sub-commands are registered by name and imported only when used, so a command
pays only for its own imports: ``vault pii scan`` starts without the database,
crypto, web framework or spaCy (``tests/unit/detection/test_registry.py``
checks). Register a new command group in :data:`GROUPS` (``"module:attribute"``
of its ``typer.Typer``) or a single command in :data:`COMMANDS`, not with an
import at the top of this module.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup

#: name -> (module:attribute of a typer.Typer, one-line help shown by ``vault --help``)
GROUPS: dict[str, tuple[str, str]] = {
    "customers": ("vault.cli.customers:app", "Customer records."),
    "principals": ("vault.cli.principals:app", "Principals (people and services) and API keys."),
    "audit": ("vault.cli.audit:app", "Tamper-evident audit log."),
    "consent": ("vault.cli.consent:app", "Consent: expiry, receipts."),
    "extract": ("vault.cli.extract:app", "Pseudonymized, k-anonymous extracts for analytics."),
    "rights": ("vault.cli.rights:app", "Data subject rights: export, erase, restrict, object, replay erasures."),
    "retention": ("vault.cli.rights:retention_app", "Retention: erase or pseudonymize customers past retention."),
    "keys": ("vault.cli.keys:app", "Key-encryption keys and blind-index keys: status, rotation, retirement."),
    "backup": ("vault.cli.backup:app", "Database backup and restore (keys are backed up separately)."),
    "notices": ("vault.cli.notices:app", "Notices to data subjects the application sends."),
    "pii": ("vault.cli.pii:pii_app", "Detect personal data (Korean + English) in free text, fully offline."),
    "transactions": ("vault.cli.behaviour:transactions_app", "Purchase transactions (behaviour data for segments)."),
    "interactions": ("vault.cli.behaviour:interactions_app", "Service interactions (behaviour data for segments)."),
    "segments": ("vault.cli.segments:app", "Shared customer segments: preview, evaluate, diff, versions."),
}
#: name -> (module:attribute of a command function, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("vault.cli.setup:init", "Create var/, a key file, the database schema and the system keys."),
    "demo": ("vault.cli.setup:demo", "Load synthetic Korean/English customers and one principal per role."),
    "serve": ("vault.cli.setup:serve", "Serve the HTTP API."),
}


def _load(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class LazyGroup(TyperGroup):
    """A root group that imports a sub-command's module only when that sub-command is run or shown."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Every registered name (no imports)."""
        return sorted({*super().list_commands(ctx), *GROUPS, *COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Import and build the named command."""
        command: Any
        if cmd_name in GROUPS:
            sub = _load(GROUPS[cmd_name][0])
            assert isinstance(sub, typer.Typer)
            command = typer.main.get_group(sub)
        elif cmd_name in COMMANDS:
            single = typer.Typer(add_completion=False)
            fn: Any = _load(COMMANDS[cmd_name][0])
            single.command(cmd_name)(fn)
            command = typer.main.get_command(single)
        else:
            return super().get_command(ctx, cmd_name)
        command.name = cmd_name
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """``vault --help`` lists the commands from the tables above, without importing them."""
        rows = [(name, (GROUPS.get(name) or COMMANDS[name])[1]) for name in sorted({*GROUPS, *COMMANDS})]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(cls=LazyGroup, help="Customer Vault: encrypted customer data with consent, purpose-bound "
                  "access and audit.", no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.callback()
def root() -> None:
    """Customer Vault: encrypted customer data with consent, purpose-bound access and audit."""


def main() -> None:
    """Console entry point: vault errors (bad policy files, missing keys) end with one line, not a trace."""
    from vault.errors import VaultError

    try:
        app()
    except VaultError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        # The interpreter's last collections at exit would walk every object start-up made (modules,
        # classes, SQLAlchemy's and pydantic's tables), about a sixth of a short command's time; frozen
        # objects are skipped. Commands close their files and connections themselves before this.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
