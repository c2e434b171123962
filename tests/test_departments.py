"""Departments as folders, end to end: tests/fixtures/departments is a
project of two departments (食品科, 特设科 with a 检验股 sub-folder), each
numbering its 行政许可/行政处罚/行政征收 charts from 1."""

import csv
import io
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from conftest import pdf_text

from riskchart.build import MANIFEST, BuildOptions
from riskchart.cli import main
from riskchart.config import find_project, find_settings
from riskchart.departments import defaults_files, discover, out_name
from riskchart.draw import glyphs, render
from riskchart.lint import lint_paths

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "departments"
FOOD = "某县市场监督管理局食品科"
EQUIPMENT = "某县市场监督管理局特种设备安全监察科"
FOOD_CHART = "食品科/01-食品经营许可"
CHARTS_OF = {
    FOOD: ["食品科/01-食品经营许可", "食品科/02-食品安全违法行为处罚", "食品科/03-食品检验费征收"],
    EQUIPMENT: ["特设科/01-特种设备使用登记", "特设科/02-特种设备违法行为处罚", "特设科/检验股/03-特种设备检验费征收"],
}


@pytest.fixture
def project(tmp_path):
    """A copy of the two-department project, to build and to change."""
    shutil.copytree(FIXTURE, tmp_path / "project")
    return tmp_path / "project"


def lint(project: Path):
    return lint_paths([project / "charts"], find_settings(project))


def chart_file(project: Path, name: str) -> Path:
    return project / "charts" / f"{name}.yaml"


# ------------------------------------------------------------------ lint: the tree

def test_each_department_numbers_from_1_and_may_repeat_another_departments_title():
    result = lint(FIXTURE)
    assert result.diagnostics == ()
    by_department = {}
    for chart in result.charts:
        by_department.setdefault(chart.unit.name, []).append((chart.id, chart.category, chart.out_name))
    assert by_department == {
        EQUIPMENT: [(1, "行政许可", CHARTS_OF[EQUIPMENT][0]), (2, "行政处罚", CHARTS_OF[EQUIPMENT][1]),
                    (3, "行政征收", CHARTS_OF[EQUIPMENT][2])],
        FOOD: [(1, "行政许可", CHARTS_OF[FOOD][0]), (2, "行政处罚", CHARTS_OF[FOOD][1]),
               (3, "行政征收", CHARTS_OF[FOOD][2])],
    }


def test_each_folders_defaults_are_merged_over_its_parents():
    charts = {c.out_name: c for c in lint(FIXTURE).charts}
    food = charts[FOOD_CHART]
    assert (food.department, food.phones.service, food.phones.supervision) == (FOOD, "6100001", "12315")
    inspection = charts["特设科/检验股/03-特种设备检验费征收"]  # no department of its own: still 特设科
    assert (inspection.department, inspection.phones.service, inspection.phones.supervision) == (
        EQUIPMENT, "6200009", "12315")
    assert inspection.unit == charts["特设科/01-特种设备使用登记"].unit
    assert inspection.unit.folder == "特设科" and inspection.folder == "特设科/检验股"


def test_a_repeated_id_or_title_within_one_department_is_an_error(project):
    inspection = chart_file(project, "特设科/检验股/03-特种设备检验费征收")
    inspection.rename(inspection.with_name("02-特种设备检验费征收.yaml"))
    moved = inspection.with_name("02-特种设备检验费征收.yaml")
    moved.write_text(moved.read_text(encoding="utf-8").replace("id: 3", "id: 2"), encoding="utf-8")
    food = chart_file(project, "食品科/03-食品检验费征收")
    food.write_text(food.read_text(encoding="utf-8").replace("title: 食品检验费征收", "title: 食品经营许可"),
                    encoding="utf-8")
    found = {(Path(d.path).name, d.code) for d in lint(project).diagnostics}
    assert found == {("02-特种设备检验费征收.yaml", "RC203"), ("03-食品检验费征收.yaml", "RC204")}


def test_lint_from_a_department_folder_sees_the_whole_tree(project, monkeypatch):
    monkeypatch.chdir(project / "charts" / "特设科")
    result = CliRunner().invoke(main, ["lint"])
    assert result.exit_code == 0, result.output
    assert "检查了 6 个文件" in result.output


