"""Stage 6 — publish: the set around the charts.

`out/index.html` (the website page), `out/risk-register.csv` (风险点台账)
and `out/booklet.pdf` (汇编), plus `out/<department folder>/booklet.pdf`
for each department in a folder of its own, are made from the same charts
in the same run, always from the whole project (see build/run.py's _whole_project).  Like the charts they are incremental: the set's fingerprint covers
every chart's fingerprint and the publication templates, and a set that
has not changed is not rewritten.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from .. import __version__, files, style
from ..check.schema import CATEGORIES, LEVELS, UNCATEGORISED, UNGRADED
from ..draw import layout, render, templatefiles
from ..model import Chart, Department, Phones, department_groups, sort_key
from .booklets import cover_title, publish_booklets, publish_word_booklet, word_pictures_in_background
from .names import BOOKLET, BOOKLET_DOCX, INDEX, REGISTER, REGISTER_XLSX
from .setstamp import _is_current, _word_booklet, set_fingerprint

if TYPE_CHECKING:
    import jinja2

    from ..build import BuildOptions
    from . import tables
    from .pageprep import InHand

FAILING_NOTE = "本图有错误，未更新"
LINKED_FORMATS = ("svg", "pdf", "png")  # what a card in the index links to, in this order
LEVEL_CLASS = {"高": "high", "中": "mid", "低": "low"}  # index.css's classes for the default scale


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
    pictures = word_pictures_in_background(charts, options, scratch)
    _write_registers(charts, options, ahead)
    written += [REGISTER, REGISTER_XLSX]
    written += publish_booklets(charts, manifest, options, tools, today, scratch, in_hand, failures, notes)
    if pictures:
        written += publish_word_booklet(charts, pictures, options, today, failures)
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


@cache
def html_environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templatefiles.template_folder())),
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
    for unit, members in department_groups(charts):
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
        department=cover_title(charts), version=__version__, built_on=built_on.isoformat(),
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
