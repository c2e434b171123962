"""What a booklet needs of each PDF's fonts, kept in out/.riskchart-cache
(pageprep.py): made as charts are built, used by every booklet, and never
believed when it is stale, tampered with or gone.

Booklets are checked as a reader sees them: each chart's page in the
booklet rasterises (poppler) exactly as the chart's own PDF, and its text
extracts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pikepdf
import pytest
from conftest import SEED_SAMPLE, copy_seed_charts, squeeze

from riskchart import style
from riskchart.build import BuildOptions, build
from riskchart.check.cache import signing_key
from riskchart.config import find_settings
from riskchart.draw import glyphs, render
from riskchart.entrybatch import MAC_LENGTH
from riskchart.lint import lint_paths
from riskchart.publish import booklet, fontentry, pageprep
from riskchart.publish.booklets import cover_title
from riskchart.publish.names import CACHE

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = SEED_SAMPLE
pytestmark = pytest.mark.needs("dot", "cjk-font", "pdftoppm", "pdftotext")


@pytest.fixture
def charts(tmp_path) -> Path:
    return copy_seed_charts(tmp_path / "charts")


def built(charts: Path, out: Path) -> Path:
    render.toolchain.cache_clear()
    assert build([charts], BuildOptions(out=out, formats=("pdf",), jobs=2)).ok
    return out


def raster(pdf: Path, page: int) -> bytes:
    """poppler's grey raster of one page (1-based)."""
    done = subprocess.run(["pdftoppm", "-gray", "-r", "30", "-f", str(page), "-l", str(page), str(pdf)],
                          capture_output=True, check=True)
    return done.stdout


def page_count(pdf: Path) -> int:
    with pikepdf.open(pdf) as document:
        return len(document.pages)


def text(pdf: Path) -> str:
    return squeeze(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout)


def font_programs(pdf: Path) -> int:
    with pikepdf.open(pdf) as document:
        return len({font.DescendantFonts[0].FontDescriptor.FontFile3.objgen for font in glyphs._fonts(document)})


def assert_draws_every_chart(book: Path, chart_pdfs: list[Path]) -> None:
    """One font per typeface, and each chart's page drawn as its own PDF draws it."""
    assert font_programs(book) == 2
    pages = {raster(book, n) for n in range(1, page_count(book) + 1)}
    for pdf in chart_pdfs:
        assert raster(pdf, 1) in pages, pdf.name
        assert squeeze(text(pdf)) in text(book)


def entries(out: Path) -> set[str]:
    return {p.name for p in (out / CACHE).iterdir() if pageprep.ENTRY.fullmatch(p.name)}


def made_again(out: Path, charts: Path) -> Path:
    """The project's booklet made again from the PDFs in `out` and its cache."""
    models = lint_paths([charts], find_settings(charts)).charts
    data = booklet.booklet_pdf(models, {c.out_name: out / f"{c.out_name}.pdf" for c in models}, render.toolchain(),
                               cover_title(models), date.today(), out / CACHE)  # the build's cover: cached
    path = out.parent / "made-again.pdf"
    path.write_bytes(data)
    return path


def test_a_build_prepares_each_chart_and_the_booklet_reads_no_font_again(charts, tmp_path, monkeypatch):
    out = built(charts, tmp_path / "out")
    pdfs = sorted(out.glob("[0-9]*.pdf"))
    assert {pageprep.entry_name(p.read_bytes()) for p in pdfs} <= entries(out)
    read = []
    monkeypatch.setattr(pageprep, "prepare", lambda pages: read.append(pages) or pytest.fail("read again"))
    assert_draws_every_chart(made_again(out, charts), pdfs)
    assert read == []


def test_a_build_reads_no_fonts_for_a_booklet_too_long_to_be_made(charts, tmp_path, monkeypatch):
    """Fonts are read only for a booklet that may be made (4,000 charts in
    one folder make none): the least pages it can have decide."""
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", len(SEED_SAMPLE) + 1)  # cover, contents and three: too long
    read = []
    real_prepare = pageprep.prepare
    monkeypatch.setattr(pageprep, "prepare", lambda pages: read.append(1) or real_prepare(pages))
    out = built(charts, tmp_path / "out")
    assert not (out / "booklet.pdf").exists() and read == [] and entries(out) == set()
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", len(SEED_SAMPLE) + 2)  # just short enough
    out = built(charts, tmp_path / "out-2")
    pdfs = sorted(out.glob("[0-9]*.pdf"))
    assert (out / "booklet.pdf").is_file() and {pageprep.entry_name(p.read_bytes()) for p in pdfs} <= entries(out)


