"""The risk register as .xlsx: read back with openpyxl, and opened by LibreOffice."""

import csv
import io
import subprocess

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import CHARTS, lint_files, pdf_text

from riskchart import style
from riskchart.cli import main
from riskchart.config import find_settings
from riskchart.lint import lint_paths
from riskchart.publish import tables
from riskchart.publish.xlsx import REGISTER_SHEET, STATISTICS_COLUMNS, STATISTICS_SHEET, register_xlsx

TWO_CHARTS = {
    "01-a.yaml": (
        "id: 1\ncategory: 行政裁决\ntitle: 甲\nsteps:\n"
        "  - name: 受理\n    level: 高\n    risks:\n      - 刁难。\n      - 拖延。\n      - 索要。\n"
        "    measures:\n      - 公开。\n    owner: 受理人\n"
        "  - name: 审核\n    level: 低\n    risks:\n      - 徇私。\n    measures:\n      - 复核。\n    owner: 科长\n"
    ),
    "02-b.yaml": (
        "id: 2\ncategory: 行政确认\ntitle: 乙\nsteps:\n"
        "  - name: 办结\n    level: 中\n    risks:\n      - '=1+1'\n      - 不告知。\n"
        "    measures:\n      - 限时。\n    owner: 经办人\n"
    ),
}


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    charts = list(lint_files(tmp_path_factory.mktemp("xlsx"), TWO_CHARTS).charts)
    return charts, openpyxl.load_workbook(io.BytesIO(register_xlsx(charts)))


def column(name: str) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[tables.REGISTER_COLUMNS.index(name)]


def test_one_row_per_risk_point_in_the_csv_columns(two):
    charts, book = two
    sheet = book[REGISTER_SHEET]
    assert book.sheetnames == [REGISTER_SHEET, STATISTICS_SHEET]
    assert tuple(c.value for c in sheet[1]) == tables.REGISTER_COLUMNS
    assert sheet.max_row == 1 + len(tables.register(charts)) == 7
    numbers = [sheet[f"{column('编号')}{r}"].value for r in range(2, 8)]
    assert numbers == ["1-1-1", "1-1-2", "1-1-3", "1-2-1", "2-1-1", "2-1-2"]


def test_chart_and_step_cells_are_merged_over_their_risk_rows(two):
    sheet = two[1][REGISTER_SHEET]
    merged = {str(r) for r in sheet.merged_cells.ranges}
    title, step, level, risk, number = (column(n) for n in ("职权名称", "环节", "风险等级", "风险点", "编号"))
    assert {f"{title}2:{title}5", f"{title}6:{title}7"} <= merged  # a chart's rows
    assert {f"{step}2:{step}4", f"{level}2:{level}4", f"{step}6:{step}7"} <= merged  # a step's rows
    assert not any(r.startswith((f"{risk}", f"{number}")) for r in merged)
    assert not {f"{step}2:{step}5", f"{title}5:{title}6"} & merged  # never across steps or charts


def test_level_cells_are_coloured_as_in_the_charts(two):
    sheet = two[1][REGISTER_SHEET]
    fills = {sheet[f"{column('风险等级')}{r}"].value: sheet[f"{column('风险等级')}{r}"].fill.fgColor.rgb
             for r in (2, 5, 6)}
    assert fills == {level: "FF" + style.LEVEL_STYLES[level]["fill"][1:].upper() for level in ("高", "低", "中")}
    assert sheet[f"{column('风险等级')}2"].font.color.rgb == "FFFFFFFF"  # white on dark red


def test_header_frozen_filtered_and_printed_on_every_a4_landscape_page(two):
    sheet = two[1][REGISTER_SHEET]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{column(tables.REGISTER_COLUMNS[-1])}7"
    assert sheet.print_title_rows == "$1:$1"
    assert (sheet.page_setup.orientation, sheet.page_setup.paperSize) == ("landscape", 9)
    assert (sheet.page_setup.fitToWidth or 1, sheet.page_setup.fitToHeight) == (1, 0)  # 1 is left out as the default
    assert sheet.sheet_properties.pageSetUpPr.fitToPage


def test_wrapped_cells_have_room_for_chinese_text(two):
    sheet = two[1][REGISTER_SHEET]
    assert sheet[f"{column('防控措施')}2"].alignment.wrap_text
    assert sheet.column_dimensions[column("职权名称")].width >= 6
    assert sheet.row_dimensions[2].height >= 14


