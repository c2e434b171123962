"""SpreadsheetML (the XML inside an .xlsx) as text: cells, styles and the
workbook's fixed parts, written by riskchart itself.

Cells hold inline strings (`t="inlineStr"`), never shared strings, so a
chart's rows are XML of their own that does not depend on any other chart,
and rows and cells carry no `r=` references (the schema makes them optional:
a row is the one after the previous, a cell the next column), so the same
rows can stand anywhere in the sheet.  Every text goes through `escape`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAX_CELL_TEXT = 32_767  # Excel's limit, in UTF-16 units: longer text is cut, as XlsxWriter cuts it

# Not allowed in XML 1.0, or changed by every parser (CR): written as Excel's
# _xHHHH_ escape, which Excel and LibreOffice turn back into the character.  A
# text that already contains such a sequence gets its "_" escaped (_x005F_), so
# it reads back as written.  Lone surrogates (a file name not in UTF-8) cannot
# be written at all: U+FFFD stands in for them.
_ESCAPED = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NEEDS_CARE = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")


def escape(text: str) -> str:
    """Text as the content of a SpreadsheetML <t> element."""
    if len(text) > MAX_CELL_TEXT // 2:
        text = _cut(text)
    if _NEEDS_CARE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
        text = _ESCAPED.sub(lambda found: f"_x{ord(found.group()):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str) -> str:
    """The text's first MAX_CELL_TEXT UTF-16 units (a character beyond the BMP takes two)."""
    units = 0
    for end, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > MAX_CELL_TEXT:
            return text[:end]
    return text


def text_cell(text: str, style: int) -> str:
    """A cell holding `text` as an inline string; an empty one is a blank cell with the style."""
    if not text:
        return f'<c s="{style}"/>'
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    return f'<c s="{style}" t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


def number_cell(value: int, style: int) -> str:
    return f'<c s="{style}"><v>{int(value)}</v></c>'


def row(cells: Sequence[str], height: float | None = None) -> str:
    """A row of these cells; its height in points (None: Excel's default)."""
    if height is None:
        return f'<row>{"".join(cells)}</row>'
    return f'<row ht="{height:g}" customHeight="1">{"".join(cells)}</row>'


def column_name(index: int) -> str:
    """A, B, …, Z, AA, … for a 0-based column index."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def excel_width(width: float) -> float:
    """A width in characters as Excel stores it (with its cell padding), as XlsxWriter writes it."""
    return int((width * 7 + 5) / 7 * 256) / 256


def columns(widths: Sequence[float]) -> str:
    return "<cols>" + "".join(f'<col min="{i}" max="{i}" width="{excel_width(w)!r}" customWidth="1"/>'
                              for i, w in enumerate(widths, start=1)) + "</cols>"


def merge_template(columns: Sequence[int]) -> str:
    """<mergeCell> elements of one column each, their first and last rows
    left as %d to be filled in where the rows end up."""
    return "".join(f'<mergeCell ref="{column_name(i)}%d:{column_name(i)}%d"/>' for i in columns)


def merge_cells(count: int, cells: str) -> str:
    """<mergeCells> of `count` <mergeCell> elements; nothing when there is none."""
    return f'<mergeCells count="{count}">{cells}</mergeCells>' if count else ""


def sheet_head(last_column: int, last_row: int, widths: Sequence[float], selected: bool) -> str:
    """A worksheet up to its first row: fit to the page width, header row frozen."""
    tab = ' tabSelected="1"' if selected else ""
    return (f'{DECLARATION}<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            f'<dimension ref="A1:{column_name(last_column)}{last_row}"/>'
            f'<sheetViews><sheetView{tab} workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{columns(widths)}<sheetData>')


def sheet_tail(title: str, autofilter: str = "", merged: str = "") -> str:
    """A worksheet after its last row: filter, merged ranges and A4 landscape
    print set-up (fit to the page width, as many pages as it takes)."""
    filtered = f'<autoFilter ref="{autofilter}"/>' if autofilter else ""
    # & starts a code in a header: the title is fixed text, escaped for XML only
    return (f'</sheetData>{filtered}{merged}'
            '<pageMargins left="0.5" right="0.5" top="0.7" bottom="0.7" header="0.3" footer="0.3"/>'
            '<pageSetup paperSize="9" fitToHeight="0" orientation="landscape"/>'
            f'<headerFooter><oddHeader>&amp;C{escape(title)}</oddHeader>'
            '<oddFooter>&amp;C第 &amp;P 页，共 &amp;N 页</oddFooter></headerFooter></worksheet>')


# ----------------------------------------------------------------- styles

def _colour(hex_colour: str) -> str:
    return "FF" + hex_colour.lstrip("#").upper()


def styles(font: str, size: float, charset: int, border: str, header_fill: str,
           levels: Sequence[tuple[str, str]]) -> str:
    """styles.xml.  Cell formats by index: 0 plain, 1 header, 2 text, 3 number,
    4 bold number (totals), 5 bold text, then one per level in `levels`
    ((fill, text colour), the scale's order) from 6."""
    def font_xml(bold: bool, colour: str = "#000000") -> str:
        return (f'<font>{"<b/>" if bold else ""}<sz val="{size:g}"/><color rgb="{_colour(colour)}"/>'
                f'<name val="{escape(font)}"/><family val="2"/><charset val="{charset}"/></font>')

    def fill_xml(colour: str) -> str:
        return f'<fill><patternFill patternType="solid"><fgColor rgb="{_colour(colour)}"/><bgColor indexed="64"/>' \
               '</patternFill></fill>'

    fonts = [font_xml(False), font_xml(True), *(font_xml(True, text) for _, text in levels)]
    fills = ['<fill><patternFill patternType="none"/></fill>', '<fill><patternFill patternType="gray125"/></fill>',
             fill_xml(header_fill), *(fill_xml(fill) for fill, _ in levels)]
    side = f'style="thin"><color rgb="{_colour(border)}"/>'
    borders = ['<border><left/><right/><top/><bottom/><diagonal/></border>',
               (f'<border><left {side}</left><right {side}</right><top {side}</top><bottom {side}</bottom>'
                '<diagonal/></border>')]
    top, centred, right = 'vertical="top" wrapText="1"', 'horizontal="center" vertical="center" wrapText="1"', \
        'horizontal="right" vertical="top" wrapText="1"'

    def xf(font_id: int, fill_id: int, alignment: str) -> str:
        return (f'<xf numFmtId="0" fontId="{font_id}" fillId="{fill_id}" borderId="1" xfId="0" applyFont="1" '
                f'applyFill="1" applyBorder="1" applyAlignment="1"><alignment {alignment}/></xf>')

    formats = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
               xf(1, 2, centred), xf(0, 0, top), xf(0, 0, right), xf(1, 0, right), xf(1, 0, top),
               *(xf(2 + rank, 3 + rank, centred) for rank in range(len(levels)))]

    def listed(name: str, items: list[str]) -> str:
        return f'<{name} count="{len(items)}">{"".join(items)}</{name}>'

    return (f'{DECLARATION}<styleSheet xmlns="{MAIN}">{listed("fonts", fonts)}{listed("fills", fills)}'
            f'{listed("borders", borders)}<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
            f'borderId="0"/></cellStyleXfs>{listed("cellXfs", formats)}<cellStyles count="1"><cellStyle '
            'name="Normal" xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/></styleSheet>')


