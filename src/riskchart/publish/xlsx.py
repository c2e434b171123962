"""The risk register (风险点台账) as an Excel workbook.

The rows are tables.register()'s, the same as the CSV's and the JSON's;
this module only lays them out for print and filing: chart and step cells
merged over their risk rows, level cells coloured as in the charts, a
bold header that stays frozen and is repeated on every printed page, an
autofilter, A4 landscape fitted to the page width, and a second sheet
with the statistics of `riskchart stats`.  Rendered to bytes; the caller
writes them.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from .. import style
from ..check.report import terminal_width
from ..check.schema import CATEGORIES, LEVELS
from ..draw.layout import level_styles
from ..model import Chart
from . import tables

REGISTER_SHEET = "风险点台账"
STATISTICS_SHEET = "统计"


def statistics_columns(levels: tuple[str, ...]) -> tuple[str, ...]:
    """The statistics sheet's columns, those of `riskchart stats` (tables.statistics_text)."""
    return ("类别", "图", "环节", "风险点", *levels, "有编码", "分支")


STATISTICS_COLUMNS = statistics_columns(LEVELS)  # with the default scale; a project's own has its levels
FONT = "宋体"
FONT_SIZE = 10.5      # 五号
GB2312_CHARSET = 134  # tells Excel the font is for Chinese text
LINE_HEIGHT = 14.5    # points per wrapped line at FONT_SIZE
ROW_PADDING = 4
MIN_WIDTH, MAX_WIDTH = 6, 40  # column widths in Excel's units (a CJK character is two)
A4_PAPER = 9
# Which register columns describe a step (merged over its risk rows) and which
# describe the single risk point; every other column describes the chart
# (merged over all its rows), so a chart-level column added to the register
# later is merged right without a change here.
ROW_COLUMNS = frozenset({"编号", "风险点"})
STEP_COLUMNS = frozenset({"环节", "风险等级", "防控措施", "责任人", "环节时限", "风险类型"})
NUMBER_COLUMN = "编号"  # 图号-环节序号-风险序号: the chart and the step of each row
LEVEL_COLUMN = "风险等级"


