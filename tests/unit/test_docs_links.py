"""README and docs stand on their own: every link and every repository path they name exists in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# `docs/api.md`, `tests/api/test_x.py::test_y`, `src/vault/lib/krid.py`: repository paths written as code
CODE_PATH = re.compile(r"`((?:docs|src|tests|policies|migrations)/[A-Za-z0-9_./-]+?)(?:::[A-Za-z0-9_\[\]-]+)?`")


def _generated(path: str) -> bool:
    """Outputs the repository ignores (``var/``, screenshots): named in docs, made at run time."""
    ignore = REPO / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    entries = [e.strip().rstrip("/") for e in lines]
    return any(e and not e.startswith("#") and path.rstrip("/").startswith(e) for e in entries)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    body = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", body, re.M)}


def _prose(path: Path) -> str:
    return FENCE.sub("", path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    broken: list[str] = []
    for target in LINK.findall(_prose(doc)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            broken.append(f"{target}: external link (documents must stand on their own)")
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.is_relative_to(REPO):
            broken.append(f"{target}: points outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(REPO)}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_repository_paths_named_in_docs_exist(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = sorted({p for p in CODE_PATH.findall(text)
                      if not any(c in p for c in "*<>") and not _generated(p) and not (REPO / p.rstrip("/")).exists()})
    assert not missing, f"{doc.relative_to(REPO)} names paths that do not exist: {missing}"
    assert "../shared" not in text and "shared/DESIGN.md" not in text, "refers to a file outside the repository"


def test_architecture_picture_is_committed_and_linked() -> None:
    svg = REPO / "docs" / "architecture.svg"
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<svg")
    assert "docs/architecture.svg" in (REPO / "README.md").read_text(encoding="utf-8")
    assert "architecture.svg" in (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
