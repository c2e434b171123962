"""The printable compilation (风险防控图汇编): cover, contents, every chart.

Cover and contents are drawn by Graphviz from templates like the charts
themselves; pikepdf (qpdf) joins the pages and adds a bookmark per category
and per chart (and per department first, in the booklet of a project of
several departments).  Every page has the build's paper size (page.py).
The pages' fonts become one embedded font per typeface (fontshare.py),
from what each page's PDF holds, worked out once per PDF (pageprep.py).
In a build, the charts' pages are joined before the booklet is made
(JoinedAhead: the charts not drawn while dot draws, each drawn chart as it
is written), so that after the last chart the booklet adds the front
matter and that chart's pages, shares the fonts and is saved.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .. import files, style
from ..build.stamps import file_stamp
from ..check.schema import CATEGORIES
from ..draw import glyphs, layout, pages, render
from ..draw.page import A4_PORTRAIT, Page
from ..draw.wrap import wrap
from ..model import Chart
from . import fontentry, fontshare, pageprep, patch

_CACHED_PAGE = re.compile(r"[0-9a-f]{32}\.pdf")


@dataclass(frozen=True)
class Entry:
    number: int
    category: str
    title_lines: tuple[str, ...]
    draft: bool
    page: int
    heading: str = ""  # a department's name: a heading row in the contents, not a chart
    code: str = ""  # 职权编码, printed under the title


class JoinedAhead:
    """Some charts' pages of a booklet, joined in the booklet's order before
    it is made: those of the charts a build does not draw while dot draws
    the others, then each drawn chart's as it is written.  For each chart
    (by out_name) the entry name of the bytes its pages came from
    (pageprep.py: their digest) and its PDF, opened (its pages are copied
    from it); `order`: the charts in the order of their pages."""

    def __init__(self, categories: tuple[str, ...] = CATEGORIES, by_department: bool = False) -> None:
        import pikepdf

        self.document = pikepdf.Pdf.new()
        self.charts: dict[str, tuple[str, Any]] = {}
        self.order: list[str] = []
        self.broken = False  # a chart's pages went in only in part: not to be used
        self._keys: list[tuple[object, ...]] = []  # the booklet's order of each chart in `order`
        self._rank = {name: i for i, name in enumerate(categories)}
        self._by_department = by_department

    def add(self, chart: Chart, data: bytes, entry: str | None = None) -> None:
        """Join a chart's pages (`data`: its PDF; `entry`: its entry name, if
        worked out) where the booklet has them."""
        import pikepdf

        if chart.out_name in self.charts:
            raise ValueError(f"{chart.out_name} 已在汇编中")
        pdf = pikepdf.Pdf.open(io.BytesIO(data))
        try:
            key = _booklet_key(chart, self._rank, self._by_department)
            at = bisect.bisect(self._keys, key)
            _put(self.document, pdf, sum(len(self.charts[name][1].pages) for name in self.order[:at]))
        except BaseException:
            self.broken = True
            pdf.close()
            raise
        self._keys.insert(at, key)
        self.order.insert(at, chart.out_name)
        self.charts[chart.out_name] = (entry or pageprep.entry_name(data), pdf)

    def close(self) -> None:
        for document in (self.document, *(pdf for _, pdf in self.charts.values())):
            document.close()


def join_ahead(charts: list[Chart], chart_pdfs: dict[str, tuple[bytes, str]],
               categories: tuple[str, ...] = CATEGORIES, by_department: bool = False,
               stopped: Callable[[], bool] = lambda: False) -> JoinedAhead:
    """Join these charts' pages (`chart_pdfs`: the bytes of their PDFs and
    their entry names, by out_name) as `booklet_pdf` will, in the booklet's
    order; the booklet then adds the front matter and the other charts'
    pages around them, if each of these PDFs is still the same.  Raises
    BuildStopped between two charts once `stopped()`."""
    joined = JoinedAhead(categories, by_department)
    try:
        for chart in in_booklet_order(charts, categories, by_department):
            if stopped():
                raise BuildStopped
            joined.add(chart, *chart_pdfs[chart.out_name])
    except BaseException:
        joined.close()
        raise
    return joined


class BuildStopped(Exception):
    """The build was stopped (Ctrl-C) while pages were joined ahead: they are not wanted."""


class DamagedPdf(Exception):
    """A chart's PDF in out/ cannot be read; the chart is drawn again next time."""

    def __init__(self, stem: str, path: Path):
        super().__init__(f"{path} 已损坏，无法编入汇编；下次 build 会重新生成它")
        self.stem = stem


