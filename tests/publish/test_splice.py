"""The register spliced from the last one's files: byte for byte the register
made whole, and made whole whenever the last files or their layout are not
provably the last build's."""

import csv
import io
import os
import shutil
from dataclasses import replace

import openpyxl
import pytest
from conftest import lint_files

from riskchart import files
from riskchart.build import BuildOptions
from riskchart.config import Settings
from riskchart.publish import index, registerlayout, sheetblocks, splice
from riskchart.publish.registerlayout import FILE_NAME
from riskchart.publish.rowcache import RowCache
from riskchart.publish.xlsx import REGISTER_SHEET, laid_out_registers

STEP = "  - {{name: {name}, level: {level}, risks: [{risks}], measures: [公开。], owner: 经办人}}\n"


def chart(number: int, category: str = "行政确认", risks: str = "刁难。, 拖延。", level: str = "中") -> str:
    return (f"id: {number}\ncategory: {category}\ntitle: 图{number}\nsteps:\n"
            + STEP.format(name="受理", level=level, risks=risks) + STEP.format(name="办结", level="低", risks="超时。"))


CHARTS = {f"{n:02d}-c.yaml": chart(n, "行政裁决" if n % 2 else "行政确认") for n in range(1, 7)}
CHARTS["01-c.yaml"] = chart(1, "行政裁决", "在受理环节故意刁难申请人。, 拖延。")  # the risk column's width: the others fit
CHANGES = {
    "a risk reworded": ({**CHARTS, "03-c.yaml": chart(3, risks="刁难申请人。, 拖延。")}, True),
    "a risk added": ({**CHARTS, "02-c.yaml": chart(2, "行政确认", "刁难。, 拖延。, 索要财物。")}, True),
    "a chart added": ({**CHARTS, "04-d.yaml": chart(7, "行政确认")}, True),
    "a chart removed": ({name: text for name, text in CHARTS.items() if name != "04-c.yaml"}, True),
    "two charts changed": ({**CHARTS, "02-c.yaml": chart(2, "行政确认", "徇私。"), "06-c.yaml": chart(6, level="高")},
                           True),
    "the last chart removed": ({name: text for name, text in CHARTS.items() if name != "06-c.yaml"}, True),
    "a chart's category changed": ({**CHARTS, "05-c.yaml": chart(5, "行政确认")}, True),
    "a column widened": ({**CHARTS, "03-c.yaml": chart(3, risks="刁难" * 30 + "。")}, False),
}


def charts_of(folder, charts, settings=None):
    if folder.exists():
        shutil.rmtree(folder)
    return list(lint_files(folder, charts, settings).charts)


def options(tmp_path, settings=None):
    return BuildOptions(out=tmp_path / "out", formats=("svg",), settings=settings or Settings())


def publish(charts, tmp_path, settings=None):
    """The register put in place as a build does, its layout recorded."""
    index._write_registers(charts, options(tmp_path, settings), None, {})


def spliced(charts, tmp_path, settings=None):
    settings = settings or Settings()
    out = tmp_path / "out"
    stream = io.BytesIO()
    found = splice.spliced_registers(charts, settings.categories, settings.levels, RowCache(out / files.OUTPUT_CACHE),
                                     out, stream)
    return None if found is None else (found[0], stream.getvalue())


def whole(charts, settings=None):
    settings = settings or Settings()
    stream = io.BytesIO()
    workbook, _ = laid_out_registers(charts, settings.categories, settings.levels, RowCache(None), stream)
    return workbook, stream.getvalue()


def written(tmp_path):
    return (tmp_path / "out" / "risk-register.xlsx").read_bytes(), (tmp_path / "out" / "risk-register.csv").read_bytes()


@pytest.mark.parametrize("block", [64, 2, 3])  # a block of all six charts; blocks copied, made, or moved
@pytest.mark.parametrize("change", CHANGES)
def test_a_spliced_register_is_byte_for_byte_the_register_made_whole(tmp_path, monkeypatch, change, block):
    monkeypatch.setattr(sheetblocks, "BLOCK", block)
    folder = tmp_path / "charts"
    publish(charts_of(folder, CHARTS), tmp_path)
    assert written(tmp_path) == whole(charts_of(folder, CHARTS))
    changed, splices = CHANGES[change]
    charts = charts_of(folder, changed)
    found = spliced(charts, tmp_path)
    assert (found is not None) == splices
    if found is not None:
        assert found == whole(charts)
    publish(charts, tmp_path)
    assert written(tmp_path) == whole(charts)
    # and the next one is spliced from the spliced register, back to the first charts
    back = charts_of(folder, CHARTS)
    again = spliced(back, tmp_path)
    if splices:
        assert again == whole(back)
    else:
        assert again is None  # narrowed again


def test_the_spliced_workbook_opens_in_openpyxl_with_the_csv_rows(tmp_path):
    folder = tmp_path / "charts"
    publish(charts_of(folder, CHARTS), tmp_path)
    found = spliced(charts_of(folder, CHANGES["a risk added"][0]), tmp_path)
    assert found is not None
    workbook, text = found
    sheet = openpyxl.load_workbook(io.BytesIO(workbook))[REGISTER_SHEET]
    cells = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    assert sheet.merged_cells.ranges
    for merged in sheet.merged_cells.ranges:  # openpyxl shows a merged run's value in its first cell only
        for row in range(merged.min_row, merged.max_row + 1):
            for column in range(merged.min_col, merged.max_col + 1):
                cells[row - 1][column - 1] = cells[merged.min_row - 1][merged.min_col - 1]
    assert cells == list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert "索要财物。" in {row[6] for row in cells}


