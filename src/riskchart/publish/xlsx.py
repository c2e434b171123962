"""The risk register (风险点台账) as an Excel workbook.

The rows are tables.register()'s, the same as the CSV's and the JSON's;
this module only lays them out for print and filing: chart and step cells
merged over their risk rows, level cells coloured as in the charts, a
bold header that stays frozen and is repeated on every printed page, an
autofilter, A4 landscape fitted to the page width, and a second sheet
with the statistics of `riskchart stats`.  Rendered to bytes; the caller
writes them.

The workbook is riskchart's own SpreadsheetML (sheetxml.py): each chart's
rows are made, compressed, on their own (chartrows.py) and kept in the
output folder's cache (rowcache.py), so a build makes again only the rows
of the charts that changed and lays the others end to end as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

from .. import style
from ..check.schema import CATEGORIES, LEVELS
from ..draw.layout import level_styles
from ..model import Chart, sort_key
from . import sheetxml, tables
from .chartrows import (
    ChartCells,
    ChartRows,
    column_width,
    column_widths,
    display_width,
    make_rows,
)
from .deflated import Deflated, deflate, member_data_at, zip_archive
from .registerlayout import RegisterLayout, layout_of, with_blocks
from .rowcache import RowCache
from .sheetblocks import whole_sheet

REGISTER_SHEET = "风险点台账"
STATISTICS_SHEET = "统计"
FONT = "宋体"
FONT_SIZE = 10.5      # 五号
GB2312_CHARSET = 134  # tells Excel the font is for Chinese text
A4_PAPER = 9
STATISTICS_NUMBER_WIDTH = 8


def statistics_columns(levels: tuple[str, ...]) -> tuple[str, ...]:
    """The statistics sheet's columns, those of `riskchart stats` (tables.statistics_text)."""
    return ("类别", "图", "环节", "风险点", *levels, "有编码", "分支")


STATISTICS_COLUMNS = statistics_columns(LEVELS)  # with the default scale; a project's own has its levels


def register_xlsx(charts: list[Chart], categories: tuple[str, ...] = CATEGORIES,
                  levels: tuple[str, ...] = LEVELS, cache: RowCache | None = None) -> bytes:
    """`levels`: the project's scale, highest first, coloured as in its charts.
    `cache`: the charts' rows of earlier registers (none: every chart's made)."""
    return write_registers(charts, categories, levels, cache or RowCache(None))


def write_registers(charts: list[Chart], categories: tuple[str, ...], levels: tuple[str, ...], cache: RowCache,
                    csv: BinaryIO | None = None) -> bytes:
    """The Excel register; and into `csv`, when given, the CSV register
    (tables.register_csv's bytes), both laid end to end from the same rows."""
    return laid_out_registers(charts, categories, levels, cache, csv)[0]


def laid_out_registers(charts: list[Chart], categories: tuple[str, ...], levels: tuple[str, ...], cache: RowCache,
                       csv: BinaryIO | None = None) -> tuple[bytes, RegisterLayout]:
    """write_registers' workbook, and where each chart's rows are in the two
    files (registerlayout.py: what the next build splices its register from)."""
    in_order = sorted(charts, key=sort_key)
    keys, made, widths = _chart_rows(in_order, levels, cache)
    if csv is not None:
        csv.write(tables.CSV_HEAD)
        csv.writelines(rows.csv for rows in made)
    sheet, last_row, ends, crcs, merges = whole_sheet(widths, [(rows.rows, rows.merges, rows.merge_rows) for rows in made],
                                                      [rows.xml for rows in made])
    tallies = {id(chart): tables.tally(chart) for chart in in_order}
    stats = tables.tallied_statistics([(chart.category, tallies[id(chart)]) for chart in charts], categories, levels)
    archive, sheet_at = workbook(levels, stats, sheet, last_row)
    cache.save()
    xml_at = sheet_at + len(ends.head.data)
    layout = layout_of(keys, made, widths, [(chart.category, tallies[id(chart)]) for chart in in_order],
                       levels, categories, xml_at)
    layout = with_blocks(layout, crcs, merges, xml_at + sum(len(rows.xml.data) for rows in made) + len(ends.before.data))
    return archive, layout


