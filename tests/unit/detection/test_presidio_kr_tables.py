"""Presidio's own test tables for its Korean recognizers (KR_BRN, KR_DRIVER_LICENSE, KR_FRN, KR_PASSPORT, KR_RRN).

Cases and spans as Presidio's tests list them; scores are the vault's own, so
the tables are run at a low threshold (Presidio scores a bare passport number
0.05-0.1): every listed span must be found with the listed type, and an
"invalid" case must give nothing of that type.
"""

from __future__ import annotations

import pytest

from vault.detection import PiiDetector

LOW = 0.01
CASES: list[tuple[str, str, list[tuple[int, int]]]] = [
    ("KR_BRN", "104-86-56659", [(0, 12)]),
    ("KR_BRN", "1048656659", [(0, 10)]),
    ("KR_BRN", "104-82-13138", [(0, 12)]),
    ("KR_BRN", "My BRN is 1048656659", [(10, 20)]),
    ("KR_BRN", "104-86-56658", []),
    ("KR_BRN", "110-81-4127", []),
    ("KR_BRN", "110-81-412722", []),
    ("KR_BRN", "110-81-4127A", []),
    ("KR_BRN", "123-45-67890", []),
    ("KR_DRIVER_LICENSE", "11-22-123456-12", [(0, 15)]),
    ("KR_DRIVER_LICENSE", "112212345612", [(0, 12)]),
    ("KR_DRIVER_LICENSE", "My license is 13-22-123456-12", [(14, 29)]),
    ("KR_DRIVER_LICENSE", "28 22 123456 12", [(0, 15)]),
    ("KR_DRIVER_LICENSE", "99-22-123456-12", []),
    ("KR_DRIVER_LICENSE", "11-22-12345-12", []),
    ("KR_DRIVER_LICENSE", "11-22-123456-1", []),
    ("KR_DRIVER_LICENSE", "11-22-123A56-12", []),
    ("KR_DRIVER_LICENSE", "111-22-123456-12", []),
    ("KR_DRIVER_LICENSE", "11-22-123456-123", []),
    ("KR_FRN", "911124-5678901", [(0, 14)]),
    ("KR_FRN", "9111245678901", [(0, 13)]),
    ("KR_FRN", "000505-7637892", [(0, 14)]),
    ("KR_FRN", "0005056637892", [(0, 13)]),
    ("KR_FRN", "His Korean FRN is 911124-5678901", [(18, 32)]),
    ("KR_FRN", "911124-5678906", [(0, 14)]),
    ("KR_FRN", "9111245678906", [(0, 13)]),
    ("KR_FRN", "050912-6000012", [(0, 14)]),
    ("KR_FRN", "0509126000012", [(0, 13)]),
    ("KR_FRN", "His FRN is 9111245678906", [(11, 24)]),
    ("KR_FRN", "001332-1234567", []),
    ("KR_FRN", "0013321234567", []),
    ("KR_FRN", "960121+1021413", []),
    ("KR_FRN", "960111-10214131", []),
    ("KR_FRN", "960303-0021413", []),
    ("KR_FRN", "760413-1212134", []),
    ("KR_FRN", "000402-2214431", []),
    ("KR_FRN", "051102-9234110", []),
    ("KR_PASSPORT", "M123A4567", [(0, 9)]),
    ("KR_PASSPORT", "m456B7890", [(0, 9)]),
    ("KR_PASSPORT", "d789C1234", [(0, 9)]),
    ("KR_PASSPORT", "S012D5678", [(0, 9)]),
    ("KR_PASSPORT", "M345E9012", [(0, 9)]),
    ("KR_PASSPORT", "M678f3456", [(0, 9)]),
    ("KR_PASSPORT", "M901g7890", [(0, 9)]),
    ("KR_PASSPORT", "My passport number is M123A4567", [(22, 31)]),
    ("KR_PASSPORT", "Korean passport: M456B7890", [(17, 26)]),
    ("KR_PASSPORT", "여권번호는 M789C1234입니다", [(6, 15)]),
    ("KR_PASSPORT", "Korean passport number: M123A4567", [(24, 33)]),
    ("KR_PASSPORT", "대한민국 여권번호: M456B7890", [(11, 20)]),
    ("KR_PASSPORT", "M12345678", [(0, 9)]),
    ("KR_PASSPORT", "m87654321", [(0, 9)]),
    ("KR_PASSPORT", "d11223344", [(0, 9)]),
    ("KR_PASSPORT", "s99887766", [(0, 9)]),
    ("KR_PASSPORT", "My old passport M12345678", [(16, 25)]),
    ("KR_PASSPORT", "대한민국 여권 S87654321", [(8, 17)]),
    ("KR_PASSPORT", "M123A4567 and M456B7890", [(0, 9), (14, 23)]),
    ("KR_PASSPORT", "A123B4567", []),
    ("KR_PASSPORT", "M12A4567", []),
    ("KR_PASSPORT", "M1234A567", []),
    ("KR_PASSPORT", "M123AB567", []),
    ("KR_PASSPORT", "M123A456", []),
    ("KR_PASSPORT", "M123A45678", []),
    ("KR_PASSPORT", "M1234567", []),
    ("KR_PASSPORT", "M123456789", []),
    ("KR_PASSPORT", "123A4567", []),
    ("KR_PASSPORT", "MM123A4567", []),
    ("KR_PASSPORT", "M123 A4567", []),
    ("KR_PASSPORT", "M123-A4567", []),
    ("KR_PASSPORT", "", []),
    ("KR_PASSPORT", "passport", []),
    ("KR_PASSPORT", "M123a456", []),
    ("KR_PASSPORT", "This is just text", []),
    ("KR_RRN", "960121-1234567", [(0, 14)]),
    ("KR_RRN", "9601211234567", [(0, 13)]),
    ("KR_RRN", "000505-3637892", [(0, 14)]),
    ("KR_RRN", "0005053637892", [(0, 13)]),
    ("KR_RRN", "His Korean RRN is 960121-1234567", [(18, 32)]),
    ("KR_RRN", "960121-1021413", [(0, 14)]),
    ("KR_RRN", "9601211021413", [(0, 13)]),
    ("KR_RRN", "050912-2000019", [(0, 14)]),
    ("KR_RRN", "0509122000019", [(0, 13)]),
    ("KR_RRN", "His RRN is 9601211021413", [(11, 24)]),
    ("KR_RRN", "001332-1234567", []),
    ("KR_RRN", "0013321234567", []),
    ("KR_RRN", "960121+1021413", []),
    ("KR_RRN", "960111-10214131", []),
    ("KR_RRN", "960303-0021413", []),
    ("KR_RRN", "760413-5212134", []),
    ("KR_RRN", "000402-6214431", []),
    ("KR_RRN", "051102-9234110", []),
]


@pytest.mark.parametrize(("entity", "text", "spans"), CASES, ids=[f"{e}:{t}" for e, t, _ in CASES])
def test_presidio_korean_table(detector: PiiDetector, entity: str, text: str, spans: list[tuple[int, int]]) -> None:
    got = sorted((e.start, e.end) for e in detector.analyze(text, None, threshold=LOW) if e.type == entity)
    assert got == spans
