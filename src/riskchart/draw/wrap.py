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


# ASCII letters and digits, and what joins them into words and numbers
_WORD_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-./")


def _tokens(text: str) -> list[str]:
    """Characters, except that ASCII words and numbers stay together."""
    tokens: list[str] = []
    for char in text:
        if tokens and char in _WORD_CHARS and tokens[-1][-1] in _WORD_CHARS:
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def wrap(text: str, columns: float, font: str = style.DEFAULT_FONT) -> list[str]:
    """Break `text` into lines no wider than `columns` display columns of `font`."""
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for token, width in zip(*_fitting_tokens(text, columns, font), strict=True):
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


def _fitting_tokens(text: str, columns: float, font: str) -> tuple[list[str], list[float]]:
    """Tokens, with words wider than a whole line cut into characters; and their widths."""
    if _WORD_CHARS.isdisjoint(text):  # each character a token
        return list(text), [char_width(char, font) for char in text]
    tokens: list[str] = []
    widths: list[float] = []
    for token in _tokens(text):
        width = char_width(token, font) if len(token) == 1 else display_width(token, font)
        if len(token) > 1 and width > columns:
            tokens.extend(token)
            widths.extend(char_width(char, font) for char in token)
        else:
            tokens.append(token)
            widths.append(width)
    return tokens, widths


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
