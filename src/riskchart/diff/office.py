"""The 修订对照表 (revision table) as .docx and .xlsx bytes, to attach to a 请示.

A title with the two versions' labels and a summary line, then one table
per changed chart under its heading (department, 职权编码, id and title)
with the columns 环节 | 项目 | 修订前 | 修订后 | 说明.  An added or removed
chart is one row.  Where both sides have text, the characters that changed
are marked: struck through in 修订前, bold and underlined in 修订后.  A4
landscape (two text columns need the width); fonts as booklet.docx and the
risk register set them.  Pure: a Diff in, bytes out; the caller writes.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import style
from ..check.characters import printable
from ..config import Settings
from ..publish import docx as word
from ..publish import xlsx as sheet_format
from ..publish.chartrows import ROW_PADDING, row_height, wrapped_lines
from .changes import KINDS, Change, ChartDiff, Diff

TITLE = "权力运行廉政风险防控图修订对照表"
COLUMNS = ("环节", "项目", "修订前", "修订后", "说明")
NO_REVISIONS = "无修订"
WHOLE_CHART = "—"  # 环节 of a change to the chart as a whole
WHOLE_CHART_KINDS = ("chart_added", "chart_removed")
# docx: landscape A4 (publish/docx.a4_document), in cm; the columns add up to the printable width
MARGINS_CM = {"top": 2.5, "bottom": 2.5, "left": 2.6, "right": 2.6}
COLUMN_CM = (3.2, 2.8, 7.85, 7.85, 2.8)
TABLE_FONT_PT = 12  # 小四
CELL_STYLE = "修订对照表正文"  # the cells' paragraph style: Normal at TABLE_FONT_PT
HEADING_STYLE_ID, TABLE_STYLE_ID = "Heading1", "TableGrid"  # of python-docx's default template
CHART_HEADING_PT = 14  # 四号
# xlsx: column widths in Excel's units (a CJK character is two)
COLUMN_UNITS = (16, 14, 44, 44, 12)
SHEET = "修订对照表"
_NO_PROJECT_SETTINGS = Settings()


@dataclass(frozen=True)
class TableRow:
    step: str
    item: str
    before: str
    after: str
    note: str

    def cells(self) -> tuple[str, str, str, str, str]:
        return self.step, self.item, self.before, self.after, self.note


def clean(text: str) -> str:
    """Text safe for an office file: control characters shown as escapes
    (XML cannot hold most of them), line breaks kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def sides_line(diff: Diff) -> str:
    return f"修订前：{clean(diff.old.label)}　　修订后：{clean(diff.new.label)}"


def summary_line(diff: Diff) -> str:
    """共 2 张图有修订，5 处：修改表述 2、新增 3；另有 38 张图无修订."""
    if not diff:
        return NO_REVISIONS
    counts = diff.counts()
    kinds = "、".join(f"{note} {counts[kind]}" for kind, note in KINDS.items() if counts[kind])
    unchanged = f"；另有 {diff.unchanged} 张图无修订" if diff.unchanged else ""
    return f"共 {len(diff.charts)} 张图有修订，{sum(counts.values())} 处：{kinds}{unchanged}"


def chart_heading(chart: ChartDiff) -> str:
    """某某科　职权编码：XK-001　3. 食品经营许可 — the parts that are known."""
    drawn = chart.new or chart.old
    code = drawn.code.strip() if drawn and drawn.code else ""
    parts = [chart.department, f"职权编码：{code}" if code else "", f"{chart.id}. {chart.title}"]
    return clean("　".join(p for p in parts if p))


def table_rows(chart: ChartDiff) -> list[TableRow]:
    """The rows of a chart's table: one for an added or removed chart, else one a change."""
    whole = [c for c in chart.changes if c.kind in WHOLE_CHART_KINDS]
    if whole or chart.old_file is None or chart.new_file is None:
        added = whole[0].kind == "chart_added" if whole else chart.old_file is None
        change = whole[0] if whole else Change("chart_added" if added else "chart_removed", "", "职权",
                                               before="" if added else chart.title, after=chart.title if added else "")
        return [_row(change)]
    return [_row(c) for c in chart.changes]


def _row(change: Change) -> TableRow:
    return TableRow(clean(change.step) or WHOLE_CHART, clean(change.item), clean(change.before), clean(change.after),
                    change.note)


Fragments = list[tuple[str, bool]]  # (text, changed)


