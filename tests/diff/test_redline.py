"""Redline drawings: the marks in the DOT at the right boxes, and the SVG and
PDF drawn only for changed charts, every glyph drawn, marks on every page."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hand_built import load, revision
from printed import printed_pages

from riskchart import style
from riskchart.diff import redline
from riskchart.diff.changes import Change, ChartDiff, Diff, Side
from riskchart.draw import render
from riskchart.draw.layout import chart_dot, escape_label
from riskchart.draw.marks import Marks

HOSTILE = '"]; x [label=<S>&amp;\\N</TD>'  # drawn as text, never DOT or HTML
GLYPH_TROUBLE = re.compile(r"cannot render glyph|FT_Load_Glyph|broken file|error", re.IGNORECASE)


@pytest.fixture(scope="module")
def diff(tmp_path_factory):
    return revision(tmp_path_factory.mktemp("redline"))


@pytest.fixture(scope="module")
def dot(diff):
    return redline.redline_dot(diff.charts[0])


def node(dot: str, name: str) -> str:
    """The statement of one node: from its name to the end of its attributes."""
    found = re.search(rf"^  {name} \[.*?\];$", dot, re.MULTILINE | re.DOTALL)
    assert found, f"no node {name}"
    return found[0]


def marked_items(box: str) -> list[str]:
    """The numbers of the items drawn with the bar of a new or changed item."""
    return re.findall(rf'BGCOLOR="{style.REDLINE}"><FONT COLOR="white"><B>(\d+)\.</B>', box)


def outlined(box: str) -> bool:
    return f'BORDER="2" COLOR="{style.REDLINE}"' in box.split("\n")[0]


def removed(box: str) -> list[str]:
    return re.findall(r"<S>(.*?)</S>", box)


# ------------------------------------------------------------------ the DOT

def test_a_reworded_risk_is_marked_in_its_box(dot):
    assert outlined(node(dot, "risk_1")) and marked_items(node(dot, "risk_1")) == ["1"]


def test_a_removed_risk_is_struck_through_in_the_box_it_was_in(dot):
    assert removed(node(dot, "risk_1")) == ["对申请人故意刁难。"]
    assert all(not removed(node(dot, f"{box}_{i}")) for box in ("risk", "measure") for i in (2, 3))


def test_an_added_measure_is_marked_and_the_others_are_not(dot):
    assert outlined(node(dot, "measure_1")) and marked_items(node(dot, "measure_1")) == ["2"]


def test_an_added_step_is_marked_with_its_boxes(dot):
    step = node(dot, "step_2")
    assert f'color="{style.REDLINE}"' in step and f"penwidth={style.REDLINE_PEN_WIDTH}" in step
    assert marked_items(node(dot, "risk_2")) == ["1"] and marked_items(node(dot, "measure_2")) == ["1"]
    for unchanged in ("step_0", "step_1", "step_3", "step_4"):
        assert f'color="{style.BOX_BORDER}", penwidth=1.2' in node(dot, unchanged), unchanged


def test_a_level_change_outlines_the_risk_box_and_names_the_old_level(dot):
    box = node(dot, "risk_3")  # 审查, moved from index 2 by the added step
    assert outlined(box) and marked_items(box) == [] and "风险等级：高</B>（原为中）" in box
    assert not outlined(node(dot, "measure_3"))


def test_a_renamed_title_is_tinted_and_the_old_one_struck_through(dot):
    header = node(dot, "header")
    assert f'BGCOLOR="{style.REDLINE_FILL}"><FONT POINT-SIZE="{style.POWER_FONT_SIZE}">职权名称：食品经营许可（含备案）' \
        in header
    assert removed(header) == ["标题：食品经营许可"]
    assert header.count(style.REDLINE_FILL) == 1  # the code and the rest are not marked


def test_the_legend_explains_the_marks(dot):
    legend = node(dot, "redline_legend")
    assert "修订标记：" in legend and "新增/修改" in legend and removed(legend) == ["删除"]
    assert "footer -> redline_legend [style=invis];" in dot


def test_without_marks_the_dot_is_the_ordinary_charts(diff):
    chart = diff.charts[0].new
    ordinary = chart_dot(chart)
    assert chart_dot(chart, marks=None) == ordinary == chart_dot(chart, marks=Marks())
    assert "redline" not in ordinary and style.REDLINE not in ordinary and "<S>" not in ordinary


def one_chart(diff: Diff, *changes: Change) -> ChartDiff:
    return replace(diff.charts[0], changes=changes)


def test_a_renamed_step_shows_its_old_name_and_a_changed_owner_the_old_owner(diff):
    dot = redline.redline_dot(one_chart(
        diff, Change("step_renamed", "现场核查", "环节名称", "实地核查", "现场核查", ("steps", 2, "name"), ("steps", 2, "name")),
        Change("owner_changed", "审查", "责任人", "科长", "审查人", ("steps", 2, "owner"), ("steps", 3, "owner"))))
    assert f'color="{style.REDLINE}"' in node(dot, "step_2") and removed(node(dot, "step_2")) == ["实地核查"]
    measures = node(dot, "measure_3")
    assert outlined(measures) and marked_items(measures) == [] and removed(measures) == ["科长"]
    assert f'BGCOLOR="{style.REDLINE_FILL}"><B>责任人：审查人</B>' in measures


def test_a_box_left_with_removed_items_only_is_still_drawn(diff):
    dot = redline.redline_dot(one_chart(  # 决定 has no risks: the removed one needs a box of its own
        diff, Change("item_removed", "决定", "风险点1", "不如实记录<TABLE>&", "", ("steps", 3, "risks", 0), None)))
    box = node(dot, "risk_4")
    assert "style=invis" not in box and removed(box) == [escape_label("不如实记录<TABLE>&")]
    assert "risk_4 -> step_4 [style=dashed, dir=none];" in dot


def test_removed_steps_and_items_of_removed_steps_are_listed_in_the_legend(diff):
    dot = redline.redline_dot(one_chart(
        diff, Change("step_removed", "归档", "环节", "归档\n风险点1：未及时归档", "", ("steps", 5), None),
        Change("item_removed", "归档", "防控措施1", "及时归档。", "", ("steps", 5, "measures", 0), None)))
    legend = node(dot, "redline_legend")
    assert "删除环节：" in legend and removed(legend) == ["删除", '归档<BR ALIGN="LEFT"/>归档：及时归档。']


def test_header_fields_and_phones_are_tinted_and_a_removed_code_struck_through(diff):
    dot = redline.redline_dot(one_chart(
        diff, Change("field_changed", "", "职权编码", "XK-003", "", ("code",), ("code",)),
        Change("item_removed", "", "法律依据1", "《食品安全法》", "", ("basis", 0), None),
        Change("field_changed", "", "服务电话", "1", "2", ("phones", "service"), ("phones", "service"))))
    assert removed(node(dot, "header")) == ["职权编码：XK-003", "法律依据1：《食品安全法》"]
    assert node(dot, "footer").count(style.REDLINE_FILL) == 0  # the fixture has no phones to tint
    assert "redline_legend" in dot


def test_only_changed_charts_still_present_are_drawn(diff):
    assert [c.id for c in redline.drawn(diff)] == [3, 6]  # 5 is removed; 7, unchanged, has no ChartDiff
    assert redline.drawn(replace(diff, charts=(replace(diff.charts[0], changes=()),))) == []
    assert redline.draw_redlines(Diff(Side("a"), Side("b"), ()), Path("/nonexistent")) == []


def test_an_added_chart_says_so_in_its_legend(diff):
    dot = redline.redline_dot(diff.charts[2])
    assert redline.NEW_CHART_NOTE in node(dot, "redline_legend")


# ---------------------------------------------------------- drawn by dot

def mupdf_trouble(pdf: Path) -> list[str]:
    done = subprocess.run(["mutool", "draw", "-r", "30", "-F", "png", "-o", "/dev/null", str(pdf)],
                          capture_output=True, text=True)
    return [line for line in (done.stdout + done.stderr).splitlines() if GLYPH_TROUBLE.search(line)]


def blue_pixels(pdf: Path, folder: Path) -> list[int]:
    """Per page, how many pixels are drawn in the redline's blue (no ordinary chart uses it)."""
    subprocess.run(["pdftoppm", "-r", "40", str(pdf), str(folder / "page")], check=True)
    counts = []
    target = tuple(int(style.REDLINE[i:i + 2], 16) for i in (1, 3, 5))
    for image in sorted(folder.glob("page-*.ppm")):
        data = image.read_bytes()
        header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
        pixels = data[header.end():]
        counts.append(sum(1 for i in range(0, len(pixels), 3)
                          if all(abs(pixels[i + k] - target[k]) < 24 for k in range(3))))
        image.unlink()
    return counts


