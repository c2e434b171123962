"""Text that looks like DOT, HTML or template code is data: it lints, builds,
and comes out verbatim.  A property test extends this to arbitrary text."""

import xml.etree.ElementTree as ET
from pathlib import Path

import markupsafe
import pytest
import yaml
from conftest import needs_pdftotext, pdf_text, squeeze
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskchart.build import BuildOptions, build
from riskchart.draw import render
from riskchart.draw.layout import chart_dot
from riskchart.lint import lint_paths

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE_FOLDERS = [FIXTURES / "hostile-build", FIXTURES / "hostile"]
pytestmark = pytest.mark.needs("dot", "cjk-font")




def svg_text(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))


@pytest.fixture(scope="module", params=HOSTILE_FOLDERS, ids=lambda folder: folder.name)
def hostile_build(request, tmp_path_factory):
    render.toolchain.cache_clear()
    out = tmp_path_factory.mktemp("hostile")
    report = build([request.param], BuildOptions(out=out))
    assert report.ok, report.outcomes
    return out, lint_paths([request.param]).charts


def all_text(chart):
    yield chart.title
    yield from (t for t in (chart.department, chart.phones.service, chart.phones.supervision) if t)
    yield from (t for t in (chart.code, chart.time_limit.statutory, chart.time_limit.promised) if t)
    yield from chart.basis
    yield from (t for t in (chart.scope, chart.owner) if t)
    for step in chart.steps:
        yield step.name
        yield from (t for t in (step.note, chart.risk_type_of(step)) if t)
        yield from step.risks
        yield from step.measures
        if step.owner:
            yield step.owner
        if step.time_limit:
            yield step.time_limit
        yield from (text for exit in step.exits for text in (exit.when, exit.to))


@pytest.mark.parametrize("folder", HOSTILE_FOLDERS, ids=lambda folder: folder.name)
def test_hostile_fixtures_lint_without_errors(folder):
    result = lint_paths([folder])
    assert [d for d in result.diagnostics if d.is_error] == []
    assert len(result.charts) == len(list(folder.glob("[0-9]*.yaml")))


def test_hostile_text_is_verbatim_in_the_svg(hostile_build):
    out, charts = hostile_build
    for chart in charts:
        text = squeeze(svg_text((out / f"{chart.stem}.svg").read_bytes()))
        for piece in all_text(chart):
            assert squeeze(piece) in text, piece


@needs_pdftotext
def test_hostile_text_is_verbatim_in_the_pdf(hostile_build):
    out, charts = hostile_build
    for chart in charts:
        text = pdf_text(out / f"{chart.stem}.pdf")
        for piece in all_text(chart):
            assert squeeze(piece) in text, piece


def test_hostile_text_is_escaped_in_the_index(hostile_build):
    out, charts = hostile_build
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<TABLE>" not in page
    assert page.count("<script>") == 1  # the page's own
    for chart in charts:
        assert str(markupsafe.escape(chart.title)) in page  # escaped the way the page's Jinja2 does


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)


@settings(max_examples=int(__import__("os").environ.get("RISKCHART_PROPERTY_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, field=st.sampled_from(["title", "name", "risk", "measure", "owner",
                                          "code", "basis", "statutory", "step_time_limit", "when", "to"]))
def test_any_text_is_rejected_with_a_location_or_rendered_exactly(tmp_path, text, field):
    step = {"name": "受理", "level": "中", "risks": ["故意刁难申请人。"], "measures": ["建立受理单制度。"], "owner": "受理人"}
    chart = {"id": 1, "category": "其他权力", "title": "测试职权", "steps": [step]}
    if field == "title":
        chart["title"] = text
    elif field == "name":
        step["name"] = text
    elif field == "risk":
        step["risks"] = [text]
    elif field == "measure":
        step["measures"] = [text]
    elif field == "owner":
        step["owner"] = text
    elif field == "code":
        chart["code"] = text
    elif field == "basis":
        chart["basis"] = [text]
    elif field == "statutory":
        chart["time_limit"] = {"statutory": text}
    elif field == "step_time_limit":
        step["time_limit"] = text
    else:
        step["exits"] = [{"when": "材料不齐全", "to": "一次性告知补正"} | {field: text}]
    folder = tmp_path / "charts"
    folder.mkdir(exist_ok=True)
    path = folder / "01-测试.yaml"
    path.write_text(yaml.safe_dump(chart, allow_unicode=True, width=10_000), encoding="utf-8")
    result = lint_paths([folder])
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        assert all(d.line >= 1 and d.column >= 1 and d.code.startswith("RC") for d in errors)
        return
    (model,) = result.charts
    svg = render.render(chart_dot(model), ("svg",), render.toolchain())["svg"]
    assert squeeze(text) in squeeze(svg_text(svg))
