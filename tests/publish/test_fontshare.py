"""One embedded font per typeface in a booklet (fontshare.py, cffmerge.py).

The booklet of the 40 real charts is made twice from the same chart PDFs,
with and without sharing the fonts, and the two are compared as a reader
sees them: text of every page, rasters, page sizes, bookmarks, links.
What each page's PDF holds is cached (pageprep.py): tests/publish/test_pageprep.py.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
from datetime import date
from pathlib import Path

import pikepdf
import pytest
from conftest import CHARTS

from riskchart.config import find_settings
from riskchart.draw import cffmerge, glyphs, render
from riskchart.lint import lint_paths
from riskchart.publish import booklet, fontshare

needs_tools = pytest.mark.needs("dot", "cjk-font", "mutool", "pdftoppm", "pdftotext")
LIMIT = 1_500_000  # bytes: the 40-chart booklet, issue 20
RASTER_DPI = 60
TOLERANCE = 8  # grey levels a pixel may differ between the two rasters
GLYPH_TROUBLE = re.compile(r"cannot render glyph|FT_Load_Glyph|broken file|error", re.IGNORECASE)


def booklet_of(built_set: Path, tmp_path: Path, monkeypatch, *, shared: bool) -> Path:
    """The booklet of the 40 real charts from the built set's chart PDFs."""
    charts = lint_paths([CHARTS], find_settings(CHARTS)).charts
    pdfs = {c.out_name: built_set / f"{c.out_name}.pdf" for c in charts}
    with monkeypatch.context() as patch:
        if not shared:
            patch.setattr(fontshare, "share_fonts", lambda document, prepared=None: False)
        data = booklet.booklet_pdf(charts, pdfs, render.toolchain(), "长治高新区组织和人力资源部", date(2026, 11, 27),
                                   tmp_path / "cache")
    path = tmp_path / ("shared.pdf" if shared else "separate.pdf")
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def both(built_set, tmp_path_factory) -> tuple[Path, Path]:
    """(booklet with each page's own fonts, booklet with shared fonts)."""
    folder = tmp_path_factory.mktemp("fontshare")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in built_set.glob("*.pdf")}
    with pytest.MonkeyPatch.context() as monkeypatch:
        pair = (booklet_of(built_set, folder, monkeypatch, shared=False),
                booklet_of(built_set, folder, monkeypatch, shared=True))
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in built_set.glob("*.pdf")} == before
    return pair


def font_files(pdf: Path) -> set[tuple[int, int]]:
    """The embedded font programs the pages (and their forms) use."""
    with pikepdf.open(pdf) as document:
        return {font.DescendantFonts[0].FontDescriptor.FontFile3.objgen
                for font in glyphs._fonts(document)}


def page_texts(pdf: Path) -> list[str]:
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    return done.stdout.split("\f")


def grey(pdf: Path, page: int, folder: Path) -> tuple[int, int, bytes]:
    """poppler's raster of one page (1-based) as (width, height, grey pixels)."""
    prefix = folder / f"{pdf.stem}-{page}"
    subprocess.run(["pdftoppm", "-gray", "-r", str(RASTER_DPI), "-f", str(page), "-l", str(page), "-singlefile",
                    str(pdf), str(prefix)], check=True)
    data = prefix.with_suffix(".pgm").read_bytes()
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
    assert header
    return int(header[1]), int(header[2]), data[header.end():]


def layout(pdf: Path) -> tuple[list[list[float]], list[tuple[str, int]], list[list[tuple[str, list[float]]]]]:
    """Page sizes, bookmarks (title, page) and each page's links (kind, rectangle)."""
    with pikepdf.open(pdf) as document:
        number = {page.objgen: n for n, page in enumerate(document.pages)}
        with document.open_outline() as outline:
            marks: list[tuple[str, int]] = []
            pending = list(outline.root)
            while pending:
                item = pending.pop(0)
                marks.append((item.title, number[item.destination[0].objgen]))
                pending += list(item.children)
        links = [[(str(a.get("/Subtype")), [float(v) for v in a.Rect]) for a in page.obj.get("/Annots", [])]
                 for page in document.pages]
        return [[float(v) for v in page.MediaBox] for page in document.pages], marks, links


@needs_tools
def test_the_40_chart_booklet_carries_one_font_per_typeface_and_is_small(both):
    separate, shared = both
    print(f"booklet of 40 charts: {separate.stat().st_size:,} bytes with each page's fonts, "
          f"{shared.stat().st_size:,} bytes shared")
    assert shared.stat().st_size <= LIMIT < separate.stat().st_size
    assert len(font_files(shared)) == 2  # Noto Sans CJK SC Regular and Bold
    assert len(font_files(separate)) == 2 * 43


@needs_tools
def test_sharing_keeps_text_pages_bookmarks_and_links(both):
    separate, shared = both
    assert page_texts(shared) == page_texts(separate)
    assert layout(shared) == layout(separate)


