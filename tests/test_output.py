"""The 40 real charts, built once: every sentence is in the SVG and PDF text,
columns are straight and bands aligned, PDFs are single A4 pages."""

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import needs_pdftotext, pdf_text, squeeze, tool_missing

from riskchart import style
from riskchart.draw.layout import chart_sheet
from riskchart.draw.page import A4_PORTRAIT
from riskchart.lint import lint_paths

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
pytestmark = [pytest.mark.needs("dot", "cjk-font"), pytest.mark.slow]


@pytest.fixture(scope="module")
def built(built_set):
    return built_set, lint_paths([ROOT / "charts"]).charts




def node_texts(svg_path: Path) -> dict[str, str]:
    """Node id → all its text, in drawing order."""
    nodes = {}
    for group in ET.parse(svg_path).getroot().iter(f"{SVG}g"):
        if group.get("class") == "node":
            name = group.find(f"{SVG}title").text
            nodes[name] = "".join(t.text or "" for t in group.iter(f"{SVG}text"))
    return nodes


def node_boxes(svg_path: Path) -> dict[str, tuple[float, float, float, float]]:
    """Node id → (left, right, top, bottom) of its outline."""
    boxes = {}
    for group in ET.parse(svg_path).getroot().iter(f"{SVG}g"):
        if group.get("class") != "node":
            continue
        points = [tuple(map(float, p.split(","))) for poly in group.iter(f"{SVG}polygon")
                  for p in poly.get("points").split()]
        points += [tuple(map(float, p.split(","))) for path in group.iter(f"{SVG}path")
                   for p in re.findall(r"-?[\d.]+,-?[\d.]+", path.get("d"))]
        if points:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            boxes[group.find(f"{SVG}title").text] = (min(xs), max(xs), min(ys), max(ys))
    return boxes


def test_every_sentence_is_in_the_svg_text(built):
    out, charts = built
    for chart in charts:
        nodes = node_texts(out / f"{chart.stem}.svg")
        everything = squeeze("".join(nodes.values()))
        assert squeeze(chart.title) in everything, chart.stem
        assert squeeze(chart.heading) in everything
        for i, step in enumerate(chart.steps):
            assert squeeze(step.name) == squeeze(nodes[f"step_{i}"]), (chart.stem, step.name)
            for n, risk in enumerate(step.risks, 1):
                assert f"{n}.{squeeze(risk)}" in squeeze(nodes[f"risk_{i}"]), (chart.stem, risk)
            for n, measure in enumerate(step.measures, 1):
                assert f"{n}.{squeeze(measure)}" in squeeze(nodes[f"measure_{i}"]), (chart.stem, measure)
            if step.risks:
                assert f"风险等级：{step.level}" in nodes[f"risk_{i}"]
            if step.measures:
                assert squeeze(f"责任人：{step.owner}") in squeeze(nodes[f"measure_{i}"])


@needs_pdftotext
def test_every_sentence_is_in_the_pdf_text(built):
    out, charts = built
    for chart in charts:
        text = pdf_text(out / f"{chart.stem}.pdf")
        assert squeeze(chart.title) in text
        for step in chart.steps:
            assert squeeze(step.name) in text
            for item in (*step.risks, *step.measures):
                assert squeeze(item) in text, (chart.stem, item)


@pytest.mark.needs("pdfinfo")
def test_every_pdf_is_one_a4_page(built):
    out, charts = built
    for chart in charts:
        info = subprocess.run(["pdfinfo", str(out / f"{chart.stem}.pdf")], capture_output=True, text=True).stdout
        assert re.search(r"Pages:\s+1\n", info)
        assert "595 x 842 pts (A4)" in info


def test_columns_are_straight_and_bands_aligned(built):
    out, charts = built
    for chart in charts:
        if chart.draft:
            continue
        boxes = node_boxes(out / f"{chart.stem}.svg")
        for column in ("risk", "measure"):
            drawn = [boxes[f"{column}_{i}"] for i, s in enumerate(chart.steps)
                     if (s.risks if column == "risk" else s.measures)]
            lefts = {round(b[0]) for b in drawn}
            rights = {round(b[1]) for b in drawn}
            assert len(lefts) == 1 and len(rights) == 1, (chart.stem, column, lefts, rights)
            side = chart_sheet(chart, A4_PORTRAIT).SIDE_WIDTH  # from the page's width (page.py)
            assert abs(drawn[0][1] - drawn[0][0] - side) <= 2, (chart.stem, column)
        steps = [boxes[f"step_{i}"] for i in range(len(chart.steps))]
        assert len({round((b[0] + b[1]) / 2) for b in steps}) == 1, chart.stem
        for i, step in enumerate(chart.steps):
            middle = (steps[i][2] + steps[i][3]) / 2
            for side in ("risk", "measure"):
                if f"{side}_{i}" in boxes and (step.risks if side == "risk" else step.measures):
                    box = boxes[f"{side}_{i}"]
                    assert abs((box[2] + box[3]) / 2 - middle) < 1, (chart.stem, side, i)
        # rows go down the page in workflow order
        assert [b[2] for b in steps] == sorted(b[2] for b in steps)


