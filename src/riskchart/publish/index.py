"""Stage 6 — publish: the set around the charts.

`out/index.html` (the website page), `out/risk-register.csv` (风险点台账)
and `out/booklet.pdf` (汇编), plus `out/<department folder>/booklet.pdf`
for each department in a folder of its own, are made from the same charts
in the same run, always from the whole project (see build/run.py's _whole_project).  Like the charts they are incremental: the set's fingerprint covers
every chart's fingerprint and the publication templates, and a set that
has not changed is not rewritten.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from .. import __version__, files, style
from ..check.schema import CATEGORIES, LEVELS, UNCATEGORISED, UNGRADED
from ..draw import layout, render
from ..model import Chart, Department, Phones, sort_key
from .names import BOOKLET, BOOKLET_DOCX, CACHE, INDEX, REGISTER, REGISTER_XLSX, is_set_output

if TYPE_CHECKING:
    import jinja2

    from ..build import BuildOptions
    from . import tables
    from .pageprep import InHand

FAILING_NOTE = "本图有错误，未更新"
LINKED_FORMATS = ("svg", "pdf", "png")  # what a card in the index links to, in this order
LEVEL_CLASS = {"高": "high", "中": "mid", "低": "low"}  # index.css's classes for the default scale
_MOST_PDF_BYTES = 64 << 20  # a chart's PDF read ahead for the booklet: ~200 KB a page
_SET_TEMPLATES = ("index.html.j2", "index.css", "index.js", "cover.dot.j2", "contents.dot.j2")
# their code makes a set file: a new version rewrites it
_OFFICE_MODULES = ("xlsx.py", "sheetxml.py", "chartrows.py", "deflated.py", "tables.py", "docx.py", "booklet.py", "fontshare.py",
                    "pageprep.py", "fontentry.py", "../draw/cffmerge.py")


@dataclass(frozen=True)
class Card:
    chart: Chart
    search: str
    levels: tuple[str, ...]
    svg: str | None
    link: str
    files: tuple[tuple[str, str], ...]
    types: tuple[str, ...] = ()  # its risks' types, for the index's filter
    counts: tuple[tuple[str, int], ...] = ()  # its risks by level, the page's level columns


def departments(charts: list[Chart]) -> list[tuple[Department, list[Chart]]]:
    """The charts department by department (the charts folder's first), each by id."""
    found: dict[Department, list[Chart]] = {}
    for chart in sorted(charts, key=sort_key):
        found.setdefault(chart.unit, []).append(chart)
    return list(found.items())


def set_fingerprint(fingerprints: dict[Path, str], ready: list[Path], formats: tuple[str, ...],
                    failing: tuple[str, ...] = (), dpi: int = style.DEFAULT_DPI,
                    word: tuple[str, ...] | None = None) -> str:
    """`word`: the Word booklet's fonts when one is made."""
    digest = hashlib.sha256(f"{__version__}|{','.join(formats)}|{'/'.join(failing)}|{dpi}|{word}".encode())
    folder = layout.template_folder()
    for name in _SET_TEMPLATES:
        digest.update((folder / name).read_bytes())
    digest.update(_office_code())
    for path in sorted(ready, key=str):
        digest.update(f"{path}|{fingerprints[path]}".encode())
    return digest.hexdigest()


def _office_code() -> bytes:
    package = Path(__file__).parent
    return b"".join((package / name).read_bytes() for name in _OFFICE_MODULES)


def _word_booklet(options: BuildOptions) -> tuple[str, ...] | None:
    """What the set's fingerprint knows of booklet.docx: its fonts, or None when none is made."""
    return options.settings.docx_fonts if options.settings.word_booklet else None


def is_fresh(manifest: dict[str, Any], fingerprints: dict[Path, str], options: BuildOptions) -> bool:
    """Whether the set built from all these charts is already in out/."""
    return _is_current(manifest, set_fingerprint(fingerprints, list(fingerprints), options.formats, dpi=options.dpi,
                                                 word=_word_booklet(options)),
                       options.out)


def _is_current(manifest: dict[str, Any], fingerprint: str, out: Path) -> bool:
    entry = manifest.get("set") or {}
    return entry.get("fingerprint") == fingerprint and all((out / n).is_file() for n in entry.get("outputs", ()))


@dataclass(frozen=True)
class Published:
    written: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the set leaves out on purpose (a booklet too long to print)


@dataclass(frozen=True)
class Registers:
    """The register's files (CSV and Excel) of some charts, made while dot
    draws and written aside (in the build's scratch folder) until published."""
    charts: tuple[Chart, ...]
    csv: Path
    xlsx: Path


def registers_ahead(charts: list[Chart], options: BuildOptions, folder: Path) -> Registers:
    """The register of the charts the set will most likely show, made beside
    the dot runs into `folder`; publish_set moves it into place if the set
    turns out to be these charts."""
    made = Registers(tuple(charts), folder / REGISTER, folder / REGISTER_XLSX)
    with made.csv.open("wb") as stream:
        made.xlsx.write_bytes(_registers(charts, options, stream))
    return made


def _registers(charts: list[Chart], options: BuildOptions, csv: BinaryIO) -> bytes:
    """The CSV register into `csv`, and the Excel one: each unchanged chart's
    rows as the last build made them (rowcache.py)."""
    from .rowcache import RowCache
    from .xlsx import write_registers

    return write_registers(charts, options.settings.categories, options.settings.levels,
                           RowCache(options.out / files.OUTPUT_CACHE), csv)


def _write_registers(charts: list[Chart], options: BuildOptions, ahead: Future[Registers] | None) -> None:
    made = ahead.result() if ahead is not None else None
    if made is not None and len(made.charts) == len(charts) and all(map(operator.is_, made.charts, charts)):
        files.move_into_place(made.csv, options.out / REGISTER)
        files.move_into_place(made.xlsx, options.out / REGISTER_XLSX)
        return
    csv = io.BytesIO()
    workbook = _registers(charts, options, csv)
    files.write_atomic(options.out / REGISTER, csv.getvalue())
    files.write_atomic(options.out / REGISTER_XLSX, workbook)


def publish_set(charts: list[Chart], fingerprints: dict[Path, str], manifest: dict[str, Any], options: BuildOptions,
                tools: render.Toolchain, failing: Iterable[str] = (), scratch: Path | None = None,
                ahead: Future[Registers] | None = None, in_hand: InHand | None = None) -> Published:
    """Write index, register and booklet unless the set is unchanged.

    `failing` are charts that failed this build but keep their old outputs:
    the index lists them, marked, with their last title; the register and
    booklet leave them out rather than print what the chart no longer says.
    A booklet that cannot be made is reported and its old file kept; the
    set is then not recorded as done, so the next build tries again.  A
    booklet of more than BOOKLET_MAX_PAGES pages is not made (a note says
    so).  `ahead`: the register, made while the charts were drawn;
    `in_hand`: the fonts of the pages the build already has (pageprep.py).
    """
    failing = tuple(sorted(failing))
    fingerprint = set_fingerprint(fingerprints, [c.path for c in charts], options.formats, failing, options.dpi,
                                  _word_booklet(options))
    if not options.force and _is_current(manifest, fingerprint, options.out):
        return Published()
    out: Path = options.out
    today = date.today()
    written: list[str] = []
    failures: list[str] = []
    notes: list[str] = []
    pictures = _word_pictures_in_background(charts, options, scratch)
    _write_registers(charts, options, ahead)
    written += [REGISTER, REGISTER_XLSX]
    pdfs = {c.out_name: out / f"{c.out_name}.pdf" for c in charts}
    if charts and "pdf" in options.formats and all(p.is_file() for p in pdfs.values()):
        from .booklet import booklet_pdf, prune_cache

        used: set[str] = set()
        books = []
        for name, members, title, by_department in _booklets(charts):
            pages = booklet_pages(members, manifest, by_department)
            if pages > style.BOOKLET_MAX_PAGES:
                notes.append(f"{name} 将有 {pages} 页，超过 {style.BOOKLET_MAX_PAGES} 页，太大，不生成；"
                             "放在部门文件夹中的图，每个部门另有自己的汇编")
                continue
            books.append((name, members, title, by_department))
        for name, members, title, by_department in books:
            make = functools.partial(booklet_pdf, members, pdfs, tools, title, today, out / CACHE, scratch,
                                     options.settings.categories, by_department=by_department, used=used,
                                     page=options.page, in_hand=in_hand,
                                     ahead=in_hand.pages_ahead.pop(name, None) if in_hand is not None else None,
                                     booklet_name=name, patching=not options.force)
            written += [name] if _booklet(name, make, out, manifest, failures) else []
        for unused in in_hand.pages_ahead.values() if in_hand is not None else ():
            unused.close()  # a booklet not made (too long)
        if not failures:
            prune_cache(out / CACHE, used)
        _remove_old_booklets(manifest, [name for name, *_ in books], out)
    if pictures:
        written += _publish_word_booklet(charts, pictures, options, today, failures)
    # an old booklet is linked only while this build makes PDFs
    booklet = "pdf" in options.formats and (out / BOOKLET).is_file()
    word = options.settings.word_booklet and "pdf" in options.formats and (out / BOOKLET_DOCX).is_file()
    missing = [_missing_card(name, manifest, options.formats, out) for name in failing]
    files.write_atomic(out / INDEX, index_html(charts, out, options.formats, today, booklet=booklet, register=True,
                                               failing=missing, categories=options.settings.categories,
                                               word=word, levels=options.settings.levels).encode("utf-8"))
    written.append(INDEX)
    if not failures:
        manifest["set"] = {"fingerprint": fingerprint, "outputs": sorted(written)}
    return Published(tuple(written), tuple(failures), tuple(notes))


def booklet_pages(charts: list[Chart], manifest: dict[str, Any], by_department: bool = False) -> int:
    """The pages of a booklet of these charts: cover, contents and each
    chart's pages as the manifest recorded them (one when it does not say)."""
    recorded = manifest.get("charts", {})
    return booklet_page_count(charts, {c.out_name: _recorded_pages(recorded.get(c.out_name)) for c in charts},
                              by_department)


def booklet_page_count(charts: list[Chart], pages: Mapping[str, int], by_department: bool = False) -> int:
    """Cover, contents and each chart's `pages` (by out_name)."""
    headings = len({c.unit for c in charts}) if by_department else 0
    contents = max(1, math.ceil((len(charts) + headings) / style.TOC_ROWS_PER_PAGE))
    return 1 + contents + sum(pages[c.out_name] for c in charts)


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


def _word_pictures_in_background(charts: list[Chart], options: BuildOptions,
                                 scratch: Path | None) -> Future[dict[str, list[bytes]]] | None:
    """booklet.docx's pictures, drawn by MuPDF (on the other core) while the
    register and the PDF booklet are written; None when there is no booklet."""
    pdfs = {c.out_name: options.out / f"{c.out_name}.pdf" for c in charts}
    if not (options.settings.word_booklet and charts and "pdf" in options.formats
            and all(p.is_file() for p in pdfs.values())):
        return None
    from .docx import drawing_pictures

    background = ThreadPoolExecutor(max_workers=1)
    try:
        return background.submit(drawing_pictures, charts, pdfs, options.dpi, options.out / CACHE, scratch,
                                 options.jobs)
    finally:
        background.shutdown(wait=False)  # the drawing goes on; nothing else is started


def _publish_word_booklet(charts: list[Chart], pictures: Future[dict[str, list[bytes]]], options: BuildOptions,
                          today: date, failures: list[str]) -> list[str]:
    from ..draw.raster import RasterFailure
    from .docx import Fonts, booklet_docx

    try:
        drawn = pictures.result()
    except RasterFailure as failure:
        failures.append(f"{BOOKLET_DOCX}：图片无法生成：{failure}")
        return []
    document = booklet_docx(charts, drawn, _department(charts), today, options.settings.categories,
                            Fonts(*options.settings.docx_fonts))
    files.write_atomic(options.out / BOOKLET_DOCX, document)
    return [BOOKLET_DOCX]


def _booklets(charts: list[Chart]) -> list[tuple[str, list[Chart], str, bool]]:
    """(file in out/, its charts, the name on its cover, by department) of
    every booklet: the whole project's, and one per department folder."""
    units = departments(charts)
    books = [(BOOKLET, charts, _department(charts), len(units) > 1)]
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


@dataclass(frozen=True)
class FailingCard:
    """A chart with errors: its outputs from the last good build."""
    stem: str
    title: str
    files: tuple[tuple[str, str], ...]


def _missing_card(name: str, manifest: dict[str, Any], formats: tuple[str, ...], out: Path) -> FailingCard:
    entry = manifest["charts"].get(name) or {}
    kept = tuple((fmt, link(f"{name}.{fmt}")) for fmt in LINKED_FORMATS if (out / f"{name}.{fmt}").is_file())
    return FailingCard(name, entry.get("title") or name, kept)


def _department(charts: list[Chart]) -> str:
    """Whose charts these are: the department's name, or the departments' names."""
    names = [unit.name for unit, _ in departments(charts) if unit.name]
    if len(departments(charts)) > 1 and names:
        return "、".join(names)
    return next((c.department for c in charts if c.department), "")


@cache
def html_environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(layout.template_folder())),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def search_text(chart: Chart) -> str:
    """Everything a user may look for in a chart, on one line."""
    parts = [str(chart.id), chart.category, chart.code or "", chart.title, chart.scope or "", *chart.basis,
             chart.time_limit.text]
    for step in chart.steps:
        parts += [step.name, step.level or "", *step.risks, *step.measures, chart.owner_of(step) or "",
                  step.time_limit or "", chart.risk_type_of(step) or "", step.note or ""]
        parts += [text for exit in step.exits for text in (exit.when, exit.to)]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Section:
    """One department in the index: its cards by category and its counts."""
    department: Department
    stats: tables.Statistics
    groups: list[tuple[str, list[Card]]]
    booklet: str | None


