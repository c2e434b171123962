"""The index page's cards taken from the last page, as bytes.

Reading every card back from the card cache (cardcache.py: 17 MB, sealed,
a JSON index) took half the time of the page at 4,000 charts.  The last
page holds the same cards: its layout (`index.layout` in the output
folder's cache folder, sealed with the user's key like every cache there)
names each card's key (cardcache's), where its HTML before and after its
department's prefix is in the page, its risks' types and its chart's
counts (tables.Tally), the level columns the cards were rendered for, and
the page's stamp (build/stamps.py) as it was put in place, with the
SHA-256 of the bytes written.  A page with that stamp and those bytes is
the one the layout was made of: its unchanged cards are copied out of it;
the changed ones are rendered (indexpage.py).  No layout, another
version's or user's, or a page with another stamp or other bytes: the
card cache is used, as before.  Nothing in either is ever run.
"""

from __future__ import annotations

import json
import operator
import sys
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import files
from ..check.cache import installed_code, signing_key
from ..entrybatch import sealed
from .cardcache import CardCache, KeptCard
from .names import INDEX
from .setcache import read_headed
from .stampedfile import Stamp, is_stamp, read_stamped
from .tables import Tally

FILE_NAME = "index.layout"
FORMAT = 2
_HEAD = b"riskchart index layout, HMAC-SHA256 "
_MOST_BYTES = 64 << 20
_MOST_PAGE_BYTES = 1 << 30
# a card's numbers, then its risks of each level of its ORDER
HEAD_AT, HEAD_BYTES, TAIL_AT, TAIL_BYTES, DRAFT, STEPS, CODED, EXITS, TYPES, ORDER = range(10)
_RISKS = 10


class PageCards(CardCache):
    """Cards by key from the last page in `out` where it is provably the
    last build's, else from the card cache; `placed` keeps where this page's
    cards are, for `write_layout` once the page is in place."""

    def __init__(self, out: Path, fingerprints: Mapping[Path, str], formats: tuple[str, ...],
                 from_page: bool = True) -> None:
        super().__init__(out / files.OUTPUT_CACHE, fingerprints, formats)
        self.out = out
        self._page: dict[str, KeptCard] | None = None
        self._read = not from_page  # `from_page` False (build --force): the card cache only
        self.laid: tuple[list[str], list[KeptCard], list[tuple[int, int]]] | None = None

    def _old_cards(self) -> dict[str, KeptCard] | None:
        if not self._read:
            self._read = True
            self._page = _read_cards(self.out)
        return self._page

    def get(self, key: str) -> KeptCard | None:
        cards = self._old_cards()
        return super().get(key) if cards is None else cards.get(key)

    def put(self, key: str, kept: KeptCard) -> None:
        if self._old_cards() is None:
            super().put(key, kept)

    def forget_unasked(self) -> None:
        if self._old_cards() is None:
            super().forget_unasked()

    def save(self) -> None:
        if self._old_cards() is None:
            super().save()

    def placed(self, keys: list[str], cards: list[KeptCard], spans: list[tuple[int, int]]) -> None:
        """The page's cards (by key) and where each one's head and tail start in it."""
        self.laid = keys, cards, spans


def write_layout(cards: PageCards, stamp: Stamp | None) -> None:
    """Keep the layout of the page just put in place (best effort); none
    when the page is not as written (the old layout no longer fits)."""
    folder = files.output_cache(cards.out / files.OUTPUT_CACHE)
    secret = signing_key()
    if folder is None or secret is None or cards.laid is None:
        return
    if stamp is None:
        files.write_cache(folder / FILE_NAME, b"")
        return
    keys, kept, spans = cards.laid
    types = {value: n for n, value in enumerate(dict.fromkeys(card.types for card in kept))}
    orders = {value: n for n, value in enumerate(dict.fromkeys(tuple(level for level, _ in card.tally.risks)
                                                               for card in kept))}
    width = _RISKS + max(map(len, orders), default=0)
    numbers = array("q")
    for card, (head_at, tail_at) in zip(kept, spans, strict=True):
        part = card.tally
        row = [head_at, len(card.head), tail_at, len(card.tail), part.draft, part.steps, part.coded, part.exits,
               types[card.types], orders[tuple(level for level, _ in part.risks)], *(n for _, n in part.risks)]
        numbers.extend(row + [0] * (width - len(row)))
    shown = {card.shown for card in kept}
    head = {"format": FORMAT, "code": installed_code(), "byteorder": sys.byteorder,
            "keys": "".join(keys), "types": list(types), "orders": list(orders), "width": width,
            "shown": list(shown.pop()) if len(shown) == 1 else None, "stamp": list(stamp)}
    body = json.dumps(head, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"
    files.write_cache(folder / FILE_NAME, sealed(_HEAD, body + numbers.tobytes(), secret))


def _read_cards(out: Path) -> dict[str, KeptCard] | None:
    """The last page's cards by key, if its layout is ours and the page is the one it was made of."""
    found = read_headed(out / files.OUTPUT_CACHE, FILE_NAME, _HEAD, _MOST_BYTES)
    if found is None:
        return None
    try:
        return _cards(out, *found)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, OverflowError):
        return None


