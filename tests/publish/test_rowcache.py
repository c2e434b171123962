"""The register's per-chart rows kept between builds: used when the chart is
the same, made again when it changed, never believed when tampered with."""

import io
from dataclasses import replace

import openpyxl
import pytest
from conftest import lint_files, tamper_set_cache, write_files

from riskchart.check.schema import LEVELS
from riskchart.config import Settings
from riskchart.model import sort_key
from riskchart.publish import rowcache, tables
from riskchart.publish.rowcache import FILE_NAME, RowCache
from riskchart.publish.setcache import EntryFile
from riskchart.publish.xlsx import REGISTER_SHEET, register_xlsx

CHARTS = {
    "01-a.yaml": "id: 1\ncategory: 行政裁决\ntitle: 甲\nsteps:\n"
                 "  - {name: 受理, level: 高, risks: [刁难。, 拖延。], measures: [公开。], owner: 受理人}\n"
                 "  - {name: 审核, level: 低, risks: [徇私。], measures: [复核。], owner: 科长}\n",
    "02-b.yaml": "id: 2\ncategory: 行政确认\ntitle: 乙\nsteps:\n"
                 "  - {name: 办结, level: 中, risks: [不告知。, 超时。], measures: [限时。], owner: 经办人}\n",
    "03-c.yaml": "id: 3\ncategory: 行政确认\ntitle: 丙\nsteps:\n"
                 "  - {name: 送达, level: 低, risks: [丢失。], measures: [签收。], owner: 送达人}\n",
}


def column(name: str) -> int:
    return tables.REGISTER_COLUMNS.index(name) + 1


def sheet_rows(data: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(data))[REGISTER_SHEET]
    return [tuple(c.value for c in row) for row in sheet.iter_rows()]


def register(folder, files, cache_folder):
    charts = list(lint_files(folder, files).charts)
    cache = RowCache(cache_folder)
    return register_xlsx(charts, cache=cache), cache


def test_unchanged_charts_come_from_the_cache_and_give_the_same_workbook(tmp_path):
    first, made = register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    assert made.made == 3 and (tmp_path / "cache" / FILE_NAME).is_file()
    again, found = register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    assert found.made == 0
    assert again == first == register_xlsx(list(lint_files(tmp_path / "charts", CHARTS).charts))  # byte for byte


def test_a_register_of_unchanged_charts_leaves_the_cache_file_as_it_was(tmp_path):
    register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    before = (tmp_path / "cache" / FILE_NAME).stat()
    register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    after = (tmp_path / "cache" / FILE_NAME).stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_a_register_of_fewer_charts_drops_the_rows_of_those_deleted_once_most_are_stale(tmp_path):
    register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    (tmp_path / "charts" / "01-a.yaml").unlink()  # 02-b.yaml, kept, has the widest cells: no widths change
    (tmp_path / "charts" / "03-c.yaml").unlink()
    _, cache = register(tmp_path / "charts", {}, tmp_path / "cache")
    assert cache.made == 0  # nothing new to add, yet the file is written again: two thirds of it are stale
    assert len(EntryFile(tmp_path / "cache" / FILE_NAME, rowcache._MAGIC).read()) == 1


def test_a_register_of_fewer_charts_leaves_the_file_while_it_is_mostly_used(tmp_path):
    """One chart of three deleted: nothing to add, a third stale: no write at all (no empty batch appended)."""
    register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    before = (tmp_path / "cache" / FILE_NAME).stat()
    (tmp_path / "charts" / "01-a.yaml").unlink()
    _, cache = register(tmp_path / "charts", {}, tmp_path / "cache")
    after = (tmp_path / "cache" / FILE_NAME).stat()
    assert cache.made == 0
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_rows_found_stay_usable_after_the_entries_not_asked_for_are_let_go(tmp_path):
    """forget_unasked drops the file's other entries (held beside the new rows otherwise)."""
    register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    charts = list(lint_files(tmp_path / "charts", CHARTS).charts)
    cache = RowCache(tmp_path / "cache")
    key = cache.key(charts[0], LEVELS)
    found = cache.get(key)
    cache.forget_unasked()
    assert found is not None and cache.get(key) is not None
    assert cache.get(cache.key(charts[1], LEVELS)) is None  # not asked before: let go


