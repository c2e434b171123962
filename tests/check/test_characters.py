"""characters.py: which text shows nothing, checked against its definition."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from riskchart.check.characters import _BLANK_LOOKING, is_invisible

_SPECIAL = st.sampled_from(["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u3164", "\u3000", " ", "\u034f",
                            "\u2800", "a", "甲", "。", "\n"])


def _by_definition(text: str) -> bool:
    return bool(text) and all(c.isspace() or c in _BLANK_LOOKING or unicodedata.category(c) == "Cf" for c in text)


@given(st.lists(_SPECIAL | st.characters(), max_size=8).map("".join))
def test_the_fast_paths_agree_with_the_definition(text):
    assert is_invisible(text) == _by_definition(text)
