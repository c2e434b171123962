"""Every glyph a PDF carries must draw.

cairo 1.16 (Debian 12) writes a broken CFF outline for 如 when it subsets
Noto Sans CJK SC Regular: the text extracts, yet every viewer draws a
blank.  After dot writes a PDF, each outline of each embedded CFF subset is
drawn with fontTools' charstring interpreter; an outline that cannot be
drawn is redrawn from the installed font, found through the PDF's
ToUnicode map and the font's cmap.  What cannot be repaired is reported by
character, so the chart fails instead of printing a blank.

The CFF structures are read in place, from their offsets: fontTools' own
reader would first read every offset of INDEXes holding tens of
thousands of subroutines, and rewriting a subset through it takes a second.
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

_SUBSET_TAG = re.compile(r"^[A-Z]{6}\+")
_BFCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
_BFRANGE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
# Top DICT operators (escaped ones as (12, n)).
_CHARSET, _CHARSTRINGS, _PRIVATE, _SUBRS = 15, 17, 18, 19
_DEFAULT_WIDTH, _NOMINAL_WIDTH = 20, 21
_ROS, _FDARRAY, _FDSELECT = (12, 30), (12, 36), (12, 37)


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


# ---------------------------------------------------------------- CFF, in place

_Bytes = bytes | memoryview  # a font in the PDF, or an installed font's table mapped in place
_OFFSET_CODES = {1: "B", 2: "H", 4: "I"}  # struct's codes for an INDEX's offset sizes
_OFFSET_PAIRS = {size: struct.Struct(f">2{code}") for size, code in _OFFSET_CODES.items()}


class _Items(dict[int, bytes]):
    """An INDEX's items by number, each read when first asked for: a dict,
    so that the subroutines many outlines call are compared at C speed
    (`holds_for`).  It holds the INDEX's bytes, not the INDEX: no cycle
    keeps a font's bytes alive after its last use."""

    def __init__(self, data: _Bytes, first: int, base: int, size: int, count: int):
        super().__init__()
        self.data, self.first, self.base, self.size, self.count = data, first, base, size, count

    def __missing__(self, number: int) -> bytes:
        found = self[number] = self.read(number)
        return found

    def read(self, number: int) -> bytes:
        if not 0 <= number < self.count:
            raise IndexError(number)
        at = self.first + number * self.size
        pair = _OFFSET_PAIRS.get(self.size)
        if pair is None:
            start = int.from_bytes(self.data[at:at + self.size], "big")
            end = int.from_bytes(self.data[at + self.size:at + 2 * self.size], "big")
        else:
            start, end = pair.unpack_from(self.data, at)
        return bytes(self.data[self.base + start:self.base + end])


class _Index:
    """A CFF INDEX read in place; `called` notes the items a drawing used."""

    def __init__(self, data: _Bytes, start: int):
        self.data = data
        self.start = start
        self.called: dict[int, bytes] = {}
        self.count = int.from_bytes(data[start:start + 2], "big")
        if self.count == 0:
            self.size, self.first, self.base, self.end = 1, start + 2, start + 1, start + 2
        else:
            self.size = data[start + 2]
            self.first = start + 3
            self.base = self.first + (self.count + 1) * self.size - 1
            self.end = self.base + self._offset(self.count)
        # the same subroutines are compared for many outlines
        self.items = _Items(data, self.first, self.base, self.size, self.count)

    def _offset(self, number: int) -> int:
        at = self.first + number * self.size
        return int.from_bytes(self.data[at:at + self.size], "big")

    def __len__(self) -> int:
        return self.count

    def stored(self) -> bytes:
        """The whole INDEX as stored: count, offsets and items."""
        return bytes(self.data[self.start:self.end])

    def offsets(self) -> list[int]:
        """Every item's offset and the end's, as stored (from `base`), read at once."""
        if self.count == 0:
            return [1]
        stored, size = bytes(self.data[self.first:self.first + (self.count + 1) * self.size]), self.size
        if size == 3:  # no struct code for 3 bytes: widen to 4
            widened = bytearray(4 * (self.count + 1))
            for byte in range(3):
                widened[byte + 1::4] = stored[byte::3]
            stored, size = bytes(widened), 4
        return list(struct.unpack(f">{self.count + 1}{_OFFSET_CODES[size]}", stored))

    def every_item(self) -> list[bytes]:
        """Every item, read at once (an outline each, for the CharStrings)."""
        stored, data, base = self.offsets(), self.data, self.base
        return [bytes(data[base + start:base + end]) for start, end in itertools.pairwise(stored)]

    def item(self, number: int) -> bytes:
        return self.items[number]

    def each(self, numbers: list[int]) -> list[bytes] | None:
        """The items `numbers` (None if one does not exist), those not read
        before read in one pass."""
        items = self.items
        missing = list(set(numbers).difference(items))
        if missing and (min(missing) < 0 or max(missing) >= self.count):
            return None
        pair = _OFFSET_PAIRS.get(self.size)
        if pair is None:
            items.update((number, items.read(number)) for number in missing)
        else:
            data, base, first, size = self.data, self.base, self.first, self.size
            spans = [pair.unpack_from(data, first + number * size) for number in missing]
            items.update(zip(missing, [bytes(data[base + start:base + end]) for start, end in spans], strict=True))
        return list(map(items.__getitem__, numbers))

    def __getitem__(self, number: int) -> Any:  # a fontTools T2CharString
        """As a subroutine, for fontTools' interpreter."""
        from fontTools.misc.psCharStrings import T2CharString

        self.called[number] = self.item(number)
        return T2CharString(bytecode=self.called[number])