def test_a_changed_chart_changes_its_rows_and_only_its_rows_are_made(tmp_path):
    register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    changed = {**CHARTS, "02-b.yaml": CHARTS["02-b.yaml"].replace("不告知。, 超时。", "不告知。, 超时。, 推诿。")}
    data, cache = register(tmp_path / "charts", changed, tmp_path / "cache")
    assert cache.made == 1
    rows = sheet_rows(data)
    risks = [row[column("风险点") - 1] for row in rows[1:]]
    assert risks == ["刁难。", "拖延。", "徇私。", "不告知。", "超时。", "推诿。", "丢失。"]
    numbers = [row[column("编号") - 1] for row in rows[1:]]
    assert numbers == ["1-1-1", "1-1-2", "1-2-1", "2-1-1", "2-1-2", "2-1-3", "3-1-1"]
    sheet = openpyxl.load_workbook(io.BytesIO(data))[REGISTER_SHEET]
    title = openpyxl.utils.get_column_letter(column("职权名称"))
    # the later chart's merged runs moved down with its rows
    assert {f"{title}2:{title}4", f"{title}5:{title}7"} <= {str(r) for r in sheet.merged_cells.ranges}
    assert sheet.auto_filter.ref.endswith("8")


def test_a_chart_that_widens_a_column_makes_every_charts_rows_again(tmp_path):
    register(tmp_path / "charts", CHARTS, tmp_path / "cache")
    wide = "审核" * 6  # wider than any 环节 so far: the column widens, every row's height is reckoned again
    data, cache = register(tmp_path / "charts", {**CHARTS, "01-a.yaml": CHARTS["01-a.yaml"].replace("审核", wide)},
                           tmp_path / "cache")
    assert cache.made == 3
    sheet = openpyxl.load_workbook(io.BytesIO(data))[REGISTER_SHEET]
    assert sheet.column_dimensions[openpyxl.utils.get_column_letter(column("环节"))].width > 2 * len(wide) + 2


@pytest.mark.parametrize("damage", ["key changed", "byte flipped", "another user's key", "truncated"])
def test_a_tampered_cache_is_not_believed(tmp_path, monkeypatch, damage):
    """Whatever was done to the file, the register is the one made from the
    charts; what is not a whole record of the user's own is made again."""
    folder = tmp_path / "charts"
    register(folder, CHARTS, tmp_path / "cache")
    tamper_set_cache(tmp_path / "cache" / FILE_NAME, damage, monkeypatch, tmp_path / "another-user")
    data, cache = register(folder, CHARTS, tmp_path / "cache")
    assert cache.made == 3, "a tampered cache was believed"
    assert data == register_xlsx(list(lint_files(folder, CHARTS).charts))
    risks = [row[column("风险点") - 1] for row in sheet_rows(data)[1:]]
    assert risks == ["刁难。", "拖延。", "徇私。", "不告知。", "超时。", "丢失。"]


def test_an_entry_of_ours_that_is_not_rows_is_made_again(tmp_path):
    """Signed with the user's key but not what this riskchart writes (another
    version's fields): the chart's rows are made again, not read."""
    folder = tmp_path / "charts"
    charts = list(lint_files(folder, CHARTS).charts)
    cache = RowCache(tmp_path / "cache")
    first = register_xlsx(charts, cache=cache)
    key = cache.key(sorted(charts, key=sort_key)[1], Settings().levels)
    entries = EntryFile(tmp_path / "cache" / FILE_NAME, rowcache._MAGIC).read()
    fields, pieces = entries[key]
    for bad in ([fields[0], fields[1], -1, fields[3]], [fields[0], fields[1], fields[2], 0],
                [fields[0], fields[1], 1 << 32, fields[3]], ["0", fields[1], fields[2], fields[3]], fields[:3]):
        file = EntryFile(tmp_path / "cache" / FILE_NAME, rowcache._MAGIC)
        file.read()
        file.save({**entries, key: (bad, pieces)}, {key})
        again = RowCache(tmp_path / "cache")
        assert register_xlsx(charts, cache=again) == first
        assert again.made == 1, bad


def test_a_register_of_no_charts_opens(tmp_path):
    rows = sheet_rows(register_xlsx([], cache=RowCache(tmp_path)))
    assert rows == [tables.REGISTER_COLUMNS]


