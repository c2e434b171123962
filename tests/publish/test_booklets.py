"""Which booklets a set has (publish/booklets.py), as far as a build needs
to know before drawing: the charts whose fonts a booklet may need; the
booklets a build makes (department by department, on the project's paper);
and the Word booklet as the project set it up.

tests/fixtures/departments is a project of two departments of three charts
each: its booklet has a cover, one contents page (with a heading per
department) and the six charts' pages; each department's, a cover, one
contents page and its three charts' pages.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from concurrent.futures import Future
from datetime import date
from pathlib import Path

import docx
import pikepdf
import pytest
from conftest import SEED_SAMPLE, copy_seed_charts
from docx.oxml.ns import qn
from PIL import Image

from riskchart import style
from riskchart.build import BuildOptions, build
from riskchart.config import find_project
from riskchart.draw.page import Page
from riskchart.lint import lint_paths
from riskchart.publish.booklets import (
    BookletPlan,
    booklet_page_count,
    publish_word_booklet,
)
from riskchart.publish.names import BOOKLET

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "departments"
FOOD = ["食品科/01-食品经营许可", "食品科/02-食品安全违法行为处罚", "食品科/03-食品检验费征收"]
EQUIPMENT = ["特设科/01-特种设备使用登记", "特设科/02-特种设备违法行为处罚", "特设科/检验股/03-特种设备检验费征收"]


def models():
    project = find_project(FIXTURE)
    found = list(lint_paths([project.settings.charts], project.settings).charts)
    assert sorted(c.out_name for c in found) == sorted(FOOD + EQUIPMENT)
    return found


def outline(pdf: Path) -> list[str]:
    """The booklet's bookmarks at the top level."""
    with pikepdf.open(pdf) as document, document.open_outline() as found:
        return [item.title for item in found.root]


def cover(pdf: Path) -> list[str]:
    """The words on the booklet's first page."""
    return subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout.split()


def test_every_chart_of_a_booklet_short_enough_needs_its_fonts():
    charts = models()
    assert BookletPlan(charts, set(), {}).members == set(FOOD + EQUIPMENT)
    assert booklet_page_count(charts, dict.fromkeys(FOOD + EQUIPMENT, 1), by_department=True) == 1 + 1 + 6


def test_a_department_s_charts_need_theirs_for_its_own_booklet_when_the_project_s_is_too_long(monkeypatch):
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", 5)  # each department's: 5 pages; the project's: 8
    assert BookletPlan(models(), set(), {}).members == set(FOOD + EQUIPMENT)
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", 4)  # no booklet at all
    assert BookletPlan(models(), set(), {}).members == set()


def test_charts_not_yet_laid_out_count_as_the_mean_of_those_laid_out(monkeypatch):
    """400 charts, a tenth continued over several pages, make a booklet too
    long that the least count cannot rule out: the first layouts tell."""
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", 5)  # each department's booklet: 5 pages at one page a chart
    charts = models()
    plan = BookletPlan(charts, {c.path for c in charts}, {})
    assert plan.members == set(FOOD + EQUIPMENT)
    assert plan.likely(FOOD[0], {}, 1.0) and plan.likely(EQUIPMENT[0], {}, 1.0)  # nothing laid out yet
    laid_out = {FOOD[1]: 2, EQUIPMENT[1]: 1}
    assert not plan.likely(FOOD[0], laid_out, 1.0)  # 食品科's: 2 + 1 + 2 + 1 pages
    assert plan.likely(EQUIPMENT[0], laid_out, 1.0)  # 特设科's: 2 + 1 + 1 + 1
    assert not plan.likely(EQUIPMENT[0], laid_out, 1.5)  # its two others likely take 1.5 pages each
    assert plan.likely(EQUIPMENT[0], {**laid_out, EQUIPMENT[0]: 1, EQUIPMENT[2]: 1}, 1.5)  # all laid out: known
    # a chart not drawn counts as the manifest recorded it, whatever the others take
    undrawn = BookletPlan(charts, {c.path for c in charts if c.out_name != EQUIPMENT[2]},
                          {"charts": {EQUIPMENT[2]: {"pages": 1}}})
    assert undrawn.likely(EQUIPMENT[0], {EQUIPMENT[0]: 1, EQUIPMENT[1]: 1}, 3.0)
    assert not plan.likely("其他科/09-不在任何汇编中", {}, 1.0)
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", 4)  # a page each for the charts being drawn: none fits
    assert BookletPlan(charts, {c.path for c in charts}, {}).members == frozenset()


