"""A trimmed copy of the chart font, for dot to draw with.

cairo, which writes Graphviz's PDFs, subsets the font afresh for every
chart, and its work grows with the whole font: Noto Sans CJK has 65,535
outlines and some 45,000 subroutines, and subsetting it was about two
thirds of dot's time.  So dot draws with a copy of each face of the font
(regular, bold) that keeps the outlines of a fixed set of characters —
GB 2312 and the Latin, punctuation and symbols around it — and only the
subroutines those call (cfftrim.py).  Every other table is the face's own:
dot measures and shapes text exactly as with the installed file (the SVGs
are the same bytes), and each kept character is drawn with the same
outline.  The copy's cmap holds only the kept characters, so fontconfig
takes any other character from the installed font itself.

The copies are made once per font file, into the per-user cache, and
found by dot through a fontconfig file that includes the system's
configuration and puts the copies' family before the installed one.  A
font this cannot trim (not CFF, no fontconfig) is drawn as installed.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .. import files
from ..errors import EnvironmentProblem
from . import cfftrim, fonts

# Of the copies and their characters: a change makes new copies and redraws
# every chart (tests/draw/test_trimfont.py holds the characters' digest).
VERSION = 1
SUFFIX = " riskchart"  # the copies' family: the font's own name and this
_BOLD = ":weight=bold"  # fontconfig's pattern for the bold face of a family
# where the system's own fontconfig file may be, when FONTCONFIG_FILE does not say
_SYSTEM_CONFIGS = ("/etc/fonts/fonts.conf", "/usr/local/etc/fonts/fonts.conf", "/opt/homebrew/etc/fonts/fonts.conf")
_RECORD = "made.json"


@dataclass(frozen=True)
class TrimmedFont:
    config: str  # the fontconfig file that puts the copies first: FONTCONFIG_FILE for dot
    key: str     # names the copies' content (their version and the faces they come from)

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "FONTCONFIG_FILE": self.config}


@cache
def characters() -> frozenset[int]:
    """The characters whose outlines the copies keep: GB 2312 (its 6,763
    hanzi and 682 symbols), ASCII and Latin-1, general punctuation, number
    forms, arrows, enclosed numbers, CJK symbols and full-width forms."""
    kept = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    for first, last in ((0x2000, 0x206F), (0x2150, 0x21FF), (0x2460, 0x24FF), (0x3000, 0x303F), (0xFF00, 0xFFEF)):
        kept.update(range(first, last + 1))
    for high in range(0xA1, 0xFF):
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                kept.update(map(ord, bytes([high, low]).decode("gb2312")))
    return frozenset(kept)


@cache
def for_font(font: str) -> TrimmedFont | None:
    """The trimmed copies of `font`, made first if need be; None when the
    font is not installed or cannot be trimmed (dot then draws with it as
    installed).  Asked once per process."""
    regular = fonts.resolve(font)
    folder = files.user_cache_folder("trimmed-fonts")
    if regular is None or folder is None or shutil.which("fc-match") is None or _system_config() is None:
        return None
    key = hashlib.sha256(f"{VERSION}|{regular.key}".encode()).hexdigest()[:32]
    place = folder / key
    known, found = _read(place)
    if known:
        return found
    try:
        with files.locked(folder, timeout=300):  # two builds at once make the copies once
            known, found = _read(place)
            if not known:
                _make(place, font, regular)
                known, found = _read(place)
    except (OSError, EnvironmentProblem):
        return None  # drawn with the font as installed: slower, the same drawing
    return found


def _read(place: Path) -> tuple[bool, TrimmedFont | None]:
    """Whether `place` records copies made from the faces still installed,
    and the copies (None if the font was found not to be trimmable)."""
    try:
        record = json.loads((place / _RECORD).read_text(encoding="utf-8"))
        if record["version"] != VERSION:
            return False, None
        if record["trimmed"] is not True:
            return True, None
        for face in record["faces"]:
            status = os.stat(face["source"])
            if (status.st_size, status.st_mtime_ns) != (face["size"], face["mtime_ns"]) \
                    or (place / face["file"]).stat().st_size != face["bytes"]:
                return False, None
        return True, TrimmedFont(str(place / "fonts.conf"), str(record["key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False, None


def _make(place: Path, font: str, regular: fonts.FontFile) -> None:
    """Write the copies, their fontconfig file and their record into `place`
    (whole or not at all); a font that cannot be trimmed is recorded as such.
    The faces are trimmed at once, in processes of their own (some four
    seconds each, once per user and font)."""
    faces = {"regular": regular}
    bold = _face(font + _BOLD)
    if bold is not None and (bold.path, bold.index) != (regular.path, regular.index) \
            and bold.family.lower() == regular.family.lower():
        faces["bold"] = bold  # else the regular is drawn bold, as with the installed font
    family = regular.family + SUFFIX
    staging = Path(tempfile.mkdtemp(prefix=".making-", dir=place.parent))
    try:
        made, why = _trimmed_faces(faces, family)
        for style, data in made.items():
            (staging / f"{style}.otf").write_bytes(data)
        if not why:
            (staging / "fonts.conf").write_text(_config(place, font, family), encoding="utf-8")
            why = "" if _resolves_to_copies(staging, place, font, list(faces)) else "fontconfig 没有选中精简字体"
        described = [{"file": f"{style}.otf", "source": face.path, "size": face.size, "mtime_ns": face.mtime_ns,
                      "bytes": len(made.get(style, b""))} for style, face in faces.items()]
        key = hashlib.sha256(json.dumps([VERSION, described]).encode()).hexdigest()[:16]
        record = {"version": VERSION, "trimmed": not why, "why": why, "key": key, "faces": described}
        (staging / _RECORD).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(place)
        os.replace(staging, place)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _trimmed_faces(faces: dict[str, fonts.FontFile], family: str) -> tuple[dict[str, bytes], str]:
    """Each face trimmed, in forked processes; or why the font cannot be.
    A failure that says nothing about the font (no memory, no process)
    raises OSError: nothing is recorded, and the next build tries again."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        with ProcessPoolExecutor(max_workers=len(faces), mp_context=multiprocessing.get_context("fork")) as pool:
            made = dict(zip(faces, pool.map(trimmed_face, faces.values(), [family] * len(faces)), strict=True))
        return made, ""
    except _NOT_TRIMMABLE as why:
        return {}, f"{type(why).__name__}: {why}"
    except Exception as why:
        raise OSError(f"精简字体没有做成：{why}") from why