@pytest.mark.needs("dot", "cjk-font")
def test_the_build_keeps_the_rows_in_the_output_folders_cache(tmp_path):
    from riskchart.build import BuildOptions, build
    from riskchart.config import Settings

    folder = tmp_path / "charts"
    lint_files(folder, CHARTS)
    out = tmp_path / "out"
    build([folder], BuildOptions(out=out, formats=("svg",), settings=Settings()))
    assert (out / ".riskchart-cache" / FILE_NAME).is_file()
    (folder / "03-c.yaml").write_text(CHARTS["03-c.yaml"].replace("丢失。", "遗失。"), encoding="utf-8")
    build([folder], BuildOptions(out=out, formats=("svg",), settings=Settings()))
    risks = [row[column("风险点") - 1] for row in sheet_rows((out / "risk-register.xlsx").read_bytes())[1:]]
    assert risks[-1] == "遗失。"


def test_the_csv_register_laid_from_the_cached_rows_is_the_csv_of_the_charts(tmp_path):
    from riskchart.config import Settings
    from riskchart.publish.xlsx import write_registers

    settings = Settings()
    for files, made in ((CHARTS, 3), (CHARTS, 0), ({**CHARTS, "02-b.yaml": CHARTS["02-b.yaml"].replace("超时。", "'=1+1'")}, 1)):
        charts = list(lint_files(tmp_path / "charts", files).charts)
        csv, cache = io.BytesIO(), RowCache(tmp_path / "cache")
        write_registers(charts, settings.categories, settings.levels, cache, csv)
        assert cache.made == made
        assert csv.getvalue() == tables.register_csv(charts)
    assert "'=1+1" in csv.getvalue().decode("utf-8-sig")


TREE = {"食品科/_defaults.yaml": "department: 食品科\n", "药品科/_defaults.yaml": "department: 药品科\n",
        "食品科/01-a.yaml": CHARTS["01-a.yaml"], "食品科/02-b.yaml": CHARTS["02-b.yaml"],
        "药品科/01-c.yaml": CHARTS["03-c.yaml"].replace("id: 3", "id: 1")}


def fingerprinted_register(folder, cache_folder, settings):
    """The register made with each chart's rows found by its file's
    fingerprint, its cache, and the register made from scratch."""
    from riskchart.build import BuildOptions
    from riskchart.build.freshness import _fingerprint
    from riskchart.check.cache import ResultCache
    from riskchart.lint import lint_paths
    from riskchart.publish.xlsx import write_registers

    charts = list(lint_paths([folder], settings, cache=ResultCache(None)).charts)
    options = BuildOptions(out=folder.parent / "out", formats=("svg",), settings=settings)
    cache = RowCache(cache_folder, {chart.path: _fingerprint(chart.path, options) for chart in charts})
    csv = io.BytesIO()
    workbook = write_registers(charts, settings.categories, settings.levels, cache, csv)
    return (workbook, csv.getvalue()), cache, (register_xlsx(charts, settings.categories, settings.levels),
                                               tables.register_csv(charts))


@pytest.mark.parametrize("what, made", [  # changes that widen no column: rows made for the changed chart only
    ("nothing", 0),
    ("a risk reworded", 1),
    ("a chart deleted", 0),
    ("a chart renamed", 1),
    ("a chart moved to another department", 1),
    ("a department renamed", 1),
    ("the level scale changed", 3),
])
def test_the_register_after_a_change_is_the_register_from_scratch(tmp_path, what, made):
    folder = tmp_path / "charts"
    write_files(folder, TREE)
    settings = Settings(charts=folder)
    first, _, scratch = fingerprinted_register(folder, tmp_path / "cache", settings)
    assert first == scratch
    if what == "a risk reworded":
        (folder / "食品科/02-b.yaml").write_text(TREE["食品科/02-b.yaml"].replace("超时。", "时超。"), encoding="utf-8")
    elif what == "a chart deleted":
        (folder / "药品科/01-c.yaml").unlink()
    elif what == "a chart renamed":
        (folder / "食品科/02-b.yaml").rename(folder / "食品科/02-乙.yaml")
    elif what == "a chart moved to another department":
        (folder / "食品科/02-b.yaml").rename(folder / "药品科/02-b.yaml")
    elif what == "a department renamed":
        (folder / "药品科/_defaults.yaml").write_text("department: 药监科\n", encoding="utf-8")
    elif what == "the level scale changed":
        settings = replace(settings, levels=("重大", "高", "中", "低"))
    again, cache, scratch = fingerprinted_register(folder, tmp_path / "cache", settings)
    assert again == scratch
    assert cache.made == made
    if what == "a department renamed":
        assert "药监科" in again[1].decode("utf-8-sig")
