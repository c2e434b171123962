"""The 修订对照表 as .docx and .xlsx: read back with python-docx and openpyxl, printed by LibreOffice."""

import io
import os
import subprocess
import zipfile
from dataclasses import replace

import docx
import openpyxl
import pytest
from conftest import pdf_text
from docx.oxml.ns import qn
from hand_built import CHANGES, CHART_3_ROWS, revision

from riskchart.config import Settings
from riskchart.diff import office
from riskchart.diff.changes import Change, ChartDiff, Diff, Side

HOSTILE = ('=CMD("calc")|A1', '<w:t>&amp;</w:t>"]]>', "+1+1", "@SUM(A1)", "-2", "响铃\x07与\x00空字符")


@pytest.fixture(scope="module")
def diff(tmp_path_factory):
    return revision(tmp_path_factory.mktemp("office"))


@pytest.fixture(scope="module")
def word(diff):
    return docx.Document(io.BytesIO(office.revision_table_docx(diff, Settings())))


@pytest.fixture(scope="module")
def book(diff):
    return openpyxl.load_workbook(io.BytesIO(office.revision_table_xlsx(diff, Settings())), rich_text=True)


def table_cells(table) -> list[tuple[str, ...]]:
    return [tuple(cell.text for cell in row.cells) for row in table.rows]


def sheet_rows(sheet) -> list[tuple[str, ...]]:
    return [tuple("" if v is None else str(v) for v in row) for row in sheet.iter_rows(values_only=True)]


# ------------------------------------------------------------------- Word

def test_docx_title_sides_and_summary(word):
    texts = [p.text for p in word.paragraphs]
    assert texts[:3] == ["权力运行廉政风险防控图修订对照表", "修订前：v1.0 (3f2a9c1)　　修订后：工作区",
                         ("共 3 张图有修订，8 处：新增职权 1、删除职权 1、修改 1、新增环节 1、风险等级调整 1、新增 1、"
                          "删除 1、修改表述 1；另有 1 张图无修订")]


def test_docx_one_table_per_chart_under_its_heading_with_the_changes_exactly(word):
    headings = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["市场监管局　职权编码：XK-003　3. 食品经营许可（含备案）", "市场监管局　5. 旧职权", "市场监管局　6. 新职权"]
    first, removed, added = (table_cells(t) for t in word.tables)
    assert first == [office.COLUMNS, *CHART_3_ROWS]
    assert removed == [office.COLUMNS, ("—", "职权", "旧职权", "", "删除职权")]  # a removed chart is one row
    assert added == [office.COLUMNS, ("—", "职权", "", "新职权", "新增职权")]


def test_docx_merges_the_step_over_its_rows_and_repeats_the_column_titles(word):
    table = word.tables[0]
    merges = [row._tr.tc_lst[0].vMerge for row in table.rows]
    assert merges == [None, None, "restart", "continue", "continue", None, None]  # 受理's three rows
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None


def test_docx_marks_the_changed_characters(word):
    cells = word.tables[0].rows[2].cells  # 风险点1: 不按规定程序受理。 → 不按规定程序和时限受理。
    after = [(r.text, bool(r.bold), bool(r.underline)) for r in cells[3].paragraphs[0].runs]
    assert after == [("不按规定程序", False, False), ("和时限", True, True), ("受理。", False, False)]
    level = word.tables[0].rows[6].cells
    assert [(r.text, r.font.strike) for r in level[2].paragraphs[0].runs] == [("中", True)]
    assert [(r.text, r.bold) for r in level[3].paragraphs[0].runs] == [("高", True)]
    added = word.tables[0].rows[4].cells[3].paragraphs[0].runs  # an added item is new whole: nothing marked
    assert [(r.text, r.bold) for r in added] == [("一次性告知需补正的材料。", None)]