def test_sub_folders_are_found_but_not_hidden_underscored_or_linked_ones(project, tmp_path):
    charts = project / "charts"
    for hidden in (".git", "_drafts"):
        (charts / hidden).mkdir()
        shutil.copy(chart_file(project, FOOD_CHART), charts / hidden / "01-x.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (charts / "linked").symlink_to(elsewhere)
    (elsewhere / "09-y.yaml").write_text("id: 9\n", encoding="utf-8")
    found = [out_name(p, charts) for p in discover([charts])]
    assert found == sorted(n for names in CHARTS_OF.values() for n in names)


def test_the_defaults_of_a_chart_are_its_folders_and_every_folder_above_it(project, monkeypatch):
    monkeypatch.chdir(project / "charts" / "特设科" / "检验股")
    assert defaults_files(Path("03-特种设备检验费征收.yaml"), project / "charts") == [
        Path("../../_defaults.yaml"), Path("../_defaults.yaml"), Path("_defaults.yaml")]
    # outside the charts folder a file stands alone
    assert defaults_files(Path("/tmp/01-a.yaml"), project / "charts") == [Path("/tmp/_defaults.yaml")]


def test_a_broken_defaults_file_above_fails_every_chart_below_it(project):
    (project / "charts" / "特设科" / "_defaults.yaml").write_text("部门名称: 特设科\n", encoding="utf-8")
    result = lint(project)
    assert [(Path(d.path).parent.name, d.code) for d in result.diagnostics] == [("特设科", "RC102")]
    assert sorted(c.out_name for c in result.charts) == CHARTS_OF[FOOD]


@pytest.mark.parametrize("folder, words", [
    ("食品 科", "文件夹名含空白"),
    ("-食品科", "文件夹名以「-」开头"),
    ("javascript:食品科", "文件夹名含「:」"),
    (os.fsdecode(b"\xff\xfe"), "文件夹名不是有效的 UTF-8 编码"),
])
def test_rc211_checks_every_folder_name(project, folder, words):
    (project / "charts" / "食品科").rename(project / "charts" / folder)
    result = lint(project)
    unsafe = [d for d in result.diagnostics if d.code == "RC211"]
    assert len(unsafe) == 3 and all(words in d.message for d in unsafe), unsafe
    assert sorted(c.out_name for c in result.charts) == sorted(CHARTS_OF[EQUIPMENT])


def test_rc212_a_folder_named_like_an_output_or_two_folders_differing_in_case(project):
    charts = project / "charts"
    (charts / "食品科" / "01-食品经营许可.svg").mkdir()
    shutil.copy(chart_file(project, FOOD_CHART), charts / "食品科" / "01-食品经营许可.svg" / "05-x.yaml")
    (charts / "Ab").mkdir()
    (charts / "ab").mkdir()
    for folder, number in (("Ab", 6), ("ab", 7)):
        (charts / folder / "01-同名.yaml").write_text(
            chart_file(project, FOOD_CHART).read_text(encoding="utf-8")
            .replace("id: 1", f"id: {number}").replace("title: 食品经营许可", f"title: 许可{number}"), encoding="utf-8")
    found = {(str(Path(d.path).relative_to(charts)), d.code) for d in lint(project).diagnostics if d.code == "RC212"}
    assert found == {(str(Path("食品科/01-食品经营许可.svg/05-x.yaml")), "RC212"), (str(Path("ab/01-同名.yaml")), "RC212")}


# ------------------------------------------------------------------ build: outputs mirror the tree

def build_project(project: Path, *args: str, cwd: Path | None = None):
    render.toolchain.cache_clear()
    old = Path.cwd()
    os.chdir(cwd or project)
    try:
        return CliRunner().invoke(main, ["build", *args])
    finally:
        os.chdir(old)


def register_rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "risk-register.csv").read_text(encoding="utf-8-sig"))))


def outline(path: Path) -> list:
    import pikepdf

    def items(nodes):
        return [(node.title, items(node.children)) if node.children else node.title for node in nodes]

    with pikepdf.Pdf.open(path) as pdf, pdf.open_outline() as tree:
        return items(tree.root)