def marked_fragments(before: str, after: str) -> tuple[Fragments, Fragments]:
    """Each side cut into runs of kept and changed characters; nothing is
    marked when a side is empty (an added or removed item is changed whole)."""
    if not before or not after:
        return [(before, False)] if before else [], [(after, False)] if after else []
    old: Fragments = []
    new: Fragments = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        _append(old, before[i1:i2], tag != "equal")
        _append(new, after[j1:j2], tag != "equal")
    return old, new


def _append(fragments: Fragments, text: str, changed: bool) -> None:
    """Add a run, joined to the last one when it is marked alike."""
    if fragments and fragments[-1][1] == changed:
        fragments[-1] = (fragments[-1][0] + text, changed)
    elif text:
        fragments.append((text, changed))


# ------------------------------------------------------------------- Word

def revision_table_docx(diff: Diff, settings: Settings = _NO_PROJECT_SETTINGS) -> bytes:
    """The 修订对照表 as a Word document; fonts from `settings.docx_fonts` (body, headings)."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = word.a4_document(word.Fonts(*settings.docx_fonts), TITLE, landscape=True, margins_cm=MARGINS_CM)
    cell_style = document.styles.add_style(CELL_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    cell_style.base_style = document.styles["Normal"]
    cell_style.font.size = Pt(TABLE_FONT_PT)
    cell_style.paragraph_format.space_after = Pt(0)

    title = document.add_paragraph(style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.add_run(TITLE)
    for text in (sides_line(diff), summary_line(diff)):
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run(text).font.size = Pt(CHART_HEADING_PT)
    for chart in diff.charts:
        heading = document.add_paragraph()
        heading._p.style = HEADING_STYLE_ID  # by id: python-docx looks a style's name up slowly
        heading.add_run(chart_heading(chart)).font.size = Pt(CHART_HEADING_PT)
        heading.paragraph_format.keep_with_next = True
        heading.paragraph_format.space_before = Pt(CHART_HEADING_PT)
        _docx_table(document, table_rows(chart), cell_style.style_id)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_table(document: Any, rows: list[TableRow], cell_style: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm

    table = document.add_table(rows=1 + len(rows), cols=len(COLUMNS))
    table._tbl.tblStyle_val = TABLE_STYLE_ID
    table.autofit = False
    # Word reads the cells' widths, LibreOffice the grid's
    for column, cm in zip(table.columns, COLUMN_CM, strict=True):
        column.width = Cm(cm)
    # each row's cells taken once: python-docx finds a cell by walking the whole table
    grid = [row.cells for row in table.rows]
    for cells in grid:
        for cell, cm in zip(cells, COLUMN_CM, strict=True):
            cell.width = Cm(cm)
            cell.paragraphs[0]._p.style = cell_style
    repeat = OxmlElement("w:tblHeader")  # the column titles again on every page the table runs over
    repeat.set(qn("w:val"), "true")
    table.rows[0]._tr.get_or_add_trPr().append(repeat)
    for cell, name in zip(grid[0], COLUMNS, strict=True):
        _fill(cell, [(name, False)], bold=True)
        shading = OxmlElement("w:shd")
        shading.set(qn("w:val"), "clear")
        shading.set(qn("w:fill"), style.HEADER_FILL.lstrip("#"))
        cell._tc.get_or_add_tcPr().append(shading)
    for cells, row in zip(grid[1:], rows, strict=True):
        old, new = marked_fragments(row.before, row.after)
        _fill(cells[1], [(row.item, False)])
        _fill(cells[2], old, changed_style="strike")
        _fill(cells[3], new, changed_style="bold")
        _fill(cells[4], [(row.note, False)])
    for first, last in _runs([row.step for row in rows]):
        _fill(grid[first + 1][0], [(rows[first].step, False)])
        if last > first:
            grid[first + 1][0].merge(grid[last + 1][0])


def _runs(steps: list[str]) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of rows of one step, merged in the 环节 column."""
    first = 0
    for r in range(1, len(steps) + 1):
        if r == len(steps) or steps[r] != steps[first]:
            yield first, r - 1
            first = r


def _fill(cell: Any, fragments: Fragments, bold: bool = False, changed_style: str = "") -> None:
    paragraph = cell.paragraphs[0]
    for text, changed in fragments:
        run = paragraph.add_run(text)
        run.bold = bold or (changed and changed_style == "bold") or None
        if changed and changed_style == "bold":
            run.underline = True
        if changed and changed_style == "strike":
            run.font.strike = True


