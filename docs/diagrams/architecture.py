"""Draw docs/architecture.svg: the vault's packages in their import layers.

Run from the repository root: ``python docs/diagrams/architecture.py``. Layers
follow docs/design.md (checked by import-linter); a package not yet in
src/vault is drawn dashed ("planned"). Standard library only.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "architecture.svg"

#: Top to bottom; a package may import only packages in rows below it.
LAYERS: list[list[tuple[str, str]]] = [
    [("api", "HTTP (Litestar), problem+json"), ("web", "compliance console"),
     ("cli", "`vault` commands (typer)")],
    [("bootstrap", "composition root: builds everything once per process")],
    [("privacy", "pseudonymized, k-anonymous extracts"), ("segments", "features, segment definitions")],
    [("rights", "export, rectify, erase, restrict, object; retention")],
    [("keys", "KEK / index-key rotation")],
    [("consent", "consent ledger, receipts, contact resolution")],
    [("customers", "sealed records, blind indexes, import, quality flags")],
    [("access", "principals, API keys, casbin policy, lawful basis")],
    [("policy", "purposes and field catalogue")],
    [("audit", "hash-chained log, checkpoints, verify")],
    [("crypto", "AES-GCM envelopes, KEK providers, HMAC, Ed25519"), ("db", "engines, sessions; schema via Alembic")],
    [("lib", "krid (RRN rules), clock, ids")],
]
SIDE = [("detection", "PII detection (Presidio-style, offline); a leaf reached through a port")]
EXTERNAL = [("clients", "applications, analysts, compliance officers"), ("SQLite / PostgreSQL", "ciphertexts, blind indexes, audit chain"),
            ("KEK", "key file, env or HSM; never in the DB"), ("policies/", "casbin policy, purposes, field catalogue")]

W, ROW_H, GAP, LEFT, MAIN_W = 1010, 46, 12, 150, 600


def _box(x: float, y: float, w: float, h: float, title: str, text: str, *, planned: bool = False,
         fill: str = "#eef4fb") -> str:
    dash = ' stroke-dasharray="6 4"' if planned else ""
    label = escape(title + (" (planned)" if planned else ""))
    return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="#35608f"{dash}/>'
            f'<text x="{x + w / 2}" y="{y + 19}" text-anchor="middle" font-weight="bold">{label}</text>'
            f'<text x="{x + w / 2}" y="{y + 35}" text-anchor="middle" font-size="11" fill="#333">{escape(text)}</text>')


def render(existing: set[str]) -> str:
    """The SVG document; ``existing`` names the packages present under src/vault."""
    parts: list[str] = []
    y = 60.0
    parts.append(_box(LEFT, 10, MAIN_W, 40, EXTERNAL[0][0], EXTERNAL[0][1], fill="#fdf6e3"))
    for row in LAYERS:
        y += GAP
        w = (MAIN_W - GAP * (len(row) - 1)) / len(row)
        for i, (name, text) in enumerate(row):
            parts.append(_box(LEFT + i * (w + GAP), y, w, ROW_H, name, text, planned=name not in existing))
        y += ROW_H
    top, bottom = 60 + GAP, y
    parts.append(f'<line x1="{LEFT - 40}" y1="{top}" x2="{LEFT - 40}" y2="{bottom}" stroke="#35608f" '
                 'stroke-width="2" marker-end="url(#arrow)"/>')
    parts.append(f'<text x="{LEFT - 52}" y="{(top + bottom) / 2}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 {LEFT - 52} {(top + bottom) / 2})">imports point down only '
                 '(docs/design.md, layout)</text>')
    sx = LEFT + MAIN_W + 30
    sw = W - sx - 10
    name, text = SIDE[0]
    parts.append(_box(sx, 60 + GAP + 3 * (ROW_H + GAP), sw, ROW_H + 22, name, "", planned=name not in existing))
    for j, line in enumerate(("Presidio-style recognizers,", "offline, no model; a leaf", "reached through a port")):
        parts.append(f'<text x="{sx + sw / 2}" y="{60 + GAP + 3 * (ROW_H + GAP) + 36 + 12 * j}" '
                     f'text-anchor="middle" font-size="11" fill="#333">{escape(line)}</text>')
    del text
    ey = 60 + GAP + 7 * (ROW_H + GAP)
    for title, text in EXTERNAL[1:]:
        parts.append(_box(sx, ey, sw, ROW_H, title, "", fill="#fdf6e3"))
        parts.append(f'<text x="{sx + sw / 2}" y="{ey + 35}" text-anchor="middle" font-size="10" '
                     f'fill="#333">{escape(text)}</text>')
        ey += ROW_H + GAP
    height = max(y, ey) + 20
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height:.0f}" '
            f'viewBox="0 0 {W} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="13">'
            '<title>Customer Vault architecture: packages in import layers</title>'
            '<defs><marker id="arrow" markerWidth="10" markerHeight="10" refX="5" refY="5" orient="auto">'
            '<path d="M0,0 L10,5 L0,10 z" fill="#35608f"/></marker></defs>'
            '<rect width="100%" height="100%" fill="white"/>' + "".join(parts) + "</svg>\n")


def main() -> None:
    existing = {p.name for p in (REPO / "src" / "vault").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    existing |= {p.stem for p in (REPO / "src" / "vault").glob("*.py")}
    OUT.write_text(render(existing), encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
