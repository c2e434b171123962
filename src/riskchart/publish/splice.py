"""The register made from the last one: the unchanged charts' rows copied
as bytes out of the files the last build wrote.

At 4,000 charts, reading every chart's rows back from the row cache
(rowcache.py: 46 MB, sealed, a JSON index) took most of half a second of a
one-chart rebuild.  The last register already holds them, in order: its
layout (registerlayout.py) says where each chart's CSV lines and
compressed sheet rows are.  A build whose charts are mostly the layout's
(by key: changed, added, removed or moved charts are few) copies the
others' byte ranges, each run of charts that stand together in both as
one range, and makes only the new charts' rows; the sheet's head and tail
(row count, merged ranges with their absolute rows), the statistics
sheet, the rest of the workbook and the ZIP directory are made anew, as
the whole register makes them.  The result is byte for byte the register
made whole.

Only files that are provably the last build's are copied from: a regular
file, not through a link, with the stamp the layout recorded as it was put
in place.  Anything else (no layout, another version's or another user's,
other column widths, levels or categories, a level the layout does not
count, most charts changed) and the register is made whole (None).
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from ..check.schema import UNGRADED
from ..model import Chart, sort_key
from . import tables
from .chartrows import ChartCells, column_widths, make_rows
from .deflated import Deflated, crc_combine
from .names import REGISTER, REGISTER_XLSX
from .registerlayout import (
    CATEGORY,
    CODED,
    CSV_BYTES,
    DRAFT,
    EXITS,
    MERGE_ROWS,
    MERGES,
    NATURALS,
    ROWS,
    STEPS,
    XML_BYTES,
    XML_CRC,
    XML_SHIFT,
    XML_SIZE,
    RegisterLayout,
    Stamp,
    chart_numbers,
    read_layout,
)
from .rowcache import RowCache
from .xlsx import level_style_numbers, register_sheet, workbook

MOST_MADE = 16  # charts made anew, or an eighth of the register if more: beyond that, made whole (with the row cache)


def spliced_registers(charts: list[Chart], categories: tuple[str, ...], levels: tuple[str, ...], cache: RowCache,
                      out: Path, csv: BinaryIO) -> tuple[bytes, RegisterLayout] | None:
    """xlsx.laid_out_registers' workbook and layout, and the CSV into `csv`,
    spliced from the register in `out` (`cache`: for the charts' keys only);
    None, with nothing written, when it cannot be."""
    from .. import files

    old = read_layout(out / files.OUTPUT_CACHE)
    if old is None or old.stamps is None or old.levels != levels or old.categories != categories or not charts:
        return None
    in_order = sorted(charts, key=sort_key)
    keys = [cache.key(chart, levels) for chart in in_order]
    old_at = {key: n for n, key in enumerate(old.keys)}
    places = [old_at.get(key, -1) for key in keys]
    new = [n for n, place in enumerate(places) if place < 0]
    if len(new) > max(MOST_MADE, len(keys) // 8):
        return None
    width = old.width
    cells = {n: ChartCells.of(in_order[n]) for n in new}
    naturals = {n: cells[n].naturals() for n in new}
    if column_widths([_widest_kept(old, places), *naturals.values()]) != old.widths:
        return None  # the rows' heights change with the widths: every chart's rows are made again
    tallies = {n: tables.tally(in_order[n]) for n in new}
    if any(level not in old.counted for part in tallies.values() for level, _ in part.risks):
        return None
    csv_bytes, xml_bytes = _old_files(out, old)
    if csv_bytes is None or xml_bytes is None:
        return None
    csv_old, xml_old = memoryview(csv_bytes), memoryview(xml_bytes)  # ranges of them, not copies
    styles = level_style_numbers(levels)
    made = {n: make_rows(cells[n], old.widths, styles, naturals[n]) for n in new}
    chart_categories = list(old.chart_categories)
    merges = list(old.merges)
    numbers, merge_rows = array("q"), array("q")
    pieces: list[Deflated] = []
    csv_pieces: list[bytes | memoryview] = []
    csv_at = list(itertools.accumulate(old.numbers[CSV_BYTES::width], initial=len(tables.CSV_HEAD)))
    xml_at = list(itertools.accumulate(old.numbers[XML_BYTES::width], initial=0))
    merge_at = list(itertools.accumulate(old.numbers[MERGE_ROWS::width], initial=0))
    for first, last in _runs(places):
        if places[first] < 0:
            rows = made[first]
            category = _number(chart_categories, in_order[first].category)
            numbers.extend(chart_numbers(rows, category, _number(merges, rows.merges), tallies[first], old.counted))
            merge_rows.extend(rows.merge_rows)
            pieces.append(rows.xml)
            csv_pieces.append(rows.csv)
            continue
        begin, end = places[first], places[first] + last - first
        numbers.extend(old.numbers[begin * width:end * width])
        merge_rows.extend(old.merge_rows[merge_at[begin]:merge_at[end]])
        pieces.append(Deflated(bytes(xml_old[xml_at[begin]:xml_at[end]]), _crc(old, begin, end),
                               sum(old.numbers[XML_SIZE + begin * width:end * width:width])))
        csv_pieces.append(csv_old[csv_at[begin]:csv_at[end]])
    layout = RegisterLayout(levels, categories, old.widths, tuple(keys), tuple(chart_categories), old.counted,
                            tuple(merges), numbers, merge_rows, 0)
    sheet, last_row, head = register_sheet(old.widths, _shapes(layout), pieces)
    order = dict.fromkeys(chart.category for chart in charts)  # as tables.statistics meets them
    archive, sheet_at = workbook(levels, _statistics(layout, [*categories, *order]), sheet, last_row)
    csv.write(tables.CSV_HEAD)
    csv.writelines(csv_pieces)
    return archive, RegisterLayout(levels, categories, old.widths, tuple(keys), tuple(chart_categories), old.counted,
                                   tuple(merges), numbers, merge_rows, sheet_at + head)


def _runs(places: Sequence[int]) -> list[tuple[int, int]]:
    """The charts as runs [first, last): each new chart alone, and charts that
    stood one after the other in the last register together."""
    runs = []
    first = 0
    for n in range(1, len(places) + 1):
        if n == len(places) or places[n] < 0 or places[first] < 0 or places[n] != places[n - 1] + 1:
            runs.append((first, n))
            first = n
    return runs


def _widest_kept(layout: RegisterLayout, places: Sequence[int]) -> tuple[int, ...]:
    """Each column's widest line in the layout's charts that are kept (`places`: the kept charts' numbers)."""
    kept = [False] * len(layout.keys)
    for place in places:
        if place >= 0:
            kept[place] = True
    width, numbers = layout.width, layout.numbers
    everything = all(kept)
    return tuple(max(numbers[column::width] if everything else itertools.compress(numbers[column::width], kept),
                     default=0) for column in range(NATURALS, NATURALS + len(layout.widths)))


def _number(table: list[str], text: str) -> int:
    """The number of `text` in a layout's table, added at its end if new."""
    if text not in table:
        table.append(text)
    return table.index(text)


def _crc(layout: RegisterLayout, begin: int, end: int) -> int:
    """The CRC-32 of the charts' rows begin … end-1, from each chart's."""
    width, numbers = layout.width, layout.numbers
    crc = 0
    for at in range(begin * width, end * width, width):
        crc = crc_combine(crc, numbers[at + XML_CRC], numbers[at + XML_SIZE], numbers[at + XML_SHIFT])
    return crc


def _shapes(layout: RegisterLayout) -> list[tuple[int, str, Sequence[int]]]:
    """Each chart's rows, merged runs' template and their rows (xlsx.register_sheet)."""
    width, numbers, merge_rows = layout.width, layout.numbers, layout.merge_rows
    shapes: list[tuple[int, str, Sequence[int]]] = []
    at = 0
    for rows, merges, count in zip(numbers[ROWS::width], numbers[MERGES::width], numbers[MERGE_ROWS::width],
                                   strict=True):
        shapes.append((rows, layout.merges[merges], merge_rows[at:at + count]))
        at += count
    return shapes


def _statistics(layout: RegisterLayout, order: list[str]) -> tables.Statistics:
    """tables.statistics of the layout's charts, from their numbers
    (`order`: the categories in the order tables.statistics meets them)."""
    width, numbers = layout.width, layout.numbers
    columns = {field: numbers[field::width] for field in (CATEGORY, DRAFT, STEPS, CODED, EXITS)}
    first_level = NATURALS + len(layout.widths)
    risks = [numbers[first_level + n::width] for n in range(len(layout.counted))]

    def counts(chosen: Sequence[bool] | None) -> tables.Counts:
        def total(values: array[int]) -> int:
            return sum(itertools.compress(values, chosen)) if chosen is not None else sum(values)
        return tables.Counts(sum(chosen) if chosen is not None else len(columns[CATEGORY]), total(columns[DRAFT]),
                             total(columns[STEPS]), total(columns[CODED]), total(columns[EXITS]),
                             {level: total(values) for level, values in zip(layout.counted, risks, strict=True)})

    everything = counts(None)
    by_category = {}
    for name in dict.fromkeys(order):
        if name in layout.chart_categories:
            number = layout.chart_categories.index(name)
            found = counts([n == number for n in columns[CATEGORY]])
            if found.charts:
                by_category[name] = found
    shown = layout.levels + ((UNGRADED,) if everything.of(UNGRADED) else ())
    return tables.Statistics(everything, by_category, shown)


def _old_files(out: Path, layout: RegisterLayout) -> tuple[bytes | None, bytes | None]:
    """The last CSV register whole and the compressed charts' rows of the
    last Excel one, if both are the files the layout was made for."""
    assert layout.stamps is not None
    charts = len(layout.keys)
    csv_length = len(tables.CSV_HEAD) + sum(layout.numbers[CSV_BYTES::layout.width])
    xml_length = sum(layout.numbers[XML_BYTES::layout.width]) if charts else 0
    csv = _read_stamped(out / REGISTER, layout.stamps[0], 0, csv_length)
    xml = _read_stamped(out / REGISTER_XLSX, layout.stamps[1], layout.xml_at, xml_length)
    return (csv, xml) if csv is not None and csv_length == layout.stamps[0][0] else (None, None)


def _read_stamped(path: Path, stamp: Stamp, offset: int, length: int) -> bytes | None:
    """`length` bytes at `offset` of the regular file `path` (not through a
    link, not waiting on a FIFO) if it has `stamp`, else None."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode) \
                or (found.st_size, found.st_mtime_ns, found.st_ino, found.st_ctime_ns) != stamp \
                or offset + length > found.st_size:
            return None
        chunks = []
        while length:
            chunk = os.pread(descriptor, length, offset)
            if not chunk:
                raise OSError(errno.EIO, "short read")
            chunks.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(descriptor)
