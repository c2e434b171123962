"""Every glyph a PDF carries must draw.

cairo 1.16 (Debian 12) writes a broken CFF outline for 如 when it subsets
Noto Sans CJK SC Regular: the text extracts, yet every viewer draws a
blank.  After dot writes a PDF, each outline of each embedded CFF subset is
drawn with fontTools' charstring interpreter; an outline that cannot be
drawn is redrawn from the installed font, found through the PDF's
ToUnicode map and the font's cmap.  What cannot be repaired is reported by
character, so the chart fails instead of printing a blank.

The CFF structures are read in place, from their offsets (cffread.py).
"""

from __future__ import annotations

import collections
import itertools
import operator
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import files
from .cffread import CHARSTRINGS, Bytes, Cff, FontDict, Index, operand_at

_SUBSET_TAG = re.compile(r"^[A-Z]{6}\+")
_BFCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
_BFRANGE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")


class UndrawableGlyphs(Exception):
    """Glyphs that no renderer can draw and that could not be repaired."""

    def __init__(self, characters: list[str]):
        self.characters = characters
        shown = "、".join(f"「{c}」(U+{ord(c):04X})" if len(c) == 1 else f"「{c}」" for c in characters)
        super().__init__(f"PDF 中的字形无法绘制，查看时会显示为空白：{shown}")


def repair_fonts(document: Any) -> int:  # a pikepdf.Pdf
    """Repair, in the pikepdf `document`, every embedded CFF font whose
    outlines cannot all be drawn; return how many glyphs were redrawn.
    Raise UndrawableGlyphs naming the characters that stay broken."""
    import pikepdf

    repaired, broken, seen = 0, [], set()
    for font in _fonts(document):
        described = font.DescendantFonts[0] if pikepdf.Name.DescendantFonts in font else font
        descriptor = described.get(pikepdf.Name.FontDescriptor)
        if descriptor is None or pikepdf.Name.FontFile3 not in descriptor:
            continue
        stream = descriptor.FontFile3
        if stream.objgen in seen:
            continue
        seen.add(stream.objgen)
        stored, filters, parameters = stream.read_raw_bytes(), stream.get("/Filter"), stream.get("/DecodeParms")
        subset = _font_digest(stored, filters, parameters)
        if _known_clean(subset):
            continue
        fixed, count, lost = _repair_cff(_inflated(stored, filters, parameters) or stream.read_bytes(), font, subset)
        repaired += count
        broken += lost
        if fixed is not None:  # compressed here: qpdf would take three times as long on saving
            stream.write(_compressed(fixed), filter=pikepdf.Name.FlateDecode)
    if broken:
        raise UndrawableGlyphs(list(dict.fromkeys(broken)))
    return repaired


