"""The released rows' order: by pseudonym, whatever the rows' id order (vault.privacy.service._by_pseudonym)."""

from __future__ import annotations

import os

import numpy as np

from vault.crypto.pseudonym import b32_lower_128
from vault.privacy.service import _by_pseudonym


def test_numeric_keys_sort_like_the_strings() -> None:
    pseudonyms = b32_lower_128(os.urandom(16 * 3000))
    pseudonyms[10] = pseudonyms[20][:25] + ("a" if pseudonyms[20][25] != "a" else "q")  # shares 25 characters
    kept = np.arange(0, 3000, 3, dtype=np.int64)
    order = _by_pseudonym(pseudonyms, kept)
    assert [pseudonyms[i] for i in order] == sorted(pseudonyms[i] for i in kept)


def test_other_widths_fall_back_to_a_string_sort() -> None:
    pseudonyms = ["b", "aa", "가나", "a", "ab"]
    order = _by_pseudonym(pseudonyms, np.arange(5, dtype=np.int64))
    assert [pseudonyms[i] for i in order] == sorted(pseudonyms)
