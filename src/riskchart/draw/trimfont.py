"""A trimmed copy of the chart font, for dot to draw with.

cairo, which writes Graphviz's PDFs, subsets the font afresh for every
chart, and its work grows with the whole font: Noto Sans CJK has 65,535
outlines and some 45,000 subroutines, and subsetting it was about two
thirds of dot's time.  So dot draws with a copy of each face of the font
(regular, bold) that keeps the outlines of a fixed set of characters —
GB 2312 and the Latin, punctuation and symbols around it — and of every
glyph shaping can put in their place (「——」, ligatures, other languages'
forms: gsubclosure.py), with their subroutines inlined (cfftrim.py).  Every other table is the face's own:
dot measures and shapes text exactly as with the installed file (the SVGs
are the same bytes), and each kept character is drawn with the same
outline.  The copy's cmap holds only the kept characters, so fontconfig
takes any other character from the installed font itself.  Without
subroutines, cairo also draws 「如」 whole (glyphs.py still checks).

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
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .. import files
from ..errors import EnvironmentProblem
from . import fonts

# Of the copies and their characters: a change makes new copies and redraws
# every chart (tests/draw/test_trimfont.py holds the characters' digest).
VERSION = 2
SUFFIX = " riskchart"  # the copies' family: the font's own name and this
_BOLD = ":weight=bold"  # fontconfig's pattern for the bold face of a family
_STAGING = ".making-"  # copies being made (or an interrupted build's: removed by the next)
_CANNOT_TRIM = 3  # the trimming process's exit status for a font it cannot trim
_CODE = ("trimfont.py", "cfftrim.py", "gsubclosure.py", "cffread.py", "cffmerge.py")  # what makes the copies
TRIM_SECONDS = 300  # for making the copies
LOCK_SECONDS = TRIM_SECONDS + 120  # waiting for another build making them: longer than it may take
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
    system = _system_config()
    if regular is None or folder is None or shutil.which("fc-match") is None or system is None:
        return None
    family = font.split(",")[0].strip()
    bold = _bold_face(family, regular)
    place = folder / _key(regular, bold, system, family)
    known, found = _read(place)
    if known:
        return found
    try:
        with files.locked(folder, timeout=LOCK_SECONDS):  # two builds at once make the copies once
            known, found = _read(place)
            if not known:
                _remove_leftovers(folder)
                _make(place, family, regular, bold, system)
                known, found = _read(place)
    except (OSError, EnvironmentProblem):
        return None  # drawn with the font as installed: slower, the same drawing
    return found


def bold_soon(font: str) -> None:
    """Ask fontconfig for `font`'s bold face ahead, for `for_font` to take up
    (as fonts.resolve_soon does for the regular): some 25 ms a build."""
    fonts.match_soon(font.split(",")[0].strip() + _BOLD)


def _bold_face(family: str, regular: fonts.FontFile) -> fonts.FontFile | None:
    """The font's own bold face, if it has one (else pango draws the regular bold)."""
    bold = fonts.match(family + _BOLD)
    if bold is None or (bold.face.path, bold.face.index) == (regular.path, regular.index) \
            or regular.family.lower() not in bold.families:
        return None
    return bold.face


def _key(regular: fonts.FontFile, bold: fonts.FontFile | None, system: str, family: str) -> str:
    """Names the copies: what they are made from and how (this code, fontTools,
    the faces, the system's fontconfig file, the family asked for).  A bold
    face installed later, or none any more, names other copies."""
    faces = f"{regular.key}|{bold.key if bold else 'no bold face'}"
    digest = hashlib.sha256(f"{VERSION}|{_font_tools()}|{faces}|{system}|{family.lower()}".encode())
    here = Path(__file__).parent
    for module in _CODE:
        digest.update((here / module).read_bytes())
    return digest.hexdigest()[:32]


def _font_tools() -> str:
    """Which fontTools is installed, without importing it (some 25 ms, and a
    build with nothing to draw needs this key): its package file's stamp."""
    import importlib.util

    spec = importlib.util.find_spec("fontTools")
    if spec is None or spec.origin is None:
        return "-"
    status = os.stat(spec.origin)
    return f"{spec.origin}|{status.st_size}|{status.st_mtime_ns}"


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