def _compressed(font: bytes) -> bytes:
    """A repaired font for its FlateDecode stream.  Outlines are nearly
    random bytes: zlib's run-length strategy comes within ~3 % of its
    default's size (the 8 repaired fonts of the 40 charts: 1,152 KB against
    1,121 KB) in under half the time; qpdf, left to compress it on saving,
    takes three times as long (~6 ms a chart, the dearest step of fitting it)."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return packer.compress(font) + packer.flush()


def _inflated(stored: bytes, filters: Any, parameters: Any) -> bytes | None:
    """A font stored with FlateDecode alone, decompressed by zlib, which lets
    the other threads run meanwhile (qpdf's `read_bytes` holds the GIL);
    None for any other filter, or data zlib refuses (qpdf decodes those)."""
    import zlib

    if parameters is not None or str(filters) != "/FlateDecode":
        return None
    try:
        return zlib.decompress(stored)
    except zlib.error:
        return None


def _font_digest(stored: bytes, filters: Any = None, parameters: Any = None) -> bytes:
    """An embedded font's bytes as stored (compressed) with how to decode
    them: equal digests, equal fonts.  cairo subsets deterministically, so a
    chart drawn again (or a clean build of charts built before) embeds the
    same bytes."""
    import hashlib

    digest = hashlib.sha256(repr((filters, parameters)).encode())
    digest.update(stored)
    return digest.digest()


def _known_clean(subset: bytes) -> bool:
    """Whether a font with these bytes was checked before and every outline
    of it drew; noted as used, so it is kept for the next build."""
    with _VERDICTS_LOCK:
        if not _STORED.get("fonts_loaded"):
            _load_fonts()
        if subset in _CLEAN_SUBSETS:
            _USED_SUBSETS.add(subset)
            return True
    return False


def _remember_clean(subset: bytes) -> None:
    with _VERDICTS_LOCK:
        _CLEAN_SUBSETS.add(subset)
        _USED_SUBSETS.add(subset)
        _STORED["fonts_learnt"] = _STORED.get("fonts_learnt", 0) + 1


def _known_repair(subset: bytes) -> dict[int, bytes] | None:
    """The redrawn outlines that repaired a font with these bytes before."""
    with _VERDICTS_LOCK:
        if not _STORED.get("fonts_loaded"):
            _load_fonts()
        redrawn = _REPAIRED_SUBSETS.get(subset)
        if redrawn is not None:
            _USED_SUBSETS.add(subset)
        return redrawn


def _remember_repair(subset: bytes, redrawn: dict[int, bytes]) -> None:
    with _VERDICTS_LOCK:
        _REPAIRED_SUBSETS[subset] = dict(redrawn)
        _USED_SUBSETS.add(subset)
        _STORED["fonts_learnt"] = _STORED.get("fonts_learnt", 0) + 1


def _fonts(document: Any) -> Iterator[Any]:
    """Every font dictionary used by the document's pages and their forms."""
    import pikepdf

    for resources in resources_of(document.pages):
        fonts = resources.get(pikepdf.Name.Font)
        if isinstance(fonts, pikepdf.Dictionary):
            yield from fonts.values()


def resources_of(pages: Iterable[Any]) -> Iterator[Any]:
    """The resource dictionaries of the pages and of every form they draw,
    each once; a page without its own is skipped (its fonts stay as they are)."""
    import pikepdf

    seen: set[tuple[int, int]] = set()
    pending = collections.deque(page.obj.get(pikepdf.Name.Resources) for page in pages)
    while pending:
        resources = pending.popleft()
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        if resources.is_indirect:
            if resources.objgen in seen:
                continue
            seen.add(resources.objgen)
        yield resources
        forms = resources.get(pikepdf.Name.XObject)
        for form in forms.values() if isinstance(forms, pikepdf.Dictionary) else ():
            if isinstance(form, pikepdf.Stream) and form.get(pikepdf.Name.Subtype) == pikepdf.Name.Form \
                    and not (form.is_indirect and form.objgen in seen):
                if form.is_indirect:
                    seen.add(form.objgen)
                pending.append(form.get(pikepdf.Name.Resources))


# ---------------------------------------------------------------- drawing

@dataclass(frozen=True, eq=False)  # a verdict is one stored fact: compared by identity
class _Verdict:
    local_count: int
    global_count: int
    local_called: tuple[tuple[int, bytes], ...]
    global_called: tuple[tuple[int, bytes], ...]
    drawable: bool
    # the called subroutines' numbers and bytes apart, to compare them in one go
    local_numbers: tuple[int, ...] = field(init=False, repr=False)
    local_items: tuple[bytes, ...] = field(init=False, repr=False)
    global_numbers: tuple[int, ...] = field(init=False, repr=False)
    global_items: tuple[bytes, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for kind, called in (("local", self.local_called), ("global", self.global_called)):
            object.__setattr__(self, f"{kind}_numbers", tuple(n for n, _ in called))
            object.__setattr__(self, f"{kind}_items", tuple(d for _, d in called))

    def holds_for(self, local: Index, global_subrs: Index) -> bool:
        if local.count != self.local_count or global_subrs.count != self.global_count:
            return False
        try:
            return tuple(map(local.items.__getitem__, self.local_numbers)) == self.local_items \
                and tuple(map(global_subrs.items.__getitem__, self.global_numbers)) == self.global_items
        except IndexError:  # a stored verdict naming a subroutine this font does not have
            return False


# Whether an outline draws depends only on its bytes and on the subroutines
# it calls (and how many there are: that sets their numbering).  cairo keeps
# a subset's subroutines in place, so a character has the same outline in
# every chart: it is drawn once (~0.3 ms), then recognised.  Verdicts are
# also kept between builds in the per-user cache folder (fonts.py), as JSON.
_VERDICTS: dict[bytes, list[_Verdict]] = {}
_VERDICTS_LOCK = threading.Lock()
_STORED = {"loaded": False, "count": 0, "drawn": 0, "fonts_loaded": False, "fonts_learnt": 0}
_USED: set[_Verdict] = set()  # kept first: the verdicts of the charts built last, then older ones up to a cap
# Whole embedded fonts, by _font_digest: a font seen before is not read
# again (most charts of a rebuild embed the bytes of their last build).  A
# clean one is left as it is; a broken one gets the outlines that repaired
# it last time, and the result is read again unless it is itself a clean
# font seen before (the same repair of the same bytes always is).
_CLEAN_SUBSETS: set[bytes] = set()
_REPAIRED_SUBSETS: dict[bytes, dict[int, bytes]] = {}  # and broken ones, with the outlines that repaired them
_USED_SUBSETS: set[bytes] = set()
_CACHE_FORMAT = 2  # in the file's name: a build of another format never overwrites this one
_KEPT_AT_MOST = 20_000  # verdicts (~8 MB of JSON at most: a chart set with every GB2312 character), and as many fonts


def undrawable(cff_data: bytes) -> list[int]:
    """Indexes of the glyphs of a CFF font whose outlines cannot be drawn."""
    return _undrawable(Cff(cff_data))


def _undrawable(cff: Cff, numbers: Iterable[int] | None = None) -> list[int]:
    """The glyphs (all, or those `numbers`) whose outlines cannot be drawn."""
    with _VERDICTS_LOCK:
        if not _STORED["loaded"]:
            _load_verdicts()
    if numbers is None:
        outlines = dict(enumerate(cff.charstrings.every_item()))
    else:
        outlines = {n: cff.charstrings.item(n) for n in numbers}
    with _VERDICTS_LOCK:  # taken once a font, not once a glyph
        known = {n: tuple(_VERDICTS.get(bytecode, ())) for n, bytecode in outlines.items()}
    verdicts = _held_at_once(cff, known)
    for number in outlines.keys() - verdicts.keys():
        verdicts[number] = _judged(cff, number, outlines[number], known[number])
    with _VERDICTS_LOCK:
        _USED.update(verdicts.values())
    return sorted(number for number, verdict in verdicts.items() if not verdict.drawable)


def _judged(cff: Cff, number: int, bytecode: bytes, known: tuple[_Verdict, ...]) -> _Verdict:
    """The verdict on one outline: a known one that holds in this font, else drawn now."""
    font_dict = cff.font_dicts[cff.font_dict_of[number]]
    for verdict in known:
        if verdict.holds_for(font_dict.subrs, cff.global_subrs):
            return verdict
    verdict = _draw(bytecode, font_dict, cff.global_subrs)
    with _VERDICTS_LOCK:
        _VERDICTS.setdefault(bytecode, []).append(verdict)
        _STORED["drawn"] += 1
    return verdict


def _held_at_once(cff: Cff, known: dict[int, tuple[_Verdict, ...]]) -> dict[int, _Verdict]:
    """The outlines whose first known verdict holds, found for each font
    DICT's glyphs at once: the subroutines all their verdicts called are
    read in one pass and compared as one list.  A font DICT's glyphs with
    any difference are left to `_judged`, one by one."""
    groups: dict[int, list[tuple[int, _Verdict]]] = collections.defaultdict(list)
    for number, stored in known.items():
        if stored:
            groups[cff.font_dict_of[number]].append((number, stored[0]))
    held: dict[int, _Verdict] = {}
    global_subrs = cff.global_subrs
    for font_dict, members in groups.items():
        local = cff.font_dicts[font_dict].subrs
        first = [verdict for _, verdict in members]
        if {(v.local_count, v.global_count) for v in first} != {(local.count, global_subrs.count)}:
            continue
        for index, kind in ((local, "local"), (global_subrs, "global")):
            numbers = itertools.chain.from_iterable(map(operator.attrgetter(f"{kind}_numbers"), first))
            if index.each(list(numbers)) != list(itertools.chain.from_iterable(
                    map(operator.attrgetter(f"{kind}_items"), first))):
                break
        else:
            held.update(members)
    return held


def _cache_file(kind: str) -> Path | None:
    from fontTools import version

    folder = files.user_cache_folder()
    return folder / f"glyph-{kind}-{_CACHE_FORMAT}-{version}.json" if folder else None


def _load_verdicts() -> None:
    """Read the verdicts of earlier builds; anything odd makes them unknown."""
    _STORED["loaded"] = True
    try:
        entries = _read_cache("verdicts")["verdicts"]
        loaded: dict[bytes, list[_Verdict]] = {}
        for bytecode, local_count, global_count, local_called, global_called, drawable in entries:
            if not (isinstance(local_count, int) and isinstance(global_count, int) and isinstance(drawable, bool)):
                return
            loaded.setdefault(bytes.fromhex(bytecode), []).append(_Verdict(
                local_count, global_count, tuple((int(n), bytes.fromhex(d)) for n, d in local_called),
                tuple((int(n), bytes.fromhex(d)) for n, d in global_called), drawable))
    except (OSError, ValueError, KeyError, TypeError):
        return
    for bytecode, verdicts in loaded.items():
        _VERDICTS.setdefault(bytecode, []).extend(verdicts)
    _STORED["count"] = sum(map(len, _VERDICTS.values()))


def _load_fonts() -> None:
    """Read the whole fonts known from earlier builds (a file of its own,
    small: a build whose fonts are all known reads no verdicts at all)."""
    _STORED["fonts_loaded"] = True
    try:
        stored = _read_cache("fonts")
        clean = {bytes.fromhex(digest) for digest in stored["clean"]}
        repaired = {bytes.fromhex(digest): {int(n): bytes.fromhex(outline) for n, outline in redrawn}
                    for digest, redrawn in stored["repaired"]}
    except (OSError, ValueError, KeyError, TypeError):
        return
    if any(len(digest) != 32 for digest in (*clean, *repaired)) or not all(repaired.values()):
        return
    _CLEAN_SUBSETS.update(clean)
    _REPAIRED_SUBSETS.update(repaired)


def _read_cache(kind: str) -> Any:
    import json

    path = _cache_file(kind)
    if path is None:
        raise OSError("no cache folder")
    return json.loads(path.read_text(encoding="utf-8"))


def remember_verdicts() -> None:
    """Keep this process's verdicts and whole fonts for the next build (best
    effort): those this build used first, then older ones, up to a cap."""
    import json

    with _VERDICTS_LOCK:
        verdicts = fonts = None
        if _STORED["drawn"]:
            everything = [(b, v) for b, found in _VERDICTS.items() for v in found]
            everything.sort(key=lambda entry: entry[1] not in _USED)  # stable: used ones first
            everything = everything[:_KEPT_AT_MOST]
            verdicts = {"verdicts": [
                [b.hex(), v.local_count, v.global_count, [[n, d.hex()] for n, d in v.local_called],
                 [[n, d.hex()] for n, d in v.global_called], v.drawable] for b, v in everything]}
            _STORED["count"], _STORED["drawn"] = len(everything), 0
        if _STORED.get("fonts_learnt"):
            clean = sorted(_CLEAN_SUBSETS, key=lambda digest: digest not in _USED_SUBSETS)
            repaired = sorted(_REPAIRED_SUBSETS.items(), key=lambda entry: entry[0] not in _USED_SUBSETS)
            fonts = {"clean": [digest.hex() for digest in clean[:_KEPT_AT_MOST]],
                     "repaired": [[digest.hex(), [[n, outline.hex()] for n, outline in redrawn.items()]]
                                  for digest, redrawn in repaired[:_KEPT_AT_MOST]]}
            _STORED["fonts_learnt"] = 0
    for kind, data in (("verdicts", verdicts), ("fonts", fonts)):
        if data is not None:
            files.write_cache(_cache_file(kind), json.dumps(data, separators=(",", ":")).encode("utf-8"))


def _draw(bytecode: bytes, font_dict: FontDict, global_subrs: Index) -> _Verdict:
    from fontTools.misc.psCharStrings import T2CharString, T2OutlineExtractor
    from fontTools.pens.basePen import NullPen

    local = font_dict.subrs
    local.called, global_subrs.called = {}, {}
    extractor = T2OutlineExtractor(NullPen(), local, global_subrs,
                                   font_dict.nominalWidthX, font_dict.defaultWidthX)
    try:
        extractor.execute(T2CharString(bytecode=bytecode))
        drawable = True
    except Exception:  # noqa: BLE001 - a broken charstring fails in many ways inside fontTools
        drawable = False
    return _Verdict(len(local), len(global_subrs), tuple(local.called.items()),
                    tuple(global_subrs.called.items()), drawable)


# ---------------------------------------------------------------- repair

def _repair_cff(cff_data: bytes, font: Any, subset: bytes | None = None) -> tuple[bytes | None, int, list[str]]:
    """(new CFF bytes or None, glyphs redrawn, characters left broken).
    `subset` is the font's _font_digest: what is learnt about it is kept."""
    name = _font_name(font)
    try:
        cff = Cff(cff_data)
        known = _known_repair(subset) if subset else None
        if known is not None:  # repaired before: the same outlines, checked again unless known clean
            fixed, still = _checked_repair(cff, known)
            if fixed is not None and not still:
                return fixed, len(known), []
        bad = _undrawable(cff)
    except Exception:  # noqa: BLE001 - not even readable: none of its glyphs can be trusted
        return None, 0, [f"字体 {name} 无法读取"]
    if not bad:
        if subset:
            _remember_clean(subset)
        return None, 0, []
    texts = _texts(font, cff, bad)
    redrawn = {n: outline for n in bad if (outline := _redraw(name, cff, n, texts[n])) is not None}
    fixed, still = _checked_repair(cff, redrawn, bad) if redrawn else (None, [])
    if fixed is None:
        still = bad
    elif not still and subset:
        _remember_repair(subset, redrawn)
    if spoilt := [n for n in still if n not in texts]:  # drawn before the repair
        texts.update(_texts(font, cff, spoilt))
    lost = [texts.get(n) or f"{name} 的第 {n} 个字形" for n in still]
    return (None if still else fixed), (0 if still else len(redrawn)), lost


def _checked_repair(cff: Cff, redrawn: dict[int, bytes],
                    bad: list[int] | None = None) -> tuple[bytes | None, list[int]]:
    """The font with some outlines redrawn (None if that failed), and its
    glyphs that still do not draw.  A result with the bytes of a font
    checked clean before is clean.  Given `bad`, the glyphs of `cff` that
    did not draw, only the outlines that changed are drawn again, if
    nothing else a drawing depends on changed (`_changed_outlines`): the
    others draw as they did."""
    fixed = _with_charstrings(cff, redrawn)
    if fixed is None:
        return None, []
    repaired = _font_digest(fixed)
    if _known_clean(repaired):
        return fixed, []
    try:
        after = Cff(fixed)
        if bad is None or (changed := _changed_outlines(cff, after)) is None:
            still = _undrawable(after)
        else:
            left = set(changed)
            still = sorted({*(n for n in bad if n not in left), *_undrawable(after, changed)})
    except Exception:  # noqa: BLE001 - a repair that does not even parse repaired nothing
        return None, []
    if not still:
        _remember_clean(repaired)
    return fixed, still


def _changed_outlines(before: Cff, after: Cff) -> list[int] | None:
    """The glyphs whose outlines differ between two fonts, or None if
    anything else drawing an outline depends on differs: the number of
    glyphs, the font DICT each uses (FDSelect), the global and each font
    DICT's local subroutines (their bytes, and so their count)."""
    if len(before.charstrings) != len(after.charstrings) or before.font_dict_of != after.font_dict_of \
            or len(before.font_dicts) != len(after.font_dicts) \
            or before.global_subrs.stored() != after.global_subrs.stored() \
            or any(old.subrs.stored() != new.subrs.stored()
                   for old, new in zip(before.font_dicts, after.font_dicts, strict=True)):
        return None
    old_outlines, new_outlines = before.charstrings.every_item(), after.charstrings.every_item()
    return [n for n, (old, new) in enumerate(zip(old_outlines, new_outlines, strict=True)) if old != new]


def _texts(font: Any, cff: Cff, numbers: list[int]) -> dict[int, str]:
    """The characters of some glyphs of the subset, from the ToUnicode map."""
    codes = cff.codes()
    to_unicode = _to_unicode(font, {codes[n] for n in numbers if n < len(codes)})
    return {n: to_unicode.get(codes[n], "") if n < len(codes) else "" for n in numbers}


def _font_name(font: Any) -> str:
    return _SUBSET_TAG.sub("", str(font.get("/BaseFont", "")).lstrip("/"))



def _to_unicode(font: Any, wanted: set[int] | None = None) -> dict[int, str]:
    """Character code → text of the font's ToUnicode map (only the `wanted` codes, if given)."""
    stream = font.get("/ToUnicode")
    if stream is None:
        return {}
    data = stream.read_bytes()
    found: dict[int, str] = {}
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.DOTALL):
        for first, last, target in _BFRANGE.findall(block):
            start = int(target, 16)
            for offset in range(int(last, 16) - int(first, 16) + 1):
                found[int(first, 16) + offset] = chr(start + offset)
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.DOTALL):
        for code, target in _BFCHAR.findall(block):
            number = int(code, 16)
            if wanted is None or number in wanted:
                found[number] = bytes.fromhex(target.decode()).decode("utf-16-be", "replace")
    return found


