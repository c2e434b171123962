"""Where each chart's rows are in the register files a build wrote: what
the next build splices its register from (splice.py).

Kept beside the files, in the output folder's cache folder
(`register.layout`), sealed with the user's key like every cache there
(entrybatch.sealed): the charts' keys in the register's order (their rows
depend on nothing else but the column widths, the level scale and
riskchart's code, which the layout names too); for each chart the length
of its CSV lines, of its compressed sheet rows, their CRC-32 and size, its
row count and merged runs, its widest lines (the column widths) and its
counts (the statistics sheet); and the stamp (build/stamps.py) of each of
the two files as it was moved into place, with the SHA-256 of the bytes
this build wrote into it.  A file whose stamp differs was changed or
replaced since: it is not ours to copy from.  Its bytes are also checked
against the digest once read: a file changed in place within the tick of
a coarse file-system clock keeps its stamp, and one written while it is
read shows either stamp.

The numbers are one binary array (as JSON, reading thousands of charts'
numbers costs tens of milliseconds); the texts (keys, categories, levels,
the merged runs' templates) are JSON.  Nothing in it is ever run.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import files
from ..check.cache import installed_code, signing_key
from ..check.schema import UNGRADED
from ..entrybatch import sealed
from . import sheetblocks
from .deflated import Deflated
from .setcache import read_headed
from .stampedfile import Stamp, is_stamp, stamp_of
from .tables import REGISTER_COLUMNS, Tally

if TYPE_CHECKING:
    from .chartrows import ChartRows
    from .sheetblocks import RowsCrc

FILE_NAME = "register.layout"
FORMAT = 2
_HEAD = b"riskchart register layout, HMAC-SHA256 "
_MOST_BYTES = 256 << 20  # ~300 bytes a chart
# a chart's numbers, in this order, then its widest line in each column, then its risks of each level
CSV_BYTES, XML_BYTES, XML_SIZE, XML_CRC, XML_SHIFT, ROWS, MERGES, MERGE_ROWS, CATEGORY, DRAFT, STEPS, CODED, \
    EXITS = range(13)
NATURALS = 13
# a block's numbers (sheetblocks.py): its rows' CRC, size and zeros_shift, its merged ranges' compressed length,
# their size, CRC and zeros_shift
ROWS_CRC, ROWS_SIZE, ROWS_SHIFT, MERGES_BYTES, MERGES_SIZE, MERGES_CRC, MERGES_SHIFT = range(7)
BLOCK_WIDTH = 7
_COLUMNS = len(REGISTER_COLUMNS)




@dataclass(frozen=True)
class RegisterLayout:
    levels: tuple[str, ...]      # the project's scale the register was made for
    categories: tuple[str, ...]  # and its categories (the statistics sheet's order)
    widths: tuple[float, ...]    # the column widths the rows were made for
    keys: tuple[str, ...]        # the charts' (setcache.chart_key), in the register's order
    chart_categories: tuple[str, ...]  # what CATEGORY numbers
    counted: tuple[str, ...]     # the levels whose risks each chart's numbers count, in this order
    merges: tuple[str, ...]      # the merged runs' templates (ChartRows.merges) MERGES numbers
    numbers: array[int]          # `width` numbers a chart
    merge_rows: array[int]       # each chart's ChartRows.merge_rows, one after the other
    xml_at: int                  # where the first chart's compressed rows are in the Excel file
    blocks: array[int] = field(default_factory=lambda: array("q"))  # BLOCK_WIDTH numbers a block of sheetblocks.BLOCK charts
    merges_at: int = 0           # where the first block's compressed merged ranges are in the Excel file
    stamps: tuple[Stamp, Stamp] | None = None  # the CSV's and the Excel file's, once in place

    @property
    def width(self) -> int:
        return NATURALS + _COLUMNS + len(self.counted)


def counted_levels(levels: tuple[str, ...], tallies: Sequence[Tally]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*levels, UNGRADED, *(level for part in tallies for level, _ in part.risks)]))


def chart_numbers(rows: ChartRows, category: int, merges: int, part: Tally, counted: tuple[str, ...]) -> list[int]:
    """One chart's numbers in the layout (`category`, `merges`: its category's and its template's numbers)."""
    xml: Deflated = rows.xml
    risks = dict(part.risks)
    return [len(rows.csv), len(xml.data), xml.size, xml.crc, xml.shift, rows.rows, merges, len(rows.merge_rows),
            category, part.draft, part.steps, part.coded, part.exits, *rows.naturals,
            *(risks.get(level, 0) for level in counted)]


def layout_of(keys: Sequence[str], made: Sequence[ChartRows], widths: tuple[float, ...],
              tallies: Sequence[tuple[str, Tally]], levels: tuple[str, ...], categories: tuple[str, ...],
              xml_at: int) -> RegisterLayout:
    """The layout of a register made whole (`tallies`: each chart's category and counts, in order)."""
    counted = counted_levels(levels, [part for _, part in tallies])
    chart_categories = {name: n for n, name in enumerate(dict.fromkeys(name for name, _ in tallies))}
    merges = {text: n for n, text in enumerate(dict.fromkeys(rows.merges for rows in made))}
    numbers = array("q")
    merge_rows = array("q")
    for rows, (category, part) in zip(made, tallies, strict=True):
        numbers.extend(chart_numbers(rows, chart_categories[category], merges[rows.merges], part, counted))
        merge_rows.extend(rows.merge_rows)
    return RegisterLayout(levels, categories, widths, tuple(keys), tuple(chart_categories), counted, tuple(merges),
                          numbers, merge_rows, xml_at)


