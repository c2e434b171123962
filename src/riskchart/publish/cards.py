"""The index page's cards: one chart each, rendered on its own.

A card depends on its chart, the formats linked and the page's level
columns alone, so the page (index.py) lays out cards kept from the last
build (cardcache.py) and renders only those of the charts that changed.
The one thing on a card that depends on where it stands, its department's
prefix in its `id`, is put in when the page is laid out: a card is kept as
its HTML before and after that prefix.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..check.schema import UNGRADED
from ..draw import templatefiles
from ..model import Chart

if TYPE_CHECKING:
    import jinja2

CARD_TEMPLATE = "index-card.html.j2"
LINKED_FORMATS = ("svg", "pdf", "png")  # what a card in the index links to, in this order


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


@cache
def html_environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templatefiles.template_folder())),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the package's own templates: no stat of the file for every card
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


def card(chart: Chart, formats: tuple[str, ...], levels: tuple[str, ...]) -> Card:
    """A chart's card; `levels`: the page's level columns."""
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


def card_html(shown: Card, level_class: Mapping[str, str]) -> tuple[bytes, bytes]:
    """A card's HTML (UTF-8) before and after its department's prefix.  The
    prefix is rendered as a random mark no chart can hold, then cut out."""
    template = html_environment().get_template(CARD_TEMPLATE)
    for _ in range(3):
        mark = placeholder()
        text = template.render(card=shown, prefix=mark, level_class=level_class)
        if text.count(mark) == 1:
            head, _, tail = text.partition(mark)
            # the template's last line break is dropped by Jinja: the page puts each card on lines of its own
            return head.encode("utf-8"), (tail + "\n").encode("utf-8")
    raise RuntimeError(f"{CARD_TEMPLATE} does not show the prefix once")  # a defect of the template


def placeholder() -> str:
    """A mark for a piece put into rendered HTML afterwards: random, so that
    no text of a chart can be it (a clash would be found and another drawn)."""
    from markupsafe import Markup

    return Markup(f"riskchart-{secrets.token_hex(16)}")
