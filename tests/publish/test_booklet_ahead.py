"""The booklet's fonts in hand (pageprep.InHand): a build keeps the fonts
of the PDFs it finished, and reads those of the charts it does not draw
while dot draws, so that after the last chart the booklet only joins
pages.  What is in hand was worked out from a PDF's bytes or read from a
signed entry and checked; it is found by the PDF's digest, so a PDF that
changed is never joined with another's fonts.

Booklets are checked as a reader sees them (test_pageprep.py's helpers):
each chart's page rasterises as the chart's own PDF, and its text extracts.
"""

from __future__ import annotations

import re
import threading
from datetime import date
from pathlib import Path

import pikepdf
import pytest
from conftest import SEED_SAMPLE, copy_seed_charts
from test_pageprep import assert_draws_every_chart, built, entries, made_again, page_count, raster, text

from riskchart import style
from riskchart.build import BuildOptions, build
from riskchart.check.schema import CATEGORIES
from riskchart.config import find_settings
from riskchart.draw import render
from riskchart.lint import lint_paths
from riskchart.model import Chart
from riskchart.publish import booklet, fontentry, pageprep, patch
from riskchart.publish.booklets import booklet_ahead, cover_title
from riskchart.publish.names import BOOKLET, CACHE

pytestmark = pytest.mark.needs("dot", "cjk-font", "pdftoppm", "pdftotext")


@pytest.fixture
def charts(tmp_path) -> Path:
    return copy_seed_charts(tmp_path / "charts")


def models(charts: Path) -> list[Chart]:
    return list(lint_paths([charts], find_settings(charts)).charts)


def booklet_with(out: Path, charts: Path, in_hand: pageprep.InHand, name: str = "booklet-in-hand.pdf") -> Path:
    """The booklet made with the fonts in hand and the pages joined ahead (if any)."""
    found = models(charts)
    data = booklet.booklet_pdf(found, {c.out_name: out / f"{c.out_name}.pdf" for c in found}, render.toolchain(),
                               cover_title(found), date.today(), out / CACHE, in_hand=in_hand,
                               ahead=in_hand.pages_ahead.pop(BOOKLET, None))
    path = out.parent / name
    path.write_bytes(data)
    return path


def read_ahead(out: Path, charts: Path) -> pageprep.InHand:
    in_hand = pageprep.InHand()
    booklet_ahead(models(charts), set(), BuildOptions(out=out, formats=("pdf",)), in_hand)
    return in_hand


