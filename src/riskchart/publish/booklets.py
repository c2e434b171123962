"""Stage 6 — publish: the booklets of the set (汇编).

The project's `out/booklet.pdf` and, for each department in a folder of
its own, `out/<department folder>/booklet.pdf` (booklet.py makes one; an
unchanged booklet is patched, patch.py), plus `out/booklet.docx` when the
project asks for it (docx.py).  A build starts their work while dot draws:
the covers and contents (`draw_front_matter_ahead`), the unchanged charts'
pages and fonts (`booklet_ahead`), each chart's pages as it is written
(`join_drawn`); publish_set (index.py) then makes them with
`publish_booklets`.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import files, style
from ..draw import render
from ..model import Chart, Department, department_groups
from .names import BOOKLET, BOOKLET_DOCX, CACHE, is_set_output

if TYPE_CHECKING:
    from ..build import BuildOptions
    from .pageprep import InHand

_MOST_PDF_BYTES = 64 << 20  # a chart's PDF read ahead for the booklet: ~200 KB a page


def publish_booklets(charts: list[Chart], manifest: dict[str, Any], options: BuildOptions, tools: render.Toolchain,
                     today: date, scratch: Path | None, in_hand: InHand | None,
                     failures: list[str], notes: list[str]) -> list[str]:
    """Write every booklet of the set (none unless each chart has its PDF);
    the names written.  A booklet that cannot be made is reported in
    `failures` and its old file kept; one of more than BOOKLET_MAX_PAGES
    pages is not made (`notes` says so)."""
    out: Path = options.out
    if not (charts and "pdf" in options.formats):
        return []
    books = []
    for name, members, title, departments_first in _booklets(charts):
        pages = booklet_pages(members, manifest, departments_first)
        if pages > style.BOOKLET_MAX_PAGES:
            notes.append(f"{name} 将有 {pages} 页，超过 {style.BOOKLET_MAX_PAGES} 页，太大，不生成；"
                         "放在部门文件夹中的图，每个部门另有自己的汇编")
            continue
        books.append((name, members, title, departments_first))
    # only the charts of the booklets to be made (none of 4,000 charts in one folder) are looked for
    pdfs = {c.out_name: out / f"{c.out_name}.pdf" for _, members, _, _ in books for c in members}
    if not all(p.is_file() for p in pdfs.values()):
        return []
    from .booklet import booklet_pdf, prune_cache

    written: list[str] = []
    used: set[str] = set()
    for name, members, title, departments_first in books:
        make = functools.partial(booklet_pdf, members, pdfs, tools, title, today, out / CACHE, scratch,
                                 options.settings.categories, by_department=departments_first, used=used,
                                 page=options.page, in_hand=in_hand,
                                 ahead=in_hand.pages_ahead.pop(name, None) if in_hand is not None else None,
                                 booklet_name=name, patching=not options.force)
        written += [name] if _booklet(name, make, out, manifest, failures) else []
    for unused in in_hand.pages_ahead.values() if in_hand is not None else ():
        unused.close()  # a booklet not made (too long)
    if not failures:
        prune_cache(out / CACHE, used)
    _remove_old_booklets(manifest, [name for name, *_ in books], out)
    return written


def booklet_pages(charts: list[Chart], manifest: dict[str, Any], by_department: bool = False) -> int:
    """The pages of a booklet of these charts: cover, contents and each
    chart's pages as the manifest recorded them (one when it does not say)."""
    recorded = manifest.get("charts", {})
    return booklet_page_count(charts, {c.out_name: _recorded_pages(recorded.get(c.out_name)) for c in charts},
                              by_department)


def booklet_page_count(charts: list[Chart], pages: Mapping[str, int], by_department: bool = False) -> int:
    """Cover, contents and each chart's `pages` (by out_name)."""
    return front_page_count(charts, by_department) + sum(pages[c.out_name] for c in charts)