class _InstalledFont:
    """Outlines of an installed font, read in place: its CFF table and its
    cmap (format 12).  fontTools' own reader takes most of a second to open
    a CJK font's 65,535 glyphs; this takes a few milliseconds."""

    def __init__(self, path: str, index: int):
        tables = _sfnt_tables(path, index, (b"CFF ", b"cmap"))
        self.cff = Cff(tables[b"CFF "])
        self.groups = _cmap_groups(tables[b"cmap"])
        self.starts = [group[0] for group in self.groups]
        self.outlines: dict[tuple[str, float], bytes | None] = {}  # 如 is redrawn for nearly every chart

    def outline(self, char: str, nominal_width: float) -> bytes | None:
        """`charstring`, drawn once for the process."""
        key = (char, nominal_width)
        if key not in self.outlines:
            self.outlines[key] = self.charstring(char, nominal_width)
        return self.outlines[key]

    def glyph(self, char: str) -> int | None:
        import bisect

        at = bisect.bisect_right(self.starts, ord(char)) - 1
        if at < 0 or ord(char) > self.groups[at][1]:
            return None
        return self.groups[at][2] + ord(char) - self.groups[at][0]

    def charstring(self, char: str, nominal_width: float) -> bytes | None:
        """The outline of `char` as charstring bytes for a font whose
        nominalWidthX is `nominal_width`, without subroutines."""
        from fontTools.misc.psCharStrings import T2CharString, T2OutlineExtractor
        from fontTools.pens.recordingPen import RecordingPen
        from fontTools.pens.t2CharStringPen import T2CharStringPen

        number = self.glyph(char)
        if number is None or number >= len(self.cff.charstrings):
            return None
        font_dict = self.cff.font_dicts[self.cff.font_dict_of[number]]
        recording = RecordingPen()
        extractor = T2OutlineExtractor(recording, font_dict.subrs, self.cff.global_subrs,
                                       font_dict.nominalWidthX, font_dict.defaultWidthX)
        try:
            extractor.execute(T2CharString(bytecode=self.cff.charstrings.item(number)))
        except Exception:  # noqa: BLE001 - the installed font is broken too
            return None
        pen = T2CharStringPen(extractor.width - nominal_width, None)
        recording.replay(pen)
        charstring = pen.getCharString()
        charstring.compile()
        bytecode: bytes = charstring.bytecode
        return bytecode


