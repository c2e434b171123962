"""The printed page, measured in the PDFs riskchart writes: type sizes of
every character (MuPDF's structured text), page sizes, continuation pages,
and the booklet's page numbers and bookmarks."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest
from printed import printed_pages

from riskchart import style
from riskchart.build import BuildOptions, build
from riskchart.config import Settings
from riskchart.draw import pages
from riskchart.draw.layout import continuation_dot
from riskchart.draw.page import A4_PORTRAIT, Page
from riskchart.lint import lint_paths

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parents[1] / "golden"
needs_tools = pytest.mark.needs("dot", "mutool")


def risk(step: int, item: int) -> str:
    return f"第{step}环节风险{item}，未按规定程序办理相关事项，存在优亲厚友、吃拿卡要的可能。"


def measure(step: int, item: int) -> str:
    return f"第{step}环节措施{item}，严格执行相关制度，加强内部监督检查和责任追究。"


def write_chart(folder: Path, number: int, steps: int, items: int) -> Path:
    """A chart of `steps` steps with `items` risks and measures each, every sentence unique."""
    lines = [f"id: {number}", "category: 行政裁决", f"title: 测试{steps}个环节的职权", "department: 测试局",
             "phones:", '  service: "1234567"', '  supervision: "7654321"', "steps:"]
    for s in range(1, steps + 1):
        lines += [f"  - name: 第{s}环节", "    level: 中", "    risks:"]
        lines += [f"      - {risk(s, i)}" for i in range(1, items + 1)]
        lines += ["    measures:"]
        lines += [f"      - {measure(s, i)}" for i in range(1, items + 1)]
        lines += ["    owner: 经办人"]
    path = folder / f"{number:02d}-测试{steps}环节.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def built(tmp_path: Path, charts: list[tuple[int, int]], page: Page = A4_PORTRAIT, publish: bool = False):
    source = tmp_path / "charts"
    source.mkdir()
    for number, (steps, items) in enumerate(charts, 1):
        write_chart(source, number, steps, items)
    out = tmp_path / "out"
    report = build([source], BuildOptions(out=out, formats=("svg", "pdf"), jobs=1, publish=publish, page=page,
                                          settings=Settings()))
    assert report.ok, report
    return out, report


@needs_tools
@pytest.mark.parametrize("steps, items", [(14, 4), (40, 4)])
def test_a_long_chart_continues_over_pages_at_7_pt_or_more_with_every_sentence_once(tmp_path, steps, items):
    out, report = built(tmp_path, [(steps, items)])
    (pdf,) = out.glob("*.pdf")
    printed = printed_pages(pdf)
    count = len(printed)
    assert count >= 2
    assert any(f"续排为 {count} 页" in w and pdf.stem in w for w in report.warnings)  # the build's notice
    for number, sheet in enumerate(printed, 1):
        assert (sheet.width, sheet.height) == (595, 842)
        assert sheet.body >= style.MIN_BODY_SIZE and sheet.smallest >= 6.5, (number, sheet.sizes)
        assert f"第 {number} 页 / 共 {count} 页" in sheet.text
        assert ("（续）" in sheet.text) == (number > 1)
        assert sheet.text.count(style.COLUMN_TITLES[0]) == 1  # the column titles on every page
    text = "".join(sheet.text for sheet in printed)
    for s in range(1, steps + 1):
        for i in range(1, items + 1):
            assert text.count(risk(s, i)) == 1 and text.count(measure(s, i)) == 1, (s, i)
    assert text.count("服务电话") == 1
    # the SVG stays one tall drawing
    assert pdf.with_suffix(".svg").read_text(encoding="utf-8").count("<svg") == 1


@needs_tools
def test_a_short_chart_is_not_blown_up_and_sits_at_the_top(tmp_path):
    out, _ = built(tmp_path, [(2, 2)])
    (sheet,) = printed_pages(next(out.glob("*.pdf")))
    assert 9 <= sheet.body <= 10.5  # 小五 to 五号
    assert sheet.largest <= style.TITLE_FONT_SIZE
    assert sheet.top <= style.PAGE_MARGIN + 20  # the department's line, at the top margin (y downwards)


@needs_tools
@pytest.mark.parametrize("page", [Page("A3"), Page("A4", landscape=True), Page("A3", landscape=True)])
def test_a3_and_landscape_pages_have_their_exact_size(tmp_path, page):
    out, _ = built(tmp_path, [(4, 2)], page)
    printed = printed_pages(next(out.glob("*.pdf")))
    assert [(p.width, p.height) for p in printed] == [(page.width, page.height)]
    assert printed[0].body == 9


@needs_tools
def test_the_booklet_numbers_and_bookmarks_every_chart_after_one_of_several_pages(tmp_path):
    import pikepdf

    out, _ = built(tmp_path, [(14, 4), (3, 2)], publish=True)
    long_pages = len(printed_pages(next(out.glob("01-*.pdf"))))
    with pikepdf.open(out / "booklet.pdf") as booklet:
        with booklet.open_outline() as outline:
            marks = [(item.title, booklet.pages.index(pikepdf.Page(item.destination[0])))
                     for category in outline.root for item in category.children]
        total = len(booklet.pages)
    # cover, one contents page, the long chart, the short one
    assert [index for _, index in marks] == [2, 2 + long_pages]
    assert total == 2 + long_pages + 1
    contents = printed_pages(out / "booklet.pdf")[1].text
    assert contents.endswith(f"3测试3个环节的职权{3 + long_pages}") or f"职权{3 + long_pages}" in contents



@needs_tools
@pytest.mark.needs("pdftotext")
def test_a_continued_charts_pages_use_the_booklets_shared_font_and_print_as_the_chart_does(tmp_path):
    """Continued pages show windows of form XObjects with fonts of their own:
    in the booklet those too use the one shared font per typeface."""
    import subprocess

    import pikepdf

    from riskchart.draw import glyphs

    def pages_text(pdf: Path) -> list[str]:
        done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
        return done.stdout.split("\f")[:-1]

    out, _ = built(tmp_path, [(14, 4), (3, 2)], publish=True)
    with pikepdf.open(out / "booklet.pdf") as booklet:
        programs = {font.DescendantFonts[0].FontDescriptor.FontFile3.objgen for font in glyphs._fonts(booklet)}
    assert len(programs) == 2
    charts = [page for pdf in sorted(out.glob("0*.pdf")) for page in pages_text(pdf)]
    assert len(charts) >= 3 and pages_text(out / "booklet.pdf")[2:] == charts
    done = subprocess.run(["mutool", "draw", "-r", "30", "-F", "png", "-o", "/dev/null", str(out / "booklet.pdf")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "cannot render glyph" not in done.stderr and "error" not in done.stderr

def test_cuts_fall_between_bands_and_hold_at_most_a_page():
    bands = tuple((1000 - 100 * i - 10, 1000 - 100 * i - 90) for i in range(10))
    plan = pages.Drawing(500, 1020, bands, (1015, 995), 250)
    ends = pages.cuts(plan, A4_PORTRAIT)
    assert ends[-1] == 0 and len(ends) == 2
    gaps = [(b[1] + n[0]) / 2 for b, n in itertools.pairwise(bands)]
    assert all(end in gaps for end in ends[:-1])
    assert plan.height - ends[0] <= A4_PORTRAIT.printable_height


def test_a_chart_that_fits_at_7_pt_stays_on_one_page():
    scale = style.MIN_BODY_SIZE / style.FONT_SIZE
    room = A4_PORTRAIT.printable_height
    assert not pages.continues(500, room / scale - 1, A4_PORTRAIT)
    assert pages.continues(500, room / scale + 5, A4_PORTRAIT)


@pytest.mark.needs("dot")
def test_a_drawings_size_is_read_from_the_head_of_dots_layout_as_from_the_whole():
    import json
    import subprocess

    layout = subprocess.run(["dot", "-Tjson0", str(GOLDEN / "01-劳动人事争议调解仲裁.dot")],
                            capture_output=True, check=True).stdout
    plan = pages.drawing(layout)
    assert plan is not None and pages.size(layout) == (plan.width, plan.height)
    graph = json.loads(layout)
    graph["bb"] = "0,0,100,2000"  # graph attributes written after the objects: the whole is read
    reordered = json.dumps({"objects": graph.pop("objects"), **graph}, indent=2).encode()
    assert pages.size(reordered) == (100 + 2 * 0.05 * 72, 2000 + 2 * 0.05 * 72)


def test_golden_continuation_dot(tmp_path):
    """The words a continued chart adds (reviewed with the pages of a 14-step chart as PNG)."""
    (chart,) = lint_paths([write_chart(tmp_path, 1, 14, 4)], Settings()).charts
    dot = continuation_dot(chart, 3)
    golden = GOLDEN / "continuation-14-steps.dot"
    if os.environ.get("RISKCHART_UPDATE_GOLDEN"):
        golden.write_text(dot, encoding="utf-8")
        pytest.skip(f"{golden.name} rewritten: review `git diff tests/golden/`")
    assert dot == golden.read_text(encoding="utf-8")


@pytest.mark.slow
@needs_tools
def test_every_seed_chart_prints_its_body_at_8_pt_or_more_on_one_a4_page(tmp_path):
    out = tmp_path / "out"
    report = build([ROOT / "charts"], BuildOptions(out=out, formats=("pdf",), publish=False))
    assert report.ok
    bodies = {}
    for pdf in sorted(out.glob("*.pdf")):
        (sheet,) = printed_pages(pdf)  # one page each
        assert (sheet.width, sheet.height) == (595, 842)
        assert sheet.smallest >= 6.5, (pdf.stem, sheet.sizes)
        bodies[pdf.stem] = sheet.body
    assert len(bodies) == 40 and min(bodies.values()) >= 8, bodies
    assert sum(size >= 9 for size in bodies.values()) >= 30, bodies  # 小五 where the chart allows


@needs_tools
def test_a_chart_whose_continued_pages_cannot_be_drawn_falls_back_to_one_page_and_says_so(tmp_path, monkeypatch):
    """dot fails on the 「（续）」 header only: the chart is not lost but shrunk onto
    one page, every sentence still there, and the build names it and why."""
    from conftest import dot_crashing_on

    from riskchart.draw import render

    dot_crashing_on("（续）", tmp_path / "bin", monkeypatch)
    render.toolchain.cache_clear()  # find the crashing dot
    try:
        out, report = built(tmp_path, [(14, 4)])
    finally:
        render.toolchain.cache_clear()
    (pdf,) = out.glob("*.pdf")
    (sheet,) = printed_pages(pdf)
    assert (sheet.width, sheet.height) == (595, 842)
    assert sheet.body < style.MIN_BODY_SIZE  # shrunk, as the notice says
    for s in range(1, 15):
        for i in range(1, 5):
            assert sheet.text.count(risk(s, i)) == 1 and sheet.text.count(measure(s, i)) == 1
    (notice,) = [w for w in report.warnings if pdf.stem in w]
    assert "simulated crash" in notice and "一页上" in notice
    assert abs(float(re.search(r"正文约 ([\d.]+) 磅", notice).group(1)) - sheet.body) < 0.1
    assert "续排为" not in notice
    assert notice.endswith("可用 build --force 重试")  # the option spelt as typed


@needs_tools
def test_a_png_only_build_of_a_continued_chart_shows_every_page_and_gives_the_notice(tmp_path):
    """A PNG holds one picture: a continued chart's is its pages one under another,
    as the PDF prints them, and a PNG-only build names it as a PDF build does."""
    import io
    import math

    from PIL import Image

    source = tmp_path / "charts"
    source.mkdir()
    write_chart(source, 1, 14, 4)
    dpi = 40
    both = build([source], BuildOptions(out=tmp_path / "pdf", formats=("pdf",), jobs=1, publish=False,
                                        settings=Settings()))
    count = len(printed_pages(next((tmp_path / "pdf").glob("*.pdf"))))
    report = build([source], BuildOptions(out=tmp_path / "png", formats=("png",), jobs=1, publish=False, dpi=dpi,
                                          settings=Settings()))
    assert report.ok and count >= 2
    assert report.warnings == both.warnings and any(f"续排为 {count} 页" in w for w in report.warnings)
    (png,) = (tmp_path / "png").glob("*.png")
    image = Image.open(io.BytesIO(png.read_bytes())).convert("L")
    page = 842 * dpi / 72
    assert image.size == (math.ceil(595 * dpi / 72), math.ceil(count * page))
    for number in range(count):  # every page inked, each below a grey rule across the picture
        band = image.crop((0, round(number * page) + 2, image.width, round((number + 1) * page) - 2))
        assert band.getextrema()[0] < 100, number
        if number:
            rows = [image.crop((0, y, image.width, y + 1)) for y in range(round(number * page) - 1, round(number * page) + 2)]
            assert any(row.getextrema()[1] < 250 for row in rows), number  # a whole row greyed


@needs_tools
def test_the_contents_drawn_ahead_count_a_continued_charts_pages(tmp_path, monkeypatch):
    """The booklet's contents are drawn while the charts are (booklets.draw_front_matter_ahead)
    and number the pages a continued chart really takes, so the booklet finds them
    drawn: no contents page is drawn again at publishing, in a clean build or after
    another chart changed."""
    import threading

    from riskchart.draw import render

    drawn: list[bool] = []  # a contents page drawn: on the main thread (at publishing)?
    draw = render.render_many

    def watched(dot_texts, *args, **kwargs):
        drawn.extend(threading.current_thread() is threading.main_thread()
                     for text in dot_texts if text.startswith("digraph contents"))
        return draw(dot_texts, *args, **kwargs)

    monkeypatch.setattr(render, "render_many", watched)
    source = tmp_path / "charts"
    source.mkdir()
    write_chart(source, 1, 14, 4)
    short = write_chart(source, 2, 3, 2)
    out = tmp_path / "out"
    for jobs, title in ((1, "测试3个环节的职权"), (2, "测试三个环节的职权")):
        short.write_text(short.read_text(encoding="utf-8").replace("测试3个环节的职权", title), encoding="utf-8")
        drawn.clear()
        report = build([source], BuildOptions(out=out, formats=("pdf",), jobs=jobs, settings=Settings()))
        assert report.ok and "booklet.pdf" in report.published, report
        long_pages = len(printed_pages(next(out.glob("01-*.pdf"))))
        assert long_pages >= 2
        contents = printed_pages(out / "booklet.pdf")[1].text
        assert "测试14个环节的职权3" in contents and f"{title}{3 + long_pages}" in contents, contents
        assert drawn and not any(drawn), drawn  # drawn ahead only, never again at publishing
    assert drawn == [False]  # the second time once: the long chart, not drawn again, counted as recorded