def register_xlsx(charts: list[Chart], categories: tuple[str, ...] = CATEGORIES,
                  levels: tuple[str, ...] = LEVELS) -> bytes:
    """`levels`: the project's scale, highest first, coloured as in its charts."""
    import xlsxwriter

    buffer = io.BytesIO()
    # Text stays text: no cell becomes a number, a link or a formula.  Written
    # row by row (constant_memory): a register of thousands of charts would
    # otherwise hold every cell at once, hundreds of megabytes.
    workbook = xlsxwriter.Workbook(buffer, {"constant_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    workbook.set_properties({"title": "风险点台账", "creator": "riskchart"})
    formats = _Formats(workbook, levels)
    _register_sheet(workbook.add_worksheet(REGISTER_SHEET), formats, charts)
    _statistics_sheet(workbook.add_worksheet(STATISTICS_SHEET), formats,
                      tables.statistics(charts, categories, levels))
    workbook.close()
    return buffer.getvalue()


class _Formats:
    def __init__(self, workbook: Any, levels: tuple[str, ...]) -> None:
        base = {"font_name": FONT, "font_size": FONT_SIZE, "font_charset": GB2312_CHARSET, "border": 1,
                "border_color": style.BOX_BORDER, "valign": "top", "text_wrap": True}
        self.text = workbook.add_format(base)
        self.header = workbook.add_format({**base, "bold": True, "align": "center", "valign": "vcenter",
                                           "bg_color": style.HEADER_FILL})
        self.number = workbook.add_format({**base, "align": "right"})
        self.total = workbook.add_format({**base, "bold": True, "align": "right"})
        self.total_name = workbook.add_format({**base, "bold": True})
        # The charts' colours (the project's scale by rank), which differ in lightness
        # too, so grey-scale print keeps them apart.
        self.levels = {level: workbook.add_format({**base, "bold": True, "align": "center", "valign": "vcenter",
                                                   "bg_color": colours["fill"], "font_color": colours["text"]})
                       for level, colours in level_styles(levels).items()}

    def cell(self, column: str, value: str) -> Any:
        return self.levels.get(value, self.text) if column == LEVEL_COLUMN else self.text


def _register_sheet(sheet: Any, formats: _Formats, charts: list[Chart]) -> None:
    columns = tables.REGISTER_COLUMNS
    rows = [tuple(tables.spreadsheet_cell(cell) for cell in row.cells()) for row in tables.register(charts)]
    widths = [_column_width([name, *(row[i] for row in rows)]) for i, name in enumerate(columns)]
    runs = list(_merged_runs(columns, rows))
    starts = {(first, i) for i, first, _ in runs}
    merged = _merged_cells(columns, rows)
    # Excel sizes no row to wrapped or merged text by itself: each row gets the
    # lines of its tallest single cell, and a run's last row what its merged
    # text needs beyond that.
    heights = [row_height(max((wrapped_lines(value, widths[i]) for i, value in enumerate(row) if not merged(r, i)),
                           default=1)) for r, row in enumerate(rows)]
    for i, first, last in runs:
        value = rows[first][i]
        spanned = sum(heights[first:last + 1])
        heights[last] += max(0.0, row_height(wrapped_lines(value, widths[i])) - spanned)
    # Row by row, each row's height set before its cells (the workbook keeps no
    # more than one row in memory): every cell holds its value, the covered
    # cells of a merged run too, so filtering on a column keeps every row of
    # the step, and a copy or CSV export loses nothing.
    sheet.set_row(0, row_height(1) + ROW_PADDING)
    for i, name in enumerate(columns):
        sheet.write_string(0, i, name, formats.header)
        sheet.set_column(i, i, widths[i])
    for r, row in enumerate(rows, start=1):
        sheet.set_row(r, heights[r - 1])
        for i, value in enumerate(row):
            if value or (r - 1, i) not in starts:
                sheet.write_string(r, i, value, formats.cell(columns[i], value))
            else:  # as merge_range writes an empty first cell: blank
                sheet.write_blank(r, i, None, formats.cell(columns[i], value))
    # merge_range would write blanks into rows not yet written, which a
    # row-by-row workbook cannot take back: the runs (one column each, never
    # overlapping) are recorded as it records them, after their cells.
    sheet.merge.extend([first + 1, i, last + 1, i] for i, first, last in runs)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(1, len(rows)), len(columns) - 1)
    _print_setup(sheet, "风险点台账")


def _merged_cells(columns: Sequence[str], rows: list[tuple[str, ...]]) -> Callable[[int, int], bool]:
    """Whether row r's cell in column i lies in a run of `_merged_runs`: its
    chart (chart columns) or its step (step columns) has two rows or more.
    Asked of every cell, without a set of every merged cell (millions of them
    in the register of thousands of charts)."""
    number = columns.index(NUMBER_COLUMN)
    chart_of = [row[number].rsplit("-", 2)[0] for row in rows]
    step_of = [row[number].rsplit("-", 1)[0] for row in rows]
    chart_rows, step_rows = Counter(chart_of), Counter(step_of)
    kinds = [None if name in ROW_COLUMNS else name in STEP_COLUMNS for name in columns]

    def merged(r: int, i: int) -> bool:
        kind = kinds[i]
        if kind is None:
            return False
        return (step_rows[step_of[r]] if kind else chart_rows[chart_of[r]]) > 1

    return merged


def _merged_runs(columns: Sequence[str], rows: list[tuple[str, ...]]) -> Iterator[tuple[int, int, int]]:
    """(column, first row, last row) of every run of two or more rows of one
    chart (chart columns) or one step (step columns)."""
    number = columns.index(NUMBER_COLUMN)
    chart_of = [row[number].rsplit("-", 2)[0] for row in rows]
    step_of = [row[number].rsplit("-", 1)[0] for row in rows]
    for i, name in enumerate(columns):
        if name in ROW_COLUMNS:
            continue
        groups = step_of if name in STEP_COLUMNS else chart_of
        first = 0
        for r in range(1, len(rows) + 1):
            if r == len(rows) or groups[r] != groups[first]:
                if r - 1 > first:
                    yield i, first, r - 1
                first = r


def _column_width(cells: list[str]) -> float:
    natural = max((_line_width(line) for cell in cells for line in cell.split("\n")), default=0)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, natural + 2)))


def row_height(lines: int) -> float:
    return lines * LINE_HEIGHT + ROW_PADDING


def wrapped_lines(text: str, width: float) -> int:
    """Lines the text takes when wrapped in a column `width` units wide."""
    room = max(1.0, width - 1.5)
    return sum(max(1, math.ceil(_line_width(line) / room)) for line in text.split("\n"))


@lru_cache(maxsize=4096)
def _line_width(line: str) -> int:
    """terminal_width, once per distinct line: merged cells repeat their text down every row."""
    return terminal_width(line)


def _statistics_sheet(sheet: Any, formats: _Formats, stats: tables.Statistics) -> None:
    columns = statistics_columns(stats.levels)
    for i, name in enumerate(columns):
        sheet.write_string(0, i, name, formats.header)
    sheet.set_column(0, 0, _column_width([*stats.by_category, "合计"]))
    sheet.set_column(1, len(columns) - 1, 8)
    rows = [*stats.by_category.items(), ("合计", stats.total)]
    for r, (name, counts) in enumerate(rows, start=1):
        total = r == len(rows)
        sheet.write_string(r, 0, name, formats.total_name if total else formats.text)
        numbers = (counts.charts, counts.steps, counts.risk_total, *(counts.of(level) for level in stats.levels),
                   counts.coded, counts.exits)
        for i, value in enumerate(numbers, start=1):
            sheet.write_number(r, i, value, formats.total if total else formats.number)
    sheet.freeze_panes(1, 0)
    _print_setup(sheet, "风险点统计")


def _print_setup(sheet: Any, title: str) -> None:
    sheet.set_landscape()
    sheet.set_paper(A4_PAPER)
    sheet.fit_to_pages(1, 0)  # the page width, as many pages as it takes
    sheet.repeat_rows(0)
    sheet.set_margins(left=0.5, right=0.5, top=0.7, bottom=0.7)
    sheet.set_header(f"&C{title}")  # fixed words: & starts a code in a header
    sheet.set_footer("&C第 &P 页，共 &N 页")
