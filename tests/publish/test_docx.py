"""The booklet as .docx: read back with python-docx, and opened by LibreOffice."""

import io
import subprocess
import zipfile
from datetime import date

import docx
import pytest
from conftest import CHARTS, lint_files, write_files
from docx.oxml.ns import qn
from PIL import Image

from riskchart.config import Settings, find_settings
from riskchart.draw import render
from riskchart.draw.layout import chart_dot
from riskchart.lint import lint_paths
from riskchart.publish import docx as word

THREE = {
    "01-a.yaml": "id: 1\ncategory: 行政裁决\ntitle: 甲职权\nsteps:\n  - name: 受理\n",
    "02-b.yaml": "id: 2\ncategory: 行政确认\ntitle: 乙职权\nsteps:\n  - name: 受理\n",
    "03-c.yaml": "id: 3\ncategory: 行政裁决\ntitle: 丙职权\nsteps:\n  - name: 受理\n",
}
EMU_PER_INCH = 914400


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    charts = list(lint_files(tmp_path_factory.mktemp("docx"), THREE).charts)
    pictures = {"01-a": [png(1900, 2400)], "02-b": [png(1900, 2400), png(1900, 1200)], "03-c": [png(1200, 2600)]}
    data = word.booklet_docx(charts, pictures, "某某局", date(2026, 1, 2))
    return charts, pictures, data, docx.Document(io.BytesIO(data))


def test_a4_portrait_with_the_official_document_margins(three):
    section = three[3].sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert section.page_width < section.page_height
    assert [round(getattr(section, f"{side}_margin").cm, 2) for side in ("top", "bottom", "left", "right")] == \
        [3.7, 3.5, 2.8, 2.6]


def test_every_chart_is_a_heading_for_the_navigation_pane_in_category_order(three):
    headings = [p.text for p in three[3].paragraphs if p.style.name == "Heading 1"]
    assert headings == ["2. 乙职权", "1. 甲职权", "3. 丙职权"]  # the project's order: 行政确认 before 行政裁决


def test_one_picture_per_chart_page_within_the_printable_room(three):
    document = three[3]
    shapes = list(document.inline_shapes)
    assert len(shapes) == 4
    width, height = word.PICTURE_ROOM_CM
    for shape in shapes:
        assert shape.width.cm <= width + 0.01 and shape.height.cm <= height + 0.01
        assert shape.width.cm >= width - 0.01 or shape.height.cm >= height - 0.01  # as large as it fits


def test_pictures_are_stored_as_given_not_the_stand_ins(three):
    _, pictures, data, _ = three
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        media = [m for m in package.infolist() if m.filename.startswith("word/media/")]
        assert sorted(package.read(m) for m in media) == sorted(p for pages in pictures.values() for p in pages)
        assert {m.compress_type for m in media} == {zipfile.ZIP_STORED}


def test_east_asian_fonts_are_set_on_the_styles(three):
    styles = three[3].styles
    for name, font in (("Normal", "仿宋"), ("Heading 1", "黑体"), ("Title", "黑体")):
        fonts = styles[name].element.rPr.rFonts
        assert (fonts.get(qn("w:eastAsia")), fonts.get(qn("w:ascii"))) == (font, font), name


def test_the_fonts_can_be_chosen(three):
    charts, pictures, _, _ = three
    chosen = docx.Document(io.BytesIO(word.booklet_docx(charts, pictures, "", date(2026, 1, 2), fonts=word.Fonts("宋体", "方正小标宋简体"))))
    assert chosen.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"
    assert chosen.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"


def test_contents_give_each_chart_its_page(three):
    document = three[3]
    text = "\n".join(p.text for p in document.paragraphs)
    assert "2. 乙职权\t3" in text and "1. 甲职权\t5" in text and "3. 丙职权\t6" in text  # 乙 has two pages
    assert "某某局" in text and "2026 年 1 月 2 日" in text


def test_a_long_contents_list_continues_on_more_pages(tmp_path):
    many = {f"{n:02d}-x.yaml": f"id: {n}\ncategory: 行政裁决\ntitle: 职权{n}\nsteps:\n  - name: 受理\n"
            for n in range(1, 31)}
    charts = list(lint_files(tmp_path, many).charts)
    contents, entries = word.plan(charts, {c.stem: [b""] for c in charts})
    assert len(contents) == 2 and [len(page) for page in contents] == [22, 10]
    assert contents[1][0] == word.Category("行政裁决", continued=True)  # the category named again
    assert entries[0].page == 4 and entries[-1].page == 33


# ------------------------------------------------------- the pictures, drawn

