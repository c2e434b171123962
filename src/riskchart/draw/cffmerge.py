"""One CFF font from many subsets of the same font, as cairo writes them.

cairo 1.16 subsets a CID-keyed CFF font (Noto Sans CJK) by keeping every
subroutine's number: an unused subroutine becomes a bare `return`, so the
same subroutine has the same number and bytes in every subset of one
font.  The subsets of a booklet's pages can therefore be joined without
interpreting a single outline: the union of their subroutines (number by
number), their font dicts (by name), and every distinct glyph (its font
dict and charstring bytes).  What is not as expected raises NotMergeable,
and the caller keeps the fonts as they are.
"""

from __future__ import annotations

import array
import itertools
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .cffread import Bytes, Index, charset, fd_select, read_dict

_STUB = b"\x0b"  # `return`: what cairo leaves of a subroutine the subset does not use
_NOT_STUB = re.compile(rb"[^\x0b]")
_STANDARD_STRINGS = 391  # SIDs below this are CFF's standard strings
_CHARSET, _CHARSTRINGS, _PRIVATE, _SUBRS = 15, 17, 18, 19
_ROS, _CID_COUNT, _FDARRAY, _FDSELECT, _FONT_NAME = (12, 30), (12, 34), (12, 36), (12, 37), (12, 38)

Operator = int | tuple[int, int]
_OFFSETS: tuple[Operator, ...] = (_CHARSET, _FDSELECT, _CHARSTRINGS, _FDARRAY)  # the Top DICT's, in laid_out


class NotMergeable(Exception):
    """The subsets are not the kind this module knows how to join."""


# A glyph: (its font dict's name, its charstring).  Equal glyphs are one (a
# plain tuple: made, hashed and compared in C, for the thousands of a booklet).
Glyph = tuple[str, bytes]


@dataclass(frozen=True)
class _Subroutines:
    count: int
    used: dict[int, bytes]  # by number; the others are stubs


@dataclass
class _FontDict:
    tokens: list[tuple[Operator, bytes]]  # the FD dict as written, operator by operator
    private: bytes                        # its Private DICT as written, but for the offset of its Subrs
    subrs: _Subroutines


@dataclass
class Subset:
    """One embedded subset, read: its glyphs by code (= CID, Identity-H).
    Its subroutines are read only when asked for (`subroutines`): most of
    the work, and not needed when every glyph of it was seen before."""
    name: bytes
    top: list[tuple[Operator, bytes]]
    strings: list[bytes]
    font_dicts: dict[str, _FontDict]  # with the number of their subroutines, not yet which are used
    data: Bytes
    subrs_at: dict[str, int]  # where each INDEX of subroutines starts: "" the global one, else by font dict
    glyphs: dict[int, Glyph] = field(default_factory=dict)
    kept: dict[str, _Subroutines] | None = None  # the subroutines, when read before (a subset from `Parts`)

    def subroutines(self, name: str) -> _Subroutines:
        """The used global ("") or font dict's subroutines."""
        if self.kept is not None:
            return self.kept.get(name, _Subroutines(0, {}))
        if name not in self.subrs_at:
            return _Subroutines(0, {})
        return _subroutines(Index(self.data, self.subrs_at[name]))

    def subroutine_count(self, name: str) -> int:
        if self.kept is not None:
            return self.kept[name].count if name in self.kept else 0
        return Index(self.data, self.subrs_at[name]).count if name in self.subrs_at else 0


@dataclass(frozen=True)
class Parts:
    """A subset as plain values, all that joining it needs (kept in a cache
    by pageprep.py, so that a booklet made again need not read the font)."""
    name: bytes
    top: bytes                                  # the Top DICT as written
    strings: list[bytes]
    font_dicts: list[tuple[str, bytes, bytes]]  # name, FD DICT and Private DICT (its Subrs offset 0) as written
    subroutines: dict[str, tuple[int, dict[int, bytes]]]  # "" global, else by font dict: count, the used ones
    glyphs: dict[int, Glyph]                    # by code (= CID)


def parts(subset: Subset) -> Parts:
    """The subset as plain values, its subroutines read."""
    return Parts(subset.name, b"".join(raw for _, raw in subset.top), subset.strings,
                 [(name, b"".join(raw for _, raw in d.tokens), d.private) for name, d in subset.font_dicts.items()],
                 {name: (s.count, s.used) for name in ("", *subset.font_dicts)
                  for s in (subset.subroutines(name),)}, subset.glyphs)