@pytest.mark.parametrize("setting", ["levels", "categories"])
def test_other_levels_or_categories_make_the_register_whole(tmp_path, setting):
    folder = tmp_path / "charts"
    publish(charts_of(folder, CHARTS), tmp_path)
    settings = replace(Settings(), **{setting: ("高", "中", "低", "极低") if setting == "levels"
                                      else ("行政确认", "行政裁决")})
    charts = charts_of(folder, CHARTS, settings)
    assert spliced(charts, tmp_path, settings) is None
    publish(charts, tmp_path, settings)
    assert written(tmp_path) == whole(charts, settings)


def _edited_in_place(path):
    data = bytearray(path.read_bytes())
    data[-3] ^= 1
    with path.open("r+b") as stream:  # same inode, same size
        stream.write(bytes(data))


def _replaced_by_a_copy(path):
    copy = path.with_suffix(".copy")
    shutil.copy2(path, copy)
    os.replace(copy, path)


def _replaced_by_a_link(path):
    aside = path.with_suffix(".aside")
    os.replace(path, aside)
    path.symlink_to(aside)


def _replaced_by_a_fifo(path):
    path.unlink()
    os.mkfifo(path)


def _layout_flipped(out):
    layout = out / files.OUTPUT_CACHE / FILE_NAME
    data = layout.read_bytes()
    layout.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])


def _edited_within_the_clock_tick(path):
    """Edited in place so soon after the build wrote it that a coarse file-system clock
    (FAT, or ctime in jiffies) leaves its stamp as recorded: only its bytes tell."""
    _edited_in_place(path)
    cache = path.parent / files.OUTPUT_CACHE
    layout = registerlayout.read_layout(cache)
    assert layout is not None and layout.stamps is not None
    now = os.lstat(path)
    stamps = tuple((now.st_size, now.st_mtime_ns, now.st_ino, now.st_ctime_ns, recorded[4])
                   if (now.st_ino, now.st_size) == recorded[2::-2] else recorded for recorded in layout.stamps)
    registerlayout.write_layout(cache, layout, (stamps[0], stamps[1]))


TAMPERING = {"edited in place": _edited_in_place, "edited within the clock tick": _edited_within_the_clock_tick,
             "replaced by a copy": _replaced_by_a_copy,
             "replaced by a link to it": _replaced_by_a_link, "replaced by a FIFO": _replaced_by_a_fifo}


@pytest.mark.parametrize("name", ["risk-register.csv", "risk-register.xlsx"])
@pytest.mark.parametrize("tamper", TAMPERING)
def test_old_files_that_are_not_provably_the_last_builds_are_not_copied_from(tmp_path, name, tamper):
    folder = tmp_path / "charts"
    publish(charts_of(folder, CHARTS), tmp_path)
    TAMPERING[tamper](tmp_path / "out" / name)
    charts = charts_of(folder, CHANGES["a risk reworded"][0])
    assert spliced(charts, tmp_path) is None
    if tamper != "replaced by a FIFO":  # a FIFO in place of the register is another test's
        publish(charts, tmp_path)
        assert written(tmp_path) == whole(charts)


def test_a_damaged_layout_or_another_users_makes_the_register_whole(tmp_path, monkeypatch):
    folder = tmp_path / "charts"
    publish(charts_of(folder, CHARTS), tmp_path)
    charts = charts_of(folder, CHANGES["a risk reworded"][0])
    assert spliced(charts, tmp_path) is not None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another user"))
    assert spliced(charts, tmp_path) is None
    monkeypatch.undo()
    _layout_flipped(tmp_path / "out")
    assert spliced(charts, tmp_path) is None
    (tmp_path / "out" / files.OUTPUT_CACHE / FILE_NAME).unlink()
    (tmp_path / "out" / files.OUTPUT_CACHE / FILE_NAME).symlink_to("/dev/zero")
    assert spliced(charts, tmp_path) is None


def test_a_forced_build_makes_the_register_whole(tmp_path, monkeypatch):
    folder = tmp_path / "charts"
    publish(charts_of(folder, CHARTS), tmp_path)
    charts = charts_of(folder, CHANGES["a risk reworded"][0])
    monkeypatch.setattr(splice, "spliced_registers", lambda *args: pytest.fail("spliced"))
    index._registers(charts, replace(options(tmp_path), force=True), io.BytesIO(), {})


def test_only_the_blocks_of_the_changed_chart_are_made_again(tmp_path, monkeypatch):
    monkeypatch.setattr(sheetblocks, "BLOCK", 2)
    folder = tmp_path / "charts"
    publish(charts_of(folder, CHARTS), tmp_path)
    made = []

    def noted(name, function):
        return lambda *args: made.append(name) or function(*args)

    for name in ("merge_block", "rows_crc"):
        monkeypatch.setattr(sheetblocks, name, noted(name, getattr(sheetblocks, name)))
    charts = charts_of(folder, CHANGES["a risk reworded"][0])  # the third chart: the second block
    found = spliced(charts, tmp_path)
    assert made == ["rows_crc", "merge_block"]  # of the second block; the first and third are copied
    assert found == whole(charts)