@pytest.mark.needs("dot", "cjk-font", "mutool")
def test_pictures_are_at_least_300_dpi_at_their_placed_size_and_cached(tmp_path):
    wide, tall = "01-劳动人事争议调解仲裁", "20-未支付劳动报酬和经济补偿处理"  # placed by width, by height
    charts = list(lint_paths([CHARTS / f"{wide}.yaml", CHARTS / f"{tall}.yaml"], find_settings(CHARTS)).charts)
    pdfs = {}
    for chart in charts:
        pdfs[chart.stem] = tmp_path / f"{chart.stem}.pdf"
        pdfs[chart.stem].write_bytes(render.render(chart_dot(chart), ("pdf",), render.toolchain())["pdf"])
    drawn = []

    def counting(*args, **kwargs):
        drawn.append(args[0])
        from riskchart.draw.raster import drawing_pngs
        return drawing_pngs(*args, **kwargs)

    cache = tmp_path / "cache"
    pictures = word.drawing_pictures(charts, pdfs, 150, cache, None, 2, counting)
    document = docx.Document(io.BytesIO(word.booklet_docx(charts, pictures, "", date(2026, 1, 1))))
    for shape, stem in zip(document.inline_shapes, (wide, tall), strict=True):
        pixels = word.png_size(pictures[stem][0])
        dpi = (pixels[0] * EMU_PER_INCH / shape.width, pixels[1] * EMU_PER_INCH / shape.height)
        assert 300 <= min(dpi) <= 310, (stem, dpi)  # enough for print, and no more pixels than that
    assert len(drawn) == 2
    assert word.drawing_pictures(charts, pdfs, 150, cache, None, 2, counting) == pictures and len(drawn) == 2
    damaged = min(cache.glob("*.png"))
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert word.drawing_pictures(charts, pdfs, 150, cache, None, 2, counting) == pictures and len(drawn) == 3
    assert word.drawing_pictures(charts[:1], pdfs, 150, cache, None, 2, counting)
    assert len(list(cache.glob("*.png"))) == 1  # the other chart's picture is no longer used


# ------------------------------------------------------- opened by LibreOffice

@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font", "mutool", "soffice", "pdfinfo", "pdftotext")
def test_libreoffice_lays_out_one_page_per_chart_as_the_contents_say(office_conversions):
    built = office_conversions["set"]
    pdf = office_conversions["booklet.pdf"]
    charts = list(lint_paths([CHARTS], find_settings(CHARTS)).charts)
    document = docx.Document(built / "booklet.docx")
    contents, entries = word.plan(charts, {c.stem: [b""] for c in charts}, find_settings(CHARTS).categories)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert f"Pages:           {1 + len(contents) + len(charts)}" in info
    assert "x 841.89 pts (A4)" in info  # portrait
    assert len(document.inline_shapes) == len(charts)

    def page_text(page: int) -> str:
        return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout

    assert "权力运行廉政风险防控图汇编" in page_text(1)
    assert "目" in page_text(2) and entries[0].chart.title[:8] in page_text(2)
    for entry in (entries[0], entries[len(entries) // 2], entries[-1]):
        assert f"{entry.chart.id}. {entry.chart.title[:8]}" in page_text(entry.page).replace("\n", ""), entry.page


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font", "mutool", "soffice", "pdftoppm")
def test_libreoffice_draws_the_chart_pictures(office_conversions, tmp_path):
    """A chart page has its picture, dark text on light boxes, across most of the printable width."""
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "30", "-f", "5", "-l", "5", "-gray", "-singlefile", "-png",
                    str(office_conversions["booklet.pdf"]), str(prefix)], check=True)
    image = Image.open(prefix.with_suffix(".png")).convert("L")
    inked = [x for x in range(image.width) if min(image.getpixel((x, y)) for y in range(image.height)) < 128]
    assert inked and (inked[-1] - inked[0]) > 0.6 * image.width


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font", "mutool")
def test_the_set_publishes_and_links_both_office_files(built_set):
    page = (built_set / "index.html").read_text(encoding="utf-8")
    assert 'href="booklet.docx"' in page and 'href="risk-register.xlsx"' in page
    assert zipfile.is_zipfile(built_set / "booklet.docx") and zipfile.is_zipfile(built_set / "risk-register.xlsx")


@pytest.mark.needs("dot", "cjk-font")
def test_a_picture_that_cannot_be_drawn_is_reported_and_the_old_document_kept(tmp_path, monkeypatch):
    from riskchart.build import BuildOptions
    from riskchart.draw import raster
    from riskchart.publish.index import publish_set

    charts = list(lint_files(tmp_path / "charts", THREE).charts)
    out = tmp_path / "out"
    out.mkdir()
    for chart in charts:
        (out / f"{chart.stem}.pdf").write_bytes(b"%PDF-1.4 not really")
    (out / "booklet.docx").write_bytes(b"the old one")

    def failing(*args, **kwargs):
        raise raster.RasterFailure("MuPDF 出错")

    monkeypatch.setattr(raster, "drawing_pngs", failing)
    manifest = {"version": 1, "charts": {}, "set": {}}
    published = publish_set(charts, {c.path: "f" for c in charts}, manifest, BuildOptions(out=out, formats=("pdf",),
                                                                                  settings=Settings(word_booklet=True)),
                            render.toolchain())
    assert "booklet.docx：图片无法生成：MuPDF 出错" in published.failures
    assert (out / "booklet.docx").read_bytes() == b"the old one" and manifest["set"] == {}  # tried again next time


@pytest.mark.needs("dot", "cjk-font")
def test_the_word_booklet_is_made_only_when_the_project_asks(tmp_path):
    from riskchart.build import BuildOptions, build

    write_files(tmp_path / "charts", THREE)
    out = tmp_path / "out"
    report = build([tmp_path / "charts"], BuildOptions(out=out, formats=("svg", "pdf")))
    assert "booklet.docx" not in report.published and not (out / "booklet.docx").exists()
    assert "booklet.docx" not in (out / "index.html").read_text(encoding="utf-8")
    # asking for it later makes the set anew, though no chart changed
    report = build([tmp_path / "charts"], BuildOptions(out=out, formats=("svg", "pdf"),
                                                       settings=Settings(word_booklet=True)))
    assert "booklet.docx" in report.published and zipfile.is_zipfile(out / "booklet.docx")
    assert "booklet.docx" in (out / "index.html").read_text(encoding="utf-8")
