"""The website page (out/index.html): department by department (a project
of one department shows no department headings), then category by
category, a card per chart (cards.py).

The page is laid out from its cards' HTML: the template renders the page
around a mark for each category's list, and the cards, kept from the last
build where their charts did not change (cardcache.py), are put in as the
bytes they are.  At thousands of charts, rendering every card took most of
a second of a one-chart rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__, style
from ..check.schema import CATEGORIES, LEVELS, UNCATEGORISED, UNGRADED
from ..draw import layout
from ..model import Chart, Department, Phones, department_groups, sort_key
from .booklets import cover_title
from .cards import card, card_html, href, html_environment, link, placeholder
from .names import BOOKLET, BOOKLET_DOCX, REGISTER, REGISTER_XLSX

if TYPE_CHECKING:
    from . import tables
    from .cardcache import CardCache, KeptCard

FAILING_NOTE = "本图有错误，未更新"
LEVEL_CLASS = {"高": "high", "中": "mid", "低": "low"}  # index.css's classes for the default scale
_TRIES = 3  # marks drawn before a page that does not show each mark once is taken for a defect of the template


@dataclass(frozen=True)
class FailingCard:
    """A chart with errors: its outputs from the last good build."""
    stem: str
    title: str
    files: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Group:
    """One category's cards in a department: how many, and the mark their HTML replaces."""
    count: int
    cards: str


@dataclass(frozen=True)
class Section:
    """One department in the index: its cards by category and its counts."""
    department: Department
    stats: tables.Statistics
    groups: list[tuple[str, Group]]
    booklet: str | None


def index_html(charts: list[Chart], out: Path, formats: tuple[str, ...], built_on: date,
               *, booklet: bool, register: bool, failing: Sequence[FailingCard] = (),
               categories: tuple[str, ...] = CATEGORIES, word: bool = False, levels: tuple[str, ...] = LEVELS) -> str:
    """The page as text (index_page, every card rendered)."""
    return index_page(charts, out, formats, built_on, booklet=booklet, register=register, failing=failing,
                      categories=categories, word=word, levels=levels).decode("utf-8")


def index_page(charts: list[Chart], out: Path, formats: tuple[str, ...], built_on: date,
               *, booklet: bool, register: bool, failing: Sequence[FailingCard] = (),
               categories: tuple[str, ...] = CATEGORIES, word: bool = False, levels: tuple[str, ...] = LEVELS,
               cache: CardCache | None = None) -> bytes:
    """The page in UTF-8; risks counted and coloured by the project's level
    scale (`levels`).  `cache`: the cards of earlier pages (none: every
    card is rendered), updated with this page's."""
    from . import tables  # not at the top: the build imports this module before dot starts, and needs tables after
    from .cardcache import KeptCard

    charts = sorted(charts, key=sort_key)
    keys = [cache.key(chart) for chart in charts] if cache is not None else []
    found: list[KeptCard | None] = [cache.get(key) for key in keys] if cache is not None else [None] * len(charts)
    if cache is not None:
        cache.forget_unasked()  # the cards no chart asked for are not held while the others are rendered
    tallies = [kept.tally if kept is not None else tables.tally(chart) for chart, kept in zip(charts, found, strict=True)]
    stats = tables.tallied_statistics(zip((c.category for c in charts), tallies, strict=True), categories, levels)
    classes, css = level_classes(stats.levels)
    kept_cards: list[KeptCard] = []
    for n, (chart, kept) in enumerate(zip(charts, found, strict=True)):
        if kept is None or kept.shown != stats.levels:
            made = card(chart, formats, stats.levels)
            kept = KeptCard(tallies[n], made.types, stats.levels, *card_html(made, classes))
            if cache is not None:
                cache.put(keys[n], kept)
        kept_cards.append(kept)
    place = {id(chart): n for n, chart in enumerate(charts)}
    sections, pieces = [], []  # pieces: each category's cards as the page shows them, in the page's order
    for unit, members in department_groups(charts):
        numbers = [place[id(chart)] for chart in members]
        by_category: dict[str, list[int]] = {}
        for n in numbers:
            by_category.setdefault(charts[n].category, []).append(n)
        groups = [(category, by_category[category]) for category in dict.fromkeys((*categories, UNCATEGORISED))
                  if category in by_category]  # a category the project does not list has no cards
        own_booklet = f"{unit.folder}/{BOOKLET}"
        linked = booklet and unit.folder and (out / own_booklet).is_file()
        section_stats = tables.tallied_statistics([(charts[n].category, tallies[n]) for n in numbers], categories, levels)
        sections.append((unit, section_stats, groups, link(own_booklet) if linked else None))
    prefixes = [b""] if len(sections) == 1 else [f"d{d}-".encode() for d in range(1, len(sections) + 1)]
    laid_groups = []  # each piece's cards and their prefix
    for prefix, (_, _, groups, _) in zip(prefixes, sections, strict=True):
        for _, shown in groups:
            pieces.append(b"".join(b"".join((kept_cards[n].head, prefix, kept_cards[n].tail)) for n in shown))
            laid_groups.append((shown, prefix))
    if cache is not None:
        cache.save()
    bar_scale = max([c.risk_total for c in stats.by_category.values()] + [1])
    phones = next((c.phones for c in charts if c.phones.service or c.phones.supervision), Phones())
    risk_types = sorted({t for _, _, groups, _ in sections for _, shown in groups for n in shown
                         for t in kept_cards[n].types})
    department = cover_title(charts)
    for _ in range(_TRIES):
        mark = placeholder()
        page = html_environment().get_template("index.html.j2").render(
            department=department, version=__version__, built_on=built_on.isoformat(), stats=stats,
            sections=[Section(unit, section_stats, [(category, Group(len(shown), mark)) for category, shown in groups],
                              booklet_link) for unit, section_stats, groups, booklet_link in sections],
            levels=stats.levels, level_class=classes, level_css=css, bar_scale=bar_scale,
            booklet=href(BOOKLET) if booklet else None, register=href(REGISTER) if register else None, phones=phones,
            register_xlsx=href(REGISTER_XLSX) if register else None, booklet_docx=href(BOOKLET_DOCX) if word else None,
            failing=failing, failing_note=FAILING_NOTE, uncategorised=UNCATEGORISED, risk_types=risk_types)
        around = page.split(mark)
        if len(around) == len(pieces) + 1:
            break
    else:
        raise RuntimeError("index.html.j2 does not show every category's cards once")  # a defect of the template
    laid = [around[0].encode("utf-8")]
    for piece, text in zip(pieces, around[1:], strict=True):
        laid += [piece, text.encode("utf-8")]
    from .pagecards import PageCards, card_spans

    if isinstance(cache, PageCards):  # where each card is, for the next page (pagecards.py)
        spans = card_spans(len(laid[0]), [([kept_cards[n] for n in shown], prefix, len(laid[2 * k + 2]))
                                          for k, (shown, prefix) in enumerate(laid_groups)])
        cache.placed([keys[n] for shown, _ in laid_groups for n in shown],
                     [kept_cards[n] for shown, _ in laid_groups for n in shown], spans)
    return b"".join(laid)


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
