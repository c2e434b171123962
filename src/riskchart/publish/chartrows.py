"""One chart's rows of the Excel register, made on their own.

A chart's rows depend on that chart alone, on the column widths (the row
heights follow from how the text wraps) and on the level scale (the level
cells' styles): the sheet's XML of its risk rows, compressed (deflated.py),
its merged runs and its row count, with row numbers counted from the
chart's first row; and the same rows as CSV lines, so the CSV register is
laid end to end from them too.  The workbook (xlsx.py) lays them end to end.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model import Chart
from . import sheetxml, tables
from .deflated import Deflated, deflate

LINE_HEIGHT = 14.5    # points per wrapped line at xlsx.FONT_SIZE
ROW_PADDING = 4
MIN_WIDTH, MAX_WIDTH = 6, 40  # column widths in Excel's units (a CJK character is two)
# Which register columns describe a step (merged over its risk rows) and which
# describe the single risk point; every other column describes the chart
# (merged over all its rows), so a chart-level column added to the register
# later is merged right without a change here.
ROW_COLUMNS = frozenset({"编号", "风险点"})
STEP_COLUMNS = frozenset({"环节", "风险等级", "防控措施", "责任人", "环节时限", "风险类型"})
NUMBER_COLUMN = "编号"  # 图号-环节序号-风险序号: the step of each row
LEVEL_COLUMN = "风险等级"
_COLUMNS = tables.REGISTER_COLUMNS
_NUMBER = _COLUMNS.index(NUMBER_COLUMN)
_LEVEL = _COLUMNS.index(LEVEL_COLUMN)
_KINDS = tuple(None if name in ROW_COLUMNS else name in STEP_COLUMNS for name in _COLUMNS)  # True: step, False: chart


@dataclass(frozen=True)
class ChartRows:
    """A chart's rows of the register sheet, ready to be laid end to end."""
    rows: int
    naturals: tuple[int, ...]  # each column's widest line in its cells, in display columns
    widths: tuple[float, ...]  # the column widths the row heights were reckoned for
    merges: str                # the merged runs' <mergeCell> elements, rows as %d (sheetxml.merge_template)
    merge_rows: tuple[int, ...]  # their first and last rows, counted from the chart's first
    xml: Deflated              # the <row> elements, without r= (they stand wherever they are put)
    csv: bytes | memoryview    # the same rows as the CSV register's lines (kept as they are: inflating
                               # thousands of charts' lines cost a tenth of a second)


class ChartCells:
    """A chart's register cells as a spreadsheet shows them (formula-like
    text neutralised), each distinct text measured once: a step's texts
    repeat down all its rows."""

    def __init__(self, cells: Sequence[tuple[str, ...]]) -> None:
        self.cells = cells
        self._lines: dict[str, tuple[int, ...]] = {}
        self._wrapped: dict[tuple[str, float], int] = {}

    @classmethod
    def of(cls, chart: Chart) -> ChartCells:
        return cls([tuple(map(tables.spreadsheet_cell, row.cells())) for row in tables.chart_rows(chart)])

    def line_widths(self, text: str) -> tuple[int, ...]:
        found = self._lines.get(text)
        if found is None:
            found = self._lines[text] = tuple(map(line_width, text.split("\n")))
        return found

    def wrapped_lines(self, text: str, width: float) -> int:
        """wrapped_lines(text, width)."""
        found = self._wrapped.get((text, width))
        if found is None:
            room = max(1.0, width - 1.5)
            found = self._wrapped[text, width] = sum(max(1, math.ceil(w / room)) for w in self.line_widths(text))
        return found

    def naturals(self) -> tuple[int, ...]:
        """Each column's widest line."""
        return tuple(max((max(self.line_widths(row[i])) for row in self.cells), default=0)
                     for i in range(len(_COLUMNS)))


def display_width(text: str) -> int:
    """The text's widest line, in display columns (a CJK character is two)."""
    return max(map(line_width, text.split("\n")))