def booklet_pdf(charts: list[Chart], chart_pdfs: dict[str, Path], tools: render.Toolchain,
                department: str, built_on: date, cache: Path, scratch: Path | None = None,
                categories: tuple[str, ...] = CATEGORIES, *, by_department: bool = False,
                used: set[str] | None = None, page: Page = A4_PORTRAIT,
                in_hand: pageprep.InHand | None = None, ahead: JoinedAhead | None = None,
                booklet_name: str | None = None, patching: bool = False) -> bytes:
    """Cover, contents and every chart, by category in the project's order,
    then by id; `by_department`: department by department first, each a
    bookmark and a heading in the contents.  `chart_pdfs` by Chart.out_name.
    `used` collects the names of the entries of `cache` it used: the
    front-matter pages (see `front_matter`) and the pages' fonts (see
    pageprep.py); without it, the others are removed from `cache`.
    `in_hand`: the pages' fonts the build already has (pageprep.py);
    `ahead`: pages joined while dot drew (`join_ahead`), used if each of
    their PDFs is still the same, and closed.
    A chart continued over several pages moves every later page number on:
    the contents count each chart's pages.
    `booklet_name`: its name in the output folder (`cache`'s parent): its
    map is kept, and with `patching` the booklet last written there is
    patched where it can be (patch.py) instead of being made whole."""
    import pikepdf

    charts = in_booklet_order(charts, categories, by_department)
    kept = used if used is not None else set()
    last = patch.read_map(cache, booklet_name) if booklet_name is not None and patching else None
    with contextlib.ExitStack() as sources:
        if ahead is not None:
            sources.callback(ahead.close)
        early = ahead.charts if ahead is not None else {}
        opened: dict[str, tuple[bytes, Any, str]] = {}
        known: dict[str, tuple[str, int, tuple[int, ...] | None]] = {}  # out_name → entry, pages, stamp

        def open_chart(chart: Chart) -> None:
            path = chart_pdfs[chart.out_name]
            try:
                stamp = file_stamp(path)  # before reading: a write after it changes it
                data = files.read_untrusted(path)  # the bytes the fonts' entry is found by
                entry = pageprep.entry_name(data)  # its digest: the fonts' entry, the pages joined ahead
                name, pdf = early.get(chart.out_name, ("", None))
                if pdf is None or name != entry:
                    pdf = sources.enter_context(pikepdf.Pdf.open(io.BytesIO(data)))
            except (pikepdf.PdfError, OSError):
                raise DamagedPdf(chart.out_name, path) from None
            opened[chart.out_name] = (data, pdf, entry)
            known[chart.out_name] = (entry, len(pdf.pages), stamp)

        # A patch needs only the changed charts' PDFs: the others, the very files the last
        # booklet was made from (same stamp), are known from its map unread (40 charts' PDFs
        # are 9 MB to read, hash and open).
        unchanged = _unchanged_since(last, chart_pdfs)
        for chart in charts:
            block = unchanged.get(chart.out_name)
            if block is not None and chart.out_name not in early:
                known[chart.out_name] = (block.entry, block.pages, block.stamp)
            else:
                open_chart(chart)
        # the pages joined ahead, if they are those of the PDFs now, in the same order
        joined = ahead.document if ahead is not None and not ahead.broken and all(
            name in opened and opened[name][1] is pdf for name, (_, pdf) in early.items()) \
            and [c.out_name for c in charts if c.out_name in early] == ahead.order else None
        pages = front_matter_pages(charts, tools, department, built_on, categories, by_department=by_department,
                                   page_counts={name: count for name, (_, count, _) in known.items()})
        front = front_matter(pages, tools, cache, scratch, kept, page, in_hand=in_hand)
        blocks = _blocks(charts, known, front, by_department)
        made = _patched(booklet_name, last, cache, department, blocks, charts, opened, front, kept, in_hand,
                        sources) if booklet_name is not None and last is not None else None
        if made is None:
            for chart in charts:
                if chart.out_name not in opened:
                    open_chart(chart)
            blocks = _blocks(charts, known, front, by_department)
            made = _joined(charts, opened, front, department, by_department, cache, kept, in_hand,
                           joined, set(early) if joined is not None else set())
    if booklet_name is not None:
        kept.add(patch.map_name(booklet_name))
        patch.write_map(cache, booklet_name, patch.BookletMap(department, patch.digest(made), tuple(blocks)))
    if used is None:
        prune_cache(cache, kept)
    return made