def _cards(out: Path, head: dict[str, Any], rest: memoryview) -> dict[str, KeptCard] | None:
    if head["format"] != FORMAT or head["code"] != installed_code() or head["byteorder"] != sys.byteorder \
            or head["shown"] is None:
        return None
    keys, width, stamp = head["keys"], head["width"], head["stamp"]
    types = [_texts(value) for value in head["types"]]
    orders = [_texts(value) for value in head["orders"]]
    shown = _texts(head["shown"])
    if type(keys) is not str or len(keys) % 64 or type(width) is not int or width < _RISKS \
            or not is_stamp(stamp):
        raise ValueError("not a layout")
    numbers = array("q")
    numbers.frombytes(rest)
    if len(numbers) != len(keys) // 64 * width or min(numbers, default=0) < 0:
        raise ValueError("not a layout")
    size, modified, inode, changed, digest = stamp
    page = read_stamped(out / INDEX, (size, modified, inode, changed, digest), 0, size) \
        if size <= _MOST_PAGE_BYTES else None
    if page is None:
        return None
    view = memoryview(page)
    columns = [numbers[field::width] for field in range(_RISKS)]
    head_at, head_bytes, tail_at, tail_bytes, draft, _, coded, _, _, _ = columns
    if max(map(operator.add, head_at, head_bytes), default=0) > size \
            or max(map(operator.add, tail_at, tail_bytes), default=0) > size \
            or max(draft, default=0) > 1 or max(coded, default=0) > 1:
        raise ValueError("not a layout")
    risks = list(zip(*(numbers[field::width] for field in range(_RISKS, width)), strict=True)) if width > _RISKS \
        else [()] * len(draft)
    tallies: dict[tuple[int, ...], Tally] = {}  # many charts count alike: each tally made once
    cards = {}
    for n, (head_at, head_bytes, tail_at, tail_bytes, draft, steps, coded, exits, kind, order, counts) \
            in enumerate(zip(*columns, risks, strict=True)):
        found = tallies.get((draft, steps, coded, exits, order, *counts))
        if found is None:
            levels = orders[order]
            found = tallies[draft, steps, coded, exits, order, *counts] = Tally(
                bool(draft), steps, bool(coded), exits, tuple(zip(levels, counts[:len(levels)], strict=True)))
        cards[keys[64 * n:64 * n + 64]] = KeptCard(found, types[kind], shown, view[head_at:head_at + head_bytes],
                                                   view[tail_at:tail_at + tail_bytes])
    return cards


def _texts(value: Any) -> tuple[str, ...]:
    if type(value) is not list or any(type(item) is not str for item in value):
        raise TypeError("not texts")
    return tuple(value)


def card_spans(first: int, groups: Sequence[tuple[Sequence[KeptCard], bytes, int]]) -> list[tuple[int, int]]:
    """Where each card's head and tail start in a page whose card groups
    (each: its cards, their prefix, and the length of the page's text after
    it) come after `first` bytes."""
    spans = []
    at = first
    for cards, prefix, after in groups:
        for card in cards:
            head = at
            at += len(card.head) + len(prefix)
            spans.append((head, at))
            at += len(card.tail)
        at += after
    return spans
