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

import itertools
from array import array
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from ..check.schema import UNGRADED
from ..model import Chart, sort_key
from . import sheetblocks, tables
from .chartrows import ChartCells, ChartRows, column_widths, make_rows
from .deflated import Deflated
from .names import REGISTER, REGISTER_XLSX
from .registerlayout import (
    BLOCK_WIDTH,
    CATEGORY,
    CODED,
    CSV_BYTES,
    DRAFT,
    EXITS,
    MERGE_ROWS,
    MERGES,
    MERGES_BYTES,
    MERGES_CRC,
    MERGES_SHIFT,
    MERGES_SIZE,
    NATURALS,
    ROWS,
    ROWS_CRC,
    ROWS_SHIFT,
    ROWS_SIZE,
    STEPS,
    XML_BYTES,
    XML_CRC,
    XML_SHIFT,
    XML_SIZE,
    RegisterLayout,
    chart_numbers,
    read_layout,
    with_blocks,
)
from .rowcache import RowCache
from .stampedfile import read_stamped
from .xlsx import level_style_numbers, workbook

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
    rows_data: list[bytes | memoryview] = []  # the sheet's compressed rows: a new chart's, or a run of old ones'
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
            rows_data.append(rows.xml.data)
            csv_pieces.append(rows.csv)
            continue
        begin, end = places[first], places[first] + last - first
        numbers.extend(old.numbers[begin * width:end * width])
        merge_rows.extend(old.merge_rows[merge_at[begin]:merge_at[end]])
        rows_data.append(xml_old[xml_at[begin]:xml_at[end]])
        csv_pieces.append(csv_old[csv_at[begin]:csv_at[end]])
    layout = RegisterLayout(levels, categories, old.widths, tuple(keys), tuple(chart_categories), old.counted,
                            tuple(merges), numbers, merge_rows, 0)
    first_rows = sheetblocks.starts(numbers[ROWS::width])
    found = sheetblocks.ends(old.widths, first_rows[-1] - 1, len(merge_rows) // 2)
    crcs, blocks = _blocks(old, layout, places, made, xml_old)
    order = dict.fromkeys(chart.category for chart in charts)  # as tables.statistics meets them
    archive, sheet_at = workbook(levels, _statistics(layout, [*categories, *order]),
                                 sheetblocks.sheet(found, rows_data, crcs, blocks), max(2, first_rows[-1] - 1))
    csv.write(tables.CSV_HEAD)
    csv.writelines(csv_pieces)
    xml_start = sheet_at + len(found.head.data)
    return archive, with_blocks(replace(layout, xml_at=xml_start), crcs, blocks,
                                xml_start + sum(map(len, rows_data)) + len(found.before.data))


def _blocks(old: RegisterLayout, new: RegisterLayout, places: Sequence[int], made: dict[int, ChartRows],
            region: memoryview) -> tuple[list[sheetblocks.RowsCrc], list[Deflated]]:
    """Each block's rows' CRC and merged ranges (sheetblocks.py): the old
    block's where it holds the same charts (and they start on the same row
    for its merged ranges), else made (`region`: the old Excel file from
    the first chart's rows to the last block's merged ranges)."""
    width, charts, block = new.width, len(new.keys), sheetblocks.BLOCK
    old_first, new_first = sheetblocks.starts(old.numbers[ROWS::width]), sheetblocks.starts(new.numbers[ROWS::width])
    merged_at = list(itertools.accumulate(old.blocks[MERGES_BYTES::BLOCK_WIDTH], initial=old.merges_at - old.xml_at))
    merge_at = list(itertools.accumulate(new.numbers[MERGE_ROWS::width], initial=0))
    crcs, blocks = [], []
    for first in range(0, charts, block):
        last, place = min(first + block, charts), places[first]
        same = place >= 0 and place % block == 0 and min(place + block, len(old.keys)) == place + last - first \
            and places[first:last] == list(range(place, place + last - first))
        numbers = old.blocks[place // block * BLOCK_WIDTH:(place // block + 1) * BLOCK_WIDTH] if same else array("q")
        if same:
            crcs.append(sheetblocks.RowsCrc(numbers[ROWS_CRC], numbers[ROWS_SIZE], numbers[ROWS_SHIFT]))
        else:
            crcs.append(sheetblocks.rows_crc([made[n].xml if places[n] < 0 else _chart_crc(old, places[n])
                                              for n in range(first, last)]))
        if same and new_first[first] == old_first[place]:
            blocks.append(Deflated(bytes(region[merged_at[place // block]:merged_at[place // block + 1]]),
                                   numbers[MERGES_CRC], numbers[MERGES_SIZE], numbers[MERGES_SHIFT]))
        else:
            shapes = [(rows, new.merges[template], new.merge_rows[merge_at[n]:merge_at[n + 1]])
                      for n, rows, template in zip(range(first, last), new.numbers[ROWS + first * width:last * width:width],
                                                   new.numbers[MERGES + first * width:last * width:width], strict=True)]
            blocks.append(sheetblocks.merge_block(shapes, new_first[first]))
    return crcs, blocks


def _chart_crc(layout: RegisterLayout, place: int) -> Deflated:
    """An old chart's rows' CRC, size and zeros_shift (without its bytes: only its CRC is wanted)."""
    at = place * layout.width
    return Deflated(b"", layout.numbers[at + XML_CRC], layout.numbers[at + XML_SIZE], layout.numbers[at + XML_SHIFT])


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
    csv_length = len(tables.CSV_HEAD) + sum(layout.numbers[CSV_BYTES::layout.width])
    xml_length = layout.merges_at + sum(layout.blocks[MERGES_BYTES::BLOCK_WIDTH]) - layout.xml_at
    csv = read_stamped(out / REGISTER, layout.stamps[0], 0, csv_length)
    xml = read_stamped(out / REGISTER_XLSX, layout.stamps[1], layout.xml_at, xml_length)
    return (csv, xml) if csv is not None and csv_length == layout.stamps[0][0] else (None, None)
