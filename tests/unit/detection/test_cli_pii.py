from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vault.cli.pii import pii_app

REPO = Path(__file__).resolve().parents[3]


def run_scan(stdin: str, *args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(pii_app, ["scan", *args], input=stdin)
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


def test_offsets_are_character_offsets_into_korean_text() -> None:
    text = "고객 김민수님 010-1234-5678로 연락, 메일 gildong@naver.com으로"
    code, out = run_scan(json.dumps({"id": "n1", "text": text, "language": "ko"}, ensure_ascii=False) + "\n")
    assert code == 0
    assert out[0]["id"] == "n1"
    entities = out[0]["entities"]
    assert isinstance(entities, list)
    assert [(e["type"], text[e["start"] : e["end"]]) for e in entities] == [
        ("PERSON", "김민수"),
        ("PHONE_NUMBER", "010-1234-5678"),
        ("EMAIL_ADDRESS", "gildong@naver.com"),
    ]
    assert all(set(e) == {"type", "start", "end", "score"} and 0 < e["score"] <= 1 for e in entities)


def test_one_output_line_per_input_line_in_order_with_errors_inline() -> None:
    lines = [
        json.dumps({"id": 1, "text": "주민번호 900101-1234568", "language": "ko"}, ensure_ascii=False),
        "this is not json",
        json.dumps({"id": "x", "text": 42}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": None, "text": "no pii here"}),
        json.dumps({"id": "e", "text": "call +44 20 7946 0958", "language": "en"}),
        json.dumps({"id": "l", "text": "hi", "language": 7}),
    ]
    code, out = run_scan("\n".join(lines) + "\n")
    assert code == 0
    assert len(out) == len(lines)
    assert [o.get("id") for o in out] == [1, None, "x", None, None, None, "e", "l"]
    assert [("error" in o) for o in out] == [False, True, True, True, True, False, False, True]
    assert out[0]["entities"] == [{"type": "KR_RRN", "start": 5, "end": 19, "score": 1.0}]
    assert out[5]["entities"] == []


def test_entities_sorted_by_start_and_language_missing_runs_all() -> None:
    text = "Mr. John Smith 김민수님 4111 1111 1111 1111"
    _code, out = run_scan(json.dumps({"id": "m", "text": text}, ensure_ascii=False) + "\n")
    entities = out[0]["entities"]
    assert isinstance(entities, list)
    assert [e["type"] for e in entities] == ["PERSON", "PERSON", "CREDIT_CARD"]
    assert [e["start"] for e in entities] == sorted(e["start"] for e in entities)


def test_threshold_option() -> None:
    line = json.dumps({"id": 1, "text": "대표번호 1588-1234"}, ensure_ascii=False) + "\n"
    assert run_scan(line, "--threshold", "0.99")[1][0]["entities"] == []
    assert run_scan(line, "--threshold", "0.3")[1][0]["entities"]


def test_invalid_utf8_line_is_reported_not_fatal() -> None:
    result = CliRunner().invoke(pii_app, ["scan"], input=b'\xff\xfe{"id":1}\n{"id":2,"text":"ok"}\n')
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert out == [{"id": None, "error": "line is not valid UTF-8"}, {"id": 2, "entities": []}]


@pytest.mark.slow
def test_scan_as_a_subprocess() -> None:
    text = "연락처 010-1234-5678, IP 67.151.59.176에서 접속"
    stdin = "\n".join([json.dumps({"id": "a", "text": text, "language": "ko"}, ensure_ascii=False), "{broken"])
    proc = subprocess.run(
        [sys.executable, "-c", "from vault.cli.pii import pii_app; pii_app()", "scan"],
        input=stdin.encode(),
        capture_output=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [(e["type"], text[e["start"] : e["end"]]) for e in out[0]["entities"]] == [
        ("PHONE_NUMBER", "010-1234-5678"),
        ("IP_ADDRESS", "67.151.59.176"),
    ]
    assert out[1] == {"id": None, "error": out[1]["error"]}