def _make(place: Path, family: str, regular: fonts.FontFile, bold: fonts.FontFile | None, system: str) -> None:
    """Write the copies, their fontconfig file and their record into `place`
    (whole or not at all); a font that cannot be trimmed is recorded as such.
    The faces are trimmed at once, each by a Python process of its own
    (some four seconds each, once per user and font)."""
    faces = {"regular": regular}
    if bold is not None:
        faces["bold"] = bold  # else the regular is drawn bold, as with the installed font
    copy_family = regular.family + SUFFIX
    staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=place.parent))
    try:
        why = _trimmed_faces(faces, copy_family, staging)
        if not why:
            (staging / "fonts.conf").write_text(_config(place, family, copy_family, system), encoding="utf-8")
            why = _not_picked(staging, place, family, list(faces))
        described = [{"file": f"{style}.otf", "source": face.path, "size": face.size, "mtime_ns": face.mtime_ns,
                      "bytes": (staging / f"{style}.otf").stat().st_size if not why else 0}
                     for style, face in faces.items()]
        key = hashlib.sha256(json.dumps([place.name, described]).encode()).hexdigest()[:16]
        record = {"version": VERSION, "trimmed": not why, "why": why, "key": key, "faces": described}
        (staging / _RECORD).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        if place.exists():  # copies of faces since changed: out of the way at once, removed after
            aside = place.with_name(f"{_STAGING}{place.name}-{os.urandom(4).hex()}")
            os.replace(place, aside)
            shutil.rmtree(aside, ignore_errors=True)
        os.replace(staging, place)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_leftovers(folder: Path) -> None:
    """Staging folders an interrupted build left (the lock is held: none is in use)."""
    for leftover in folder.glob(f"{_STAGING}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)


def _trimmed_faces(faces: dict[str, fonts.FontFile], family: str, staging: Path) -> str:
    """Each face trimmed into `staging` by a process of its own (`python -m
    riskchart.draw.trimfont`), all at once; "" or why the font cannot be
    trimmed.  A failure that says nothing about the font (a crash, no
    memory, too long) raises OSError: nothing is recorded, and the next
    build tries again."""
    runs = []
    for style, face in faces.items():
        # -P: the current folder (a project's, with who knows what .py files) is not put on sys.path
        command = [sys.executable, "-P", "-m", __name__, face.path, str(face.index), family,
                   str(staging / f"{style}.otf")]
        runs.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True, cwd=staging))
    deadline = time.monotonic() + TRIM_SECONDS
    reasons = []
    try:
        for run in runs:
            _, errors = run.communicate(timeout=max(0.1, deadline - time.monotonic()))
            message = errors.decode("utf-8", "replace").strip()
            if run.returncode == _CANNOT_TRIM:
                reasons.append(message)
            elif run.returncode != 0:
                raise OSError(f"精简字体没有做成（退出码 {run.returncode}）：{message[-300:]}")
    except subprocess.TimeoutExpired:
        raise OSError(f"精简字体 {TRIM_SECONDS} 秒内没有做成") from None
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    return "；".join(reasons)


def trimmed_face(face: fonts.FontFile, family: str) -> bytes:
    """One face of the font, as an OpenType file with only the outlines, cmap
    entries and subroutines of the kept characters and of the glyphs shaping
    can put in their place (gsubclosure.py)."""
    from fontTools.ttLib import TTFont

    from . import cfftrim, gsubclosure  # only where the copies are made: not in every build

    with TTFont(face.path, fontNumber=face.index, lazy=True) as font:
        if "CFF " not in font.reader.tables:
            raise cfftrim.NotTrimmable("不是 CFF 字体")
        wanted = characters()
        kept = {code: glyph for code, glyph in font.getBestCmap().items() if code in wanted}
        variants = _variants(font, kept)
        reached = gsubclosure.closure(font["GSUB"] if "GSUB" in font.reader.tables else None,
                                      {*kept.values(), *(glyph for _, _, glyph in variants)})
        number = font.getReverseGlyphMap()
        tables = {tag: bytes(font.reader[tag]) for tag in font.reader.tables}
        tables["CFF "] = cfftrim.trimmed(font.reader["CFF "], [number[glyph] for glyph in reached])
        tables["cmap"] = _cmap(font, kept, variants)
        tables["name"] = _renamed(font, family)
    return _sfnt(tables)


def _variants(font: Any, kept: dict[int, str]) -> list[tuple[int, int, str]]:
    """The kept characters' variation sequences (cmap format 14): (selector,
    character, glyph), the glyph of a default sequence being the character's own."""
    found: list[tuple[int, int, str]] = []
    for subtable in font["cmap"].tables:
        if subtable.format != 14:
            continue
        for selector, pairs in subtable.uvsDict.items():
            found.extend((selector, code, glyph or kept[code]) for code, glyph in pairs if code in kept)
    return found