@needs_tools
def test_pages_draw_as_before_and_without_a_renderer_complaint(both, tmp_path):
    separate, shared = both
    assert "如" in page_texts(separate)[25]
    for page in (1, 2, 3, 26, 43):  # cover, contents, charts (page 26 with 如, repaired)
        width, height, before = grey(separate, page, tmp_path)
        shared_width, shared_height, after = grey(shared, page, tmp_path)
        assert (shared_width, shared_height) == (width, height)
        assert max(abs(a - b) for a, b in zip(before, after, strict=True)) <= TOLERANCE, page
    done = subprocess.run(["mutool", "draw", "-r", "30", "-F", "png", "-o", "/dev/null", str(shared)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and not GLYPH_TROUBLE.search(done.stdout + done.stderr)


@needs_tools
def test_every_outline_of_the_shared_fonts_draws(both):
    with pikepdf.open(both[1]) as document:
        programs = {font.DescendantFonts[0].FontDescriptor.FontFile3.objgen:
                    font.DescendantFonts[0].FontDescriptor.FontFile3.read_bytes() for font in glyphs._fonts(document)}
    assert len(programs) == 2
    for program in programs.values():
        assert glyphs.undrawable(program) == []


@needs_tools
def test_a_glyph_without_a_unicode_value_is_shared_and_drawn(both, tmp_path):
    """cairo may draw a glyph its ToUnicode map does not name: it is shared all the same."""
    separate = tmp_path / "no-unicode.pdf"
    with pikepdf.open(both[0]) as document:
        number, font = next((n, f) for n, page in enumerate(document.pages) for f in page.Resources.Font.values()
                            if b"> <5982>" in f.ToUnicode.read_bytes())  # a page with 如
        cmap = font.ToUnicode.read_bytes()
        code = re.search(rb"<([0-9a-f]{4})> <5982>\n", cmap)
        assert code
        font.ToUnicode.write(cmap.replace(code[0], b""))
        document.save(separate)
    shared = tmp_path / "no-unicode-shared.pdf"
    with pikepdf.open(separate) as document:
        assert fontshare.share_fonts(document)
        document.save(shared)
    assert "如" not in page_texts(separate)[number] and page_texts(shared) == page_texts(separate)
    assert grey(shared, number + 1, tmp_path) == grey(separate, number + 1, tmp_path)


def font_files_of(pdf: bytes) -> set[tuple[int, int]]:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return {font.DescendantFonts[0].FontDescriptor.FontFile3.objgen for font in glyphs._fonts(document)}


@needs_tools
def test_any_string_a_page_shows_draws_as_before_its_codes_untouched(both, tmp_path):
    """The pages' codes are never rewritten: a string cairo never writes (a
    literal one, a code the subset lacks) is shown through the shared font
    exactly as through the page's own."""
    drawn = b"BT /f-0-0 60 Tf 80 300 Td (\\000\\001\\000\\002) Tj <0003 fff0 0004> Tj [(\\000\\005) -500 <0006>] TJ ET"
    separate, shared = tmp_path / "added.pdf", tmp_path / "added-shared.pdf"
    with pikepdf.open(both[0]) as document:
        document.pages[5].contents_add(pikepdf.Stream(document, drawn))
        document.save(separate)
    with pikepdf.open(separate) as document:
        assert fontshare.share_fonts(document)
        buffer = io.BytesIO()
        document.save(buffer)
    shared.write_bytes(buffer.getvalue())
    assert len(font_files_of(buffer.getvalue())) == 2
    assert page_texts(shared)[5] == page_texts(separate)[5] != page_texts(both[0])[5]
    assert grey(shared, 6, tmp_path) == grey(separate, 6, tmp_path) != grey(both[0], 6, tmp_path)


def test_subsets_whose_subroutines_differ_are_not_joined():
    joined = cffmerge._Subroutines(3, {1: b"\x8b\x0b"})
    with pytest.raises(cffmerge.NotMergeable):
        cffmerge._join(joined, cffmerge._Subroutines(3, {1: b"\x8c\x0b"}))
    with pytest.raises(cffmerge.NotMergeable):
        cffmerge._join(joined, cffmerge._Subroutines(4, {}))
    cffmerge._join(joined, cffmerge._Subroutines(3, {2: b"\x8d\x0b"}))
    assert cffmerge._items_of(joined) == [b"\x0b", b"\x8b\x0b", b"\x8d\x0b"]


@needs_tools
def test_a_character_outside_the_trimmed_font_keeps_the_booklet_shared(tmp_path):
    """A chart with a character the trimmed copy of the font lacks carries
    two subsets named NotoSansCJKsc-Regular (the copy's and the installed
    font's): each is its own shared font, and every page still draws."""
    from conftest import copy_seed_charts

    from riskchart.build import BuildOptions, build

    charts = copy_seed_charts(tmp_path / "charts")
    first = min(charts.glob("0*.yaml"))
    first.write_text(first.read_text(encoding="utf-8").replace("title: ", "title: 王堃", 1), encoding="utf-8")
    report = build([charts], BuildOptions(out=tmp_path / "out", formats=("pdf",)))
    assert report.ok
    made = tmp_path / "out" / "booklet.pdf"
    pages = len(pikepdf.open(made).pages)
    assert pages > 2
    assert len(font_files(made)) == 3  # the copy's regular and bold, and the installed regular
    assert "王堃" in subprocess.run(["pdftotext", str(made), "-"], capture_output=True, text=True).stdout
    done = subprocess.run(["mutool", "draw", "-r", "30", "-o", "/dev/null", str(made)], capture_output=True, text=True)
    assert not [line for line in done.stderr.splitlines() if GLYPH_TROUBLE.search(line)]
