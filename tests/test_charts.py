"""The real charts/ folder: 40 charts, ids 1–40, clean apart from two drafts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import CHARTS

from riskchart.config import find_project
from riskchart.lint import lint_paths

EXPECTED_COUNTS = {"行政裁决": 1, "行政给付": 4, "行政检查": 3, "行政强制": 2, "行政确认": 4, "其他权力": 26}
DRAFTS = {4, 11}


@pytest.fixture(scope="module")
def result():
    return lint_paths([CHARTS])


def test_forty_chart_files():
    files = sorted(p.name for p in CHARTS.glob("*.yaml") if not p.name.startswith("_"))
    assert len(files) == 40
    assert [int(name.split("-")[0]) for name in files] == list(range(1, 41))


def test_no_errors(result):
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors == []


def test_only_warnings_are_rc301_for_the_two_drafts(result):
    assert [(Path(d.path).name.split("-")[0], d.code) for d in result.diagnostics] == [("04", "RC301"),
                                                                                        ("11", "RC301")]


def test_every_chart_builds_with_ids_1_to_40(result):
    assert len(result.files) == 40
    assert [c.id for c in result.charts] == list(range(1, 41))
    assert {c.id for c in result.charts if c.draft} == DRAFTS
    assert all(c.steps for c in result.charts if not c.draft)


def test_category_counts(result):
    counts = Counter(c.category for c in result.charts)
    assert counts == EXPECTED_COUNTS
    assert sum(counts.values()) == 40
    assert set(counts) == set(find_project(CHARTS).settings.categories)


def test_the_seed_project_lists_its_own_six_categories_in_its_order():
    project = find_project(CHARTS)
    assert project.config_file == CHARTS.parent / "riskchart.toml"
    assert project.settings.categories == ("行政裁决", "行政给付", "行政检查", "行政强制", "行政确认", "其他权力")


def test_ids_match_file_names(result):
    for chart in result.charts:
        assert int(chart.path.name.split("-")[0]) == chart.id


def test_headings(result):
    by_id = {c.id: c for c in result.charts}
    assert by_id[1].heading == "权力运行廉政风险防控图<行政裁决类1>"
    assert by_id[15].heading == "权力运行廉政风险防控图<其他权力15>"
