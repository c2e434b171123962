"""The index page's cards kept between builds, so that a build renders
again only the cards of the charts that changed.

A card's entry holds its HTML (cards.py: before and after its department's
prefix), the page's level columns it was rendered for, its risks' types
and its chart's tally (tables.Tally: the page's counts need no chart read
again).  It is found by the chart's key (setcache.chart_key) under
riskchart's own code, the card's template and the formats linked; a card
rendered for other level columns (a chart of the set gained or lost its
last ungraded risk) is rendered again, its tally still used.  The entries
live in `index-cards.bin` in the output folder's cache folder, sealed and
checked as setcache.py says: a build appends the cards it rendered, and
those no page uses any more are dropped when the file is written anew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..check.cache import installed_code
from ..draw import templatefiles
from ..model import Chart
from .cards import CARD_TEMPLATE
from .setcache import Entry, EntryFile, KeptEntries, chart_key
from .tables import Tally

FILE_NAME = "index-cards.bin"
_MAGIC = b"riskchart index cards 1\n"


@dataclass(frozen=True)
class KeptCard:
    """A card as the page lays it out."""
    tally: Tally
    types: tuple[str, ...]   # its risks' types (the page's filter lists them all)
    shown: tuple[str, ...]   # the page's level columns it was rendered for
    head: bytes | memoryview  # its HTML before its department's prefix
    tail: bytes | memoryview  # and after


class CardCache(KeptEntries):
    """Cards by key, read from `folder`.  `fingerprints`: the chart files'
    fingerprints (build/freshness.py) by path; `formats`: those the cards link."""

    def __init__(self, folder: Path, fingerprints: Mapping[Path, str], formats: tuple[str, ...]) -> None:
        super().__init__(EntryFile(folder / FILE_NAME, _MAGIC))
        self.fingerprints = fingerprints
        template = (templatefiles.template_folder() / CARD_TEMPLATE).read_bytes()
        self._context = f"{installed_code()}|{hashlib.sha256(template).hexdigest()}|{formats!r}"

    def key(self, chart: Chart) -> str:
        return chart_key(self._context, chart, self.fingerprints.get(chart.path))

    def get(self, key: str) -> KeptCard | None:
        return self._found(key, _card)

    def put(self, key: str, kept: KeptCard) -> None:
        part = kept.tally
        self._put(key, ([list(kept.shown), list(kept.types), part.draft, part.steps, part.coded, part.exits,
                         [list(pair) for pair in part.risks]], [kept.head, kept.tail]))


def _card(entry: Entry) -> KeptCard:
    """One entry, every field checked (raises ValueError or TypeError)."""
    fields: Any
    fields, pieces = entry
    shown, types, draft, steps, coded, exits, risks = fields
    head, tail = pieces
    if not (_texts(shown) and _texts(types) and type(draft) is bool and type(coded) is bool
            and _count(steps) and _count(exits) and type(risks) is list
            and all(type(pair) is list and len(pair) == 2 and type(pair[0]) is str and _count(pair[1])
                    for pair in risks)):
        raise ValueError("not an entry of this cache")
    return KeptCard(Tally(draft, steps, coded, exits, tuple((level, number) for level, number in risks)),
                    tuple(types), tuple(shown), head, tail)


def _texts(value: object) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


def _count(value: object) -> bool:
    return type(value) is int and value >= 0