def column_widths(chart_naturals: Sequence[Sequence[int]]) -> tuple[float, ...]:
    """The sheet's column widths: each column's widest line, header or cell, within MIN_WIDTH … MAX_WIDTH."""
    return tuple(column_width(max([display_width(name), *(n[i] for n in chart_naturals)]))
                 for i, name in enumerate(_COLUMNS))


def column_width(natural: int) -> float:
    return float(min(MAX_WIDTH, max(MIN_WIDTH, natural + 2)))


def make_rows(chart: ChartCells, widths: tuple[float, ...], level_styles: Mapping[str, int],
              naturals: tuple[int, ...] | None = None) -> ChartRows:
    """A chart's rows: every cell holds its value, the covered cells of a
    merged run too, so filtering on a column keeps every row of the step,
    and a copy or CSV export loses nothing.  `level_styles`: the style of
    each level of the scale; `naturals`: chart.naturals() when known."""
    cells, wrapped = chart.cells, chart.wrapped_lines
    runs = _runs(cells)
    merged = {(r, i) for i, first, last in runs for r in range(first, last + 1)}
    # Excel sizes no row to wrapped or merged text by itself: each row gets the
    # lines of its tallest single cell, and a run's last row what its merged
    # text needs beyond that.
    heights = [row_height(max((wrapped(value, widths[i]) for i, value in enumerate(row) if (r, i) not in merged),
                              default=1)) for r, row in enumerate(cells)]
    for i, first, last in runs:
        spanned = sum(heights[first:last + 1])
        heights[last] += max(0.0, row_height(wrapped(cells[first][i], widths[i])) - spanned)
    made: dict[tuple[str, int], str] = {}  # each distinct cell escaped once

    def cell(value: str, style: int) -> str:
        found = made.get((value, style))
        if found is None:
            found = made[value, style] = sheetxml.text_cell(value, style)
        return found

    text = sheetxml.TEXT_STYLE
    xml = "".join(sheetxml.row([cell(value, level_styles.get(value, text) if i == _LEVEL else text)
                                for i, value in enumerate(row)], height) for row, height in zip(cells, heights, strict=True))
    return ChartRows(len(cells), naturals or chart.naturals(), widths,
                     sheetxml.merge_template([i for i, _, _ in runs]),
                     tuple(n for _, first, last in runs for n in (first, last)), deflate(xml.encode("utf-8")),
                     tables.csv_bytes(tables.csv_lines(cells)))


def _runs(cells: Sequence[tuple[str, ...]]) -> list[tuple[int, int, int]]:
    """(column, first row, last row) of every run of two or more rows: the
    chart's (chart columns) or one step's (step columns)."""
    steps: list[tuple[int, int]] = []
    step_of = [row[_NUMBER].rsplit("-", 1)[0] for row in cells]
    first = 0
    for r in range(1, len(cells) + 1):
        if r == len(cells) or step_of[r] != step_of[first]:
            steps.append((first, r - 1))
            first = r
    runs = []
    for i, kind in enumerate(_KINDS):
        if kind is None:
            continue
        spans = steps if kind else [(0, len(cells) - 1)]
        runs += [(i, first, last) for first, last in spans if last > first]
    return runs


def row_height(lines: int) -> float:
    return lines * LINE_HEIGHT + ROW_PADDING


def wrapped_lines(text: str, width: float) -> int:
    """Lines the text takes when wrapped in a column `width` units wide."""
    room = max(1.0, width - 1.5)
    return sum(max(1, math.ceil(line_width(line) / room)) for line in text.split("\n"))


class _CharacterWidths(dict[str, int]):
    """Each character's columns, looked up once (unicodedata per character
    is most of the time of sizing thousands of charts' rows)."""

    def __missing__(self, character: str) -> int:
        width = self[character] = 2 if unicodedata.east_asian_width(character) in "WF" else 1
        return width


_WIDTHS = _CharacterWidths()


def line_width(line: str) -> int:
    """Columns a line takes, as check.report.terminal_width counts them: East Asian wide and full-width take two."""
    return sum(map(_WIDTHS.__getitem__, line))
