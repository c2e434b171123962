"""The installed CJK font: which file fontconfig picks, which characters it
has and how wide each one is.

Graphviz draws with the file fontconfig resolves for the font's name, so
lint and the line breaker ask fontconfig the same question (`fc-match`)
and read that file's cmap and advance widths with fontTools.  Reading a
CJK collection takes ~0.4 s; the result is kept in a per-user cache as a
small JSON file keyed by the font file's path, size and mtime, so lint and
build stay fast.  Anything odd about a cache entry makes it a miss.
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .. import files

CACHE_VERSION = 1
EM_COLUMNS = 2  # a full-width character, one em, is two display columns


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int      # member of a font collection (.ttc)
    family: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        """Changes whenever the file does: part of every chart's fingerprint."""
        return f"{self.path}|{self.index}|{self.size}|{self.mtime_ns}"


@dataclass(frozen=True)
class Match:
    """What fontconfig picks for a pattern: the face, and every name of its
    family in lower case (a face may be named in several languages)."""
    face: FontFile
    families: tuple[str, ...]


# fc-match runs started by `match_soon`: each with the list its answer goes into and the
# environment it was asked in (PATH, FONTCONFIG_FILE… decide the answer)
_asked: dict[str, tuple[threading.Thread, list[Match | None], dict[str, str]]] = {}


def match_soon(pattern: str) -> None:
    """Start fontconfig's answer for `pattern` in a thread, for `match` to
    take up: a build first needs it only once its modules are imported,
    and fc-match (some 25 ms) then runs on the other core meanwhile."""
    if pattern not in _asked:
        answer: list[Match | None] = []
        asking = threading.Thread(target=lambda: answer.append(_match(pattern)), daemon=True)
        _asked[pattern] = (asking, answer, dict(os.environ))
        asking.start()


def match(pattern: str, environment: dict[str, str] | None = None) -> Match | None:
    """The face fontconfig picks for `pattern` (under `environment`, else
    this process's: then the answer `match_soon` started, if any), or None
    when there is no fontconfig to ask or no answer."""
    asked = _asked.pop(pattern, None) if environment is None else None
    if asked is not None:
        asking, answer, asked_in = asked
        asking.join()
        # not an answer left by a command that ended before it needed it, under another
        # environment (in-process callers such as the tests' CliRunner run many commands)
        if answer and asked_in == os.environ:
            return answer[0]
    return _match(pattern, environment)


def _match(pattern: str, environment: dict[str, str] | None = None) -> Match | None:
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        done = subprocess.run([fc_match, "-f", "%{file}\n%{index}\n%{family}\n", pattern],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                              check=False, env=environment)  # no usable answer is handled below
    except (OSError, subprocess.SubprocessError):
        return None
    parts = done.stdout.split("\n")
    if done.returncode != 0 or len(parts) < 3 or not parts[0]:
        return None
    path, index, families = parts[0], parts[1], parts[2]
    try:
        status = os.stat(path)
        number = int(index or 0)
    except (OSError, ValueError):
        return None
    return Match(FontFile(path, number, families.split(",")[0], status.st_size, status.st_mtime_ns),
                 tuple(family.strip().lower() for family in families.split(",")))


def resolve_soon(font: str) -> None:
    """`resolve`'s fc-match, started ahead (see match_soon)."""
    match_soon(font)


@cache
def resolve(font: str) -> FontFile | None:
    """The file fontconfig draws `font` with, or None when it would draw
    with some other family (the font is not installed) or there is no
    fontconfig to ask.  Asked once per process: toolchain, fingerprint
    and metrics all want it."""
    return _installed(font, match(font))


def _ask_fontconfig(font: str) -> FontFile | None:
    return _installed(font, _match(font))


def _installed(font: str, found: Match | None) -> FontFile | None:
    """The face found for `font`, if it is of that family."""
    if found is None or font.split(",")[0].strip().lower() not in found.families:
        return None
    return found.face


@dataclass(frozen=True)
class Metrics:
    """Advance widths by code point, as sorted runs (first, last, advance)
    of consecutive code points with one advance, in font units."""
    units_per_em: int
    runs: tuple[tuple[int, int, int], ...]
    _starts: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", [run[0] for run in self.runs])

    def advance(self, code_point: int) -> int | None:
        at = bisect.bisect_right(self._starts, code_point) - 1
        if at >= 0 and self.runs[at][0] <= code_point <= self.runs[at][1]:
            return self.runs[at][2]
        return None

    def has(self, char: str) -> bool:
        return self.advance(ord(char)) is not None

    def columns(self, char: str) -> float | None:
        """Display columns of `char` (an em is two), or None if the font lacks it."""
        advance = self.advance(ord(char))
        return None if advance is None else EM_COLUMNS * advance / self.units_per_em


