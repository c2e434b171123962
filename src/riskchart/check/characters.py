"""Characters that control a terminal, reorder text or show nothing: the
one place that names them.

Chart text and file names leave the program in diagnostics, links and
spreadsheets; these sets decide what is refused (load, validate, rules)
and what is shown escaped (report).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
# marks U+200E, U+200F, U+061C: they reorder how a line is displayed, so the
# text a reviewer reads is not the text in the file.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

# What a terminal may act on or a reader cannot see: C0 and C1 controls, DEL,
# the bidi controls, the line separators, a BOM, and surrogates (the bytes
# of a file name that is not UTF-8, as Python decodes it).
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff"
_UNPRINTABLE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")


@lru_cache(maxsize=1)  # compiled on first use (a millisecond): only JSON output needs it
def unprintable_beyond_c0() -> re.Pattern[str]:
    """`_UNPRINTABLE` less C0, which JSON escapes by itself."""
    return re.compile(f"[{_BEYOND_C0}]")


# Characters that draw nothing although they are not white space: format
# characters (zero-width space and joiners, word joiner, soft hyphen, BOM…),
# the combining grapheme joiner, the Hangul fillers and the blank Braille cell.
_BLANK_LOOKING = frozenset("\u034f\u115f\u1160\u180e\u2800\u3164\uffa0")


def printable(text: str) -> str:
    """Text safe to print on a terminal: every control character, bidi
    control and stray byte shown as an escape (ESC as `\\x1b`)."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_invisible(text: str) -> bool:
    """Whether text has characters yet shows nothing (only zero-width and
    other invisible characters, perhaps among spaces)."""
    first = text[:1]
    if first.isprintable() and not first.isspace() and first not in _BLANK_LOOKING:
        return False  # nearly every text: its first character shows
    if text.isprintable() and _BLANK_LOOKING.isdisjoint(text):
        return text.isspace()  # the usual case, decided in C: format characters are not printable
    return bool(text) and all(c.isspace() or c in _BLANK_LOOKING or unicodedata.category(c) == "Cf" for c in text)


@lru_cache(maxsize=1)
def invisible_ranges() -> str:
    """The characters `is_invisible` counts, as the body of a regular
    expression class (BMP only, ranges merged): for the JSON Schema, which
    must refuse the same invisible-only text that lint refuses."""
    codes = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF
             and (chr(c) in _BLANK_LOOKING or unicodedata.category(chr(c)) == "Cf")]
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


def code_point(character: str) -> str:
    """U+200B, with the character's Unicode name when it has one."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" {name}" if name else "")


# File names become links in index.html, names in the shell and in CI logs.
# Allowed: letters and digits of any script, Chinese (full-width) punctuation
# and symbols, and of ASCII only letters, digits and - _ . ; not a leading
# - (read as an option) or . (a hidden file).  Refused: ASCII punctuation
# such as : / \ # % ? & ' " ( ) ; space and any other white space, control,
# format (bidi, zero-width) and private-use characters, undecodable bytes.
_ASCII_IN_NAMES = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_NON_ASCII_IN_NAMES = ("L", "M", "N", "P", "S")  # Unicode general categories, by first letter


_UNDECODED = re.compile("[\ud800-\udfff]")  # bytes of a name that is not UTF-8, as Python decodes them


def _allowed_in_name(character: str) -> bool:
    if character < "\x80":
        return character in _ASCII_IN_NAMES
    return unicodedata.category(character).startswith(_NON_ASCII_IN_NAMES)


def file_name_problem(name: str, what: str = "文件名") -> str | None:
    """Why a chart file (or folder) name is unsafe, in Chinese, or None if it is safe."""
    undecoded = _UNDECODED.search(name)
    if undecoded:  # cannot go into the manifest, the index or a terminal as it is
        return f"{what}不是有效的 UTF-8 编码（字节 {code_point(undecoded.group())} 无法解码，请用正常的中文或英文重新命名）"
    if name.startswith(("-", ".")):
        return f"{what}以「{name[0]}」开头（在命令行中会被当作选项或隐藏文件）"
    bad = next((c for c in name if not _allowed_in_name(c)), None)
    if bad is None:
        return None
    if bad.isprintable() and not bad.isspace():
        return f"{what}含「{bad}」（在网页链接或命令行中会出错）"
    return f"{what}含空白或不可见字符 {code_point(bad)}（在网页链接或命令行中会出错）"


def safe_file_name(name: str) -> str:
    """A name close to `name` that passes `file_name_problem`: each run of
    refused characters becomes one -."""
    stem, dot, suffix = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    stem = re.sub("-{2,}", "-", "".join(c if _allowed_in_name(c) else "-" for c in stem)).strip("-.")
    return f"{stem or '01-防控图'}{dot}{suffix}"