def _cmap(font: Any, kept: dict[int, str], variants: list[tuple[int, int, str]]) -> bytes:
    from fontTools.ttLib import newTable
    from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

    table = newTable("cmap")
    table.tableVersion, table.tables = 0, []
    basic = {code: glyph for code, glyph in kept.items() if code <= 0xFFFF}
    for platform, encoding, kind, mapping in ((0, 3, 4, basic), (3, 1, 4, basic), (0, 4, 12, kept), (3, 10, 12, kept)):
        subtable = CmapSubtable.newSubtable(kind)
        subtable.platformID, subtable.platEncID, subtable.language, subtable.cmap = platform, encoding, 0, dict(mapping)
        table.tables.append(subtable)
    if variants:
        sequences = CmapSubtable.newSubtable(14)
        sequences.platformID, sequences.platEncID, sequences.language, sequences.cmap = 0, 5, 0xFF, {}
        sequences.uvsDict = {}
        for selector, code, glyph in variants:  # a default sequence is written as such: no glyph of its own
            sequences.uvsDict.setdefault(selector, []).append((code, None if glyph == kept[code] else glyph))
        table.tables.append(sequences)
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


def escape(text: str) -> str:
    """`text` for fontconfig's XML (the standard library's escape would import urllib)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _system_config() -> str | None:
    own = os.environ.get("FONTCONFIG_FILE")
    for candidate in ((own,) if own else _SYSTEM_CONFIGS):
        if candidate and os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def _config(place: Path, family: str, copy_family: str, system: str) -> str:
    """fontconfig's file for dot: the system's configuration, the copies'
    folder, and the copies' family put first wherever `family` is asked for."""
    return (f'<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            f'  <include ignore_missing="no">{escape(system)}</include>\n'
            f"  <dir>{escape(str(place))}</dir>\n"
            f'  <match target="pattern">\n'
            f'    <test name="family"><string>{escape(family)}</string></test>\n'
            f'    <edit name="family" mode="prepend" binding="strong"><string>{escape(copy_family)}</string></edit>\n'
            f"  </match>\n</fontconfig>\n")


def _not_picked(staging: Path, place: Path, family: str, styles: list[str]) -> str:
    """"" if fontconfig picks the staged copies for `family` (regular and, if
    there is one, bold) and, without a bold copy, still the face it picks
    without them for bold; else why not.  Asked with the fontconfig file
    naming the staging folder instead of `place`."""
    trial = staging / "trial.conf"
    config = (staging / "fonts.conf").read_text(encoding="utf-8")
    trial.write_text(config.replace(escape(str(place)), escape(str(staging))), encoding="utf-8")
    try:
        environment = {**os.environ, "FONTCONFIG_FILE": str(trial)}
        for style in ("regular", "bold"):
            picked = fonts.match(family + (_BOLD if style == "bold" else ""), environment)
            if style in styles:
                expected = (str(staging / f"{style}.otf"), 0)
            else:  # no bold face: the regular copy, drawn bold, as the installed regular was
                alone, regular = fonts.match(family + _BOLD, dict(os.environ)), fonts.match(family, dict(os.environ))
                if alone is None or regular is None:
                    raise OSError("fc-match 没有回答")
                same = (alone.face.path, alone.face.index) == (regular.face.path, regular.face.index)
                expected = (str(staging / "regular.otf"), 0) if same else ("", -1)
            if picked is None:
                raise OSError("fc-match 没有回答")  # says nothing of the font: the next build asks again
            if (picked.face.path, picked.face.index) != expected:
                return f"fontconfig 没有按预期选中精简字体（{style}）"
        return ""
    finally:
        trial.unlink()


def main(arguments: list[str]) -> int:
    """`python -m riskchart.draw.trimfont PATH INDEX FAMILY OUT`: one face
    trimmed into OUT; exit 3 (and why, on stderr) if the font cannot be."""
    path, index, family, out = arguments
    status = os.stat(path)
    face = fonts.FontFile(path, int(index), family, status.st_size, status.st_mtime_ns)
    try:
        data = trimmed_face(face, family)
    except MemoryError:
        raise  # says nothing of the font: the next build tries again
    except Exception as why:  # noqa: BLE001 - anything else this font makes the trimming raise, it always will
        print(f"{path}：{type(why).__name__}：{why}", file=sys.stderr)
        return _CANNOT_TRIM
    Path(out).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
