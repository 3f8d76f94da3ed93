"""Issue 13 (hot paths): Core statements run straight through sqlite3 store and read exactly what SQLAlchemy does.

vault.db.direct_sqlite compiles a statement once for SQLite and applies SQLAlchemy's own bind and
result processors; a row written that way must be byte-identical in the file to one written by
SQLAlchemy, and read back as the same values.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, bindparam, create_engine, insert, select, update

from vault.consent.models import ConsentStateRow
from vault.customers.models import CustomerRow
from vault.db.direct_sqlite import NotDirect, PointReads, execute_on, fetch_on
from vault.db.engine import sqlite_pragmas, sync_url
from vault.db.migrate import upgrade_head

STATES = ConsentStateRow.__table__
assert isinstance(STATES, Table)
BY_CUSTOMER = select(STATES).where(STATES.c.customer_id == bindparam("cid")).order_by(STATES.c.purpose)
UPDATE = update(STATES).where(STATES.c.customer_id == bindparam("k_customer"), STATES.c.purpose == bindparam("k_p"))


def _state(cid: uuid.UUID, purpose: str, at: datetime) -> dict[str, object]:
    return {"customer_id": cid, "purpose": purpose, "channel": "", "status": "granted", "granted_at": at,
            "notice_version": "2026-01", "notice_hash": "ab" * 32, "event_id": uuid.uuid4(), "updated_at": at}


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "direct.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_head(url)
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:  # a customer for the foreign key
        conn.execute(insert(CustomerRow.__table__), [{"id": uuid.UUID(int=1), "status": "active", "sealed": b"",
                                                      "created_at": datetime.now(UTC),
                                                      "updated_at": datetime.now(UTC)}])
    engine.dispose()
    return str(path)


def test_direct_rows_are_byte_identical_to_sqlalchemy_rows(database: str) -> None:
    cid = uuid.UUID(int=1)
    at = datetime(2026, 12, 5, 9, 30, 1, 123456, tzinfo=UTC)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(insert(STATES), [_state(cid, "marketing_email", at)])
    engine.dispose()
    raw = sqlite3.connect(database, isolation_level=None)
    try:
        assert execute_on(raw, insert(STATES), [_state(cid, "marketing_sms", at)]) == 1
        stored = raw.execute("SELECT customer_id, granted_at, updated_at, typeof(event_id) FROM consent_state "
                             "ORDER BY purpose").fetchall()
        assert stored[0][:3] == stored[1][:3]  # same text for the UUID and both timestamps
        assert stored[0][3] == stored[1][3]
        rows = fetch_on(raw, BY_CUSTOMER, {"cid": cid})
        assert [r.purpose for r in rows] == ["marketing_email", "marketing_sms"]
        assert all(r.customer_id == cid and r.granted_at.replace(tzinfo=UTC) == at for r in rows)
        assert isinstance(rows[0].event_id, uuid.UUID)
        later = datetime(2026, 12, 6, tzinfo=UTC)
        changed = execute_on(raw, UPDATE, [{"k_customer": cid, "k_p": "marketing_sms", "status": "withdrawn",
                                            "updated_at": later}])
        assert changed == 1
        after = {r.purpose: r for r in fetch_on(raw, BY_CUSTOMER, {"cid": cid})}
        assert after["marketing_sms"].status == "withdrawn"
        assert after["marketing_email"].status == "granted"
    finally:
        raw.close()


def test_an_insert_missing_a_python_default_is_refused(database: str) -> None:
    raw = sqlite3.connect(database, isolation_level=None)
    try:
        with pytest.raises(NotDirect, match="row_version"):
            execute_on(raw, insert(CustomerRow.__table__), [{"id": uuid.uuid4(), "created_at": datetime.now(UTC),
                                                             "updated_at": datetime.now(UTC)}])
        assert raw.execute("SELECT count(*) FROM customers").fetchone() == (1,)
    finally:
        raw.close()


def test_point_reads_see_committed_rows(database: str) -> None:
    reads = PointReads(database, setup=sqlite_pragmas)
    try:
        assert reads.fetch_all(BY_CUSTOMER, {"cid": uuid.UUID(int=1)}) == []
        raw = sqlite3.connect(database, isolation_level=None)
        execute_on(raw, insert(STATES), [_state(uuid.UUID(int=1), "analytics", datetime.now(UTC))])
        raw.close()
        assert [r.purpose for r in reads.fetch_all(BY_CUSTOMER, {"cid": uuid.UUID(int=1)})] == ["analytics"]
    finally:
        reads.close()