@pytest.mark.needs("dot", "cjk-font", "mutool", "pdftoppm")
def test_redlines_are_written_for_changed_charts_only_with_every_glyph_drawn(diff, tmp_path):
    render.toolchain.cache_clear()
    nested = replace(diff.charts[0], new=replace(diff.charts[0].new, folder="食品科"))
    changes = (*nested.changes, Change("item_removed", "决定", "风险点1", "不如实记录。", "", ("steps", 3, "risks", 0), None),
               Change("field_changed", "", "职权编码", HOSTILE, "", ("code",), None))
    written = redline.draw_redlines(replace(diff, charts=(replace(nested, changes=changes), *diff.charts[1:])),
                                    tmp_path / "red")
    assert sorted(p.relative_to(tmp_path / "red").as_posix() for p in written) == \
        ["06-新职权.pdf", "06-新职权.svg", "食品科/03-食品经营许可.pdf", "食品科/03-食品经营许可.svg"]
    assert sorted(p.name for p in (tmp_path / "red").rglob("*") if p.is_file()) == sorted(p.name for p in written)
    pdf = tmp_path / "red" / "食品科" / "03-食品经营许可.pdf"
    assert mupdf_trouble(pdf) == []  # 如 is the glyph cairo breaks: repaired as in a build
    (page,) = printed_pages(pdf)
    assert "不如实记录。" in page.text and f"职权编码：{HOSTILE}" in page.text and "修订标记" in page.text and page.smallest >= style.MIN_BODY_SIZE
    assert blue_pixels(pdf, tmp_path)[0] > 100
    svg = (tmp_path / "red" / "食品科" / "03-食品经营许可.svg").read_text(encoding="utf-8")
    assert style.REDLINE in svg and "line-through" in svg