def _unchanged_since(last: patch.BookletMap | None, chart_pdfs: dict[str, Path]) -> dict[str, patch.Block]:
    """The last booklet's block of each chart whose PDF is still the file it
    was made from: the same stamp (size, times, inode; a write changes the
    change time, which no program can set back)."""
    found = {}
    for block in last.blocks if last is not None else ():
        if block.key[0] == "chart" and len(block.key) > 1 and block.stamp is not None \
                and block.key[1] in chart_pdfs and file_stamp(chart_pdfs[block.key[1]]) == block.stamp:
            found[block.key[1]] = block
    return found


def _blocks(charts: list[Chart], known: dict[str, tuple[str, int, tuple[int, ...] | None]], front: list[bytes],
            by_department: bool) -> list[patch.Block]:
    """What the booklet is made of, block by block (patch.py)."""
    blocks = [patch.Block(("front", str(number)), pageprep.entry_name(data), 1) for number, data in enumerate(front)]
    for chart in charts:
        entry, pages, stamp = known[chart.out_name]
        blocks.append(patch.Block(("chart", chart.out_name, *_bookmarks(chart, by_department)), entry, pages, stamp))
    return blocks


def _patched(name: str, last: patch.BookletMap, cache: Path, department: str, blocks: list[patch.Block],
             charts: list[Chart], opened: dict[str, tuple[bytes, Any, str]], front: list[bytes], used: set[str],
             in_hand: pageprep.InHand | None, sources: contextlib.ExitStack) -> bytes | None:
    """The booklet last written under `name` (mapped by `last`), its changed
    pages replaced; None when it cannot be patched (patch.py)."""
    import pikepdf

    if len(last.blocks) != len(blocks):
        return None
    changed = {}
    for number, (block, before) in enumerate(zip(blocks, last.blocks, strict=True)):
        if block.entry != before.entry:
            if number < len(front):
                data = front[number]
                pdf = sources.enter_context(pikepdf.Pdf.open(io.BytesIO(data)))
            elif charts[number - len(front)].out_name in opened:
                data, pdf, _ = opened[charts[number - len(front)].out_name]
            else:
                return None  # known unread, so the same entry as before: cannot differ
            changed[number] = (pdf, pageprep.prepared(data, pdf, cache, used, in_hand, block.entry))
    made = patch.patched(files.inside(cache.parent, name), last, department, blocks, changed)
    if made is not None:
        used.update(block.entry for block in blocks)  # the unchanged pages' fonts stay in the cache
    return made


def _bookmarks(chart: Chart, by_department: bool) -> tuple[str, ...]:
    """A chart's bookmark and those it is under (department, category)."""
    department = (chart.unit.name or "（未设部门）",) if by_department else ()
    category = f"{chart.category}类" if chart.categorised else chart.category
    return (*department, category, f"{chart.id}. {chart.title}")


