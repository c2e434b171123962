"""RC401's clause counts and RC402's character counts over the whole set,
kept from one lint to the next and brought up to date by the charts that
changed, so that rewording one chart of 4,000 does not count all 4,000
again.

They are kept beside the lint results (`lint-corpus.json`), signed with
the same key and trusted as little: the counts belong to a list of member
files, each with its cache key (its bytes, defaults, settings and code).
A member that changed or left is taken out by counting its old chart —
rebuilt from its cache entry under exactly that key — and a new one is
added by counting it.  When that cannot be done (no file, a damaged or
foreign one, an old entry gone, too much changed) everything is counted
afresh; the totals are then exactly what counting all charts gives.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .. import files
from ..entrybatch import opened_sealed, sealed
from ..model import Chart, Defaults, build_chart
from . import rules
from .cache import ResultCache, decode_results, signing_key
from .corpus_rules import KNOWN, Totals, all_text, phrase_text, uncommon_characters
from .diagnostics import Diagnostic
from .phrases import clause_counts

FILE_NAME = "lint-corpus.json"
_HEAD = b"riskchart lint corpus totals 1\n"
AFRESH_SHARE = 4  # when more than a quarter of the charts changed, counting all is as quick


def run_corpus_rules(charts: list[Chart], enabled: Callable[[str], bool], keys: dict[Path, str],
                     cache: ResultCache | None) -> list[Diagnostic]:
    """rules.run_corpus_rules, with RC401's and RC402's counts brought up to
    date from the last lint's when there is a cache."""
    known = totals(charts, keys, cache) if cache is not None and (enabled("RC401") or enabled("RC402")) else None
    token = KNOWN.set(known)
    try:
        return rules.run_corpus_rules(charts, enabled)
    finally:
        KNOWN.reset(token)


def counted(charts: list[Chart]) -> Totals:
    """The totals of `charts`, counted afresh."""
    return Totals(charts, clause_counts("\n".join(map(phrase_text, charts))),
                  uncommon_characters("\n".join(map(all_text, charts))))


def totals(charts: list[Chart], keys: dict[Path, str], cache: ResultCache) -> Totals:
    """The totals of `charts` (whose files have the cache `keys`), from the
    kept ones where they can be brought up to date, and kept for next time."""
    members = {str(chart.path): keys.get(chart.path) for chart in charts}
    kept = _read(cache.folder)
    found = _updated(kept, members, charts, cache) if kept is not None else None
    if found is None:
        found = counted(charts)
    if (kept is None or kept[0] != members) and None not in members.values():
        _write(cache.folder, members, found)
    return found


def _updated(kept: tuple[dict[str, str | None], Counter[str], Counter[str]], members: dict[str, str | None],
             charts: list[Chart], cache: ResultCache) -> Totals | None:
    old_members, clauses, characters = kept
    if None in members.values():
        return None  # a file without a key (changed while read): it cannot be told apart from one kept; count afresh
    left = [(name, key) for name, key in old_members.items() if members.get(name) != key]
    came = [chart for chart in charts if old_members.get(str(chart.path)) != members[str(chart.path)]]
    if AFRESH_SHARE * (len(left) + len(came)) > len(charts):
        return None
    for name, key in left:
        stored = cache.stored(Path(name), key) if key is not None else None
        old = _chart(Path(name), stored.results) if stored is not None else None
        if old is None:
            return None
        clauses.subtract(clause_counts(phrase_text(old)))
        characters.subtract(uncommon_characters(all_text(old)))
    for chart in came:
        clauses.update(clause_counts(phrase_text(chart)))
        characters.update(uncommon_characters(all_text(chart)))
    if any(n < 0 for n in clauses.values()) or any(n < 0 for n in characters.values()):
        return None  # taken out what was never counted: not these totals' members after all
    return Totals(charts, +clauses, +characters)


def _chart(path: Path, results: bytes) -> Chart | None:
    """A chart as its cache entry keeps it: its texts are what count
    (defaults add none of them)."""
    try:
        values = decode_results(path, results)[2]
        return build_chart(path, values, {}, Defaults()) if values is not None else None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def _read(folder: Path | None) -> tuple[dict[str, str | None], Counter[str], Counter[str]] | None:
    opened = opened_sealed(folder / FILE_NAME, _HEAD, signing_key(), separator=b"\n") if folder is not None else None
    if opened is None:
        return None
    data, start = opened
    try:
        found = json.loads(data[start:].decode("utf-8"))
        members = {str(name): str(key) for name, key in found["members"].items()}
        clauses = Counter({str(text): int(n) for text, n in found["clauses"]})
        characters = Counter({str(text): int(n) for text, n in found["characters"]})
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    return dict(members), clauses, characters


def _write(folder: Path | None, members: dict[str, str | None], found: Totals) -> None:
    secret = signing_key()
    if folder is None or secret is None:
        return
    try:
        body = json.dumps({"members": members, "clauses": list(found.clauses.items()),
                           "characters": list(found.characters.items())},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8: counted afresh each time
        return
    with contextlib.suppress(OSError):
        files.write_atomic(folder / FILE_NAME, sealed(_HEAD, body, secret, b"\n"))
