"""Published charts of other departments (tests/fixtures/real-world/), as they
write them: without levels, with unit and list owners, without categories, with
scope lines, long step names and risk types.  They lint with warnings only and
build into charts, index, booklet and register."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import pdf_text, squeeze

from riskchart.cli import main
from riskchart.config import find_project
from riskchart.lint import lint_paths

PROJECT = Path(__file__).parent / "fixtures" / "real-world"
CHARTS = PROJECT / "charts"


def test_every_transcribed_chart_names_its_source():
    for chart in CHARTS.rglob("[0-9]*.yaml"):
        assert chart.read_text(encoding="utf-8").startswith("# Source: https://"), chart


def test_real_charts_lint_with_warnings_only():
    result = lint_paths([CHARTS], find_project(CHARTS).settings)
    assert len(result.charts) == 5
    assert [d for d in result.diagnostics if d.is_error] == []
    codes = {d.code for d in result.diagnostics}
    assert {"RC306", "RC307", "RC308"} <= codes  # no level, no owner, no category: said, not refused


def test_the_seed_project_would_refuse_them():
    """Under the seed's `require`, the same charts fail: the strictness is the project's choice."""
    strict = replace(find_project(CHARTS).settings, require=frozenset({"level", "owner", "category"}))
    result = lint_paths([CHARTS], strict)
    # (the one chart without owners also lacks a category: RC103 stops it before RC207)
    assert {d.code for d in result.diagnostics if d.is_error} == {"RC103", "RC206"}


@pytest.mark.needs("dot", "pdftotext")
def test_real_charts_build_into_charts_index_booklet_and_register(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(CHARTS), "-o", str(out), "--format", "svg,pdf"])
    assert result.exit_code == 0, result.output
    assert "生成 5 张" in result.output and "失败 0 张" in result.output
    tax = squeeze(pdf_text(out / "税务局" / "01-设立税务登记.pdf"))
    assert "责任单位：主管税务机关" in tax and "岗位职责" in tax and "风险等级：高" in tax
    farm = squeeze(pdf_text(out / "农机局" / "01-农机事故责任认定.pdf"))
    assert "调查取证，听取当事人的陈述和申辩，澄清违法事实" in farm  # 22 characters, wrapped in its box
    # no level row in a risk box, only the legend's label; no owner row in a measure box
    assert farm.count("风险等级：") == 1 and "未评定" in farm and "责任人：" not in farm
    water = squeeze(pdf_text(out / "水利局" / "01-水利工作突出贡献奖励.pdf"))
    assert "适用范围：" in water and "移民办主任、水资办主任" in water
    rows = list(csv.DictReader(io.StringIO((out / "risk-register.csv").read_text(encoding="utf-8-sig"))))
    uncategorised = {r["职权名称"] for r in rows if r["类别"] == "未分类"}
    assert uncategorised == {"设立税务登记", "对农机事故做出责任认定", "市重点工程建设管理服务中心廉政风险防控"}
    assert {r["风险类型"] for r in rows} == {"", "岗位职责", "业务流程"}
    assert any(r["风险等级"] == "" and r["责任人"] == "" for r in rows)  # as published: nothing invented
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "未分类（" in index and "未分类类" not in index
    assert '<select id="risk-type">' in index and '<option value="业务流程">' in index  # the risk-type filter
    assert 'data-types="岗位职责\n业务流程"' in index
    assert "未分类" in squeeze(pdf_text(out / "booklet.pdf"))


TWO_LEVELS = Path(__file__).parent / "fixtures" / "real-world-two-levels"


def test_a_department_with_its_own_two_level_scale():
    from riskchart import style
    from riskchart.draw.layout import chart_dot

    settings = find_project(TWO_LEVELS / "charts").settings
    assert settings.levels == ("高", "一般")
    result = lint_paths([TWO_LEVELS / "charts"], settings)
    assert [d for d in result.diagnostics if d.is_error] == []
    (chart,) = result.charts
    dot = chart_dot(chart, settings=settings)
    # 高 the darkest colour of the palette, 一般 the palest: apart in grey-scale print
    assert f'BGCOLOR="{style.LEVEL_PALETTE[0]["fill"]}"><FONT COLOR="#ffffff"><B>风险等级：高' in dot
    assert f'BGCOLOR="{style.LEVEL_PALETTE[-1]["fill"]}"><FONT COLOR="{style.LEVEL_PALETTE[-1]["text"]}"><B>风险等级：一般' in dot
    # and the default scale refuses 一般, with the project's scale named
    other = lint_paths([TWO_LEVELS / "charts"], replace(settings, levels=("高", "中", "低")))
    assert [d.code for d in other.diagnostics if d.is_error] == ["RC107"]


@pytest.mark.needs("dot", "pdftotext")
def test_the_two_level_chart_builds(tmp_path):
    result = CliRunner().invoke(main, ["build", str(TWO_LEVELS / "charts"), "-o", str(tmp_path), "--format", "pdf"])
    assert result.exit_code == 0, result.output
    text = squeeze(pdf_text(tmp_path / "01-固定资产管理.pdf"))
    assert "风险等级：一般" in text and "风险等级：高" in text