def index_html(charts: list[Chart], out: Path, formats: tuple[str, ...], built_on: date,
               *, booklet: bool, register: bool, failing: Sequence[FailingCard] = (),
               categories: tuple[str, ...] = CATEGORIES, word: bool = False, levels: tuple[str, ...] = LEVELS) -> str:
    """The website page: department by department (a project of one
    department shows no department headings), then category by category;
    risks counted and coloured by the project's level scale (`levels`)."""
    from . import tables  # not at the top: the build imports this module before dot starts, and needs tables after

    charts = sorted(charts, key=sort_key)
    stats = tables.statistics(charts, categories, levels)
    sections = []
    for unit, members in departments(charts):
        groups = []
        for category in dict.fromkeys((*categories, UNCATEGORISED)):
            cards = [_card(c, formats, stats.levels) for c in members if c.category == category]
            if cards:
                groups.append((category, cards))
        own_booklet = f"{unit.folder}/{BOOKLET}"
        linked = booklet and unit.folder and (out / own_booklet).is_file()
        sections.append(Section(unit, tables.statistics(members, categories, levels), groups,
                                link(own_booklet) if linked else None))
    bar_scale = max([c.risk_total for c in stats.by_category.values()] + [1])
    phones = next((c.phones for c in charts if c.phones.service or c.phones.supervision), Phones())
    classes, css = level_classes(stats.levels)
    return html_environment().get_template("index.html.j2").render(
        department=_department(charts), version=__version__, built_on=built_on.isoformat(),
        stats=stats, sections=sections, levels=stats.levels, level_class=classes, level_css=css, bar_scale=bar_scale,
        booklet=href(BOOKLET) if booklet else None, register=href(REGISTER) if register else None, phones=phones,
        register_xlsx=href(REGISTER_XLSX) if register else None, booklet_docx=href(BOOKLET_DOCX) if word else None,
        failing=failing, failing_note=FAILING_NOTE, uncategorised=UNCATEGORISED,
        risk_types=sorted({t for section in sections for _, cards in section.groups for card in cards
                           for t in card.types}))