def _joined(charts: list[Chart], opened: dict[str, tuple[bytes, Any, str]], front: list[bytes], department: str,
            by_department: bool, cache: Path, used: set[str], in_hand: pageprep.InHand | None,
            joined: Any | None = None, early: set[str] | frozenset[str] = frozenset()) -> bytes:
    """Front matter, then every chart's pages, with the bookmarks; into
    `joined` (a pikepdf.Pdf) when the pages of the charts `early` are
    there already, in order."""
    import pikepdf

    with joined if joined is not None else pikepdf.Pdf.new() as booklet, contextlib.ExitStack() as sources:
        prepared: list[fontentry.Prepared | None] = []  # what each page's PDF holds of fonts
        at = 0  # where the next pages go
        for data in front:
            pdf = sources.enter_context(pikepdf.Pdf.open(io.BytesIO(data)))
            prepared += [pageprep.prepared(data, pdf, cache, used, in_hand)] * len(pdf.pages)
            _put(booklet, pdf, at)
            at += len(pdf.pages)
        with booklet.open_outline() as outline:
            # department (only with by_department) → category → chart
            items: dict[tuple[object, ...], pikepdf.OutlineItem] = {}
            for chart in charts:
                page_index = at
                data, pdf, entry = opened[chart.out_name]
                prepared += [pageprep.prepared(data, pdf, cache, used, in_hand, entry)] * len(pdf.pages)
                if chart.out_name not in early:
                    _put(booklet, pdf, at)
                at += len(pdf.pages)
                top: list[pikepdf.OutlineItem] = outline.root
                *headings, bookmark = _bookmarks(chart, by_department)
                if by_department:
                    if (chart.unit,) not in items:
                        items[(chart.unit,)] = pikepdf.OutlineItem(headings[0], page_index)
                        top.append(items[(chart.unit,)])
                    top = items[(chart.unit,)].children
                key = (chart.unit, chart.category) if by_department else (chart.category,)
                if key not in items:
                    items[key] = pikepdf.OutlineItem(headings[-1], page_index)
                    top.append(items[key])
                items[key].children.append(pikepdf.OutlineItem(bookmark, page_index))
        booklet.docinfo["/Title"] = f"{department}权力运行廉政风险防控图汇编"
        booklet.docinfo["/Creator"] = "riskchart"
        booklet.Root.PageMode = pikepdf.Name.UseOutlines
        fontshare.share_fonts(booklet, prepared)  # one font for all pages, not one per page
        buffer = io.BytesIO()
        booklet.save(buffer)
    return buffer.getvalue()


def _put(booklet: Any, pdf: Any, at: int) -> None:
    """A PDF's pages into the booklet from page `at` on (at its end, usually)."""
    if at == len(booklet.pages):
        booklet.pages.extend(pdf.pages)
    else:
        for offset, page in enumerate(pdf.pages):
            booklet.pages.insert(at + offset, page)


def in_booklet_order(charts: list[Chart], categories: tuple[str, ...], by_department: bool = False) -> list[Chart]:
    rank = {name: i for i, name in enumerate(categories)}
    return sorted(charts, key=lambda c: _booklet_key(c, rank, by_department))


def _booklet_key(chart: Chart, rank: dict[str, int], by_department: bool) -> tuple[object, ...]:
    return ((chart.unit.folder,) if by_department else ()) + (rank.get(chart.category, len(rank)), chart.id)


def front_matter_pages(charts: list[Chart], tools: render.Toolchain, department: str, built_on: date,
                       categories: tuple[str, ...] = CATEGORIES, *, by_department: bool = False,
                       page_counts: dict[str, int] | None = None) -> list[str]:
    """The DOT text of the cover and of the contents pages; `page_counts`:
    the pages of each chart (by out_name) that takes more than one."""
    charts = in_booklet_order(charts, categories, by_department)
    headings = {c.unit for c in charts} if by_department else set()
    contents_pages = max(1, math.ceil((len(charts) + len(headings)) / style.TOC_ROWS_PER_PAGE))
    page_number = 2 + contents_pages
    entries = []
    for i, c in enumerate(charts):
        if by_department and (not i or c.unit != charts[i - 1].unit):
            entries.append(Entry(0, "", (), False, page_number, heading=c.unit.name or "（未设部门）"))
        entries.append(Entry(c.id, c.category, tuple(wrap(c.title, style.TOC_TITLE_COLUMNS, tools.font)), c.draft,
                             page_number, code=c.code or ""))
        page_number += (page_counts or {}).get(c.out_name, 1)
    env = layout.environment()
    pages = [env.get_template("cover.dot.j2").render(
        department=department, date=f"{built_on.year} 年 {built_on.month} 月 {built_on.day} 日",
        count=len(charts), font=tools.font, s=style)]
    for start in range(0, max(1, len(entries)), style.TOC_ROWS_PER_PAGE):
        pages.append(env.get_template("contents.dot.j2").render(
            entries=entries[start:start + style.TOC_ROWS_PER_PAGE], continued=start > 0,
            font=tools.font, s=style))
    return pages


