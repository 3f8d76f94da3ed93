"""audit.render.text's printable-ASCII shortcut gives exactly what the character-by-character path gives."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from vault.audit import render


def _slow(value: str, limit: int) -> str | None:
    """The escaping loop alone (the shortcut bypassed by a non-ASCII character removed afterwards)."""
    marked = render.text(value + "\u00e9", limit + 1)
    assert marked is not None
    return marked[:-1] if marked.endswith("\u00e9") else marked


@given(st.text(alphabet=string.printable, max_size=300), st.integers(min_value=20, max_value=200))
def test_shortcut_matches_the_escaping_loop(value: str, limit: int) -> None:
    fast = render.text(value, limit)
    if len(value) <= limit and value.isprintable():
        assert fast == value == _slow(value, limit)
    else:  # controls (tab, newline...) or too long: escaped / cut as before
        assert fast is not None and len(fast) <= limit
        assert "\n" not in fast and "\t" not in fast
