"""Synthetic demo customers (Korean and English), generated with Faker and a fixed seed."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from typing import TYPE_CHECKING

import phonenumbers
from faker import Faker

from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER
from vault.lib.krid import rrn_checksum_ok

if TYPE_CHECKING:
    from pathlib import Path

_KR_CITIES = [("서울특별시", ["강남구", "마포구", "종로구", "송파구"]), ("부산광역시", ["해운대구", "수영구"]),
              ("경기도", ["성남시 분당구", "수원시 영통구"]), ("대구광역시", ["수성구"]), ("인천광역시", ["연수구"])]


def _rrn(rng: random.Random, born: date, gender: str) -> str:
    digit = {"M": 1, "F": 2, "X": 1}[gender] + (2 if born.year >= 2000 else 0)
    while True:
        body = f"{born:%y%m%d}{digit}{rng.randrange(10**5):05d}"
        for check in range(10):
            if rrn_checksum_ok(body + str(check)):
                return f"{body[:6]}-{body[6:]}{check}"


def _us_phone(rng: random.Random) -> str:
    while True:
        candidate = f"+1 {rng.choice(['212', '415', '646', '617'])}-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


DEMO_CONSENT_DAY = date(2026, 11, 20)
DEMO_NOTICE_VERSION = "2026-11"


def _yn(rng: random.Random, p: float) -> str:
    return "y" if rng.random() < p else "n"


def demo_rows(count: int, seed: int = 20261123) -> list[dict[str, str]]:
    """``count`` synthetic customers, about 70% Korean and 30% English-speaking."""
    rng = random.Random(seed)
    ko, en = Faker("ko_KR"), Faker("en_US")
    ko.seed_instance(seed)
    en.seed_instance(seed + 1)
    rows = []
    for i in range(count):
        korean = rng.random() < 0.7
        gender = rng.choice("FFMMX" if not korean else "FFMM")
        born = date(rng.randint(1950, 2006), rng.randint(1, 12), rng.randint(1, 28))
        if korean:
            city, districts = rng.choice(_KR_CITIES)
            name = ko.name()
            row = {
                "name": name, "email": f"{ko.user_name()}{i}@{rng.choice(['naver.com', 'daum.net', 'gmail.com'])}",
                "phone": f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}",
                "postal_code": f"{rng.randint(1000, 63999):05d}", "city": city, "district": rng.choice(districts),
                "address_line": f"{ko.street_name()} {rng.randint(1, 300)}, {rng.randint(101, 1504)}호",
                # no RRN: only tax_reporting collects it, only for prize winners (see prize_winners)
                "rrn": "",
            }
        else:
            row = {
                "name": en.name(), "email": f"{en.user_name()}{i}@{en.free_email_domain()}",
                "phone": _us_phone(rng) if rng.random() < 0.3
                else f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}",
                "postal_code": f"{rng.randint(1000, 63999):05d}", "city": "서울특별시", "district": "용산구",
                "address_line": en.street_address(), "rrn": "",
            }
        row.update({
            "customer_ref": f"C{seed % 1000:03d}-{i:07d}", "birth_date": born.isoformat(), "gender": gender,
            "marketing_email": _yn(rng, 0.55), "marketing_sms": _yn(rng, 0.4), "marketing_sms_night": _yn(rng, 0.1),
            "analytics": _yn(rng, 0.6),
            # consent proof: when and under which notice (without it imported grants are unverified)
            "consent_date": (DEMO_CONSENT_DAY - timedelta(days=rng.randint(0, 300))).isoformat(),
            "consent_notice_version": DEMO_NOTICE_VERSION,
        })
        rows.append(row)
    return rows


DEMO_DRAW = "DEMO-DRAW-2026-11"


def prize_winners(rows: list[dict[str, str]], seed: int = 20261123) -> list[tuple[str, str]]:
    """(customer_ref, RRN) of the demo's prize winners: every 20th Korean customer. Their RRN is collected under
    ``tax_reporting`` after they are recorded as winners of :data:`DEMO_DRAW` (PIPA Art. 24-2)."""
    rng = random.Random(seed + 2)
    korean = [r for r in rows if r["city"] != "서울특별시" or r["district"] != "용산구"]
    return [(r["customer_ref"], _rrn(rng, date.fromisoformat(r["birth_date"]), r["gender"])) for r in korean[::20]]


def write_demo_csv(path: Path, count: int, seed: int = 20261123) -> list[dict[str, str]]:
    """Write demo customers as an import CSV; returns the rows."""
    rows = demo_rows(count, seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=[*HEADER, *CONSENT_PROOF_COLUMNS])
        w.writeheader()
        w.writerows(rows)
    return rows
