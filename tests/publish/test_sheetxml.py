"""riskchart's own SpreadsheetML: hostile text, and workbooks that readers
accept (openpyxl, zipfile, LibreOffice)."""

import dataclasses
import io
import os
import re
import subprocess
import zipfile

import openpyxl
import pytest
from conftest import lint_files

from riskchart.publish import tables
from riskchart.publish.sheetxml import MAX_CELL_TEXT, escape
from riskchart.publish.xlsx import REGISTER_SHEET, register_xlsx

CHART = {"01-a.yaml": "id: 1\ncategory: 行政裁决\ntitle: 甲\nsteps:\n"
                      "  - {name: 受理, level: 高, risks: [刁难。, 拖延。], measures: [公开。], owner: 受理人}\n"}
HOSTILE = [
    "]]><script>alert(1)</script>",
    "a & b < c > d \"e\" 'f'",
    "控制\x00\x01\x08\x0b\x0c\x1b\x1f字符",
    "回车\r换行\n制表\t",
    "_x0041_ 看似转义 _x005F_x0042_",
    "坏\ud800代理\udfff对",
    "非字符\ufffe\uffff",
    "  前后空格  ",
    "=HYPERLINK(\"http://x\",\"点我\")",
    "𠀀" * 20_000,  # beyond the BMP, two UTF-16 units each: over Excel's 32,767
    "长" * 40_000,
]


def excel_text(text: str) -> str:
    """What Excel and LibreOffice show for a cell riskchart wrote from `text`:
    formula starts neutralised, lone surrogates replaced, cut to Excel's limit."""
    text = tables.spreadsheet_cell(text)
    text = re.sub(r"[\ud800-\udfff]", "\ufffd", text)
    # cut by UTF-16 units (an independent way from the writer's count): a pair cut in half is dropped
    return text.encode("utf-16-le")[:2 * MAX_CELL_TEXT].decode("utf-16-le", errors="ignore")


def unescaped(text: str) -> str:
    """Excel's reading of _xHHHH_ (openpyxl leaves it to the caller)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A register whose title and risks are an attacker's texts."""
    chart = next(iter(lint_files(tmp_path_factory.mktemp("hostile"), CHART).charts))
    step = dataclasses.replace(chart.steps[0], risks=tuple(HOSTILE))
    chart = dataclasses.replace(chart, title=HOSTILE[0], steps=(step,))
    return register_xlsx([chart])


def test_every_hostile_text_reads_back_as_written(hostile):
    assert zipfile.ZipFile(io.BytesIO(hostile)).testzip() is None
    sheet = openpyxl.load_workbook(io.BytesIO(hostile))[REGISTER_SHEET]
    risk = tables.REGISTER_COLUMNS.index("风险点") + 1
    read = [unescaped(sheet.cell(r, risk).value or "") for r in range(2, 2 + len(HOSTILE))]
    assert read == [excel_text(text) for text in HOSTILE]
    assert unescaped(sheet.cell(2, tables.REGISTER_COLUMNS.index("职权名称") + 1).value) == HOSTILE[0]
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_escape_leaves_no_markup_and_no_character_xml_forbids():
    for text in HOSTILE:
        escaped = escape(text)
        assert "<" not in escaped and "]]>" not in escaped.replace("]]&gt;", "")
        assert not re.search(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]", escaped)
        escaped.encode("utf-8")  # no lone surrogate left


@pytest.mark.slow
@pytest.mark.needs("soffice")
def test_libreoffice_reads_the_hostile_texts_as_excel_would(hostile, tmp_path):
    source = tmp_path / "hostile.xlsx"
    source.write_bytes(hostile)
    subprocess.run(["soffice", "-env:UserInstallation=" + (tmp_path / "profile").as_uri(), "--headless",
                    "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(tmp_path),
                    str(source)], env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, timeout=300,
                   check=True)
    import csv

    rows = list(csv.reader(io.StringIO((tmp_path / "hostile.csv").read_text(encoding="utf-8"), newline="")))
    risk = tables.REGISTER_COLUMNS.index("风险点")
    # LibreOffice drops the characters XML cannot hold and reads CR as a line break
    expected = [re.sub(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]", "", excel_text(t).replace("\r", "\n")) for t in HOSTILE]
    shown = [re.sub(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]", "", row[risk].replace("\r", "\n")) for row in rows[1:]]
    assert shown[:-2] == expected[:-2]  # the long ones: cut, as Excel cuts them
    assert all(len(s) <= MAX_CELL_TEXT for s in shown)


def test_the_csv_register_holds_the_hostile_texts_too(hostile, tmp_path_factory):
    chart = next(iter(lint_files(tmp_path_factory.mktemp("csv"), CHART).charts))
    chart = dataclasses.replace(chart, steps=(dataclasses.replace(chart.steps[0], risks=tuple(HOSTILE)),))
    text = tables.register_csv([chart]).decode("utf-8-sig")
    assert "坏?代理?对" in text and "]]><script>" in text