# what reading or trimming a face raises when the font is not as cfftrim.py expects
_NOT_TRIMMABLE = (cfftrim.NotTrimmable, ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error,
                  AssertionError)


def trimmed_face(face: fonts.FontFile, family: str) -> bytes:
    """One face of the font, as an OpenType file with only the kept
    characters' outlines, cmap entries and subroutines."""
    from fontTools.ttLib import TTFont

    with TTFont(face.path, fontNumber=face.index, lazy=True) as font:
        if "CFF " not in font.reader.tables:
            raise cfftrim.NotTrimmable("不是 CFF 字体")
        best = font.getBestCmap()
        kept = {code: glyph for code, glyph in best.items() if code in characters()}
        number = font.getReverseGlyphMap()
        tables = {tag: bytes(font.reader[tag]) for tag in font.reader.tables}
        tables["CFF "] = cfftrim.trimmed(font.reader["CFF "], [number[glyph] for glyph in kept.values()])
        tables["cmap"] = _cmap(font, kept)
        tables["name"] = _renamed(font, family)
    return _sfnt(tables)


def _cmap(font: Any, kept: dict[int, str]) -> bytes:
    from fontTools.ttLib import newTable
    from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

    table = newTable("cmap")
    table.tableVersion, table.tables = 0, []
    basic = {code: glyph for code, glyph in kept.items() if code <= 0xFFFF}
    for platform, encoding, kind, mapping in ((0, 3, 4, basic), (3, 1, 4, basic), (0, 4, 12, kept), (3, 10, 12, kept)):
        subtable = CmapSubtable.newSubtable(kind)
        subtable.platformID, subtable.platEncID, subtable.language, subtable.cmap = platform, encoding, 0, dict(mapping)
        table.tables.append(subtable)
    return bytes(table.compile(font))