def test_the_fonts_read_ahead_are_each_pdfs_own(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    in_hand = read_ahead(out, charts)
    pdfs = sorted(out.glob("[0-9]*.pdf"))
    assert len(in_hand) == len(pdfs) == len(SEED_SAMPLE)
    for pdf in pdfs:
        found = in_hand.get(pageprep.entry_name(pdf.read_bytes()))
        assert found is not None and found == fontentry.read(out / CACHE / pageprep.entry_name(pdf.read_bytes()),
                                                             pageprep.entry_name(pdf.read_bytes()))


def test_an_entry_swapped_in_out_is_not_taken_into_hand(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    pdfs = sorted(out.glob("[0-9]*.pdf"))
    names = [pageprep.entry_name(pdf.read_bytes()) for pdf in pdfs[:2]]
    first, second = (out / CACHE / name for name in names)
    original = first.read_bytes()
    first.write_bytes(second.read_bytes())  # another PDF's signed entry under this one's name
    in_hand = read_ahead(out, charts)
    own = in_hand.get(names[0])
    assert own is not None and own != in_hand.get(names[1])
    assert first.read_bytes() == original  # worked out again from the PDF, and kept
    assert_draws_every_chart(booklet_with(out, charts, in_hand), pdfs)


def pages_of(pdf: Path) -> list[bytes]:
    return [raster(pdf, n) for n in range(1, page_count(pdf) + 1)]


def outline(pdf: Path) -> list[tuple[int, str, int]]:
    with pikepdf.open(pdf) as document, document.open_outline() as found:
        def walk(items: list[pikepdf.OutlineItem], depth: int) -> list[tuple[int, str, int]]:
            return [entry for item in items for entry in [
                (depth, item.title, document.pages.index(pikepdf.Page(item.destination[0]))),
                *walk(item.children, depth + 1)]]
        return walk(found.root, 0)


def test_pages_joined_ahead_make_the_booklet_made_without_them(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    in_hand = read_ahead(out, charts)
    assert set(in_hand.pages_ahead) == {BOOKLET}
    made, again = booklet_with(out, charts, in_hand), made_again(out, charts)
    assert pages_of(made) == pages_of(again)
    assert outline(made) == outline(again) and len(outline(made)) > len(SEED_SAMPLE)


def test_charts_joined_in_any_order_take_their_places_in_the_booklet(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    in_hand = pageprep.InHand()
    joined = in_hand.pages_ahead[BOOKLET] = booklet.JoinedAhead()
    for chart in reversed(models(charts)):  # as a build writes them: batch by batch
        joined.add(chart, (out / f"{chart.out_name}.pdf").read_bytes())
    assert joined.order == [c.out_name for c in booklet.in_booklet_order(models(charts), CATEGORIES)]
    assert len(joined.document.pages) == len(SEED_SAMPLE)
    made, again = booklet_with(out, charts, in_hand), made_again(out, charts)
    assert pages_of(made) == pages_of(again)
    assert outline(made) == outline(again)


def test_a_booklet_joins_the_fonts_in_hand_without_reading_any(charts, tmp_path, monkeypatch):
    out = built(charts, tmp_path / "out")
    in_hand = read_ahead(out, charts)
    booklet_with(out, charts, in_hand, "first.pdf")  # the cover's and contents' fonts too
    for entry in entries(out):
        (out / CACHE / entry).unlink()
    monkeypatch.setattr(pageprep, "prepare", lambda pages: pytest.fail("worked out again"))
    monkeypatch.setattr(fontentry, "read", lambda path, name: pytest.fail("read again"))
    assert_draws_every_chart(booklet_with(out, charts, in_hand), sorted(out.glob("[0-9]*.pdf")))


def test_fonts_in_hand_of_a_pdf_since_replaced_are_not_used(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    in_hand = read_ahead(out, charts)  # of the PDFs as they were
    chart = charts / SEED_SAMPLE[2]
    source = chart.read_text(encoding="utf-8")
    chart.write_text(re.sub(r"(?m)^title: .*$", "title: 劳动用工备案的新名字鑫淼", source, count=1), encoding="utf-8")
    built(charts, out)
    made = booklet_with(out, charts, in_hand)
    assert "鑫淼" in text(made)
    assert_draws_every_chart(made, sorted(out.glob("[0-9]*.pdf")))  # 鑫淼 drawn: the new page's fonts


def test_a_rebuild_reads_no_font_entry_once_the_changed_chart_is_drawn(charts, tmp_path, monkeypatch):
    out = built(charts, tmp_path / "out")
    (out / CACHE / patch.map_name(BOOKLET)).unlink()  # no map: made whole, not patched (test_patch.py)
    chart = charts / SEED_SAMPLE[0]
    chart.write_text(chart.read_text(encoding="utf-8") + "# 改了一处注释\n", encoding="utf-8")
    making: list[bool] = []
    late: list[str] = []
    real_booklet, real_read = booklet.booklet_pdf, fontentry.read

    def booklet_pdf(*args, **kwargs):
        making.append(kwargs["ahead"] is not None)  # the unchanged charts' pages joined while dot drew
        return real_booklet(*args, **kwargs)

    def read(path, name):
        if making:
            late.append(f"{threading.current_thread().name}: {name}")
        return real_read(path, name)

    monkeypatch.setattr(booklet, "booklet_pdf", booklet_pdf)
    monkeypatch.setattr(fontentry, "read", read)
    render.toolchain.cache_clear()
    report = build([charts], BuildOptions(out=out, formats=("pdf",), jobs=2))
    assert report.ok and making == [True]
    assert [o.status for o in report.outcomes].count("built") == 1
    assert late == []  # every page's fonts were in hand when the booklet began
    assert_draws_every_chart(out / "booklet.pdf", sorted(out.glob("[0-9]*.pdf")))
    monkeypatch.undo()
    again = made_again(out, charts)
    assert pages_of(out / "booklet.pdf") == pages_of(again)  # the changed chart first, as it is
    assert outline(out / "booklet.pdf") == outline(again)


def test_no_more_fonts_are_kept_in_hand_than_a_booklet_has_pages(charts, tmp_path, monkeypatch):
    out = built(charts, tmp_path / "out")
    in_hand = pageprep.InHand(most=1)
    booklet_ahead(models(charts), set(), BuildOptions(out=out, formats=("pdf",)), in_hand)
    assert len(in_hand) == 1
    assert_draws_every_chart(booklet_with(out, charts, in_hand), sorted(out.glob("[0-9]*.pdf")))
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", len(SEED_SAMPLE))  # cover, contents and three: too long
    in_hand = read_ahead(out, charts)
    assert len(in_hand) == 0 and in_hand.pages_ahead == {}


def test_a_stopped_build_reads_and_joins_nothing_more(charts, tmp_path):
    out = built(charts, tmp_path / "out")
    in_hand = pageprep.InHand()
    booklet_ahead(models(charts), set(), BuildOptions(out=out, formats=("pdf",)), in_hand, lambda: True)
    assert len(in_hand) == 0 and in_hand.pages_ahead == {}  # Ctrl-C: the thread a stopping build waits for ends

    asked = []

    def stopped_after_the_reads() -> bool:  # stopped once the fonts are read, while pages are joined
        asked.append(1)
        return len(asked) > len(SEED_SAMPLE)

    booklet_ahead(models(charts), set(), BuildOptions(out=out, formats=("pdf",)), in_hand, stopped_after_the_reads)
    assert len(in_hand) == len(SEED_SAMPLE) and in_hand.pages_ahead == {}


def test_a_set_too_large_to_hold_is_read_back_after_the_last_chart_instead(charts, tmp_path, monkeypatch):
    out = built(charts, tmp_path / "out")
    monkeypatch.setattr(style, "BOOKLET_AHEAD_MAX_CHARTS", len(SEED_SAMPLE) - 1)  # memory stays flat at 400 charts
    in_hand = read_ahead(out, charts)
    assert len(in_hand) == 0 and in_hand.pages_ahead == {}
    monkeypatch.setattr(style, "BOOKLET_AHEAD_MAX_CHARTS", len(SEED_SAMPLE))
    in_hand = read_ahead(out, charts)
    assert len(in_hand) == len(SEED_SAMPLE) and BOOKLET in in_hand.pages_ahead