def test_docx_is_a4_landscape_with_chinese_fonts(word):
    section = word.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (297, 210)
    printable = section.page_width - section.left_margin - section.right_margin
    assert abs(sum(office.COLUMN_CM) * 360000 - printable) < 360000 * 0.05  # the columns fill the width
    cell = word.tables[0].rows[1].cells[1].paragraphs[0]
    assert cell.style.name == office.CELL_STYLE and cell.style.font.size.pt == office.TABLE_FONT_PT == 12  # 小四
    for name, font in (("Normal", "仿宋"), ("Title", "黑体"), ("Heading 1", "黑体")):
        fonts = word.styles[name].element.rPr.rFonts
        assert fonts.get(qn("w:eastAsia")) == font, name


def test_docx_fonts_follow_the_project_settings(diff):
    document = docx.Document(io.BytesIO(office.revision_table_docx(diff, Settings(docx_fonts=("宋体", "方正小标宋")))))
    assert document.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
    assert document.styles["Title"].element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋"


def test_docx_of_no_change_says_so():
    document = docx.Document(io.BytesIO(office.revision_table_docx(Diff(Side("v1"), Side("v2"), (), unchanged=4))))
    assert [p.text for p in document.paragraphs] == [office.TITLE, "修订前：v1　　修订后：v2", "无修订"]
    assert document.tables == []


def hostile_diff(diff: Diff) -> Diff:
    rows = tuple(Change("item_reworded", text, text, text, text + "改", ("steps", 1, "risks", 0),
                        ("steps", 1, "risks", 0)) for text in HOSTILE)
    chart = replace(diff.charts[0], department=HOSTILE[1], title=HOSTILE[0], changes=rows)
    return replace(diff, old=Side(HOSTILE[1]), new=Side(HOSTILE[5]), charts=(chart,))


def test_docx_keeps_hostile_text_as_text(diff):
    document = docx.Document(io.BytesIO(office.revision_table_docx(hostile_diff(diff))))
    shown = [office.clean(t) for t in HOSTILE]
    assert shown[5] == "响铃\\x07与\\x00空字符"  # control characters, which XML cannot hold, as escapes
    assert [row[1:4] for row in table_cells(document.tables[0])[1:]] == [(t, t, t + "改") for t in shown]
    assert document.paragraphs[1].text == f"修订前：{shown[1]}　　修订后：{shown[5]}"


# ------------------------------------------------------------------ Excel

def test_xlsx_rows_exactly(book, diff):
    rows = sheet_rows(book[office.SHEET])
    assert rows[:4] == [(office.TITLE, "", "", "", ""), ("修订前：v1.0 (3f2a9c1)　　修订后：工作区", "", "", "", ""),
                        (office.summary_line(diff), "", "", "", ""), ("",) * 5]
    heading = "市场监管局　职权编码：XK-003　3. 食品经营许可（含备案）"
    assert rows[4:] == [
        (heading, "", "", "", ""), office.COLUMNS, *CHART_3_ROWS, ("",) * 5,
        ("市场监管局　5. 旧职权", "", "", "", ""), office.COLUMNS, ("—", "职权", "旧职权", "", "删除职权"), ("",) * 5,
        ("市场监管局　6. 新职权", "", "", "", ""), office.COLUMNS, ("—", "职权", "", "新职权", "新增职权"),
    ]
    sheet = book[office.SHEET]
    assert {str(r) for r in sheet.merged_cells.ranges} >= {"A1:E1", "A2:E2", "A3:E3", "A5:E5", "A14:E14", "A18:E18"}


def test_xlsx_marks_the_changed_characters(book):
    sheet = book[office.SHEET]
    after = sheet["D8"].value  # 风险点1 of chart 3
    assert str(after) == "不按规定程序和时限受理。"
    marked = [(block.text, bool(block.font.b), block.font.u) for block in after
              if hasattr(block, "font") and block.font.b]
    assert marked == [("和时限", True, "single")]
    assert sheet["C12"].value == "中" and sheet["C12"].font.strike
    assert sheet["D12"].value == "高" and sheet["D12"].font.b