def test_charts_not_drawn_count_as_many_pages_as_the_last_build_recorded(monkeypatch):
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", 6)
    charts = models()
    manifest = {"charts": {FOOD[0]: {"pages": 3}}}  # 食品科's booklet: 7 pages
    assert BookletPlan(charts, set(), manifest).members == set(EQUIPMENT)
    # being drawn again, it may take a single page: its booklet may be made
    drawn = {c.path for c in charts if c.out_name == FOOD[0]}
    assert BookletPlan(charts, drawn, manifest).members == set(FOOD + EQUIPMENT)
    # a record that is not a page count is not believed: one page
    assert BookletPlan(charts, set(), {"charts": {FOOD[0]: {"pages": "3"}}}).members == set(FOOD + EQUIPMENT)
    assert BookletPlan(charts, set(), {"charts": {FOOD[0]: {"pages": 2}}}).members == set(FOOD + EQUIPMENT)


def test_the_word_booklet_is_written_in_the_fonts_the_project_chose(tmp_path):
    charts = models()
    settings = dataclasses.replace(find_project(FIXTURE).settings, word_booklet=True,
                                   docx_fonts=("宋体", "方正小标宋简体"))
    picture = io.BytesIO()
    Image.new("RGB", (190, 240), "white").save(picture, "PNG")
    pictures: Future[dict[str, list[bytes]]] = Future()
    pictures.set_result({c.out_name: [picture.getvalue()] for c in charts})
    failures: list[str] = []
    written = publish_word_booklet(charts, pictures, BuildOptions(out=tmp_path, settings=settings),
                                   date(2026, 1, 2), failures)
    assert written == ["booklet.docx"] and failures == []
    styles = docx.Document(str(tmp_path / "booklet.docx")).styles
    for name, font in (("Normal", "宋体"), ("Heading 1", "方正小标宋简体"), ("Title", "方正小标宋简体")):
        assert styles[name].element.rPr.rFonts.get(qn("w:eastAsia")) == font, name


@pytest.mark.needs("dot", "cjk-font", "pdftotext")
def test_the_project_s_booklet_goes_department_by_department_and_each_department_has_its_own(tmp_path):
    """Two departments (each a folder): the project's booklet names both on
    its cover, bookmarks and lists its charts department by department;
    each department's booklet is its own, by category."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    out = tmp_path / "out"
    assert build([project / "charts"], BuildOptions(out=out, formats=("pdf",),
                                                   settings=find_project(project).settings)).ok
    equipment, food = "某县市场监督管理局特种设备安全监察科", "某县市场监督管理局食品科"
    assert outline(out / BOOKLET) == [equipment, food]
    assert cover(out / BOOKLET)[0] == f"{equipment}、{food}"
    assert outline(out / "食品科" / BOOKLET) == ["行政许可类", "行政处罚类", "行政征收类"]
    assert cover(out / "食品科" / BOOKLET)[0] == food


@pytest.mark.needs("dot", "cjk-font")
def test_the_booklet_s_cover_and_contents_are_on_the_project_s_paper(tmp_path):
    a3_landscape = Page("A3", landscape=True)
    out = tmp_path / "out"
    assert build([copy_seed_charts(tmp_path / "charts", SEED_SAMPLE[:1])],
                 BuildOptions(out=out, formats=("pdf",), page=a3_landscape)).ok
    with pikepdf.open(out / BOOKLET) as document:
        sizes = [[round(float(v)) for v in page.mediabox] for page in document.pages]
    assert sizes == [[0, 0, round(a3_landscape.width), round(a3_landscape.height)]] * 3  # cover, contents, chart


def test_no_chart_s_pdf_is_looked_for_when_no_booklet_can_be_made(tmp_path, monkeypatch):
    """Every booklet too long (4,000 charts in one folder): the charts' PDFs are
    not looked for (4,000 stats), and each booklet is noted as not made."""
    from riskchart.publish.booklets import publish_booklets

    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", 4)  # each department's has 5 pages, the project's 8
    notes: list[str] = []
    written = publish_booklets(models(), {"charts": {}}, BuildOptions(out=tmp_path, formats=("pdf",)), None,  # type: ignore[arg-type]
                               date(2026, 1, 1), None, None, [], notes)
    assert written == [] and len(notes) == 3  # no chart has a PDF in tmp_path: none was asked for