def from_parts(kept: Parts) -> Subset:
    """The subset `parts` gave; NotMergeable if it cannot be one."""
    try:
        top = _tokens(kept.top, 0, len(kept.top))
        font_dicts = {name: _FontDict(_tokens(tokens, 0, len(tokens)), private, _Subroutines(0, {}))
                      for name, tokens, private in kept.font_dicts}
    except (IndexError, ValueError) as problem:
        raise NotMergeable(f"无法读取：{problem}") from None
    if 0 not in kept.glyphs or len(font_dicts) != len(kept.font_dicts) \
            or not {font_dict for font_dict, _ in kept.glyphs.values()} <= font_dicts.keys() \
            or not kept.subroutines.keys() <= {"", *font_dicts} \
            or any(used and not 0 <= min(used) <= max(used) < count for count, used in kept.subroutines.values()):
        raise NotMergeable("不是完整的子集")
    # Parts are not changed, and neither is a Subset: its values are shared, not copied
    return Subset(kept.name, top, kept.strings, font_dicts, b"", {}, kept.glyphs,
                  {name: _Subroutines(count, used) for name, (count, used) in kept.subroutines.items()})


def read_subset(data: Bytes) -> Subset:
    """A CID-keyed CFF subset; NotMergeable if it is another kind."""
    try:
        if data[0] != 1:
            raise NotMergeable("CFF 版本")
        names = Index(data, data[2])
        tops = Index(data, names.end)
        top_start, top_end = tops.base + tops._offset(0), tops.base + tops._offset(1)
        top = read_dict(data, top_start, top_end)
        strings_index = Index(data, tops.end)
        strings = [strings_index.item(n) for n in range(len(strings_index))]
        if not {_ROS, _FDARRAY, _FDSELECT, _CHARSET, _CHARSTRINGS} <= top.keys() or len(names) != 1:
            raise NotMergeable("不是 CID 字体")
        charstrings = Index(data, int(top[_CHARSTRINGS][-1]))
        dicts = Index(data, int(top[_FDARRAY][-1]))
        by_number = []
        subrs_at = {"": strings_index.end}
        for number in range(len(dicts)):
            start, end = dicts.base + dicts._offset(number), dicts.base + dicts._offset(number + 1)
            tokens = _tokens(data, start, end)
            operands = read_dict(data, start, end)
            size, offset = (int(v) for v in operands[_PRIVATE])
            private = read_dict(data, offset, offset + size)
            name = _string(strings, int(operands[_FONT_NAME][-1]))
            if _SUBRS in private:
                subrs_at[name] = offset + int(private[_SUBRS][-1])
            private_bytes = _rebuilt(_tokens(data, offset, offset + size), {_SUBRS: [0]})
            by_number.append((name, _FontDict(tokens, private_bytes, _Subroutines(0, {}))))
        subset = Subset(names.item(0), _tokens(data, top_start, top_end), strings, dict(by_number), data, subrs_at)
        if len(subset.font_dicts) != len(by_number):
            raise NotMergeable("字体字典重名")
        chosen = fd_select(data, int(top[_FDSELECT][-1]), len(charstrings))
        codes = charset(data, int(top[_CHARSET][-1]), len(charstrings))
        for number, (code, outline) in enumerate(zip(codes, _items(charstrings), strict=True)):
            subset.glyphs[code] = (by_number[chosen[number]][0], outline)
        return subset
    except (IndexError, KeyError, ValueError) as problem:
        raise NotMergeable(f"无法读取：{problem}") from None