@cache
def metrics(font: str) -> Metrics | None:
    """The metrics of the installed `font`, or None if it is not installed."""
    found = resolve(font)
    return metrics_of(found) if found else None


def metrics_of(font_file: FontFile) -> Metrics:
    cached = _read_cache(font_file)
    if cached is not None:
        return cached
    fresh = _read_font(font_file)
    _write_cache(font_file, fresh)
    return fresh


def _read_font(font_file: FontFile) -> Metrics:
    from fontTools.ttLib import TTFont

    with TTFont(font_file.path, fontNumber=font_file.index, lazy=True) as font:
        advances = font["hmtx"].metrics
        by_code = sorted((code, advances[glyph][0]) for code, glyph in font.getBestCmap().items())
        units = font["head"].unitsPerEm
    runs: list[list[int]] = []
    for code, advance in by_code:
        if runs and runs[-1][1] == code - 1 and runs[-1][2] == advance:
            runs[-1][1] = code
        else:
            runs.append([code, code, advance])
    return Metrics(units, tuple((first, last, advance) for first, last, advance in runs))


def _cache_file(font_file: FontFile) -> Path | None:
    import hashlib

    folder = files.user_cache_folder()
    name = hashlib.sha256(f"{CACHE_VERSION}|{font_file.key}".encode()).hexdigest()[:32]
    return folder / f"font-{name}.json" if folder else None


def _read_cache(font_file: FontFile) -> Metrics | None:
    try:
        path = _cache_file(font_file)
        if path is None:
            return None
        entry = json.loads(path.read_text(encoding="utf-8"))
        if entry["version"] != CACHE_VERSION or entry["font"] != font_file.key:
            return None
        units = entry["units_per_em"]
        runs = tuple((int(a), int(b), int(c)) for a, b, c in entry["runs"])
        if not isinstance(units, int) or units <= 0 or any(a > b for a, b, _ in runs) \
                or any(runs[i][1] >= runs[i + 1][0] for i in range(len(runs) - 1)):
            return None
        return Metrics(units, runs)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(font_file: FontFile, found: Metrics) -> None:
    data = json.dumps({"version": CACHE_VERSION, "font": font_file.key,
                       "units_per_em": found.units_per_em, "runs": found.runs}, separators=(",", ":"))
    files.write_cache(_cache_file(font_file), data.encode("utf-8"))


# Without the font, these are known not to print: the emoji planes, the
# emoji variation selector and the private-use areas.
def _surely_missing(char: str) -> bool:
    import unicodedata

    return ord(char) >= 0x1F000 or char == "\ufe0f" or unicodedata.category(char) == "Co"


_VERDICTS: dict[tuple[str, str], bool] = {}


def lacks(font: str, char: str) -> bool:
    """Whether the installed `font` has no glyph for `char` (line breaks and
    spaces aside); private-use characters count as lacking in any font."""
    key = (font, char)
    verdict = _VERDICTS.get(key)
    if verdict is None:
        found = metrics(font)
        private = ord(char) >= 0xE000 and (ord(char) <= 0xF8FF or ord(char) >= 0xF0000)
        import unicodedata

        invisible = unicodedata.category(char) == "Cf"  # zero-width space and the like draw nothing anyway
        verdict = char not in "\n\r " and not invisible \
            and (private or (not found.has(char) if found else _surely_missing(char)))
        _VERDICTS[key] = verdict
    return verdict


_PRESENT: dict[str, set[str]] = {}


def lacking(font: str, chars: set[str]) -> set[str]:
    """The characters among `chars` that `font` lacks (see `lacks`).  The
    characters found present are remembered as one set per font, so a file
    costs one set difference once the common characters have been seen."""
    present = _PRESENT.setdefault(font, set())
    unknown = chars - present
    if not unknown:
        return set()
    missing = {char for char in unknown if lacks(font, char)}
    present |= unknown - missing
    return missing


def describe(char: str) -> str:
    """How a lint message names a character the font lacks."""
    code = f"U+{ord(char):04X}"
    if ord(char) >= 0xE000 and (ord(char) <= 0xF8FF or ord(char) >= 0xF0000):
        return f"私用区字符 {code}（输入法造字或 Word 特殊符号，别的电脑上显示不出来）"
    if ord(char) >= 0x1F000 or char == "\ufe0f":
        return f"表情符号「{char}」({code})"
    return f"「{char}」({code})"
