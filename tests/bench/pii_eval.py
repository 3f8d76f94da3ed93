"""Score PII detectors on the labelled corpus: per-type and grouped precision/recall/F1, throughput.

Matching rule: a prediction is a true positive when it has the gold entity's
type and overlaps its span; each gold entity and each prediction is matched at
most once. Only the types in :data:`vault.detection.entities.ALL_TYPES` are
scored, for every system, so a baseline is not penalised for types we do not
label (URL, DATE_TIME, US_SSN...).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import EmailRecognizer as PresidioEmailRecognizer

from vault.detection import PiiDetector, build_analyzer
from vault.detection.entities import ALL_TYPES, NAME_ADDRESS_TYPES, STRUCTURED_TYPES
from vault.detection.recognizers.email import offline_extractor

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "pii" / "corpus.jsonl"
START, END = "<!-- pii:start -->", "<!-- pii:end -->"


@dataclass(frozen=True)
class Span:
    type: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    id: str
    language: str | None
    text: str
    gold: tuple[Span, ...]


Predict = Callable[[str, str | None], list[Span]]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    system: str
    per_type: dict[str, Counts] = field(default_factory=dict)
    texts: int = 0
    seconds: float = 0.0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (id, kind, detail)

    def group(self, types: frozenset[str]) -> Counts:
        total = Counts()
        for t in types:
            total.add(self.per_type.get(t, Counts()))
        return total

    @property
    def throughput(self) -> float:
        return self.texts / self.seconds if self.seconds else 0.0


def load_corpus(path: Path = CORPUS) -> list[Example]:
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        gold = tuple(Span(e["type"], e["start"], e["end"]) for e in row["entities"])
        examples.append(Example(row["id"], row["language"], row["text"], gold))
    return examples


def match(gold: Sequence[Span], predicted: Sequence[Span]) -> dict[str, Counts]:
    counts: dict[str, Counts] = {}
    used: set[int] = set()
    for g in gold:
        c = counts.setdefault(g.type, Counts())
        hit = next(
            (
                i
                for i, p in enumerate(predicted)
                if i not in used and p.type == g.type and p.start < g.end and g.start < p.end
            ),
            None,
        )
        if hit is None:
            c.fn += 1
        else:
            used.add(hit)
            c.tp += 1
    for i, p in enumerate(predicted):
        if i not in used:
            counts.setdefault(p.type, Counts()).fp += 1
    return counts


def evaluate(system: str, predict: Predict, examples: Sequence[Example], repeats: int = 3) -> Report:
    """Score one system; throughput is the best of ``repeats`` timed passes over the corpus."""
    report = Report(system, texts=len(examples))
    predictions: list[list[Span]] = []
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        predictions = [predict(ex.text, ex.language) for ex in examples]
        best = min(best, time.perf_counter() - started)
    report.seconds = best
    for ex, predicted in zip(examples, predictions, strict=True):
        scored = [p for p in predicted if p.type in ALL_TYPES]
        for entity_type, c in match(ex.gold, scored).items():
            report.per_type.setdefault(entity_type, Counts()).add(c)
            if c.fn:
                report.errors.append((ex.id, f"FN {entity_type}", ex.text))
            if c.fp:
                report.errors.append((ex.id, f"FP {entity_type}", ex.text))
    return report


# --- systems -------------------------------------------------------------------------------------


def vault_predictor(detector: PiiDetector) -> Predict:
    def predict(text: str, language: str | None) -> list[Span]:
        return [Span(e.type, e.start, e.end) for e in detector.analyze(text, language)]

    return predict


class _BlankSpacyNlpEngine(SpacyNlpEngine):  # type: ignore[misc]
    """Presidio's spaCy engine over ``spacy.blank("en")``: tokens for context words, no model download."""

    def load(self) -> None:
        self.nlp = {"en": spacy.blank("en")}


class _OfflineEmailRecognizer(PresidioEmailRecognizer):  # type: ignore[misc]
    """Presidio's email recognizer with tldextract pinned to its bundled snapshot (no PSL fetch)."""

    def __init__(self) -> None:
        super().__init__()
        self._extract = offline_extractor()

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self._extract(pattern_text).fqdn)


def build_presidio_default() -> AnalyzerEngine:
    """Presidio's default predefined recognizers for English with a blank spaCy pipeline."""
    engine = _BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    recognizers = analyzer.registry.recognizers
    for i, rec in enumerate(recognizers):
        if isinstance(rec, PresidioEmailRecognizer):
            recognizers[i] = _OfflineEmailRecognizer()
    return analyzer


def presidio_predictor(analyzer: AnalyzerEngine, threshold: float = 0.5) -> Predict:
    def predict(text: str, language: str | None) -> list[Span]:
        results = analyzer.analyze(text=text, language="en", score_threshold=threshold)
        return [Span(r.entity_type, r.start, r.end) for r in results]

    return predict


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def cold_start_seconds(code: str) -> float:
    """Seconds from interpreter start to ``code`` done, measured inside a fresh process (imports included)."""
    script = f"import time\n_t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300, cwd=REPO
    )
    return float(out.stdout.strip().splitlines()[-1])


# --- report --------------------------------------------------------------------------------------


def _row(name: str, c: Counts) -> str:
    return f"| {name} | {c.tp + c.fn} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} |"