HEADER_STYLE, TEXT_STYLE, NUMBER_STYLE, TOTAL_STYLE, TOTAL_NAME_STYLE, FIRST_LEVEL_STYLE = 1, 2, 3, 4, 5, 6


# ------------------------------------------------------- the package parts

def workbook(sheets: Sequence[str], defined: Sequence[tuple[str, int, str, bool]]) -> str:
    """workbook.xml: the sheets in order; defined names (name, sheet index, formula, hidden)."""
    listed = "".join(f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
                     for n, name in enumerate(sheets, start=1))
    hidden_flag = {True: ' hidden="1"', False: ""}
    names = "".join(f'<definedName name="{name}" localSheetId="{sheet}"{hidden_flag[hidden]}>'
                    f'{escape(formula)}</definedName>' for name, sheet, formula, hidden in defined)
    return (f'{DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><bookViews><workbookView/>'
            f'</bookViews><sheets>{listed}</sheets><definedNames>{names}</definedNames>'
            '<calcPr calcId="124519"/></workbook>')


def sheet_reference(sheet: str, cells: str) -> str:
    """A formula's reference to cells of a sheet: its name quoted ('' for a ')."""
    return "'" + sheet.replace("'", "''") + "'!" + cells


def workbook_relationships(sheet_count: int) -> str:
    sheet = f"{RELATIONSHIPS}/worksheet"
    listed = "".join(f'<Relationship Id="rId{n}" Type="{sheet}" Target="worksheets/sheet{n}.xml"/>'
                     for n in range(1, sheet_count + 1))
    return (f'{DECLARATION}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">{listed}<Relationship '
            f'Id="rId{sheet_count + 1}" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/></Relationships>')


def package_relationships() -> str:
    return (f'{DECLARATION}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
            f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" '
            f'Type="{PACKAGE_RELATIONSHIPS}/metadata/core-properties" Target="docProps/core.xml"/></Relationships>')


def core_properties(title: str, creator: str) -> str:
    """No dates: the same register gives the same bytes."""
    return (f'{DECLARATION}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:title>{escape(title)}</dc:title><dc:creator>{escape(creator)}</dc:creator></cp:coreProperties>')


def content_types(sheet_count: int) -> str:
    office = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    sheets = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{office}.worksheet+xml"/>'
                     for n in range(1, sheet_count + 1))
    return (f'{DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{office}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{office}.styles+xml"/>{sheets}'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>')
