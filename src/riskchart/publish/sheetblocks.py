"""The register sheet's compressed XML in pieces a later register can copy.

The sheet is its head (up to the first chart's rows), each chart's rows as
compressed on their own (chartrows.py), and its tail: the filter, the
merged ranges and the print set-up.  The merged ranges name absolute rows,
so they cannot be kept with a chart's rows; at thousands of charts they are
megabytes of text, and formatting and compressing them took a quarter of a
second.  They are compressed in blocks of BLOCK charts' each, so that the
next register (splice.py) copies a block whose charts are the same and
start on the same row, and makes only the others.  The CRC-32 of the
sheet is combined block by block too (each block's rows' CRC is kept):
combining thousands of charts' CRCs one by one took a tenth of a second.

The whole register and a spliced one lay out the same pieces, so their
bytes are the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from . import sheetxml, tables
from .chartrows import ROW_PADDING, row_height
from .deflated import Deflated, crc_combine, deflate, zeros_shift

BLOCK = 64  # charts a block
FASTEST = 1  # what is made anew for every register is compressed at the fastest level
_MARK = "\x00"  # where the merged ranges go in the tail (XML holds no NUL)

Shape = tuple[int, str, Sequence[int]]  # a chart's rows, its merged runs' template, their rows (ChartRows')


@dataclass(frozen=True)
class Ends:
    """What is made anew for every sheet: its head, and its tail before and after the merged ranges."""
    head: Deflated
    before: Deflated
    after: Deflated


@dataclass(frozen=True)
class RowsCrc:
    """The CRC-32, size and zeros_shift of a block's rows."""
    crc: int
    size: int
    shift: int


def ends(widths: Sequence[float], last: int, count: int) -> Ends:
    """The sheet's ends for its last row `last` (the header's is 1) and `count` merged ranges."""
    columns = len(tables.REGISTER_COLUMNS)
    header = sheetxml.row([sheetxml.text_cell(name, sheetxml.HEADER_STYLE) for name in tables.REGISTER_COLUMNS],
                          row_height(1) + ROW_PADDING)
    head = sheetxml.sheet_head(columns - 1, max(1, last), widths, selected=True) + header
    filtered = f"A1:{sheetxml.column_name(columns - 1)}{max(2, last)}"  # the filter covers a row even when there is none
    tail = sheetxml.sheet_tail("风险点台账", filtered, sheetxml.merge_cells(count, _MARK))
    before, after = tail.split(_MARK) if count else (tail, "")
    return Ends(*(deflate(text.encode("utf-8"), FASTEST) for text in (head, before, after)))


def starts(rows: Sequence[int]) -> list[int]:
    """The first row of each chart (and after the last), the charts having `rows` rows each."""
    return list(itertools.accumulate(rows, initial=2))


def merge_block(shapes: Sequence[Shape], start: int) -> Deflated:
    """The merged ranges of a block's charts, the first starting on row `start`."""
    merged = []
    for rows, merges, merge_rows in shapes:
        if merge_rows:
            merged.append(merges % tuple(map(start.__add__, merge_rows)))
        start += rows
    return deflate("".join(merged).encode("utf-8"), FASTEST)


def rows_crc(pieces: Sequence[Deflated]) -> RowsCrc:
    """The CRC-32 of a block's rows from each chart's."""
    crc = size = 0
    for piece in pieces:
        crc = crc_combine(crc, piece.crc, piece.size, piece.shift)
        size += piece.size
    return RowsCrc(crc, size, zeros_shift(size))


def sheet(found: Ends, rows: Sequence[bytes | memoryview], crcs: Sequence[RowsCrc],
          merges: Sequence[Deflated]) -> Deflated:
    """The sheet from its ends, its charts' compressed rows (`rows`: one or
    many charts' each), their CRCs by block and the merged ranges by block."""
    crc, size = found.head.crc, found.head.size
    parts: list[RowsCrc | Deflated] = [*crcs, found.before, *merges, found.after]
    for part in parts:
        crc = crc_combine(crc, part.crc, part.size, part.shift)
        size += part.size
    data = b"".join([found.head.data, *rows, found.before.data, *(block.data for block in merges), found.after.data])
    return Deflated(data, crc, size)


def whole_sheet(widths: Sequence[float], shapes: Sequence[Shape],
                pieces: Sequence[Deflated]) -> tuple[Deflated, int, Ends, list[RowsCrc], list[Deflated]]:
    """The sheet of these charts (`pieces`: each chart's rows), its last
    row, and its pieces (the ends, each block's rows' CRC and merged ranges)."""
    first = starts([rows for rows, _, _ in shapes])
    count = sum(len(merge_rows) for _, _, merge_rows in shapes) // 2
    found = ends(widths, first[-1] - 1, count)
    blocks = range(0, len(shapes), BLOCK)
    crcs = [rows_crc(pieces[b:b + BLOCK]) for b in blocks]
    merges = [merge_block(shapes[b:b + BLOCK], first[b]) for b in blocks]
    return sheet(found, [piece.data for piece in pieces], crcs, merges), max(2, first[-1] - 1), found, crcs, merges