def front_page_count(charts: list[Chart], by_department: bool = False) -> int:
    """A booklet's cover and contents."""
    headings = len({c.unit for c in charts}) if by_department else 0
    return 1 + max(1, math.ceil((len(charts) + headings) / style.TOC_ROWS_PER_PAGE))


class BookletPlan:
    """Which charts' fonts a build reads for the booklets while dot draws
    (~11 ms of CPU a chart, pageprep.py): a booklet that is made reads any
    it lacks itself, so a wrong guess costs time, never a page.

    Possible booklets are those whose pages, with each chart being `drawn`
    counted as one page (the least it can take) and the others as the
    manifest recorded them, do not pass BOOKLET_MAX_PAGES: 4,000 charts in
    one folder make none.  Of these, `likely` also counts each chart not yet
    laid out as the mean of those laid out so far: 400 charts, a tenth of
    them continued over several pages, make a booklet of 509 pages that the
    least count (415) cannot rule out, and the first batch's layouts do."""

    def __init__(self, charts: list[Chart], drawn: set[Path], manifest: dict[str, Any]) -> None:
        recorded = manifest.get("charts", {})
        pages = {c.out_name: _recorded_pages(recorded.get(c.out_name)) for c in charts if c.path not in drawn}
        # each possible booklet: the pages known now (cover, contents, the charts not drawn, as
        # recorded), and the charts being drawn (only theirs are summed for each chart finished)
        self._books: list[tuple[int, list[str]]] = []
        self._of_chart: dict[str, list[int]] = {}
        for _, members, _, by_department in _booklets(charts):
            names = [c.out_name for c in members]
            known = front_page_count(members, by_department) + sum(pages[name] for name in names if name in pages)
            being_drawn = [name for name in names if name not in pages]
            if known + len(being_drawn) <= style.BOOKLET_MAX_PAGES:  # one page each, the least they take
                for name in names:
                    self._of_chart.setdefault(name, []).append(len(self._books))
                self._books.append((known, being_drawn))
        self.members = frozenset(self._of_chart)

    def likely(self, out_name: str, laid_out: Mapping[str, int], mean_pages: float) -> bool:
        """Whether a booklet of this chart is likely to be made, with the
        charts laid out so far (pages by out_name) taking `mean_pages` on average."""
        for number in self._of_chart.get(out_name, ()):
            known, being_drawn = self._books[number]
            if known + sum(laid_out.get(name, mean_pages) for name in being_drawn) <= style.BOOKLET_MAX_PAGES:
                return True
        return False


def _recorded_pages(entry: Any) -> int:
    pages = entry.get("pages", 1) if isinstance(entry, dict) else 1
    return pages if isinstance(pages, int) and 1 <= pages <= 1000 else 1


def _booklet(name: str, make: Callable[[], bytes], out: Path, manifest: dict[str, Any], failures: list[str]) -> bool:
    """Write one booklet; a failure is reported and its old file kept."""
    from .booklet import DamagedPdf

    try:
        files.write_atomic(files.inside(out, name), make())
        return True
    except render.RenderFailure as failure:
        failures.append(f"{name}：封面或目录无法生成：{failure}")
    except DamagedPdf as damaged:
        manifest["charts"].pop(damaged.stem, None)  # so the next build draws it again
        failures.append(f"{name}：{damaged}")
    except OSError as error:
        failures.append(f"{name}：无法写入：{error.strerror or error}")
    return False


def _remove_old_booklets(manifest: dict[str, Any], made: list[str], out: Path) -> None:
    """Booklets the last set wrote that this one does not make: a department
    gone or renamed, a booklet grown too long; only names the manifest check
    let through."""
    for name in (manifest.get("set") or {}).get("outputs", ()):
        if ("/" in name or name == BOOKLET) and name not in made and is_set_output(name):
            with contextlib.suppress(OSError):
                target = files.inside(out, name)
                if target.is_file():
                    target.unlink()


