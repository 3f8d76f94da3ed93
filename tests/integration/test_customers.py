"""Customers on the real database: import, idempotency, no plaintext at rest."""

from __future__ import annotations

import csv
import json
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
from vault.customers.importer import CUSTOMER_COLUMNS, HEADER, CustomerImporter, write_report
from vault.customers.records import sealed_field_names
from vault.db.engine import sync_url
from vault.lib import krid
from vault.lib.krid import rrn_checksum_ok

OPERATOR = Caller(None, purpose="service_delivery", operator="tests")
TAX = Caller(None, purpose="tax_reporting", operator="tests")


def _importer(vault: Vault) -> CustomerImporter:
    return CustomerImporter(vault.db, vault.keyring, vault.policies.catalogue, vault.audit, collection=vault.collection)


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


def _winner(ref: str, **over: str) -> list[str]:
    """A row with only the fields tax_reporting collects (a prize winner for withholding tax)."""
    return _row(ref, email="", phone="", birth_date="", gender="", marketing_email="", marketing_sms="",
                analytics="", **over)


@pytest.mark.parametrize("workers", [0, 2])
async def test_import_reports_bad_rows_and_keeps_good_ones(vault: Vault, tmp_path: Path, workers: int) -> None:
    p = uuid.uuid4().hex[:6]
    rows = [
        _row(f"{p}-1"),
        _row(f"{p}-2", phone="12345"),            # line 3
        _row(f"{p}-3"),
        _row(f"{p}-4", rrn="900101-9234568"),     # line 5: gender/century digit 9 (the 1800s)
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
    assert report.warnings == []
    assert {(e.line, e.field) for e in report.errors} == {
        (3, "phone"), (5, "rrn"), (6, "birth_date"), (7, "customer_ref"), (8, "marketing_email"), (9, "gender"),
        (11, "(row)")}
    again = await _importer(vault).run(path, OPERATOR, batch_size=2, workers=workers)
    assert again.created == 0
    assert again.unchanged == 3


def _with_check(body: str, *, valid: bool) -> str:
    ok = next(d for d in "0123456789" if rrn_checksum_ok(body + d))
    last = ok if valid else str((int(ok) + 1) % 10)
    return f"{body[:6]}-{body[6:]}{last}"


@pytest.mark.parametrize("workers", [0, 2])
async def test_reissued_rrns_are_kept_with_a_flag(vault: Vault, tmp_path: Path, workers: int) -> None:
    """Numbers re-issued since October 2020 (random back digits) are stored, flagged and reported as warnings."""
    p = uuid.uuid4().hex[:6]
    reissued = [_with_check("850315" + "2" + "34567", valid=False),   # born 1985, re-issued
                _with_check("501224" + "1" + "87654", valid=False),   # born 1950, re-issued
                _with_check("770707" + "6" + "12345", valid=False)]   # foreigner born 1977 (RRN rule fails too)
    checked = _with_check("900101" + "1" + "23456", valid=True)
    born_2021 = _with_check("210315" + "4" + "12345", valid=False)   # never had a check digit
    rows = [_winner(f"{p}-1", rrn=reissued[0]), _winner(f"{p}-2", rrn=checked), _winner(f"{p}-3", rrn=reissued[1]),
            _winner(f"{p}-4", rrn=born_2021), _winner(f"{p}-5", rrn="901301-1234567"),  # line 6: month 13
            _winner(f"{p}-6", rrn=reissued[2])]
    path = tmp_path / "r.csv"
    _write(path, rows)
    # RRNs: only under tax_reporting, for a list of customers its statute covers (prize winners of a draw)
    report = await _importer(vault).run(path, TAX, batch_size=2, workers=workers, keep_ids=True,
                                        covered_by="DRAW-2026-11")
    assert report.created == 5
    assert [(e.line, e.field) for e in report.errors] == [(6, "rrn")]
    flagged_lines = [2, 4] + ([7] if not krid.frn_checksum_ok(reissued[2].replace("-", "")) else [])
    assert [(w.line, w.field, w.code) for w in report.warnings] == [
        (line, "rrn", "check_digit_unverified") for line in flagged_lines]
    async with vault.db.read() as session:
        flags = await vault.quality(session).list(OPERATOR, code="check_digit_unverified", limit=1000)
    mine = {f.customer_id for f in flags} & set(report.created_ids)
    assert len(mine) == len(flagged_lines)
    # the stored value is the number as given (normalized), not refused, not altered
    async with vault.db.read() as session:
        svc = vault.customers(session)
        found = await svc.lookup("rrn", reissued[0], Caller(None, purpose="tax_reporting", operator="tests"))
    found = [v for v in found if v.id in set(report.created_ids)]
    assert [v.fields["rrn"] for v in found] == [reissued[0]]
    assert found[0].id in mine
    out = tmp_path / "r.report.csv"
    write_report(report, out)
    lines = out.read_text().splitlines()
    assert lines[0] == "line,field,reason,severity"
    assert any(x.startswith("2,rrn,") and x.endswith(",warning") for x in lines)
    assert any(x.startswith("6,rrn,") and x.endswith(",error") for x in lines)
    assert not any(r.replace("-", "")[6:] in out.read_text() for r in reissued)  # no values in the report


async def test_flags_follow_field_changes(vault: Vault) -> None:
    """A corrected number clears the flag; a new doubtful one sets it (one path: update and rectification)."""
    p = uuid.uuid4().hex[:6]
    caller = TAX
    async with vault.db.write() as session:
        view, _ = await vault.customers(session).create({"customer_ref": f"{p}-f"}, OPERATOR)
        await vault.customers(session).record_cohort(view.id, "prize_winners", "DRAW-2026-11", TAX)
        await vault.customers(session).update(view.id, {"rrn": _with_check("850315234567", valid=False)}, caller)
    async def codes() -> list[str]:
        async with vault.db.read() as session:
            return [f.code for f in await vault.quality(session).list(caller, customer_id=view.id)]
    assert await codes() == ["check_digit_unverified"]
    async with vault.db.write() as session:
        await vault.customers(session).update(view.id, {"rrn": _with_check("850315234567", valid=True)}, caller)
    assert await codes() == []
    async with vault.db.write() as session:
        await vault.customers(session).update(view.id, {"rrn": _with_check("850315234568", valid=False)}, caller)
    assert await codes() == ["check_digit_unverified"]


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


async def test_cli_import_exit_code_and_report(vault: Vault, settings: Settings, tmp_path: Path) -> None:
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


async def test_cli_import_warnings_and_flags(vault: Vault, settings: Settings, tmp_path: Path) -> None:
    p = uuid.uuid4().hex[:6]
    path = tmp_path / "flags.csv"
    rrn = _with_check("850315234567", valid=False)
    _write(path, [_winner(f"{p}-1", rrn=rrn), _winner(f"{p}-2")])
    env = {**os.environ, "VAULT_DATABASE_URL": settings.database_url,
           "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(settings.policy.directory)}
    cli = [sys.executable, "-m", "vault.cli.main", "customers"]
    res = subprocess.run([*cli, "import", str(path), "--purpose", "tax_reporting", "--covered-by", "DRAW-2026-11"],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr  # warnings only: the import succeeded
    assert "created: 2" in res.stdout and "kept with warnings: 1" in res.stdout
    report = (tmp_path / "flags.csv.report.csv").read_text()
    assert "2,rrn," in report and ",warning" in report and rrn[7:] not in report
    res = subprocess.run([*cli, "flags", "--code", "check_digit_unverified"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert lines and {x["field"] for x in lines} == {"rrn"}
    assert rrn not in res.stdout


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