def test_draft_charts_print_the_notice(built):
    out, charts = built
    drafts = [c for c in charts if c.draft]
    assert {c.id for c in drafts} == {4, 11}
    for chart in drafts:
        nodes = node_texts(out / f"{chart.stem}.svg")
        assert style.DRAFT_NOTICE in nodes["notice"]
        assert squeeze(chart.title) in squeeze(nodes["header"])


# ---------------------------------------------------------------- a power list: code, basis, time limits, exits

POWER_LIST = Path(__file__).parent / "fixtures" / "power-list"


@pytest.fixture(scope="module")
def power_list(tmp_path_factory):
    """The power-list fixture built like a project: every format the user opens."""
    from riskchart.build import BuildOptions, build
    from riskchart.config import Settings

    out = tmp_path_factory.mktemp("power-list")
    report = build([POWER_LIST], BuildOptions(out=out, formats=("svg", "pdf"), settings=Settings()))
    assert report.ok and report.diagnostics == (), report
    charts = lint_paths([POWER_LIST], Settings()).charts
    assert {c.stem for c in charts} == {"07-食品经营许可", "08-食品生产许可"}
    return out, sorted(charts, key=lambda c: c.id)


def power_list_texts(chart) -> list[str]:
    """Every text the new keys bring into a chart."""
    texts = [f"职权编码：{chart.code}", f"办理时限：{chart.time_limit.text}", *chart.basis]
    for step in chart.steps:
        texts += [f"时限：{step.time_limit}"] if step.time_limit else []
        texts += [text for exit in step.exits for text in (exit.when, exit.to)]
    return texts


def test_every_new_text_is_in_the_svg_where_it_belongs(power_list):
    out, charts = power_list
    for chart in charts:
        nodes = {name: squeeze(text) for name, text in node_texts(out / f"{chart.stem}.svg").items()}
        assert squeeze(f"职权编码：{chart.code}") in nodes["header"]
        assert squeeze(f"办理时限：{chart.time_limit.text}") in nodes["header"]
        for n, basis in enumerate(chart.basis, 1):
            assert f"{n}.{squeeze(basis)}" in nodes["header"], basis
        for i, step in enumerate(chart.steps):
            if step.time_limit:
                assert nodes[f"step_{i}"] == squeeze(f"{step.name}时限：{step.time_limit}")
            if step.exits:
                assert nodes[f"exits_{i}"] == "".join(squeeze(e.when + e.to) for e in step.exits)
            else:
                assert f"exits_{i}" not in nodes


@needs_pdftotext
def test_every_new_text_is_in_the_pdf_text(power_list):
    out, charts = power_list
    for chart in charts:
        text = pdf_text(out / f"{chart.stem}.pdf")
        for piece in power_list_texts(chart):
            assert squeeze(piece) in text, (chart.stem, piece)


def _edge_points(svg_path: Path) -> list[tuple[str, list[tuple[float, float]]]]:
    """(title, points of its path) of every edge; an edge's title names no cell port, so titles repeat."""
    edges = []
    for group in ET.parse(svg_path).getroot().iter(f"{SVG}g"):
        if group.get("class") == "edge":
            edges.append((group.find(f"{SVG}title").text, [
                tuple(map(float, p)) for path in group.iter(f"{SVG}path")
                for p in re.findall(r"(-?[\d.]+),(-?[\d.]+)", path.get("d"))]))
    return edges