class _FontDict:
    """What drawing needs from a Private DICT: widths and local subroutines."""

    def __init__(self, data: _Bytes, private: list[float] | None):
        operands: dict[int | tuple[int, int], list[float]] = {}
        start = 0
        if private and len(private) == 2:
            size, start = int(private[0]), int(private[1])
            operands = _dict(data, start, start + size)
        self.nominalWidthX = operands.get(_NOMINAL_WIDTH, [0])[-1]
        self.defaultWidthX = operands.get(_DEFAULT_WIDTH, [0])[-1]
        self.subrs = _Index(data, start + int(operands[_SUBRS][-1])) if _SUBRS in operands else _Index(b"\0\0", 0)


class _Cff:
    """One CFF font (the first of its FontSet), as cairo embeds it."""

    def __init__(self, data: _Bytes):
        self.data = data
        names = _Index(data, data[2])
        tops = _Index(data, names.end)
        self.top_start = tops.base + tops._offset(0)
        self.top = _dict(data, self.top_start, tops.base + tops._offset(1))
        strings = _Index(data, tops.end)
        self.global_subrs = _Index(data, strings.end)
        self.charstrings = _Index(data, int(self.top[_CHARSTRINGS][-1]))
        self.cid_keyed = _ROS in self.top
        if _FDARRAY in self.top:
            dicts = _Index(data, int(self.top[_FDARRAY][-1]))
            self.font_dicts = [_FontDict(data, _dict(data, dicts.base + dicts._offset(i),
                                                     dicts.base + dicts._offset(i + 1)).get(_PRIVATE))
                               for i in range(len(dicts))]
            self.font_dict_of = _fd_select(data, int(self.top[_FDSELECT][-1]), len(self.charstrings))
        else:
            self.font_dicts = [_FontDict(data, self.top.get(_PRIVATE))]
            self.font_dict_of = [0] * len(self.charstrings)

    def codes(self) -> list[int]:
        """The character code of each glyph: its CID in a CID-keyed font
        (cairo writes Identity-H, so the code is the CID), else its index."""
        if not self.cid_keyed or _CHARSET not in self.top:
            return list(range(len(self.charstrings)))
        return _charset(self.data, int(self.top[_CHARSET][-1]), len(self.charstrings))


def _dict(data: _Bytes, at: int, end: int) -> dict[int | tuple[int, int], list[float]]:
    """Operator → operands of a CFF DICT."""
    found: dict[int | tuple[int, int], list[float]] = {}
    operands: list[float] = []
    while at < end:
        byte = data[at]
        if byte <= 21:
            operator = (12, data[at + 1]) if byte == 12 else byte
            found[operator] = operands
            operands = []
            at += 2 if byte == 12 else 1
        elif byte == 28:
            operands.append(int.from_bytes(data[at + 1:at + 3], "big", signed=True))
            at += 3
        elif byte == 29:
            operands.append(int.from_bytes(data[at + 1:at + 5], "big", signed=True))
            at += 5
        elif byte == 30:
            at += 1
            while at < end and (data[at] & 0x0F) != 0x0F and (data[at] >> 4) != 0x0F:
                at += 1
            at += 1
            operands.append(0.0)  # reals are never offsets or widths cairo writes
        elif byte >= 251:
            operands.append(-(byte - 251) * 256 - data[at + 1] - 108)
            at += 2
        elif byte >= 247:
            operands.append((byte - 247) * 256 + data[at + 1] + 108)
            at += 2
        else:
            operands.append(byte - 139)
            at += 1
    return found