@pytest.mark.needs("dot", "cjk-font", "pdftotext")
def test_two_departments_build_with_their_own_names_and_phones_everywhere(project):
    import pikepdf

    result = build_project(project, cwd=project / "charts" / "食品科")  # from a department's folder
    assert result.exit_code == 0, result.output
    out = project / "out"
    for department, names in CHARTS_OF.items():
        phone = "6100001" if department == FOOD else "6200002"
        for name in names:
            assert (out / f"{name}.svg").is_file()
            text = pdf_text(out / f"{name}.pdf")
            assert department in text and "监管电话：12315" in text, name
            assert f"服务电话：{'6200009' if '检验股' in name else phone}" in text, name
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert sorted(manifest["charts"]) == sorted(n for names in CHARTS_OF.values() for n in names)
    assert sorted(manifest["set"]["outputs"]) == sorted(
        ["index.html", "risk-register.csv", "risk-register.xlsx", "booklet.pdf", "食品科/booklet.pdf", "特设科/booklet.pdf"])

    # the register: a department column, each department numbered from 1
    rows = register_rows(out)
    assert {(r["部门"], r["编号"].split("-")[0], r["类别"]) for r in rows} == {
        (d, str(n), c) for d in (FOOD, EQUIPMENT) for n, c in ((1, "行政许可"), (2, "行政处罚"), (3, "行政征收"))}

    # the whole booklet: department → category → chart; each department's: category → chart
    assert outline(out / "booklet.pdf") == [
        (EQUIPMENT, [("行政许可类", ["1. 特种设备使用登记"]), ("行政处罚类", ["2. 对违反安全管理规定行为的处罚"]),
                     ("行政征收类", ["3. 特种设备检验费征收"])]),
        (FOOD, [("行政许可类", ["1. 食品经营许可"]), ("行政处罚类", ["2. 对违反安全管理规定行为的处罚"]),
                ("行政征收类", ["3. 食品检验费征收"])]),
    ]
    assert outline(out / "食品科" / "booklet.pdf") == [
        ("行政许可类", ["1. 食品经营许可"]), ("行政处罚类", ["2. 对违反安全管理规定行为的处罚"]),
        ("行政征收类", ["3. 食品检验费征收"])]
    with pikepdf.Pdf.open(out / "特设科" / "booklet.pdf") as booklet:
        assert len(booklet.pages) == 2 + 3
    cover = pdf_text(out / "特设科" / "booklet.pdf").split("权力运行廉政风险防控图")[0]
    assert cover == EQUIPMENT
    cover, contents = pdf_text(out / "booklet.pdf").split("目录", 1)
    assert cover.startswith(f"{EQUIPMENT}、{FOOD}权力运行廉政风险防控图")
    assert contents.index(EQUIPMENT) < contents.index("1行政许可特种设备使用登记3") \
        < contents.index(FOOD) < contents.index("1行政许可食品经营许可6")
    # every booklet, the whole one and each department's, embeds one font per typeface for all its pages
    for path in (out / "booklet.pdf", out / "食品科" / "booklet.pdf", out / "特设科" / "booklet.pdf"):
        with pikepdf.Pdf.open(path) as booklet:
            assert len({f.DescendantFonts[0].FontDescriptor.FontFile3.objgen for f in glyphs._fonts(booklet)}) == 2

    # the index: one section per department, with its counts, phones and booklet
    page = (out / "index.html").read_text(encoding="utf-8")
    sections = page.split('<section class="category department"')[1:]
    assert [s.split('data-department="')[1].split('"')[0] for s in sections] == [EQUIPMENT, FOOD]
    food = sections[1]
    assert "服务电话：6100001" in food and "监管电话：12315" in food and "本部门汇编 PDF" in food
    assert food.count('<li class="card') == 3 and "6200002" not in food
    assert '<caption>各部门防控图、环节与风险点数量</caption>' in page
    links = {unquote(link) for link in re.findall(r'(?:href|src)="([^"#]+)"', page)}
    assert "食品科/01-食品经营许可.svg" in links and "特设科/booklet.pdf" in links
    assert all((out / link).is_file() for link in links), links


@pytest.mark.needs("dot", "cjk-font")
def test_building_some_files_keeps_the_index_booklets_and_register_whole(project):
    import pikepdf

    assert build_project(project).exit_code == 0
    out = project / "out"
    changed = chart_file(project, FOOD_CHART)
    changed.write_text(changed.read_text(encoding="utf-8").replace("一次性告知", "当场一次性告知"), encoding="utf-8")
    result = build_project(project, str(changed.relative_to(project)))
    assert result.exit_code == 0, result.output
    assert "生成 1 张，最新 0 张" in result.output and "发布  index.html" in result.output
    assert len(register_rows(out)) == 12 and any("当场一次性告知" in r["防控措施"] for r in register_rows(out))
    with pikepdf.Pdf.open(out / "booklet.pdf") as booklet:
        assert len(booklet.pages) == 2 + 6
    with pikepdf.Pdf.open(out / "食品科" / "booklet.pdf") as booklet:
        assert len(booklet.pages) == 2 + 3
    assert (out / "index.html").read_text(encoding="utf-8").count('<li class="card') == 6
    # nothing changed: nothing is written
    assert "生成 0 张，最新 1 张" in build_project(project, str(changed.relative_to(project))).output