def test_exits_branch_off_between_the_step_and_the_measures_without_crossing_a_column(power_list):
    out, charts = power_list
    for chart in charts:
        svg = out / f"{chart.stem}.svg"
        boxes, edges = node_boxes(svg), _edge_points(svg)
        risks = [boxes[f"risk_{i}"] for i, s in enumerate(chart.steps) if s.risks]
        measures = [boxes[f"measure_{i}"] for i, s in enumerate(chart.steps) if s.measures]
        # the three columns stay straight
        assert len({round(b[0]) for b in risks}) == 1 and len({round(b[0]) for b in measures}) == 1, chart.stem
        steps = [boxes[f"step_{i}"] for i in range(len(chart.steps))]
        assert len({round((b[0] + b[1]) / 2) for b in steps}) == 1, chart.stem
        risk_right, measure_left = max(b[1] for b in risks), min(b[0] for b in measures)
        for i, step in enumerate(chart.steps):
            if not step.exits:
                continue
            box = boxes[f"exits_{i}"]
            # right of the step, left of the measures, under its step and above the next one
            assert steps[i][1] < box[0] and box[1] < measure_left, (chart.stem, i)
            assert steps[i][3] < box[2], (chart.stem, i)
            if i + 1 < len(steps):
                assert box[3] < steps[i + 1][2], (chart.stem, i)
            connectors = [points for title, points in edges if title == f"step_{i}:e->exits_{i}:w"]
            assert len(connectors) == len(step.exits), (chart.stem, i)
            for points in connectors:
                assert all(risk_right < x < measure_left for x, _ in points), (chart.stem, i)
                assert all(steps[i][2] <= y <= box[3] for _, y in points), (chart.stem, i)
            # each connector ends at its own box: one arrives lower than the other
            assert len({round(points[-1][1]) for points in connectors}) == len(connectors), (chart.stem, i)


@needs_pdftotext
def test_exits_are_drawn_between_the_steps_and_the_measures_on_the_pdf_page(power_list, tmp_path):
    """Where the words land on the printed page (pdftotext -bbox), not only in the SVG."""
    out, charts = power_list
    chart = charts[0]
    page = tmp_path / "words.html"
    subprocess.run(["pdftotext", "-bbox", str(out / f"{chart.stem}.pdf"), str(page)], check=True)
    words = [(float(x0), float(y0), float(x1), float(y1), html_text)
             for x0, y0, x1, y1, html_text in re.findall(
                 r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
                 page.read_text(encoding="utf-8"))]

    def word(start: str) -> tuple[float, float, float, float, str]:
        (found,) = [w for w in words if w[4].startswith(start)]
        return found

    step_names = [word(step.name) for step in chart.steps]
    measure_left = min(word(step.measures[0][:6])[0] for step in chart.steps if step.measures)
    for i, step in enumerate(chart.steps):
        for exit in step.exits:
            destination, condition = word(exit.to[:6]), word(exit.when[:6])
            assert step_names[i][2] < destination[0] < destination[2] < measure_left, exit.to
            assert step_names[i][3] < condition[1] < destination[1], exit.when  # the condition labels it, above
            if i + 1 < len(chart.steps):
                assert destination[3] < step_names[i + 1][1], exit.to


def test_the_index_register_export_and_booklet_carry_the_new_keys(power_list):
    import csv
    import io
    import json

    from riskchart.publish import tables

    out, charts = power_list
    page = (out / "index.html").read_text(encoding="utf-8")
    register = list(csv.DictReader(io.StringIO((out / "risk-register.csv").read_text(encoding="utf-8-sig"))))
    exported = json.loads(tables.register_json(charts))
    for chart in charts:
        assert f"职权编码：{chart.code}" in page and f"办理时限：{chart.time_limit.text}" in page
        card = re.search(rf'<li class="card" id="chart-{chart.id}" data-search="([^"]*)"', page).group(1)
        assert all(basis in card for basis in chart.basis)
        assert all(e.when in card and e.to in card for s in chart.steps for e in s.exits)
        for rows in (register, exported):
            mine = [r for r in rows if r["编号"].startswith(f"{chart.id}-")]
            assert mine and all(r["职权编码"] == chart.code for r in mine)
            assert all(r["法律依据"].split("\n") == [f"{n}. {b}" for n, b in enumerate(chart.basis, 1)] for r in mine)
            assert all((r["法定时限"], r["承诺时限"]) == (chart.time_limit.statutory, chart.time_limit.promised)
                       for r in mine)
            by_step = {s.name: s.time_limit or "" for s in chart.steps}
            assert all(r["环节时限"] == by_step[r["环节"]] for r in mine)
    if tool_missing("pdftotext") is None:
        contents = squeeze(subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(out / "booklet.pdf"), "-"],
                                          capture_output=True, text=True, check=True).stdout)
        assert all(chart.code in contents for chart in charts)