def test_xlsx_prints_on_a4_landscape_one_page_wide(book):
    sheet = book[office.SHEET]
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToHeight == 0
    assert sheet.page_setup.fitToWidth in (None, 1)  # 1 is the default, which openpyxl reads as None
    assert sheet["B8"].font.name == "宋体" and sheet["B8"].alignment.wrap_text


def test_xlsx_writes_formula_like_and_xml_like_text_as_strings(diff):
    data = office.revision_table_xlsx(hostile_diff(diff))
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        worksheet = package.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in worksheet and "<f " not in worksheet  # no cell is a formula
    sheet = openpyxl.load_workbook(io.BytesIO(data))[office.SHEET]
    rows = sheet_rows(sheet)
    assert [r[1:4] for r in rows[6:]] == [(t, t, t + "改") for t in map(office.clean, HOSTILE)]
    assert all(sheet.cell(r, c).data_type == "s" for r in range(7, 7 + len(HOSTILE)) for c in range(1, 6))


def test_xlsx_of_no_change_says_so():
    sheet = openpyxl.load_workbook(io.BytesIO(office.revision_table_xlsx(Diff(Side("v1"), Side("v2"), ()))))[office.SHEET]
    assert sheet_rows(sheet) == [(office.TITLE, "", "", "", ""), ("修订前：v1　　修订后：v2", "", "", "", ""),
                                 ("无修订", "", "", "", "")]


def test_a_chart_without_a_change_of_its_own_still_gets_its_row():
    # an added chart that compare.py gave step rows too: still one row
    chart = ChartDiff("科", 9, "甲", None, "09-甲.yaml", (Change("step_added", "受理", "环节", "", "受理"),))
    assert [r.cells() for r in office.table_rows(chart)] == [("—", "职权", "", "甲", "新增职权")]
    assert [r.cells() for r in office.table_rows(replace(chart, changes=CHANGES[:1]))] == \
        [("—", "职权", "", "甲", "新增职权")]


# ------------------------------------------------------- printed by LibreOffice

@pytest.mark.slow
@pytest.mark.needs("soffice", "pdftotext", "pdfinfo", "cjk-font")
def test_libreoffice_prints_both_tables_on_a4_landscape(diff, tmp_path):
    for name, data in (("对照表.docx", office.revision_table_docx(diff)), ("对照表.xlsx", office.revision_table_xlsx(diff))):
        (tmp_path / name).write_bytes(data)
    subprocess.run(["soffice", "-env:UserInstallation=" + (tmp_path / "profile").as_uri(), "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), str(tmp_path / "对照表.docx")],
                   env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, timeout=300, check=True)
    subprocess.run(["soffice", "-env:UserInstallation=" + (tmp_path / "profile").as_uri(), "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "xlsx"), str(tmp_path / "对照表.xlsx")],
                   env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, timeout=300, check=True)
    for pdf in (tmp_path / "pdf" / "对照表.pdf", tmp_path / "xlsx" / "对照表.pdf"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert "841.89 x 595.2" in info or "841.89 x 595.3" in info, info  # A4 landscape
        text = pdf_text(pdf)
        for row in CHART_3_ROWS:
            for cell in row:
                assert cell.replace(" ", "") in text, (pdf, cell)
        assert "职权编码：XK-003" in text and "旧职权" in text and "新职权" in text


def test_a_step_added_whole_keeps_its_lines(diff):
    # compare.py describes an added or removed step in lines: its name, level, risks, measures, owner
    described = "现场核查\n风险等级：低\n风险点1：核查走过场。"
    chart = replace(diff.charts[0], changes=(Change("step_added", "现场核查", "环节", "", described, None, ("steps", 2)),))
    document = docx.Document(io.BytesIO(office.revision_table_docx(replace(diff, charts=(chart,)))))
    assert table_cells(document.tables[0])[1] == ("现场核查", "环节", "", described, "新增环节")
    sheet = openpyxl.load_workbook(io.BytesIO(office.revision_table_xlsx(replace(diff, charts=(chart,)))))[office.SHEET]
    assert sheet["D7"].value == described
    assert sheet.row_dimensions[7].height >= 3 * 14.5  # room for the three lines