class Joined:
    """The subsets of one font joined so far: what the joined font needs of
    them, each thing kept once (the pages of a long booklet share a few
    thousand glyphs and subroutines; no page's copy is kept)."""

    def __init__(self, first: Subset):
        self.name, self.top, self.strings = first.name, first.top, first.strings
        self.notdef = first.glyphs[0]
        self.global_subrs = _Subroutines(first.subroutine_count(""), {})
        self.font_dicts: dict[str, _FontDict] = {}
        self.known: set[Glyph] = set()
        self.add(first)

    def add(self, subset: Subset) -> None:
        """Join a subset of the same font; NotMergeable if it does not fit.
        A subset keeps the subroutines its glyphs call, and the same glyph
        calls the same ones in every subset: if each of its glyphs was
        joined before, so were the subroutines, and they are not read."""
        for name, font_dict in subset.font_dicts.items():
            mine = self.font_dicts.setdefault(name, _FontDict(font_dict.tokens, font_dict.private,
                                                              _Subroutines(subset.subroutine_count(name), {})))
            if mine.private != font_dict.private:
                raise NotMergeable(f"字体字典 {name} 不一致")
        new = [glyph for glyph in subset.glyphs.values() if glyph not in self.known]
        if not new:
            return
        _join(self.global_subrs, subset.subroutines(""))
        for name in subset.font_dicts:
            _join(self.font_dicts[name].subrs, subset.subroutines(name))
        self.known.update(new)

    def font(self, glyphs: Iterable[Glyph]) -> bytes:
        """The CFF font with `glyphs` as CIDs 1, 2, … (CID 0: the first
        subset's .notdef), every subroutine a subset used, and the first
        subset's Top DICT and strings.  Laid out as cairo does: header,
        names, Top DICT, strings, global subroutines, charset, FDSelect,
        CharStrings, FDArray, then each font dict's Private DICT followed by
        its subroutines."""
        chosen = [self.notdef, *glyphs]
        names = list(dict.fromkeys(font_dict for font_dict, _ in chosen))
        font_dicts = [self.font_dicts[name] for name in names]
        strings = self.strings + [n.encode() for n in names if n.encode() not in self.strings]
        privates = []
        for font_dict in font_dicts:
            # its Subrs operand is a 5-byte integer (read_subset): the offset does not change the length
            private = _rebuilt(_tokens(font_dict.private, 0, len(font_dict.private)), {_SUBRS: [len(font_dict.private)]})
            privates.append((private, _index(_items_of(font_dict.subrs)) if font_dict.subrs.count else b""))
        cids = len(chosen)
        before_top = bytes([1, 0, 4, 4]) + _index([self.name])
        after_top = _index(strings) + _index(_items_of(self.global_subrs))
        charset = bytes([2]) + (1).to_bytes(2, "big") + (cids - 2).to_bytes(2, "big") if cids > 1 else bytes([0])
        fd_select = bytes([0]) + bytes(names.index(font_dict) for font_dict, _ in chosen)
        charstrings = _index([charstring for _, charstring in chosen])
        written = {operator for operator, _ in self.top}

        def top_dict(offsets: dict[Operator, list[int]]) -> bytes:
            values = {**offsets, _CID_COUNT: [cids]}
            return _index([_rebuilt(self.top, values)
                           + b"".join(_encoded(o, v) for o, v in values.items() if o not in written)])

        def fd_dict(number: int, private_size: int, private_offset: int) -> bytes:
            return _fd_dict(font_dicts[number], strings.index(names[number].encode()), private_size, private_offset)

        return laid_out(before_top, top_dict, after_top, charset, fd_select, charstrings, fd_dict, privates)


