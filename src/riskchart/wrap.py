"""Line breaking for Chinese text, by display width.

Graphviz never wraps, so every label is broken here.  A CJK character is
two columns wide, ASCII one; wide Latin letters count one and a half so a
line of capitals still fits.  Chinese rules (禁则): no line starts with
closing punctuation and none ends with opening punctuation — a character
is carried to the next line instead.  Runs of Latin letters and digits are
kept whole where they fit on a line.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

NO_LINE_START = frozenset("，。、；：？！）》」』”’〉】〕…—,.;:?!)]}%·")
NO_LINE_END = frozenset("（《「『“‘〈【〔([{")
_WIDE_LATIN = frozenset("ABCDEFGHJKLMNOPQRSTUVWXYZmw@%&#")


@lru_cache(maxsize=4096)
def char_width(char: str) -> float:
    if unicodedata.east_asian_width(char) in "WF":
        return 2
    if char in _WIDE_LATIN:
        return 1.5
    return 1


def display_width(text: str) -> float:
    return sum(char_width(c) for c in text)


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_-./")


def _tokens(text: str) -> list[str]:
    """Characters, except that ASCII words and numbers stay together."""
    tokens: list[str] = []
    for char in text:
        if tokens and _is_word_char(char) and _is_word_char(tokens[-1][-1]):
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def wrap(text: str, columns: float) -> list[str]:
    """Break `text` into lines no wider than `columns` display columns."""
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for token in _fitting_tokens(text, columns):
        width = display_width(token)
        if current and used + width > columns:
            kept, carried = _break_before(current, token)
            lines.append("".join(kept).rstrip(" "))
            current = carried
            used = display_width("".join(current))
            if token == " " and not current:
                continue
        current.append(token)
        used += width
    if current or not lines:
        lines.append("".join(current).rstrip(" "))
    return lines


def _fitting_tokens(text: str, columns: float) -> list[str]:
    """Tokens, with words wider than a whole line cut into characters."""
    out: list[str] = []
    for token in _tokens(text):
        out.extend(token if len(token) > 1 and display_width(token) > columns else (token,))
    return out


def _break_before(line: list[str], token: str) -> tuple[list[str], list[str]]:
    """Split `line` so that the next line, starting with what is carried
    and then `token`, obeys the rules; never empties the old line."""
    kept, carried = list(line), []
    while len(kept) > 1 and ((carried or [token])[0][0] in NO_LINE_START or kept[-1][-1] in NO_LINE_END):
        carried.insert(0, kept.pop())
    return kept, carried
