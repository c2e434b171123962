"""Line breaking for Chinese text, by display width.

Graphviz never wraps, so every label is broken here.  Widths are the
font's own advance widths (fonts.py), in columns of half an em: a CJK
character is two columns, "W" 1.76, "1" 1.11, a space 0.45, "→" and "※"
two.  Only without the installed font does a guess stand in: East Asian
wide two columns, ASCII one, wide Latin letters one and a half.  Chinese rules (禁则): no line starts with
closing punctuation and none ends with opening punctuation — a character
is carried to the next line instead.  Runs of Latin letters and digits are
kept whole where they fit on a line.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from .. import style
from . import fonts

NO_LINE_START = frozenset("，。、；：？！）》」』”’〉】〕…—,.;:?!)]}%·")
NO_LINE_END = frozenset("（《「『“‘〈【〔([{")
_WIDE_LATIN = frozenset("ABCDEFGHJKLMNOPQRSTUVWXYZmw@%&#")


@lru_cache(maxsize=8192)
def char_width(char: str, font: str = style.DEFAULT_FONT) -> float:
    metrics = fonts.metrics(font)
    measured = metrics.columns(char) if metrics else None
    if measured is not None:
        return measured
    if unicodedata.east_asian_width(char) in "WF":
        return 2
    if char in _WIDE_LATIN:
        return 1.5
    return 1


def display_width(text: str, font: str = style.DEFAULT_FONT) -> float:
    if len(text) == 1:  # most tokens are one character: no generator for them
        return char_width(text, font)
    return sum(char_width(c, font) for c in text)


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


def wrap(text: str, columns: float, font: str = style.DEFAULT_FONT) -> list[str]:
    """Break `text` into lines no wider than `columns` display columns of `font`."""
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for token in _fitting_tokens(text, columns, font):
        width = display_width(token, font)
        if current and used + width > columns:
            kept, carried = _break_before(current, token, columns, font)
            lines.append("".join(kept).rstrip(" "))
            current = carried
            used = display_width("".join(current), font)
            if token == " " and not current:
                continue
        current.append(token)
        used += width
    if current or not lines:
        lines.append("".join(current).rstrip(" "))
    return lines


def _fitting_tokens(text: str, columns: float, font: str) -> list[str]:
    """Tokens, with words wider than a whole line cut into characters."""
    out: list[str] = []
    for token in _tokens(text):
        out.extend(token if len(token) > 1 and display_width(token, font) > columns else (token,))
    return out


def _break_before(line: list[str], token: str, columns: float, font: str) -> tuple[list[str], list[str]]:
    """Split `line` so that the next line, starting with what is carried
    and then `token`, obeys the rules; never empties the old line, and never
    carries so much that the next line would be wider than `columns` (the
    width limit wins over the line-breaking rules)."""
    kept, carried = list(line), list[str]()
    while len(kept) > 1 and ((carried or [token])[0][0] in NO_LINE_START or kept[-1][-1] in NO_LINE_END):
        if display_width("".join((kept[-1], *carried, token)), font) > columns:
            break
        carried.insert(0, kept.pop())
    return kept, carried
