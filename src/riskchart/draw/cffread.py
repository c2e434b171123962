"""CFF fonts read in place, from their offsets (glyphs.py checks and
repairs the subsets cairo embeds; cffmerge.py joins a booklet's).

fontTools' own reader would first read every offset of INDEXes holding tens
of thousands of subroutines, and rewriting a subset through it takes a
second: here an INDEX's items are sliced out of the font's bytes when
first asked for, and the DICTs are read operator by operator.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

# Top DICT operators (escaped ones as (12, n)).
CHARSET, CHARSTRINGS, PRIVATE, SUBRS = 15, 17, 18, 19
DEFAULT_WIDTH, NOMINAL_WIDTH = 20, 21
ROS, FDARRAY, FDSELECT = (12, 30), (12, 36), (12, 37)

Bytes = bytes | memoryview  # a font in the PDF, or an installed font's table mapped in place
OFFSET_CODES = {1: "B", 2: "H", 4: "I"}  # struct's codes for an INDEX's offset sizes
_OFFSET_PAIRS = {size: struct.Struct(f">2{code}") for size, code in OFFSET_CODES.items()}


class Items(dict[int, bytes]):
    """An INDEX's items by number, each read when first asked for: a dict,
    so that the subroutines many outlines call are compared at C speed
    (`holds_for`).  It holds the INDEX's bytes, not the INDEX: no cycle
    keeps a font's bytes alive after its last use."""

    def __init__(self, data: Bytes, first: int, base: int, size: int, count: int):
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


class Index:
    """A CFF INDEX read in place; `called` notes the items a drawing used."""

    def __init__(self, data: Bytes, start: int):
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
        self.items = Items(data, self.first, self.base, self.size, self.count)

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
        return list(struct.unpack(f">{self.count + 1}{OFFSET_CODES[size]}", stored))

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


class FontDict:
    """What drawing needs from a Private DICT: widths and local subroutines."""

    def __init__(self, data: Bytes, private: list[float] | None):
        operands: dict[int | tuple[int, int], list[float]] = {}
        start = 0
        if private and len(private) == 2:
            size, start = int(private[0]), int(private[1])
            operands = read_dict(data, start, start + size)
        self.nominalWidthX = operands.get(NOMINAL_WIDTH, [0])[-1]
        self.defaultWidthX = operands.get(DEFAULT_WIDTH, [0])[-1]
        self.subrs = Index(data, start + int(operands[SUBRS][-1])) if SUBRS in operands else Index(b"\0\0", 0)


class Cff:
    """One CFF font (the first of its FontSet), as cairo embeds it."""

    def __init__(self, data: Bytes):
        self.data = data
        names = Index(data, data[2])
        tops = Index(data, names.end)
        self.top_start = tops.base + tops._offset(0)
        self.top = read_dict(data, self.top_start, tops.base + tops._offset(1))
        strings = Index(data, tops.end)
        self.global_subrs = Index(data, strings.end)
        self.charstrings = Index(data, int(self.top[CHARSTRINGS][-1]))
        self.cid_keyed = ROS in self.top
        if FDARRAY in self.top:
            dicts = Index(data, int(self.top[FDARRAY][-1]))
            self.font_dicts = [FontDict(data, read_dict(data, dicts.base + dicts._offset(i),
                                                     dicts.base + dicts._offset(i + 1)).get(PRIVATE))
                               for i in range(len(dicts))]
            self.font_dict_of = fd_select(data, int(self.top[FDSELECT][-1]), len(self.charstrings))
        else:
            self.font_dicts = [FontDict(data, self.top.get(PRIVATE))]
            self.font_dict_of = [0] * len(self.charstrings)

    def codes(self) -> list[int]:
        """The character code of each glyph: its CID in a CID-keyed font
        (cairo writes Identity-H, so the code is the CID), else its index."""
        if not self.cid_keyed or CHARSET not in self.top:
            return list(range(len(self.charstrings)))
        return charset(self.data, int(self.top[CHARSET][-1]), len(self.charstrings))


def read_dict(data: Bytes, at: int, end: int) -> dict[int | tuple[int, int], list[float]]:
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


def operand_at(data: Bytes, start: int, operator: int | tuple[int, int]) -> int | None:
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


def fd_select(data: Bytes, at: int, glyphs: int) -> list[int]:
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


def charset(data: Bytes, at: int, glyphs: int) -> list[int]:
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