def _operand_at(data: _Bytes, start: int, operator: int | tuple[int, int]) -> int | None:
    """Where the last operand of `operator` starts in the DICT at `start`,
    if it is a 5-byte integer (cairo writes offsets so, to patch them)."""
    at, operand = start, None
    while True:
        byte = data[at]
        if byte <= 21:
            if ((12, data[at + 1]) if byte == 12 else byte) == operator:
                return operand if operand is not None and data[operand] == 29 else None
            at, operand = at + (2 if byte == 12 else 1), None
            continue
        operand = at
        if byte == 30:
            at += 1
            while (data[at] & 0x0F) != 0x0F and (data[at] >> 4) != 0x0F:
                at += 1
            at += 1
        else:
            at += {28: 3, 29: 5}.get(byte, 2 if byte >= 247 else 1)


def _fd_select(data: _Bytes, at: int, glyphs: int) -> list[int]:
    if data[at] == 0:
        return list(data[at + 1:at + 1 + glyphs])
    if data[at] != 3:
        raise ValueError(f"FDSelect format {data[at]}")
    ranges = int.from_bytes(data[at + 1:at + 3], "big")
    chosen = [0] * glyphs
    for number in range(ranges):
        entry = at + 3 + 3 * number
        first = int.from_bytes(data[entry:entry + 2], "big")
        following = int.from_bytes(data[entry + 3:entry + 5], "big")
        chosen[first:following] = [data[entry + 2]] * (min(following, glyphs) - first)
    return chosen


def _charset(data: _Bytes, at: int, glyphs: int) -> list[int]:
    """The CID (or SID) of each glyph; glyph 0 is always 0."""
    kind, at, found = data[at], at + 1, [0]
    while len(found) < glyphs:
        first = int.from_bytes(data[at:at + 2], "big")
        if kind == 0:
            found.append(first)
            at += 2
            continue
        left = data[at + 2] if kind == 1 else int.from_bytes(data[at + 2:at + 4], "big")
        found.extend(range(first, first + left + 1))
        at += 3 if kind == 1 else 4
    return found[:glyphs]


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

    def holds_for(self, local: _Index, global_subrs: _Index) -> bool:
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
    return _undrawable(_Cff(cff_data))


def _undrawable(cff: _Cff, numbers: Iterable[int] | None = None) -> list[int]:
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


def _judged(cff: _Cff, number: int, bytecode: bytes, known: tuple[_Verdict, ...]) -> _Verdict:
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


def _held_at_once(cff: _Cff, known: dict[int, tuple[_Verdict, ...]]) -> dict[int, _Verdict]:
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


def _draw(bytecode: bytes, font_dict: _FontDict, global_subrs: _Index) -> _Verdict:
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
        cff = _Cff(cff_data)
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


def _checked_repair(cff: _Cff, redrawn: dict[int, bytes],
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
        after = _Cff(fixed)
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


def _changed_outlines(before: _Cff, after: _Cff) -> list[int] | None:
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


def _texts(font: Any, cff: _Cff, numbers: list[int]) -> dict[int, str]:
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
        self.cff = _Cff(tables[b"CFF "])
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


def _cmap_groups(cmap: _Bytes) -> list[tuple[int, int, int]]:
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


def _redraw(font_name: str, cff: _Cff, number: int, text: str) -> bytes | None:
    """The installed font's outline of the character `text`, as charstring
    bytes for glyph `number` of the subset (None if there is none)."""
    if len(text) != 1:
        return None
    with _INSTALLED_LOCK:
        source = _installed_font(font_name)
    if source is None:
        return None
    return source.outline(text, cff.font_dicts[cff.font_dict_of[number]].nominalWidthX)


def _with_charstrings(cff: _Cff, replaced: dict[int, bytes]) -> bytes | None:
    """The CFF with some charstrings replaced.  The new CharStrings INDEX is
    appended and the Top DICT's offset to it patched in place (cairo writes
    offsets as 5-byte integers for this); None if it is stored otherwise."""
    data = bytes(cff.data)  # a PDF's font: already bytes, so not copied
    operand = _operand_at(data, cff.top_start, _CHARSTRINGS)
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
