"""Customers on the real database: import, idempotency, no plaintext at rest."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.conftest import DbTarget
from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.config import Settings
from vault.customers.demo import write_demo_csv
from vault.customers.importer import CUSTOMER_COLUMNS, HEADER, CustomerImporter
from vault.customers.records import sealed_field_names
from vault.db.engine import sync_url

OPERATOR = Caller(None, purpose="service_delivery", operator="tests")


def _importer(vault: Vault) -> CustomerImporter:
    return CustomerImporter(vault.db, vault.keyring, vault.policies.catalogue, vault.audit)


def _write(path: Path, rows: list[list[str]], header: tuple[str, ...] = HEADER) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _row(ref: str, **over: str) -> list[str]:
    base = {"customer_ref": ref, "name": "김민준", "email": f"{ref}@daum.net", "phone": "010-4444-5555",
            "birth_date": "1985-03-02", "gender": "F", "postal_code": "48058", "city": "부산광역시",
            "district": "해운대구", "address_line": "센텀중앙로 97", "rrn": "", "marketing_email": "y",
            "marketing_sms": "n", "marketing_sms_night": "", "analytics": "y"}
    base.update(over)
    return [base[c] for c in HEADER]


@pytest.mark.parametrize("workers", [0, 2])
async def test_import_reports_bad_rows_and_keeps_good_ones(vault: Vault, tmp_path: Path, workers: int) -> None:
    p = uuid.uuid4().hex[:6]
    rows = [
        _row(f"{p}-1"),
        _row(f"{p}-2", phone="12345"),            # line 3
        _row(f"{p}-3"),
        _row(f"{p}-4", rrn="900101-1234567"),     # line 5: bad check digit (8 is right)
        _row(f"{p}-5", birth_date="1990-02-30"),  # line 6
        _row(f"{p}-1"),                           # line 7: duplicate ref in file
        _row(f"{p}-7", marketing_email="maybe"),  # line 8
        _row(f"{p}-8", gender="Q"),               # line 9
        _row(f"{p}-9"),
    ]
    path = tmp_path / "c.csv"
    _write(path, rows)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("only,three,cells\n")  # line 11
    report = await _importer(vault).run(path, OPERATOR, batch_size=2, workers=workers)
    assert report.created == 3
    assert {(e.line, e.field) for e in report.errors} == {
        (3, "phone"), (5, "rrn"), (6, "birth_date"), (7, "customer_ref"), (8, "marketing_email"), (9, "gender"),
        (11, "(row)")}
    again = await _importer(vault).run(path, OPERATOR, batch_size=2, workers=workers)
    assert again.created == 0
    assert again.unchanged == 3


async def test_all_or_nothing_writes_nothing(vault: Vault, tmp_path: Path) -> None:
    p = uuid.uuid4().hex[:6]
    path = tmp_path / "c.csv"
    _write(path, [_row(f"{p}-1"), _row(f"{p}-2", email="not-an-email"), _row(f"{p}-3")])
    report = await _importer(vault).run(path, OPERATOR, all_or_nothing=True)
    assert report.refused
    assert report.created == 0
    ok = await _importer(vault).run(path, OPERATOR)
    assert ok.created == 2  # nothing of the refused run was written


async def test_unknown_columns_are_refused(vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    _write(path, [[*_row("x"), "secret"]], header=(*HEADER, "favourite_colour"))
    report = await _importer(vault).run(path, OPERATOR)
    assert report.created == 0
    assert report.errors[0].line == 1
    assert "favourite_colour" in report.errors[0].reason


async def test_cli_import_exit_code_and_report(settings: Settings, tmp_path: Path) -> None:
    p = uuid.uuid4().hex[:6]
    path = tmp_path / "cli.csv"
    _write(path, [_row(f"{p}-1"), _row(f"{p}-2", phone="x")])
    env = {**os.environ, "VAULT_DATABASE_URL": settings.database_url,
           "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(settings.policy.directory)}
    res = subprocess.run([sys.executable, "-m", "vault.cli.main", "customers", "import", str(path)],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 2, res.stderr
    assert "created: 1" in res.stdout
    report = (tmp_path / "cli.csv.report.csv").read_text()
    assert "3,phone," in report
    assert "x" not in report.split("\n", 1)[1].replace("phone", "")  # the bad value is not echoed


async def test_no_plaintext_pii_at_rest(db_target: DbTarget, vault: Vault, tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    rows = write_demo_csv(path, 150, seed=4242)
    report = await _importer(vault).run(path, OPERATOR)
    assert report.created == 150
    secrets: set[str] = set()
    cat = vault.policies.catalogue
    for r in rows:
        for f in ("name", "email", "phone", "rrn", "address_line", "customer_ref"):
            if r[f]:
                secrets.add(r[f])
                secrets.add(cat[f].clean(r[f]))
    engine = create_engine(sync_url(db_target.url))
    if db_target.backend == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        db_file = Path(db_target.url.split("///", 1)[1])
        blob = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
        haystack = blob.decode("utf-8", errors="ignore")
    else:
        parts = []
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                parts.extend(str(v) for (v,) in conn.execute(text(f'SELECT t::text FROM "{table}" t')))
        engine.dispose()
        haystack = "\n".join(parts)
    assert len(haystack) > 10_000
    leaked = sorted(s for s in secrets if s in haystack)
    assert not leaked, f"{len(leaked)} plaintext values found at rest, e.g. field of length {len(leaked[0])}"


async def test_undeclared_pii_columns_are_discovered_and_refused(vault: Vault, settings: Settings,
                                                                 tmp_path: Path) -> None:
    p = uuid.uuid4().hex[:6]
    header = (*HEADER, "memo", "loyalty_tier")
    rows = [[*_row(f"{p}-{i}"), f"배송 전 010-{3000 + i}-1234로 연락 부탁", "gold"] for i in range(30)]
    path = tmp_path / "extra.csv"
    _write(path, rows, header=header)
    env = {**os.environ, "VAULT_DATABASE_URL": settings.database_url,
           "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(settings.policy.directory)}
    cmd = [sys.executable, "-m", "vault.cli.main", "customers", "import", str(path)]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    out = " ".join((refused.stdout + refused.stderr).split())
    assert "'memo' looks like PII (PHONE_NUMBER" in out
    assert "'loyalty_tier': no PII" in out
    assert "010-3000-1234" not in out
    accepted = subprocess.run([*cmd, "--ignore-unknown-columns"], env=env, capture_output=True, text=True,
                              timeout=180, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "created: 30" in accepted.stdout
    engine = create_engine(sync_url(settings.database_url))
    with engine.connect() as conn:
        sealed = [row[0] for row in conn.execute(text("SELECT sealed FROM customers"))]
    engine.dispose()
    stored_fields = {name for blob in sealed for name in sealed_field_names(bytes(blob))}
    assert len(sealed) >= 30
    assert stored_fields <= set(CUSTOMER_COLUMNS)  # the dropped columns are stored nowhere


async def test_encodings(vault: Vault, tmp_path: Path) -> None:
    p = uuid.uuid4().hex[:6]
    rows = [_row(f"{p}-{i}") for i in range(3)]
    text = "\r\n".join([",".join(HEADER), *(",".join(r) for r in rows)]) + "\r\n"
    cp949 = tmp_path / "cp949.csv"
    cp949.write_bytes(text.encode("cp949"))
    report = await _importer(vault).run(cp949, OPERATOR)  # read as UTF-8: stops with a clear error, no crash
    assert report.created == 0
    assert report.errors[0].field == "(file)"
    assert "cp949" in report.errors[0].reason
    ok = await _importer(vault).run(cp949, OPERATOR, encoding="cp949")
    assert ok.created == 3
    assert not ok.errors
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.replace(f"{p}-", f"{p}b-").encode("utf-8"))
    assert (await _importer(vault).run(bom, OPERATOR)).created == 3
    # valid rows before an undecodable line are kept; the error names the line
    mixed = tmp_path / "mixed.csv"
    good = ",".join(_row(f"{p}c-1"))
    bad = ",".join(_row(f"{p}c-2")).encode("cp949")
    mixed.write_bytes(",".join(HEADER).encode() + b"\n" + good.encode() + b"\n" + bad + b"\n")
    report = await _importer(vault).run(mixed, OPERATOR)
    assert report.created == 1
    assert report.errors[-1].line == 3