def with_blocks(layout: RegisterLayout, crcs: Sequence[RowsCrc], merges: Sequence[Deflated],
                merges_at: int) -> RegisterLayout:
    """The layout with its sheet's blocks (sheetblocks.whole_sheet's)."""
    blocks = array("q")
    for rows, merged in zip(crcs, merges, strict=True):
        blocks.extend(block_numbers(rows, merged))
    return replace(layout, blocks=blocks, merges_at=merges_at)


def block_numbers(rows: RowsCrc, merged: Deflated) -> list[int]:
    return [rows.crc, rows.size, rows.shift, len(merged.data), merged.size, merged.crc, merged.shift]


def write_layout(cache: Path, layout: RegisterLayout, stamps: tuple[Stamp | None, Stamp | None]) -> None:
    """Keep the layout of the register just put in place (best effort); with
    a file that is not in place as written, none (the old one no longer fits)."""
    folder = files.output_cache(cache)
    secret = signing_key()
    if folder is None or secret is None:
        return
    csv, xlsx = stamps
    if csv is None or xlsx is None:
        files.write_cache(folder / FILE_NAME, b"")
        return
    head = {"format": FORMAT, "code": installed_code(), "byteorder": sys.byteorder, "levels": layout.levels,
            "categories": layout.categories, "widths": layout.widths, "keys": "".join(layout.keys),
            "chart_categories": layout.chart_categories, "counted": layout.counted, "merges": layout.merges,
            "charts": len(layout.keys), "merge_rows": len(layout.merge_rows), "xml_at": layout.xml_at,
            "blocks": len(layout.blocks) // BLOCK_WIDTH, "merges_at": layout.merges_at,
            "stamps": [csv, xlsx]}
    body = json.dumps(head, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"
    files.write_cache(folder / FILE_NAME, sealed(_HEAD, b"".join([body, layout.numbers.tobytes(),
                                                                      layout.blocks.tobytes(),
                                                                      layout.merge_rows.tobytes()]), secret))


def read_layout(cache: Path) -> RegisterLayout | None:
    """The layout of the register last put in place, or None when there is
    none this code wrote under the user's key."""
    found = read_headed(cache, FILE_NAME, _HEAD, _MOST_BYTES)
    if found is None:
        return None
    try:
        return _checked(*found)
    except (ValueError, TypeError, KeyError, RecursionError, OverflowError):
        return None


def _checked(head: dict[str, Any], rest: memoryview) -> RegisterLayout | None:
    """The layout `head` and the arrays after it describe; None when it is
    another version's; ValueError or TypeError when it is not one at all."""
    if head["format"] != FORMAT or head["code"] != installed_code() or head["byteorder"] != sys.byteorder:
        return None
    charts, keys = head["charts"], head["keys"]
    if type(charts) is not int or type(keys) is not str or len(keys) != 64 * charts:
        raise ValueError("not a layout")
    counted, merges, chart_categories = _texts(head["counted"]), _texts(head["merges"]), _texts(head["chart_categories"])
    numbers, blocks, merge_rows = array("q"), array("q"), array("q")
    width = NATURALS + _COLUMNS + len(counted)
    split = charts * width * numbers.itemsize
    blocks_end = split + head["blocks"] * BLOCK_WIDTH * blocks.itemsize
    numbers.frombytes(rest[:split])
    blocks.frombytes(rest[split:blocks_end])
    merge_rows.frombytes(rest[blocks_end:])
    if len(numbers) != charts * width or len(merge_rows) != head["merge_rows"] \
            or len(blocks) != -(-charts // sheetblocks.BLOCK) * BLOCK_WIDTH \
            or min(numbers, default=0) < 0 or min(merge_rows, default=0) < 0 or min(blocks, default=0) < 0:
        raise ValueError("not a layout")
    if any(max(blocks[field::BLOCK_WIDTH], default=0) >> 32 for field in (ROWS_CRC, ROWS_SHIFT, MERGES_CRC, MERGES_SHIFT)):
        raise ValueError("not a layout")
    if charts and (max(numbers[MERGES::width]) >= len(merges) or max(numbers[CATEGORY::width]) >= len(chart_categories)
                   or max(numbers[XML_CRC::width]) >> 32 or max(numbers[XML_SHIFT::width]) >> 32
                   or sum(numbers[MERGE_ROWS::width]) != len(merge_rows)):
        raise ValueError("not a layout")
    runs = [text.count("%d") for text in merges]
    if any("%" in text.replace("%d", "") for text in merges) \
            or any(runs[m] != n for m, n in zip(numbers[MERGES::width], numbers[MERGE_ROWS::width], strict=True)):
        raise ValueError("not a layout")
    widths = head["widths"]
    if type(widths) is not list or len(widths) != _COLUMNS or any(type(w) is not float for w in widths):
        raise ValueError("not a layout")
    stamps = head["stamps"]
    if type(stamps) is not list or len(stamps) != 2 or not all(map(is_stamp, stamps)):
        raise ValueError("not a layout")
    xml_at, merges_at = head["xml_at"], head["merges_at"]
    if type(xml_at) is not int or type(merges_at) is not int or not 0 <= xml_at <= merges_at:
        raise ValueError("not a layout")
    return RegisterLayout(_texts(head["levels"]), _texts(head["categories"]), tuple(widths),
                          tuple(keys[n:n + 64] for n in range(0, len(keys), 64)), chart_categories, counted, merges,
                          numbers, merge_rows, xml_at, blocks, merges_at, (stamp_of(stamps[0]), stamp_of(stamps[1])))


def _texts(value: Any) -> tuple[str, ...]:
    if type(value) is not list or any(type(item) is not str for item in value):
        raise TypeError("not texts")
    return tuple(value)