def _cmap_groups(cmap: Bytes) -> list[tuple[int, int, int]]:
    """(first, last, first glyph) of the font's Unicode format 12 subtable."""
    tables = int.from_bytes(cmap[2:4], "big")
    for record in range(tables):
        at = 4 + 8 * record
        platform, encoding = int.from_bytes(cmap[at:at + 2], "big"), int.from_bytes(cmap[at + 2:at + 4], "big")
        offset = int.from_bytes(cmap[at + 4:at + 8], "big")
        if (platform, encoding) in ((3, 10), (0, 4), (0, 6)) and int.from_bytes(cmap[offset:offset + 2], "big") == 12:
            count = int.from_bytes(cmap[offset + 12:offset + 16], "big")
            return list(struct.iter_unpack(">III", cmap[offset + 16:offset + 16 + 12 * count]))
    return []


def _sfnt_tables(path: str, index: int, tags: tuple[bytes, ...]) -> dict[bytes, memoryview]:
    """Some tables of one font of a font file or collection (.ttc), mapped
    rather than read: a CJK font's CFF table is 15 MB, of which one outline
    is wanted."""
    import mmap

    with open(path, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    whole = memoryview(mapped)
    start = int.from_bytes(whole[12 + 4 * index:16 + 4 * index], "big") if bytes(whole[:4]) == b"ttcf" else 0
    count = int.from_bytes(whole[start + 4:start + 6], "big")
    found = {}
    for record in range(count):
        at = start + 12 + 16 * record
        tag, _, offset, length = struct.unpack(">4sIII", whole[at:at + 16])
        if tag in tags:
            found[tag] = whole[offset:offset + length]
    return found


_INSTALLED_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def _installed_font(postscript_name: str) -> _InstalledFont | None:
    """The installed font with this PostScript name, kept for the process."""
    fc_match = shutil.which("fc-match")
    if not fc_match or not postscript_name:
        return None
    try:
        done = subprocess.run([fc_match, "-f", "%{file}\n%{index}\n%{postscriptname}",
                               f":postscriptname={postscript_name}"],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                              check=False)  # a failed fc-match gives no matching name below
        path, index, found = done.stdout.split("\n")[:3]
        if found != postscript_name:
            return None
        return _InstalledFont(path, int(index or 0))
    except (OSError, ValueError, KeyError, IndexError, subprocess.SubprocessError):
        return None


def _redraw(font_name: str, cff: Cff, number: int, text: str) -> bytes | None:
    """The installed font's outline of the character `text`, as charstring
    bytes for glyph `number` of the subset (None if there is none)."""
    if len(text) != 1:
        return None
    with _INSTALLED_LOCK:
        source = _installed_font(font_name)
    if source is None:
        return None
    return source.outline(text, cff.font_dicts[cff.font_dict_of[number]].nominalWidthX)


def _with_charstrings(cff: Cff, replaced: dict[int, bytes]) -> bytes | None:
    """The CFF with some charstrings replaced.  The new CharStrings INDEX is
    appended and the Top DICT's offset to it patched in place (cairo writes
    offsets as 5-byte integers for this); None if it is stored otherwise."""
    data = bytes(cff.data)  # a PDF's font: already bytes, so not copied
    operand = operand_at(data, cff.top_start, CHARSTRINGS)
    if operand is None:
        return None
    index = cff.charstrings
    stored = index.offsets()
    # the unchanged runs of charstrings are copied as they are, their offsets shifted
    offsets: list[int] = []
    body: list[bytes] = []
    shift, start = 1 - stored[0], 0
    for number in sorted(n for n, item in replaced.items() if item and 0 <= n < index.count):
        offsets += [offset + shift for offset in stored[start:number + 1]]
        body += (data[index.base + stored[start]:index.base + stored[number]], replaced[number])
        shift += len(replaced[number]) - (stored[number + 1] - stored[number])
        start = number + 1
    offsets += [offset + shift for offset in stored[start:]]
    body.append(data[index.base + stored[start]:index.base + stored[-1]])
    appended = index.count.to_bytes(2, "big") + bytes([4]) + struct.pack(f">{len(offsets)}I", *offsets) + b"".join(body)
    return data[:operand] + bytes([29]) + len(data).to_bytes(4, "big") + data[operand + 5:] + appended