@pytest.mark.needs("dot", "cjk-font")
def test_building_some_files_before_the_rest_leaves_the_set_alone(project):
    out = project / "out"
    result = build_project(project, "charts/食品科")
    assert result.exit_code == 0, result.output
    assert "生成 3 张" in result.output and "索引页、汇编和台账未更新：另有 3 张图尚未生成" in result.output
    assert "（如 charts/特设科/01-特种设备使用登记.yaml）" in result.output  # the first of them
    assert (out / "食品科" / "01-食品经营许可.svg").is_file()
    assert not (out / "index.html").exists() and not (out / "booklet.pdf").exists()
    result = build_project(project)
    assert "生成 3 张，最新 3 张" in result.output
    assert len(register_rows(out)) == 12


@pytest.mark.needs("dot", "cjk-font")
def test_errors_of_files_not_given_are_counted_not_listed(project):
    assert build_project(project).exit_code == 0
    broken = chart_file(project, "特设科/02-特种设备违法行为处罚")
    broken.write_text(broken.read_text(encoding="utf-8").replace("category: 行政处罚", "category: 处罚"),
                      encoding="utf-8")
    result = build_project(project, "charts/食品科/01-食品经营许可.yaml")
    assert result.exit_code == 0, result.output
    assert "RC107" not in result.output and "本次未指定的 1 个文件有错误" in result.output
    page = (project / "out" / "index.html").read_text(encoding="utf-8")
    assert "本图有错误，未更新" in page and page.count('<li class="card') == 5


@pytest.mark.needs("dot", "cjk-font")
def test_moving_a_chart_or_dropping_a_department_removes_only_its_old_outputs(project):
    out = project / "out"
    assert build_project(project).exit_code == 0
    charts = project / "charts"
    (charts / "特设科" / "检验股").rename(charts / "检验股")  # now outside 特设科: a department of no name
    shutil.rmtree(charts / "食品科")
    result = build_project(project)
    assert result.exit_code == 0, result.output
    assert not (out / "食品科" / "01-食品经营许可.svg").exists() and not (out / "食品科" / "booklet.pdf").exists()
    assert not (out / "特设科" / "检验股" / "03-特种设备检验费征收.svg").exists()
    assert (out / "检验股" / "03-特种设备检验费征收.svg").is_file()
    assert [r["部门"] for r in register_rows(out)] == ["", ""] + [EQUIPMENT] * 4  # the unnamed one first


@pytest.mark.needs("dot", "cjk-font")
def test_no_output_is_written_or_deleted_through_a_linked_folder(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "01-食品经营许可.svg"
    victim.write_text("not riskchart's")
    out = project / "out"
    out.mkdir()
    (out / "食品科").symlink_to(elsewhere)
    result = build_project(project)
    assert result.exit_code == 1
    assert "是链接或文件，不是 riskchart 建的文件夹" in result.output
    assert victim.read_text() == "not riskchart's" and sorted(p.name for p in elsewhere.iterdir()) == [victim.name]
    # a hand-made manifest naming a file behind the link deletes nothing
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["charts"]["食品科/09-旧图"] = {"source": "/gone.yaml", "fingerprint": "x", "outputs": ["食品科/09-旧图.svg"]}
    manifest["set"] = {"fingerprint": "old", "outputs": ["食品科/booklet.pdf"]}
    for name in ("09-旧图.svg", "booklet.pdf"):
        (elsewhere / name).write_text("theirs")
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    result = build_project(project)
    assert "发布  index.html" in result.output, result.output  # the set was made again, old booklets looked at
    assert all((elsewhere / name).read_text() == "theirs" for name in ("09-旧图.svg", "booklet.pdf"))
    assert victim.read_text() == "not riskchart's"


def test_the_seed_charts_are_one_department_with_flat_outputs():
    project = find_project(ROOT)
    charts = lint_paths([project.charts], project.settings).charts
    assert len(charts) == 40 and {c.unit.folder for c in charts} == {""}
    assert all(c.out_name == c.stem and c.unit.name == c.department for c in charts)


def test_build_options_without_a_project_keep_outputs_flat(tmp_path):
    options = BuildOptions(out=tmp_path)
    assert options.settings.charts is None
    assert out_name(FIXTURE / "charts" / "食品科" / "01-a.yaml", None) == "01-a"
