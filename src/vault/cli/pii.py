"""``vault pii``: offline PII detection over JSON lines."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

# Imported only for `vault pii` (vault.cli.main registers this group lazily): the scanner needs
# the detector and nothing of the vault (no database, keys or policies).
from vault.detection import PiiDetector, build_analyzer

pii_app = typer.Typer(help="Detect personal data (Korean + English) in free text, fully offline.", no_args_is_help=True)


@pii_app.callback()
def pii() -> None:
    """Detect personal data (Korean + English) in free text, fully offline."""


@pii_app.command("scan")
def scan(
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Minimum score of a reported entity.")] = 0.5,
    language: Annotated[
        str | None,
        typer.Option(help="Language for lines without one (ko, en); unset runs every recognizer."),
    ] = None,
) -> None:
    """Read ``{"id","text","language"}`` JSON lines on stdin, write ``{"id","entities":[...]}`` lines on stdout.

    Offsets are Python character indices into ``text``. Every input line gives
    exactly one output line, in order; a malformed line gives
    ``{"id": ..., "error": "..."}`` and the scan goes on.
    """
    detector = PiiDetector(build_analyzer(), threshold=threshold)
    stdin = typer.get_binary_stream("stdin")
    out = sys.stdout
    try:
        for raw in stdin:
            out.write(json.dumps(scan_line(detector, raw, language), ensure_ascii=False) + "\n")
            out.flush()
    except OSError as exc:
        typer.echo(f"error: cannot read stdin: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


def scan_line(detector: PiiDetector, raw: bytes, default_language: str | None) -> dict[str, Any]:
    """Answer one input line (without raising): entities, or an error naming what was wrong."""
    record_id: Any = None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"id": None, "error": "line is not valid UTF-8"}
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"invalid JSON: {exc.msg}"}
    if not isinstance(record, dict):
        return {"id": None, "error": "line must be a JSON object"}
    record_id = record.get("id")
    if isinstance(record_id, dict | list):
        return {"id": None, "error": "id must be a string, number or null"}
    text = record.get("text")
    if not isinstance(text, str):
        return {"id": record_id, "error": "text must be a string"}
    language = record.get("language", default_language)
    if language is None:
        language = default_language
    if not isinstance(language, str) and language is not None:
        return {"id": record_id, "error": "language must be a string or null"}
    entities = detector.analyze(text, language)
    return {
        "id": record_id,
        "entities": [{"type": e.type, "start": e.start, "end": e.end, "score": e.score} for e in entities],
    }