# ------------------------------------------------------------------ Excel

def revision_table_xlsx(diff: Diff, settings: Settings = _NO_PROJECT_SETTINGS) -> bytes:
    """The 修订对照表 as an Excel workbook (one sheet; its fonts are the risk register's)."""
    import xlsxwriter

    del settings  # the workbook's fonts are fixed (宋体 with the Chinese charset), as the register's
    buffer = io.BytesIO()
    # Text stays text: no cell becomes a number, a link or a formula.
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    workbook.set_properties({"title": TITLE, "creator": "riskchart"})
    formats = _Formats(workbook)
    sheet = workbook.add_worksheet(SHEET)
    for i, width in enumerate(COLUMN_UNITS):
        sheet.set_column(i, i, width)
    last = len(COLUMNS) - 1
    sheet.merge_range(0, 0, 0, last, TITLE, formats.title)
    sheet.set_row(0, 30)
    sheet.merge_range(1, 0, 1, last, sides_line(diff), formats.centred)
    sheet.merge_range(2, 0, 2, last, summary_line(diff), formats.centred)
    r = 4
    for chart in diff.charts:
        sheet.merge_range(r, 0, r, last, chart_heading(chart), formats.chart)
        sheet.set_row(r, row_height(1) + ROW_PADDING)
        for i, name in enumerate(COLUMNS):
            sheet.write_string(r + 1, i, name, formats.header)
        r += 2
        for row in table_rows(chart):
            old, new = marked_fragments(row.before, row.after)
            sheet.write_string(r, 0, row.step, formats.text)
            sheet.write_string(r, 1, row.item, formats.text)
            _write_marked(sheet, r, 2, old, formats, formats.strike)
            _write_marked(sheet, r, 3, new, formats, formats.bold)
            sheet.write_string(r, 4, row.note, formats.text)
            lines = max(wrapped_lines(value, COLUMN_UNITS[i]) for i, value in enumerate(row.cells()))
            sheet.set_row(r, row_height(lines))
            r += 1
        r += 1  # a blank row between charts
    sheet.set_landscape()
    sheet.set_paper(sheet_format.A4_PAPER)
    sheet.fit_to_pages(1, 0)  # the page width, as many pages as it takes
    sheet.set_margins(left=0.5, right=0.5, top=0.7, bottom=0.7)
    sheet.set_footer("&C第 &P 页，共 &N 页")
    workbook.close()
    return buffer.getvalue()


class _Formats:
    def __init__(self, workbook: Any) -> None:
        font = {"font_name": sheet_format.FONT, "font_size": sheet_format.FONT_SIZE,
                "font_charset": sheet_format.GB2312_CHARSET}
        base = {**font, "border": 1, "border_color": style.BOX_BORDER, "valign": "top", "text_wrap": True}
        self.text = workbook.add_format(base)
        self.header = workbook.add_format({**base, "bold": True, "align": "center", "valign": "vcenter",
                                           "bg_color": style.HEADER_FILL})
        self.chart = workbook.add_format({**font, "bold": True, "valign": "vcenter", "font_size": 12})
        self.title = workbook.add_format({**font, "bold": True, "align": "center", "valign": "vcenter",
                                          "font_size": 16})
        self.centred = workbook.add_format({**font, "align": "center"})
        # rich-string fragments: only the font of the changed characters
        self.strike = workbook.add_format({**font, "font_strikeout": True})
        self.bold = workbook.add_format({**font, "bold": True, "underline": 1})
        # a cell changed whole
        self.whole = {self.strike: workbook.add_format({**base, "font_strikeout": True}),
                      self.bold: workbook.add_format({**base, "bold": True, "underline": 1})}


def _write_marked(sheet: Any, row: int, column: int, fragments: Fragments, formats: _Formats, changed: Any) -> None:
    """A cell whose changed characters carry `changed` (a rich string), or plain text."""
    if len(fragments) < 2:  # XlsxWriter's rich strings need two fragments: one changed whole is one format
        whole = changed if fragments and fragments[0][1] else None
        sheet.write_string(row, column, "".join(text for text, _ in fragments), formats.whole.get(whole, formats.text))
        return
    parts: list[Any] = []
    for text, marked in fragments:
        parts += [changed, text] if marked else [text]
    sheet.write_rich_string(row, column, *parts, formats.text)
