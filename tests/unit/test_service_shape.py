"""Services work on the session they are given: they never open, commit or end a transaction themselves.

docs/architecture.md (Services and transactions): the caller (API handler, console page, CLI command, job
runner) owns the transaction. This checks the modules converted so far; the ones still opening their own
are listed there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "vault"
SESSION_BOUND = [
    "consent/service.py", "consent/reads.py", "consent/expiry.py", "consent/notifications.py",
    "rights/requests.py", "rights/subject.py", "rights/erasure.py", "rights/archive.py", "rights/retention.py",
    "rights/oversight.py", "keys/rotation.py",
    "customers/service.py",
    "segments/base.py", "segments/versions.py", "segments/evaluation.py", "segments/compare.py", "segments/scopes.py",
    "segments/repository.py", "segments/behaviour.py", "segments/features.py", "segments/labels.py",
    "privacy/projects.py", "privacy/jobs.py", "privacy/dp.py", "privacy/service.py", "privacy/repository.py",
]
# Opening a transaction: Database.write/read/audit_write/on_demand, a session factory, or session.begin/commit.
OPENERS = {"write", "read", "audit_write", "on_demand", "begin", "begin_nested", "commit", "rollback", "sessions",
           "write_sessions"}


def _transaction_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in OPENERS:
            target = ast.unparse(node.func.value)
            if target.endswith(("db", "_db", "session", "_session")):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node.func)}()")
    return found


@pytest.mark.parametrize("module", SESSION_BOUND)
def test_service_opens_no_transaction(module: str) -> None:
    assert _transaction_calls(SRC / module) == []


def test_the_check_finds_a_transaction_opened_by_a_service() -> None:
    assert _transaction_calls(SRC / "rights" / "runner.py")  # the runner is the one that opens them
    assert _transaction_calls(SRC / "segments" / "runner.py")
    assert _transaction_calls(SRC / "segments" / "importer.py")
