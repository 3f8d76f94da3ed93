"""Bounded, escaped renderings of audit values.

An audit column receives either a well-formed token (a catalogue id such as a purpose,
an action, a role, a field name) or a bounded, escaped rendering of whatever the caller
sent. Nothing a client controls can make an entry longer than its column (which would
fail the whole group-commit batch on PostgreSQL) or fill the append-only log with
megabytes, and no control or bidi character reaches a console that displays the log.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Identifiers in the purpose and field catalogues, role names, action names: short and plain.
_TOKEN = re.compile(r"[A-Za-z0-9_.:*\-]+")
# Column widths of audit_log (vault.audit.models); values are cut to fit, never rejected.
TOKEN_MAX = 60
NAME_MAX = 100
ROLE_MAX = 40
DETAIL_MAX = 500
FIELDS_MAX = 2000
ID_MAX = 64
# Control, format (incl. bidi overrides and zero-width), surrogate, private-use, unassigned, line/paragraph separators.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def token(value: str | None, limit: int = TOKEN_MAX) -> str | None:
    """``value`` when it is a plain identifier that fits ``limit``; otherwise a bounded stand-in.

    The stand-in names the length and a digest prefix (so two attempts with the same bogus
    value can be correlated) and never the value itself.
    """
    if value is None:
        return None
    if len(value) <= limit and _TOKEN.fullmatch(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"invalid:{len(value)}:{digest}"[:limit]


def text(value: str | None, limit: int = DETAIL_MAX) -> str | None:
    """Free text escaped (controls, format and bidi characters as ``\\u....``) and cut to ``limit``."""
    if value is None:
        return None
    if len(value) <= limit and value.isascii() and value.isprintable():
        return value  # printable ASCII (U+0020-U+007E) holds no unsafe character: nothing to escape or cut
    head = value[: limit * 2]  # enough to fill ``limit`` after escaping; the rest never gets looked at
    out: list[str] = []
    for ch in head:
        if unicodedata.category(ch) not in _UNSAFE:
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}")
    rendered = "".join(out)
    if len(rendered) > limit or len(value) > len(head):
        suffix = f"...[{len(value)} chars]"
        rendered = rendered[: max(0, limit - len(suffix))] + suffix
    return rendered