def workbook(levels: tuple[str, ...], stats: tables.Statistics, register: Deflated, last_row: int) -> tuple[bytes, int]:
    """The workbook around its register sheet, and where that sheet's
    compressed data starts in it."""
    colours = level_styles(levels)
    styles = sheetxml.styles(FONT, FONT_SIZE, GB2312_CHARSET, style.BOX_BORDER, style.HEADER_FILL,
                             [(c["fill"], c["text"]) for c in colours.values()])
    statistics = _statistics_sheet(stats)
    last_column = sheetxml.column_name(len(tables.REGISTER_COLUMNS) - 1)
    defined = [("_xlnm._FilterDatabase", 0, sheetxml.sheet_reference(REGISTER_SHEET, f"$A$1:${last_column}${last_row}"),
                True),
               ("_xlnm.Print_Titles", 0, sheetxml.sheet_reference(REGISTER_SHEET, "$1:$1"), False),
               ("_xlnm.Print_Titles", 1, sheetxml.sheet_reference(STATISTICS_SHEET, "$1:$1"), False)]
    parts = {"[Content_Types].xml": sheetxml.content_types(2),
             "_rels/.rels": sheetxml.package_relationships(),
             "docProps/core.xml": sheetxml.core_properties("风险点台账", "riskchart"),
             "xl/workbook.xml": sheetxml.workbook((REGISTER_SHEET, STATISTICS_SHEET), defined),
             "xl/_rels/workbook.xml.rels": sheetxml.workbook_relationships(2),
             "xl/styles.xml": styles}
    members = [(name, deflate(text.encode("utf-8"))) for name, text in parts.items()]
    members += [("xl/worksheets/sheet1.xml", register),
                ("xl/worksheets/sheet2.xml", deflate(statistics.encode("utf-8")))]
    return zip_archive(members), member_data_at(members, len(parts))


def _chart_rows(charts: list[Chart], levels: tuple[str, ...],
                cache: RowCache) -> tuple[list[str], list[ChartRows], tuple[float, ...]]:
    """Each chart's key and rows, and the sheet's column widths.  Each chart's rows come
    from the cache when they were made for the same chart and the same
    column widths; the widths are the widest of all charts, so a chart that
    widens a column makes every chart's rows (their heights) again."""
    keys = [cache.key(chart, levels) for chart in charts]
    found: list[ChartRows | None] = [cache.get(key) for key in keys]
    cache.forget_unasked()
    cells = {n: ChartCells.of(charts[n]) for n, f in enumerate(found) if f is None}
    chart_naturals = [f.naturals if f is not None else cells[n].naturals() for n, f in enumerate(found)]
    widths = column_widths(chart_naturals)
    styles = level_style_numbers(levels)
    made: list[ChartRows] = []
    for n, rows in enumerate(found):
        if rows is None or rows.widths != widths:
            rows = make_rows(cells[n] if n in cells else ChartCells.of(charts[n]), widths, styles, chart_naturals[n])
            cache.put(keys[n], rows)
        made.append(rows)
    return keys, made, widths


def level_style_numbers(levels: tuple[str, ...]) -> dict[str, int]:
    """The style of each level's cells (sheetxml.styles makes one per level of the scale)."""
    return {level: sheetxml.FIRST_LEVEL_STYLE + rank for rank, level in enumerate(levels)}


def _statistics_sheet(stats: tables.Statistics) -> str:
    columns = statistics_columns(stats.levels)
    names = [*stats.by_category, "合计"]
    widths: Sequence[float] = [column_width(max(map(display_width, names))),
                               *[STATISTICS_NUMBER_WIDTH] * (len(columns) - 1)]
    rows = [sheetxml.row([sheetxml.text_cell(name, sheetxml.HEADER_STYLE) for name in columns])]
    counted = [*stats.by_category.items(), ("合计", stats.total)]
    for r, (name, counts) in enumerate(counted, start=1):
        total = r == len(counted)
        numbers = (counts.charts, counts.steps, counts.risk_total, *(counts.of(level) for level in stats.levels),
                   counts.coded, counts.exits)
        cells = [sheetxml.text_cell(name, sheetxml.TOTAL_NAME_STYLE if total else sheetxml.TEXT_STYLE),
                 *(sheetxml.number_cell(n, sheetxml.TOTAL_STYLE if total else sheetxml.NUMBER_STYLE) for n in numbers)]
        rows.append(sheetxml.row(cells))
    return (sheetxml.sheet_head(len(columns) - 1, len(counted) + 1, widths, selected=False) + "".join(rows)
            + sheetxml.sheet_tail("风险点统计"))

