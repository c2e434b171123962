"""Near phrases: the clause counting and search behind RC401.

Phrases are compared clause by clause (split at Chinese punctuation);
candidates come from a pigeonhole index — with at most two edits, one of
three pieces of the common clause stands unchanged near its own position
in the slip — so there is no all-pairs comparison.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

CLAUSE_BREAK = re.compile(r"[，。；：、？！,.;:?!]+")
_CLAUSE_MARKS = "，。；：、？！,.;:?!"  # what CLAUSE_BREAK splits at
MIN_CLAUSE = 4           # shorter clauses differ legitimately by one character
LONG_CLAUSE = 6          # from this length on, two edits still count as "near"



def clause_counts(text: str) -> Counter[str]:
    """Each clause of `text` (MIN_CLAUSE long or more) with its count, in the
    order of first use.  One split of the whole text; the newline keeps
    items apart.  Every break made a newline first: str.split is twice as
    fast as re.split.  A corpus's counts are its charts' counts added up."""
    broken = text
    for mark in _CLAUSE_MARKS:
        broken = broken.replace(mark, "\n")
    counts: Counter[str] = Counter()
    for clause, count in Counter(broken.split("\n")).items():  # counted in C, then tidied
        clause = clause.strip()
        if len(clause) >= MIN_CLAUSE:
            counts[clause] += count
    return counts


def clauses(text: str) -> list[str]:
    return [c.strip() for c in CLAUSE_BREAK.split(text) if len(c.strip()) >= MIN_CLAUSE]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance when it is at most `limit`; otherwise a number
    above `limit` (limit + 1 as soon as that is certain).

    Only the cells within `limit` of the table's diagonal are worked out
    (a path through any other costs more than `limit`); those outside
    count as limit + 1, so a result above `limit` stays above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    beyond = limit + 1
    previous = [min(j, beyond) for j in range(len(b) + 1)]
    for i, char in enumerate(a, 1):
        first, last = max(1, i - limit), min(len(b), i + limit)
        current = [beyond] * (len(b) + 1)
        current[0] = min(i, beyond)
        for j in range(first, last + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != b[j - 1]))
        if min(current[first - 1:last + 1]) > limit:
            return beyond
        previous = current
    return min(previous[-1], beyond)


def _allowed(length: int) -> int:
    return 2 if length >= LONG_CLAUSE else 1


def _pieces(length: int) -> list[tuple[int, int]]:
    first, second = length // 3, 2 * length // 3
    return [(0, first), (first, second), (second, length)]


def _candidates(slip: str, limit: int, index: dict[str, list[tuple[str, int]]]) -> set[str]:
    """The indexed clauses that may lie within `limit` edits of `slip`: of a
    length at most `limit` away, with one of their three pieces standing in
    the slip at most `limit` places from its own.  With at most two edits
    one piece stays whole, and edits before it shift it by at most `limit`,
    so every clause that near is among them (the distance check follows)."""
    found: set[str] = set()
    for length in range(len(slip) - limit, len(slip) + limit + 1):
        for start, end in _pieces(max(length, 0)):
            size = end - start
            for offset in range(max(0, start - limit), min(len(slip) - size, start + limit) + 1):
                found.update(candidate for candidate, at in index.get(slip[offset:offset + size], ())
                             if at == start and len(candidate) == length)
    return found


def near_phrases(counts: Counter[str], corpus_text: str | Callable[[], str],
                 first_use: Callable[[], dict[str, int]] | None = None) -> dict[str, tuple[str, int]]:
    """Rare clause → (the common clause it is likely meant to be, distance).

    Of several common clauses near one slip, the most used is meant; of those
    used as often, the nearest; then the one the corpus uses first — the same
    answer whatever order the search meets them in.  `corpus_text` (or what
    makes it, called only when a pair of characters must be counted) and
    `first_use` (each clause's place in the corpus; by default the order of
    `counts`, asked only on a tie) may come late."""
    index: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for clause, count in counts.items():
        if count >= 2:
            for start, end in _pieces(len(clause)):
                index[clause[start:end]].append((clause, start))
    text = Late(corpus_text)
    places = Late(first_use or (lambda: {clause: number for number, clause in enumerate(counts)}))
    found = {}
    for slip, count in counts.items():
        if count > 2:
            continue
        limit = _allowed(len(slip))
        near = {}  # common clause → its distance from the slip
        for candidate in _candidates(slip, limit, index):
            if counts[candidate] > count:
                distance = edit_distance(slip, candidate, limit)
                if distance <= limit and _looks_like_a_slip(slip, candidate, distance, count, text):
                    near[candidate] = distance
        if near:
            best = max((counts[clause], -near[clause]) for clause in near)
            tied = [clause for clause in near if (counts[clause], -near[clause]) == best]
            meant = tied[0] if len(tied) == 1 else min(tied, key=lambda clause: places()[clause])
            found[slip] = (meant, near[meant])
    return found


class Late:
    """A value made on first use, once (`made` a function), or given."""

    def __init__(self, made: Any) -> None:
        self._made, self._value, self._done = made, None, not callable(made)
        if self._done:
            self._value = made

    def __call__(self) -> Any:
        if not self._done:
            self._value, self._done = self._made(), True
        return self._value


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _looks_like_a_slip(slip: str, meant: str, distance: int, count: int, corpus_text: Late) -> bool:
    """Tell a slip of the keyboard from a deliberate variant.

    A deliberate variant swaps in real words (检查 for 审查, 审定 for 审核),
    adds or drops a word (不执行 / 执行, …等), so what it newly writes occurs
    elsewhere in the corpus.  A slip writes character pairs that occur
    nowhere else (朱按, 单簧, 格限).
    """
    if distance == 1 and len(slip) != len(meant):
        return False
    novel = _bigrams(slip) - _bigrams(meant)
    return bool(novel) and all(corpus_text().count(pair) <= count + 1 for pair in novel)