@pytest.mark.needs("dot", "cjk-font", "mutool", "pdftoppm")
def test_marks_survive_a_chart_continued_over_pages(tmp_path):
    render.toolchain.cache_clear()
    steps = "".join(f"  - name: 第{s}环节\n    level: 中\n    risks:\n"
                    + "".join(f"      - 第{s}环节风险{i}，未按规定程序办理相关事项，存在优亲厚友、吃拿卡要的可能。\n"
                              for i in range(1, 5)) + "    measures:\n      - 严格执行相关制度。\n    owner: 经办人\n"
                    for s in range(1, 15))
    chart = load(tmp_path / "charts", {"01-长.yaml": f"id: 1\ncategory: 行政许可\ntitle: 长职权\nsteps:\n{steps}"})[1]
    last = len(chart.steps) - 1
    changes = (Change("item_reworded", "第1环节", "风险点1", "旧", "新", ("steps", 0, "risks", 0), ("steps", 0, "risks", 0)),
               Change("item_added", f"第{last + 1}环节", "防控措施1", "", "严格执行相关制度。", None,
                      ("steps", last, "measures", 0)))
    diff = Diff(Side("a"), Side("b"), (ChartDiff("", 1, "长职权", "01-长.yaml", "01-长.yaml", changes, chart, chart),))
    (_, pdf) = redline.draw_redlines(diff, tmp_path / "red")
    assert mupdf_trouble(pdf) == []
    blue = blue_pixels(pdf, tmp_path)
    assert len(blue) >= 2 and blue[0] > 50 and blue[-1] > 50, blue  # the first step's mark and the last one's
    assert "修订标记" in printed_pages(pdf)[-1].text  # the legend under the footer, on the last page