def laid_out(before_top: bytes, top_dict: Callable[[dict[Operator, list[int]]], bytes], after_top: bytes,
             charset: bytes, fd_select: bytes, charstrings: bytes, fd_dict: Callable[[int, int, int], bytes],
             privates: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A CID-keyed CFF font from its parts, laid out as cairo does: header
    and names (`before_top`), the Top DICT (`top_dict` of its offsets to
    charset, FDSelect, CharStrings and FDArray), strings and global
    subroutines (`after_top`), charset, FDSelect, CharStrings, the FDArray
    (`fd_dict` of each font dict's number and its Private DICT's size and
    offset), then each Private DICT followed by its subroutines
    (`privates`).  Every offset is a 5-byte integer (_rebuilt): the DICTs'
    lengths are known before their offsets."""
    charset_at = len(before_top) + len(top_dict({offset: [0] for offset in _OFFSETS})) + len(after_top)
    fd_select_at = charset_at + len(charset)
    charstrings_at = fd_select_at + len(fd_select)
    fd_array_at = charstrings_at + len(charstrings)
    private_at = fd_array_at + len(_index([fd_dict(number, 0, 0) for number in range(len(privates))]))
    fd_array = []
    for number, (private, subroutines) in enumerate(privates):
        fd_array.append(fd_dict(number, len(private), private_at))
        private_at += len(private) + len(subroutines)
    offsets = dict(zip(_OFFSETS, ([charset_at], [fd_select_at], [charstrings_at], [fd_array_at]), strict=True))
    return (before_top + top_dict(offsets) + after_top + charset + fd_select + charstrings + _index(fd_array)
            + b"".join(private + subroutines for private, subroutines in privates))


def _fd_dict(font_dict: _FontDict, name_sid: int, private_size: int, private_offset: int) -> bytes:
    values: dict[Operator, list[int]] = {_FONT_NAME: [_STANDARD_STRINGS + name_sid],
                                         _PRIVATE: [private_size, private_offset]}
    return _rebuilt(font_dict.tokens, values)


def _string(strings: list[bytes], sid: int) -> str:
    if sid < _STANDARD_STRINGS:
        raise NotMergeable("字体字典没有自己的名字")
    return strings[sid - _STANDARD_STRINGS].decode("latin-1")


def _join(joined: _Subroutines, subrs: _Subroutines) -> None:
    """Add a subset's used subroutines to those joined so far (same numbers, same bytes)."""
    if subrs.count != joined.count:
        raise NotMergeable("子程序数目不同")
    for number, item in subrs.used.items():
        if joined.used.setdefault(number, item) != item:
            raise NotMergeable(f"第 {number} 个子程序不同")


def _items_of(subrs: _Subroutines) -> list[bytes]:
    items = [_STUB] * subrs.count  # tens of thousands, a few thousand of them used
    for number, item in subrs.used.items():
        items[number] = item
    return items


def _subroutines(index: Index) -> _Subroutines:
    """The used items of a subroutine INDEX.  Most of its tens of thousands
    are stubs, one `return` byte each, so a run of n stubs is a run of n
    such bytes: found by searching the bytes, not by a step per stub."""
    count = index.count
    if count == 0:
        return _Subroutines(0, {})
    offsets = _offsets(index)
    first = offsets[0]
    region = bytes(index.data[index.base + first:index.base + offsets[count]])
    used: dict[int, bytes] = {}
    at = 0
    while at < count:
        start = offsets[at] - first
        found = _NOT_STUB.search(region, start)
        stop = at + ((found.start() if found else len(region)) - start)
        if stop > count or offsets[stop] - first != start + stop - at:
            raise NotMergeable("子程序的长度不合常规")
        if stop < count:
            used[stop] = region[offsets[stop] - first:offsets[stop + 1] - first]
        at = stop + 1
    return _Subroutines(count, used)


def _items(index: Index) -> list[bytes]:
    offsets = _offsets(index)
    region = bytes(index.data[index.base + offsets[0]:index.base + offsets[-1]])
    first = offsets[0]
    return [region[start - first:end - first] for start, end in itertools.pairwise(offsets)]


def _offsets(index: Index) -> array.array[int]:
    """The INDEX's offsets, decoded in bulk."""
    size, count = index.size, index.count + 1
    raw = bytes(index.data[index.first:index.first + count * size])
    padded = bytearray(4 * count)
    for byte in range(size):
        padded[4 - size + byte::4] = raw[byte::size]
    offsets = array.array("I")
    if offsets.itemsize != 4:
        offsets = array.array("L")
    offsets.frombytes(bytes(padded))
    if sys.byteorder == "little":
        offsets.byteswap()
    return offsets


def _tokens(data: Bytes, at: int, end: int) -> list[tuple[Operator, bytes]]:
    """A DICT as (operator, its operands and operator as written)."""
    found: list[tuple[Operator, bytes]] = []
    start = at
    while at < end:
        byte = data[at]
        if byte <= 21:
            operator: Operator = (12, data[at + 1]) if byte == 12 else byte
            at += 2 if byte == 12 else 1
            found.append((operator, bytes(data[start:at])))
            start = at
        elif byte == 30:
            at += 1
            while at < end and (data[at] & 0x0F) != 0x0F and (data[at] >> 4) != 0x0F:
                at += 1
            at += 1
        else:
            at += {28: 3, 29: 5}.get(byte, 2 if 247 <= byte <= 254 else 1)
    if start != end:
        raise NotMergeable("DICT 不完整")
    return found


def _rebuilt(tokens: list[tuple[Operator, bytes]], values: dict[Operator, list[int]]) -> bytes:
    """The DICT with some operators' operands replaced (as 5-byte integers,
    so its length does not depend on them)."""
    return b"".join(_encoded(operator, values[operator]) if operator in values else raw for operator, raw in tokens)


def _encoded(operator: Operator, operands: list[int]) -> bytes:
    code = bytes([12, operator[1]]) if isinstance(operator, tuple) else bytes([operator])
    return b"".join(b"\x1d" + value.to_bytes(4, "big", signed=True) for value in operands) + code


def _index(items: list[bytes]) -> bytes:
    """A CFF INDEX; its offsets are encoded in bulk (a subroutine INDEX has
    tens of thousands of them)."""
    if not items:
        return b"\0\0"
    offsets = array.array("I", [1])
    offsets.extend(itertools.accumulate(map(len, items), initial=1))
    del offsets[0]
    size = 1 if offsets[-1] < 1 << 8 else 2 if offsets[-1] < 1 << 16 else 3 if offsets[-1] < 1 << 24 else 4
    if sys.byteorder == "little":
        offsets.byteswap()
    wide = offsets.tobytes()
    narrow = bytearray(size * len(offsets))
    for byte in range(size):
        narrow[byte::size] = wide[4 - size + byte::4]
    return len(items).to_bytes(2, "big") + bytes([size]) + bytes(narrow) + b"".join(items)