def render_markdown(ours: Report, base: Report, startup: dict[str, float], examples: int, gold: int) -> str:
    structured, names = ours.group(STRUCTURED_TYPES), ours.group(NAME_ADDRESS_TYPES)
    b_structured, b_names = base.group(STRUCTURED_TYPES), base.group(NAME_ADDRESS_TYPES)
    ok = lambda flag: "met" if flag else "**missed**"
    lines = [
        "## PII detection (`vault pii scan`)",
        "",
        f"Corpus: `tests/data/pii/corpus.jsonl`, {examples} texts, {gold} gold entities (Korean, English, mixed,",
        "spreadsheet cells; with hard negatives). Match = same type and overlapping span. Generated by",
        "`tests/bench/test_pii_bench.py`; numbers are from the last run on this machine.",
        "",
        "| group | ours P | ours R | ours F1 | Presidio default P | Presidio default R | Presidio default F1 |",
        "|---|---|---|---|---|---|---|",
        f"| structured identifiers | {structured.precision:.3f} | {structured.recall:.3f} | {structured.f1:.3f} | "
        f"{b_structured.precision:.3f} | {b_structured.recall:.3f} | {b_structured.f1:.3f} |",
        f"| names and addresses | {names.precision:.3f} | {names.recall:.3f} | {names.f1:.3f} | "
        f"{b_names.precision:.3f} | {b_names.recall:.3f} | {b_names.f1:.3f} |",
        "",
        "| | ours | Presidio default |",
        "|---|---|---|",
        f"| throughput (texts/s, best of 3 passes) | {ours.throughput:,.0f} | {base.throughput:,.0f} |",
        f"| analyzer build, in process (s) | {startup['ours_build']:.3f} | {startup['base_build']:.3f} |",
        f"| fresh process: imports + build (s) | {startup['ours_cold']:.2f} | {startup['base_cold']:.2f} |",
        "",
        "Targets:",
        "",
        f"- structured recall >= 0.97: {structured.recall:.3f}, {ok(structured.recall >= 0.97)}",
        f"- structured precision >= 0.95: {structured.precision:.3f}, {ok(structured.precision >= 0.95)}",
        f"- names/addresses recall >= 0.85: {names.recall:.3f}, {ok(names.recall >= 0.85)}",
        f"- throughput >= Presidio default: {ours.throughput:,.0f} vs {base.throughput:,.0f}, "
        f"{ok(ours.throughput >= base.throughput)}",
        f"- analyzer start-up < 2 s: build {startup['ours_build']:.3f} s, {ok(startup['ours_build'] < 2)}; a fresh "
        f"process needs {startup['ours_cold']:.2f} s, most of it `import presidio_analyzer` (which imports spaCy), "
        f"{ok(startup['ours_cold'] < 2)}",
        "",
        "Per type (ours | Presidio default):",
        "",
        "| type | gold | P | R | F1 | default P | default R | default F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in sorted(ALL_TYPES):
        c, b = ours.per_type.get(t, Counts()), base.per_type.get(t, Counts())
        if c.tp + c.fn + c.fp + b.fp == 0:
            continue
        lines.append(
            f"| {t} | {c.tp + c.fn} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | "
            f"{b.precision:.3f} | {b.recall:.3f} | {b.f1:.3f} |"
        )
    lines += [
        "",
        "Presidio default = `AnalyzerEngine` with its predefined English recognizers, a blank spaCy pipeline",
        "(no model download, so no NER for PERSON/LOCATION) and tldextract pinned to its bundled suffix list;",
        "every text is analyzed as `en`, since Presidio ships no Korean configuration by default.",
    ]
    return "\n".join(lines)


def write_section(path: Path, markdown: str) -> None:
    """Replace the text between the PII markers in ``path`` (creating file or markers if missing)."""
    block = f"{START}\n{markdown}\n{END}"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if START in current and END in current:
        pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
        updated = pattern.sub(lambda _: block, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(updated, encoding="utf-8")


def run(docs: Path) -> tuple[Report, Report, dict[str, float]]:
    """Evaluate both systems on the corpus and write the markdown section into ``docs``."""
    examples = load_corpus()
    startup = {
        "ours_build": timed(build_analyzer),
        "base_build": timed(build_presidio_default),
        "ours_cold": cold_start_seconds("from vault.detection import build_analyzer\nbuild_analyzer()"),
        "base_cold": cold_start_seconds(
            "from tests.bench.pii_eval import build_presidio_default\nbuild_presidio_default()"
        ),
    }
    ours = evaluate("vault", vault_predictor(PiiDetector(build_analyzer())), examples)
    base = evaluate("presidio-default", presidio_predictor(build_presidio_default()), examples)
    gold = sum(len(ex.gold) for ex in examples)
    write_section(docs, render_markdown(ours, base, startup, len(examples), gold))
    return ours, base, startup


if __name__ == "__main__":
    o, b, s = run(Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md")
    for rep in (o, b):
        print(
            rep.system,
            "structured",
            vars(rep.group(STRUCTURED_TYPES)),
            "names",
            vars(rep.group(NAME_ADDRESS_TYPES)),
            f"{rep.throughput:.0f} texts/s",
        )
    print(s)
    if "-v" in sys.argv:
        for err in o.errors:
            print(*err, sep=" | ")