def front_matter(pages: list[str], tools: render.Toolchain, cache: Path, scratch: Path | None = None,
                 used: set[str] | None = None, page: Page = A4_PORTRAIT,
                 runs: render.DotRuns | None = None, in_hand: pageprep.InHand | None = None) -> list[bytes]:
    """Cover and contents pages as PDF, drawn in one dot run.

    They change only when the list of charts or the date does, so each page
    is kept in `cache` under the hash of its DOT text and of the code that
    finishes a PDF (a page cached before a fix is drawn anew); a rebuild after one
    chart's wording changed then only joins pages.  Pages no longer used
    are removed from the cache (when several booklets share it, the caller
    collects the pages in `used` and calls `prune_cache` once all are made),
    and a page that does not open as a PDF (the cache lives in out/, which
    anyone may have touched) is drawn again.  `in_hand`: the pages' fonts
    are worked out (or read from the cache) into it, for the booklet.
    """
    names = [hashlib.sha256(f"{tools.font}\n{page.key}\n{_drawing_code()}\n{dot_text}".encode()).hexdigest()[:32] + ".pdf"
             for dot_text in pages]
    folder = files.output_cache(cache)
    found = {i: _readable_pdf(folder / name) if folder else None for i, name in enumerate(names)}
    missing = [i for i, pdf in found.items() if pdf is None]
    ready = {i: pdf for i, pdf in found.items() if pdf is not None}
    if missing:
        drawn = render.render_many([pages[i] for i in missing], ("pdf",), tools, runs=runs, scratch=scratch, page=page)
        for i, result in zip(missing, drawn, strict=True):
            if isinstance(result, render.RenderFailure):
                raise result
            if folder:
                files.write_atomic(folder / names[i], result["pdf"])
                pageprep.remember(result["pdf"], folder, in_hand)  # its fonts too, while drawn ahead of the booklet
            ready[i] = result["pdf"]
    if folder and in_hand is not None:
        for i in set(ready) - set(missing):
            pageprep.remember(ready[i], folder, in_hand)
    if used is None:
        prune_cache(cache, set(names))
    else:
        used.update(names)
    return [ready[i] for i in range(len(names))]


def prune_cache(cache: Path, used: set[str]) -> None:
    """Remove the cached pages and pages' fonts no booklet uses any more
    (only names riskchart gives them)."""
    if cache.is_symlink() or not cache.is_dir():
        return
    for old in cache.iterdir():
        if old.name not in used and (_CACHED_PAGE.fullmatch(old.name) or pageprep.ENTRY.fullmatch(old.name)
                                     or patch.MAP.fullmatch(old.name)):
            with contextlib.suppress(OSError):
                old.unlink()


def _readable_pdf(path: Path) -> bytes | None:
    import pikepdf

    try:
        data = files.read_untrusted(path)
        with pikepdf.Pdf.open(io.BytesIO(data)) as document:
            if len(document.pages) == 1:
                return data
    except (OSError, pikepdf.PdfError):
        pass
    return None


@functools.lru_cache(maxsize=1)
def _drawing_code() -> str:
    """A digest of the modules that finish a PDF (A4 fitting, glyph repair)."""
    digest = hashlib.sha256()
    for module in (render, pages, glyphs):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()