def test_a_changed_chart_shows_its_new_text_in_the_booklet(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    chart = charts / SAMPLE[2]
    old_pdf = (out / "15-劳动用工备案.pdf").read_bytes()
    old_entry = pageprep.entry_name(old_pdf)
    source = chart.read_text(encoding="utf-8")
    chart.write_text(re.sub(r"(?m)^title: .*$", "title: 劳动用工备案的新名字鑫淼", source, count=1), encoding="utf-8")
    built(charts, out)
    new_pdf = out / "15-劳动用工备案.pdf"
    assert "鑫淼" in text(out / "booklet.pdf") and "鑫淼" in text(new_pdf)
    assert_draws_every_chart(out / "booklet.pdf", sorted(out.glob("[0-9]*.pdf")))
    (tmp_path / "old.pdf").write_bytes(old_pdf)
    assert raster(tmp_path / "old.pdf", 1) not in {raster(out / "booklet.pdf", n) for n in (3, 4, 5)}
    assert old_entry not in entries(out) and pageprep.entry_name(new_pdf.read_bytes()) in entries(out)


def test_a_tampered_or_swapped_cache_entry_is_not_believed(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    pdfs = sorted(out.glob("[0-9]*.pdf"))
    first, second = (out / CACHE / pageprep.entry_name(pdf.read_bytes()) for pdf in pdfs[:2])
    original = first.read_bytes()
    tampered = bytearray(original)
    tampered[-200] ^= 0x01  # a byte of an outline
    for forged in (bytes(tampered), second.read_bytes()):  # changed; another PDF's entry under this one's name
        first.write_bytes(forged)
        assert_draws_every_chart(made_again(out, charts), pdfs)
        assert first.read_bytes() == original  # worked out again and kept, signed


def test_a_signed_entry_that_is_not_as_written_is_worked_out_again(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    pdf = next(out.glob("[0-9]*.pdf"))
    name = pageprep.entry_name(pdf.read_bytes())
    data = (out / CACHE / name).read_bytes()
    start = len(fontentry._HEAD) + MAC_LENGTH
    end = data.index(b"\n", start)
    body = json.loads(data[start:end])
    key = signing_key()
    assert key is not None
    changes = ({"glyphs": -1}, {"glyphs": 10**9}, {"bytes": 1}, {"used": [1] * 99}, {"dicts": [7]}, {"strings": "1"},
               {"family": None}, {})
    for number, change in enumerate(changes):
        wrong = json.loads(json.dumps(body))
        wrong["fonts"][0][1].update(change)
        signed = json.dumps(wrong).encode() + data[end:] + b"\0" * (number == len(changes) - 1)  # one byte too many
        (out / CACHE / name).write_bytes(fontentry._HEAD + hmac.new(key, signed, hashlib.sha256).hexdigest().encode()
                                         + signed)
        assert fontentry.read(out / CACHE / name, name) is None, change
    with pikepdf.open(pdf) as document:
        assert pageprep.prepared(pdf.read_bytes(), document, out / CACHE).fonts  # and worked out from the PDF
    assert fontentry.read(out / CACHE / name, name) is not None


def test_the_cache_removed_is_made_again(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    before = entries(out)
    shutil.rmtree(out / CACHE)
    (out / "booklet.pdf").unlink()
    built(charts, out)  # the charts are fresh: their entries are made by the booklet
    charts_entries = {pageprep.entry_name(p.read_bytes()) for p in out.glob("[0-9]*.pdf")}
    assert charts_entries <= before and charts_entries <= entries(out) and len(entries(out)) == len(before)
    assert_draws_every_chart(out / "booklet.pdf", sorted(out.glob("[0-9]*.pdf")))


def test_department_booklets_and_the_project_booklet_share_the_entries(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "tests" / "fixtures" / "departments", project)
    out = tmp_path / "out"
    render.toolchain.cache_clear()
    assert build([project / "charts"], BuildOptions(out=out, formats=("pdf",), settings=find_settings(project))).ok
    books = sorted(out.rglob("booklet.pdf"))
    chart_pdfs = [p for p in out.rglob("*.pdf") if p.name != "booklet.pdf" and CACHE not in p.parts]
    assert len(books) > 2
    assert {pageprep.entry_name(p.read_bytes()) for p in chart_pdfs} <= entries(out)
    for book in books:
        members = [p for p in chart_pdfs if book.parent == out or p.parent == book.parent]
        assert_draws_every_chart(book, members)


def test_a_continued_chart_draws_every_page_with_the_shared_font(charts, tmp_path):
    """A chart too tall for one page: its pages (forms of the one drawing) share the booklet's font too."""
    source = (charts / SAMPLE[2]).read_text(encoding="utf-8")
    steps = source.index("steps:")
    body = source[steps + len("steps:"):]
    (charts / "23-长图.yaml").write_text(
        source[:steps].replace("id: 15", "id: 23").replace("title: 劳动用工备案", "title: 长图")
        + "steps:" + "".join(re.sub(r"name: (\S+)", rf"name: \g<1>{k}", body) for k in range(4)), encoding="utf-8")
    out = built(charts, tmp_path / "out")
    long = out / "23-长图.pdf"
    assert page_count(long) > 1
    assert page_count(out / "booklet.pdf") == 2 + 3 + page_count(long)
    assert font_programs(out / "booklet.pdf") == 2
    pages = {raster(out / "booklet.pdf", n) for n in range(1, page_count(out / "booklet.pdf") + 1)}
    assert all(raster(long, n) in pages for n in range(1, page_count(long) + 1))
