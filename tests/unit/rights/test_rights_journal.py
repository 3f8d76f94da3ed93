"""The erasure journal: append-only JSON lines with ids, digests, times and request ids only."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vault.rights.errors import JournalError
from vault.rights.journal import ErasureJournal, JournalEntry


def _entry(action: str = "erase") -> JournalEntry:
    return JournalEntry(uuid.uuid4(), bytes(range(32)), datetime(2026, 11, 23, 10, tzinfo=UTC), "req-1", action)


def test_round_trip_and_append_only(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "j" / "erasures.jsonl")
    first, second = _entry(), _entry("pseudonymize")
    journal.append([first])
    journal.append([second])
    assert list(journal.entries()) == [first, second]
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 2
    doc = json.loads(lines[0])
    assert set(doc) == {"v", "action", "customer_id", "ref_digest", "erased_at", "request_id"}
    assert doc["ref_digest"] == bytes(range(32)).hex()


def test_torn_last_line_is_skipped_but_corruption_inside_is_an_error(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasures.jsonl")
    entry = _entry()
    journal.append([entry])
    with journal.path.open("a") as fh:
        fh.write('{"v":1,"action":"era')
    assert list(journal.entries()) == [entry]
    with journal.path.open("a") as fh:
        fh.write("\n" + entry.to_json() + "\n")
    with pytest.raises(JournalError, match="line 2"):
        list(journal.entries())


def test_missing_journal_is_empty_and_unwritable_is_an_error(tmp_path: Path) -> None:
    assert list(ErasureJournal(tmp_path / "none.jsonl").entries()) == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="nothing erased"):
        ErasureJournal(blocker / "sub" / "j.jsonl").append([_entry()])