def word_pictures_in_background(charts: list[Chart], options: BuildOptions,
                                 scratch: Path | None) -> Future[dict[str, list[bytes]]] | None:
    """booklet.docx's pictures, drawn by MuPDF (on the other core) while the
    register and the PDF booklet are written; None when there is no booklet."""
    if not (options.settings.word_booklet and charts and "pdf" in options.formats):
        return None  # before naming thousands of PDFs: most builds make no Word booklet
    pdfs = {c.out_name: options.out / f"{c.out_name}.pdf" for c in charts}
    if not all(p.is_file() for p in pdfs.values()):
        return None
    from .docx import drawing_pictures

    background = ThreadPoolExecutor(max_workers=1)
    try:
        return background.submit(drawing_pictures, charts, pdfs, options.dpi, options.out / CACHE, scratch,
                                 options.jobs)
    finally:
        background.shutdown(wait=False)  # the drawing goes on; nothing else is started


def publish_word_booklet(charts: list[Chart], pictures: Future[dict[str, list[bytes]]], options: BuildOptions,
                          today: date, failures: list[str]) -> list[str]:
    from ..draw.raster import RasterFailure
    from .docx import Fonts, booklet_docx

    try:
        drawn = pictures.result()
    except RasterFailure as failure:
        failures.append(f"{BOOKLET_DOCX}：图片无法生成：{failure}")
        return []
    document = booklet_docx(charts, drawn, cover_title(charts), today, options.settings.categories,
                            Fonts(*options.settings.docx_fonts))
    files.write_atomic(options.out / BOOKLET_DOCX, document)
    return [BOOKLET_DOCX]


def _booklets(charts: list[Chart]) -> list[tuple[str, list[Chart], str, bool]]:
    """(file in out/, its charts, the name on its cover, by department) of
    every booklet: the whole project's, and one per department folder."""
    units = department_groups(charts)
    books = [(BOOKLET, charts, _title(units, charts), len(units) > 1)]
    return books + [(f"{unit.folder}/{BOOKLET}", members, unit.name, False) for unit, members in units if unit.folder]


def draw_front_matter_ahead(charts: list[Chart], options: BuildOptions, tools: render.Toolchain,
                            scratch: Path | None = None,
                            drawn_pages: Callable[[bool], dict[str, int] | None] = lambda wait: {},
                            runs: render.DotRuns | None = None, in_hand: InHand | None = None) -> None:
    """Draw the booklets' covers and contents for these charts into the page
    cache while the charts are being drawn, so that publish_set finds them
    there instead of starting dot once more at the end.

    The contents number the pages as the booklet will, and how many pages a
    chart takes is known only once dot has laid it out: `drawn_pages(wait)`
    gives them by out_name (see build/drawing.py's _Drawing.page_counts_so_far: a chart
    not laid out yet counts as the last build recorded it; None: the build
    is being stopped).  So they are drawn at once with the pages known by
    then, and drawn again, once every chart is laid out, only if a count was
    wrong (a chart that now continues over more or fewer pages).  Best
    effort: if the charts published turn out to be others, or drawing fails
    here, publish_set draws (and reports) on its own."""
    if not charts or "pdf" not in options.formats:
        return
    from .booklet import front_matter, front_matter_pages

    guessed: dict[str, int] | None = None
    for wait in (False, True):
        known = drawn_pages(wait)
        if known is None:
            return
        counts = {c.out_name: known.get(c.out_name, 1) for c in charts}
        if counts == guessed:
            return
        drawn: set[str] = set()  # collected, not pruned: publish_set prunes once every booklet is made
        for _, members, title, by_department in _booklets(charts):
            if booklet_page_count(members, counts, by_department) > style.BOOKLET_MAX_PAGES:
                continue  # too long to be made (publish_set says so)
            pages = front_matter_pages(members, tools, title, date.today(), options.settings.categories,
                                       by_department=by_department, page_counts=counts)
            try:
                front_matter(pages, tools, options.out / CACHE, scratch, drawn, options.page, runs, in_hand)
            except (render.RenderFailure, OSError):
                return
        guessed = counts