def test_formula_like_text_stays_text_as_in_the_csv(two):
    sheet = two[1][REGISTER_SHEET]
    cell = sheet[f"{column('风险点')}6"]
    assert (cell.value, cell.data_type) == ("'=1+1", "s")
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_statistics_sheet_has_the_numbers_of_stats(two):
    charts, book = two
    rows = [tuple(c.value for c in row) for row in book[STATISTICS_SHEET].iter_rows()]
    stats = tables.statistics(charts)
    assert rows[0] == STATISTICS_COLUMNS
    assert rows[-1] == ("合计", 2, 3, 6, 3, 2, 1, 0, 0) == ("合计", stats.total.charts, stats.total.steps,
                                                          stats.total.risk_total, *stats.total.risks.values(),
                                                          stats.total.coded, stats.total.exits)
    # the numbers of `riskchart stats`, column by column
    printed = tables.statistics_text(stats).splitlines()
    assert rows[0] == tuple(printed[0].split())
    assert rows[-1] == tuple(int(v) if v.isdigit() else v for v in printed[-1].split())
    assert [r[0] for r in rows[1:-1]] == list(stats.by_category)


def test_export_writes_xlsx_only_to_a_file(tmp_path):
    lint_files(tmp_path / "charts", TWO_CHARTS)
    target = tmp_path / "台账.xlsx"
    done = CliRunner().invoke(main, ["export", str(tmp_path / "charts"), "--format", "xlsx", "-o", str(target)])
    assert done.exit_code == 0, done.output
    assert openpyxl.load_workbook(target)[REGISTER_SHEET].max_row == 7
    refused = CliRunner().invoke(main, ["export", str(tmp_path / "charts"), "--format", "xlsx"])
    assert refused.exit_code == 2 and "-o" in refused.output


# ------------------------------------------------------- opened by LibreOffice

@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font", "soffice", "pdftotext", "pdfinfo")
def test_libreoffice_reads_the_register_as_the_csv_says(office_conversions):
    converted = office_conversions["risk-register.csv"].read_text(encoding="utf-8")
    published = office_conversions["set"] / "risk-register.csv"
    original = published.read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(converted))) == list(csv.reader(io.StringIO(original)))


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font", "soffice", "pdftotext", "pdfinfo")
def test_libreoffice_prints_the_register_on_a4_landscape_with_the_header_on_each_page(office_conversions):
    pdf = office_conversions["risk-register.pdf"]
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "841.89 x 595.3" in info  # A4 landscape
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 3
    for page in (2, pages - 1):  # the register's second and last pages (the statistics sheet comes last)
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        assert "风险等级" in text and "防控措施" in text and "风险点台账" in text, page  # header row and page header
    assert "合计" in subprocess.run(["pdftotext", "-f", str(pages), str(pdf), "-"], capture_output=True, text=True,
                                   check=True).stdout
    text = pdf_text(pdf)
    charts = list(lint_paths([CHARTS], find_settings(CHARTS)).charts)
    assert all(row.编号 in text for row in tables.register(charts))



# ---------------------------------------------- a project's own level scale

FOUR_LEVELS = ("一级", "二级", "三级", "四级")
FOUR_LEVEL_CHARTS = {
    "01-a.yaml": (
        "id: 1\ncategory: 行政裁决\ntitle: 甲\nsteps:\n"
        "  - {name: 受理, level: 一级, risks: [刁难。, 拖延。], measures: [公开。], owner: 受理人}\n"
        "  - {name: 审核, level: 二级, risks: [徇私。], measures: [复核。], owner: 科长}\n"
        "  - {name: 决定, level: 三级, risks: [越权。], measures: [集体研究。], owner: 局长}\n"
        "  - {name: 送达, level: 四级, risks: [不告知。], measures: [限时。], owner: 经办人}\n"
        "  - {name: 归档, risks: [丢失。], measures: [专人保管。], owner: 档案员}\n"
    ),
}


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    from riskchart.config import Settings

    settings = Settings(levels=FOUR_LEVELS)
    charts = list(lint_files(tmp_path_factory.mktemp("four"), FOUR_LEVEL_CHARTS, settings).charts)
    assert len(charts) == 1
    return charts, openpyxl.load_workbook(io.BytesIO(register_xlsx(charts, settings.categories, FOUR_LEVELS)))


def test_a_projects_own_levels_are_coloured_as_in_its_charts(four):
    from riskchart.draw.layout import level_styles

    sheet = four[1][REGISTER_SHEET]
    level = column("风险等级")
    fills = {sheet[f"{level}{r}"].value: sheet[f"{level}{r}"].fill.fgColor.rgb for r in range(2, sheet.max_row + 1)}
    colours = level_styles(FOUR_LEVELS)
    assert {name: fill[-6:].lower() for name, fill in fills.items() if name} == {
        name: colours[name]["fill"].lstrip("#").lower() for name in FOUR_LEVELS}
    assert len(set(fills.values())) == 5  # four levels apart, and the ungraded row in no colour of theirs
    assert not sheet[f"{level}{sheet.max_row}"].value  # 归档: no level, so none coloured


def test_the_statistics_sheet_counts_a_projects_own_levels(four):
    rows = [tuple(c.value for c in row) for row in four[1][STATISTICS_SHEET].iter_rows()]
    assert rows[0] == ("类别", "图", "环节", "风险点", *FOUR_LEVELS, "未评定", "有编码", "分支")
    assert rows[-1] == ("合计", 1, 5, 6, 2, 1, 1, 1, 1, 0, 0)