def _renamed(font: Any, family: str) -> bytes:
    """The name table with the copies' family (their PostScript name stays
    the font's own: the PDFs name the font as before)."""
    table = font["name"]
    for record in table.names:
        if record.nameID in (1, 16):
            record.string = family
        elif record.nameID in (3, 4):
            record.string = f"{record.toUnicode()}{SUFFIX}"
    return bytes(table.compile(font))


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """An OpenType file of `tables` (checksums computed; head's adjustment left)."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(">4sHHHH", b"OTTO", count, power * 16, power.bit_length() - 1, count * 16 - power * 16)
    records, body, offset = [], [], 12 + 16 * count
    for tag in tags:
        data = tables[tag]
        padded = data + b"\0" * (-len(data) % 4)
        records.append(struct.pack(">4sIII", tag.encode("latin-1"), _checksum(padded), offset, len(data)))
        body.append(padded)
        offset += len(padded)
    return header + b"".join(records) + b"".join(body)


def _checksum(padded: bytes) -> int:
    words = array.array("I")
    words.frombytes(padded)
    if words.itemsize != 4:
        raise ValueError("array('I') is not 4 bytes here")
    if struct.pack("=I", 1) != struct.pack(">I", 1):
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _system_config() -> str | None:
    own = os.environ.get("FONTCONFIG_FILE")
    for candidate in ((own,) if own else _SYSTEM_CONFIGS):
        if candidate and os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def _config(place: Path, font: str, family: str) -> str:
    """fontconfig's file for dot: the system's configuration, the copies'
    folder, and the copies' family put first wherever `font` is asked for."""
    system = _system_config()
    return (f'<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            f'  <include ignore_missing="no">{escape(system or "")}</include>\n'
            f"  <dir>{escape(str(place))}</dir>\n"
            f'  <match target="pattern">\n'
            f'    <test name="family"><string>{escape(font.split(",")[0].strip())}</string></test>\n'
            f'    <edit name="family" mode="prepend" binding="strong"><string>{escape(family)}</string></edit>\n'
            f"  </match>\n</fontconfig>\n")


def _face(pattern: str, environment: dict[str, str] | None = None) -> fonts.FontFile | None:
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        done = subprocess.run([fc_match, "-f", "%{file}\n%{index}\n%{family}\n", pattern], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL, check=False, env=environment)
        path, index, family = done.stdout.split("\n")[:3]
        status = os.stat(path)
        return fonts.FontFile(path, int(index or 0), family.split(",")[0], status.st_size, status.st_mtime_ns)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _resolves_to_copies(staging: Path, place: Path, font: str, styles: list[str]) -> bool:
    """Whether fontconfig picks the copies for `font` (regular and, if there
    is one, bold).  Asked of the staged copies, with the fontconfig file
    naming the staging folder instead of `place`."""
    trial = staging / "trial.conf"
    config = (staging / "fonts.conf").read_text(encoding="utf-8")
    trial.write_text(config.replace(escape(str(place)), escape(str(staging))), encoding="utf-8")
    try:
        environment = {**os.environ, "FONTCONFIG_FILE": str(trial)}
        for style in styles:
            face = _face(font + (_BOLD if style == "bold" else ""), environment)
            if face is None or Path(face.path) != staging / f"{style}.otf":
                return False
        return True
    finally:
        trial.unlink()