def booklet_ahead(charts: list[Chart], drawn: set[Path], options: BuildOptions, in_hand: InHand,
                  stopped: Callable[[], bool] = lambda: False) -> None:
    """While dot draws the charts `drawn`, read the PDFs in out/ of the set's
    others (`charts`: the set, if every chart draws): their fonts into
    `in_hand`, and their pages joined for the project's booklet (see
    booklet.join_ahead), so that once the last chart is drawn the booklets
    only add its pages.  Fonts are found by the digest of the PDF's bytes
    and joined pages are used only if their PDFs are still the same, so a
    PDF that changes meanwhile is never joined with another's.  Best effort:
    the booklet does what is missing itself.  Gives up between two charts
    once `stopped()` (Ctrl-C): a stopping build waits for this thread."""
    if "pdf" not in options.formats or not options.publish or not charts:
        return
    name, members, _, by_department = _booklets(charts)[0]
    if len(members) > style.BOOKLET_AHEAD_MAX_CHARTS:
        return  # held in memory only for a set that small; department booklets read their own
    if booklet_page_count(members, {c.out_name: 1 for c in members}, by_department) > style.BOOKLET_MAX_PAGES:
        return  # too long for a booklet
    from . import pageprep, patch
    from .booklet import in_booklet_order, join_ahead

    if not options.force and patch.likely(options.out / CACHE, name, [c.out_name for c in in_booklet_order(
            members, options.settings.categories, by_department)], len(drawn)):
        return  # the last booklet will be patched: its other pages are not needed

    pdfs: dict[str, tuple[bytes, str]] = {}
    for chart in charts:
        if stopped():
            return
        pdf = _pdf_in_out(chart, options) if chart.path not in drawn else None
        if pdf is not None:
            pdfs[chart.out_name] = (pdf, pageprep.entry_name(pdf))
            pageprep.remember(pdf, options.out / CACHE, in_hand, pdfs[chart.out_name][1])
    with contextlib.suppress(Exception):  # a PDF that does not open: the booklet says so
        # put in place whole: the build adds each chart drawn to it from then on (join_drawn)
        in_hand.pages_ahead[name] = join_ahead([c for c in members if c.out_name in pdfs], pdfs,
                                               options.settings.categories, by_department, stopped)


def join_drawn(chart: Chart, options: BuildOptions, in_hand: InHand) -> None:
    """Add a chart just written (its PDF in out/) to the project booklet's
    pages joined ahead (booklet_ahead), once there are any: so that after
    the last chart, the booklet has only that chart's pages to add.  Best
    effort, like booklet_ahead."""
    joined = in_hand.pages_ahead.get(BOOKLET)
    if joined is not None and "pdf" in options.formats and options.publish:
        pdf = _pdf_in_out(chart, options)
        if pdf is not None:
            with contextlib.suppress(Exception):
                joined.add(chart, pdf)


def _pdf_in_out(chart: Chart, options: BuildOptions) -> bytes | None:
    """A chart's PDF in out/, for the booklet's pages joined ahead: None if
    it cannot be read or is larger than a booklet page would be."""
    from ..check.load import read_chart_bytes

    with contextlib.suppress(OSError):  # a regular file only: never waits on a FIFO put there
        pdf = read_chart_bytes(files.inside(options.out, f"{chart.out_name}.pdf"), _MOST_PDF_BYTES)
        if len(pdf) <= _MOST_PDF_BYTES:
            return pdf
    return None



def cover_title(charts: list[Chart]) -> str:
    """Whose charts these are: the department's name, or the departments' names."""
    return _title(department_groups(charts), charts)


def _title(units: list[tuple[Department, list[Chart]]], charts: list[Chart]) -> str:
    """cover_title of `charts`, grouped into `units` (model.department_groups) once by the caller."""
    names = [unit.name for unit, _ in units if unit.name]
    if len(units) > 1 and names:
        return "、".join(names)
    return next((c.department for c in charts if c.department), "")
