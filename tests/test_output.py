"""The 40 real charts, built once: every sentence is in the SVG and PDF text,
columns are straight and bands aligned, PDFs are single A4 pages."""

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import needs_pdftotext, pdf_text, squeeze

from riskchart import style
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
            assert abs(drawn[0][1] - drawn[0][0] - style.SIDE_WIDTH) <= 2, (chart.stem, column)
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