def level_classes(levels: tuple[str, ...]) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """Each level's class on the index page, and the colours of the classes
    index.css does not have: the charts' colours of the project's scale (by
    rank, layout.level_styles), and 未评定's neutral look.  Class names are
    made here, never from a level's text."""
    scale = tuple(level for level in levels if level != UNGRADED)
    if scale == LEVELS:
        classes, css = dict(LEVEL_CLASS), []
    else:
        classes = {level: f"rank-{rank}" for rank, level in enumerate(scale)}
        css = [(classes[level], colours) for level, colours in layout.level_styles(scale).items()]
    if UNGRADED in levels:
        classes[UNGRADED] = "ungraded"
        css.append(("ungraded", {"fill": "#ffffff", "text": style.MUTED, "border": style.UNGRADED_BORDER}))
    return classes, css


def href(name: str) -> str:
    """A relative link to a file in out/: every character but letters,
    digits and -_.~ percent-encoded (the bytes of a name that is not UTF-8
    as they are on disk), so a name can never become a scheme
    (javascript:), a fragment (#), a query (?) or another folder."""
    return quote(name, safe="", errors="surrogateescape")


def link(name: str) -> str:
    """A relative link to a file in a folder of out/ (食品科/01-….svg): each
    name encoded by `href`, joined by "/"."""
    return "/".join(href(part) for part in name.split("/"))


def _card(chart: Chart, formats: tuple[str, ...], levels: tuple[str, ...]) -> Card:
    links = tuple((fmt, link(f"{chart.out_name}.{fmt}")) for fmt in LINKED_FORMATS if fmt in formats)
    counts = tuple((level, _risks_of(chart, level)) for level in levels)
    return Card(
        chart=chart,
        search=search_text(chart),
        levels=tuple(level for level, count in counts if count),
        counts=counts,
        svg=link(f"{chart.out_name}.svg") if "svg" in formats else None,
        link=links[0][1] if links else "#",
        files=links,
        types=tuple(dict.fromkeys(t for t in map(chart.risk_type_of, chart.steps) if t)),
    )


def _risks_of(chart: Chart, level: str) -> int:
    """A chart's risks of one level; of no level, for 未评定."""
    return sum(len(s.risks) for s in chart.steps if (s.level or UNGRADED) == level)
