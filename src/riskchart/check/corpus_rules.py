"""Corpus-wide rules: typos that only show when all charts are seen at once.

The charts are written from a small stock of standard phrases copied across
dozens of charts, so a phrase that is rare *and* one or two characters away
from a common one is very likely a slip.  Phrases are compared clause by
clause (split at Chinese punctuation); candidates come from a pigeonhole
index — with at most two edits, one of three pieces of the common clause
stands unchanged near its own position in the slip — so there is no
all-pairs comparison.
"""

from __future__ import annotations

import bisect
import codecs
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache

from ..model import Chart, ValuePath
from .diagnostics import Diagnostic
from .rules import chart_rule, chart_texts, corpus_rule, diagnostic_at, power_list_texts

CLAUSE_BREAK = re.compile(r"[，。；：、？！,.;:?!]+")
_CLAUSE_MARKS = "，。；：、？！,.;:?!"  # what CLAUSE_BREAK splits at
MIN_CLAUSE = 4           # shorter clauses differ legitimately by one character
LONG_CLAUSE = 6          # from this length on, two edits still count as "near"


# Compiled on first use: a character class spanning thousands of code points
# takes `re` milliseconds to compile, and most texts never reach these.
@cache
def _half_width() -> re.Pattern[str]:
    return re.compile(r"(?<=[\u3400-\u9fff])[,;:()]|[,;:()](?=[\u3400-\u9fff])")


@cache
def _cjk() -> re.Pattern[str]:
    return re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def _is_phrase(path: ValuePath) -> bool:
    """Sentences copied from the stock: risks, measures, legal bases and exits.
    (Time limits are not: 两个工作日 and 十个工作日 differ by design.)"""
    return len(path) == 4 or path[0] == "basis" or "exits" in path


def _items(chart: Chart) -> Iterable[tuple[ValuePath, str]]:
    return ((path, text) for path, text in chart_texts(chart) if _is_phrase(path))


def _phrases(chart: Chart) -> Iterator[str]:
    """The texts of `_items`, without building a path for each piece."""
    yield from chart.basis
    for step in chart.steps:
        yield from step.risks
        yield from step.measures
        for exit in step.exits:
            yield exit.when
            yield exit.to


def _all_text(chart: Chart) -> list[str]:
    """What chart_texts yields, without building a path for each piece."""
    texts = [chart.title, *(t for t in (chart.scope, chart.owner, chart.code) if t), *chart.basis]
    texts += [part for part in (chart.time_limit.statutory, chart.time_limit.promised) if part]
    for step in chart.steps:
        texts.append(step.name)
        texts.extend(step.risks)
        texts.extend(step.measures)
        texts += [t for t in (step.owner, step.note) if t]
        if step.time_limit:
            texts.append(step.time_limit)
        for exit in step.exits:
            texts += (exit.when, exit.to)
    return texts


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


def near_phrases(counts: Counter[str], corpus_text: str) -> dict[str, tuple[str, int]]:
    """Rare clause → (the common clause it is likely meant to be, distance).

    Of several common clauses near one slip, the most used is meant; of those
    used as often, the nearest; then the one the corpus uses first — the same
    answer whatever order the search meets them in."""
    index: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for clause, count in counts.items():
        if count >= 2:
            for start, end in _pieces(len(clause)):
                index[clause[start:end]].append((clause, start))
    first_use = {clause: number for number, clause in enumerate(counts)}
    found = {}
    for slip, count in counts.items():
        if count > 2:
            continue
        limit = _allowed(len(slip))
        near = {}  # common clause → its distance from the slip
        for candidate in _candidates(slip, limit, index):
            if counts[candidate] > count:
                distance = edit_distance(slip, candidate, limit)
                if distance <= limit and _looks_like_a_slip(slip, candidate, distance, count, corpus_text):
                    near[candidate] = distance
        if near:
            meant = max(near, key=lambda clause: (counts[clause], -near[clause], -first_use[clause]))
            found[slip] = (meant, near[meant])
    return found


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _looks_like_a_slip(slip: str, meant: str, distance: int, count: int, corpus_text: str) -> bool:
    """Tell a slip of the keyboard from a deliberate variant.

    A deliberate variant swaps in real words (检查 for 审查, 审定 for 审核),
    adds or drops a word (不执行 / 执行, …等), so what it newly writes occurs
    elsewhere in the corpus.  A slip writes character pairs that occur
    nowhere else (朱按, 单簧, 格限).
    """
    if distance == 1 and len(slip) != len(meant):
        return False
    novel = _bigrams(slip) - _bigrams(meant)
    return bool(novel) and all(corpus_text.count(pair) <= count + 1 for pair in novel)


@corpus_rule("RC401")
def near_duplicate_phrase(charts: list[Chart]) -> Iterator[Diagnostic]:
    """A rare phrase one or two characters away from a common one is a slip.
    Risks, measures, legal bases and exits are compared.

    passes: `- 未按承诺时限办理事项。` where the corpus uses it elsewhere too
    fails:  `- 朱按承诺时限办理事项。` beside 12 uses of 「未按承诺时限办理事项」
    """
    texts = ["\n".join(_phrases(chart)) for chart in charts]
    corpus_text = "\n".join(texts)
    # One split of the whole corpus; the newline keeps items apart.  Every
    # break made a newline first: str.split is twice as fast as re.split.
    broken = corpus_text
    for mark in _CLAUSE_MARKS:
        broken = broken.replace(mark, "\n")
    counts: Counter[str] = Counter()
    for clause, count in Counter(broken.split("\n")).items():  # counted in C, then tidied
        clause = clause.strip()
        if len(clause) >= MIN_CLAUSE:
            counts[clause] += count
    slips = near_phrases(counts, corpus_text)
    if not slips:
        return
    holding = _charts_holding(slips, texts, corpus_text)
    for chart, path, text in ((c, p, t) for n, c in enumerate(charts) if n in holding for p, t in _items(c)):
        for part in clauses(text):
            if part in slips:
                meant, distance = slips[part]
                yield diagnostic_at(chart, path, "RC401",
                          f"「{part}」与 {counts[meant]} 处的「{meant}」仅差 {distance} 字，是否应为「{meant}」？")


def _charts_holding(needles: Iterable[str], texts: list[str], corpus_text: str) -> set[int]:
    """The numbers of the charts whose text (`texts`, joined by a line break
    into `corpus_text`) holds one of `needles`: found in the corpus at once
    instead of in every text of every chart, then told apart by where."""
    starts, at = [], 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    found = set()
    for needle in needles:
        where = corpus_text.find(needle)
        while where >= 0:
            found.add(bisect.bisect_right(starts, where) - 1)
            where = corpus_text.find(needle, where + 1)
    return found


_UNCOMMON_FOUND = threading.local()


def _note_uncommon(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    _UNCOMMON_FOUND.runs.append(error.object[error.start:error.end])
    return "", error.end


codecs.register_error("riskchart-uncommon", _note_uncommon)


def uncommon_characters(text: str) -> Counter[str]:
    """Each character of `text` outside GB2312 and ASCII, with its count.
    The GB2312 encoder walks the text in C and hands over only the rest:
    a set of a whole corpus's characters took a tenth of a second per
    million characters."""
    _UNCOMMON_FOUND.runs = []
    text.encode("gb2312", "riskchart-uncommon")
    return Counter("".join(_UNCOMMON_FOUND.runs))


@lru_cache(maxsize=8192)
def is_common_character(char: str) -> bool:
    """GB2312 levels 1 and 2 (and ASCII) are the yardstick of ordinary text."""
    if char.isascii():
        return True
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@corpus_rule("RC402")
def odd_character(charts: list[Chart]) -> Iterator[Diagnostic]:
    """A character outside GB2312 that the corpus hardly uses is likely garble.

    passes: `- 审核申报等级的上一级证书原件。`
    fails:  `- 鶐申报等级的上一级证书原件。` (鶐 is not a common character)
    """
    texts = ["\n".join(_all_text(chart)) for chart in charts]
    corpus_text = "\n".join(texts)
    counts = {c: n for c, n in uncommon_characters(corpus_text).items() if _cjk().match(c)}
    odd = {c for c, n in counts.items() if n <= 2}
    if not odd:
        return
    holding = _charts_holding(odd, texts, corpus_text)
    for chart, path, text in ((c, p, t) for n, c in enumerate(charts) if n in holding for p, t in chart_texts(c)):
        for char in sorted(odd.intersection(text), key=text.index):
            yield diagnostic_at(chart, path, "RC402",
                      f"罕见字「{char}」（不在常用字 GB2312 中，全部图中仅出现 {counts[char]} 次）："
                      f"可能是输入法误选或乱码，请核对原件")


@chart_rule("RC403")
def punctuation(chart: Chart) -> Iterator[Diagnostic]:
    """Chinese text takes full-width punctuation, once, and a list ends alike.

    passes: `- 擅自改动内容，制作文书不规范。`
    fails:  `- 擅自改动内容,制作文书不规范。。` (half-width comma, doubled 。);
            also in legal bases, time limits and exits

    One chart at a time, but with the corpus rules: it guards the same
    copied stock of phrases.
    """
    for i, step in enumerate(chart.steps):
        for kind, items in (("risks", step.risks), ("measures", step.measures)):
            if items and _SUSPECT_PUNCTUATION.search("\n".join(items)):  # one search for the usual clean list
                for j, item in enumerate(items):
                    yield from _punctuation_of(chart, ("steps", i, kind, j), item)
            if len(items) >= 2:
                ends = [item.rstrip().endswith("。") for item in items]
                if ends.count(False) == 1:
                    j = ends.index(False)
                    if not items[j].rstrip().endswith("："):
                        yield diagnostic_at(chart, ("steps", i, kind, j), "RC403",
                                            f"「{items[j]}」末尾缺少“。”（同一列表的其他条目都以“。”结尾）")
    for path, text in power_list_texts(chart):
        if _SUSPECT_PUNCTUATION.search(text):
            yield from _punctuation_of(chart, path, text)


_FULL_WIDTH = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）"}


_SUSPECT_PUNCTUATION = re.compile(r'[,;:()“”‘’"]|。。|，，')


def _punctuation_of(chart: Chart, path: ValuePath, text: str) -> Iterator[Diagnostic]:
    half = _half_width().search(text)
    if half:
        mark = half.group()
        yield diagnostic_at(chart, path, "RC403", f"中文里用了半角“{mark}”，应为全角“{_FULL_WIDTH[mark]}”")
    if "。。" in text or "，，" in text:
        yield diagnostic_at(chart, path, "RC403", "标点重复（“。。”或“，，”），请删去一个")
    if text.count("“") != text.count("”") or text.count("‘") != text.count("’") or text.count('"') % 2:
        yield diagnostic_at(chart, path, "RC403", "引号不成对：可能多打或漏打了一个引号")


@corpus_rule("RC404")
def step_name_drift(charts: list[Chart]) -> Iterator[Diagnostic]:
    """One spelling of a step, or of an exit's destination, where the
    category's other charts use another.

    passes: 事后监管 in every chart of a category (审查 / 审核 both common is fine)
    fails:  事后监督 once beside 事后监管 in six charts of the same category;
            an exit `to: 不予受里` beside `to: 不予受理` in three others
    """
    names: dict[str, Counter[str]] = defaultdict(Counter)
    destinations: dict[str, Counter[str]] = defaultdict(Counter)
    for chart in charts:
        names[chart.category].update({step.name for step in chart.steps})
        destinations[chart.category].update({exit.to for step in chart.steps for exit in step.exits})
    for chart in charts:
        for i, step in enumerate(chart.steps):
            usual = _usual_spelling(step.name, names[chart.category])
            if usual:
                yield diagnostic_at(chart, ("steps", i, "name"), "RC404",
                          f"环节「{step.name}」在{chart.category}类中仅此一处，"
                          f"其他 {names[chart.category][usual]} 张图作「{usual}」，是否应统一？")
            for j, exit in enumerate(step.exits):
                usual = _usual_spelling(exit.to, destinations[chart.category])
                if usual:
                    yield diagnostic_at(chart, ("steps", i, "exits", j, "to"), "RC404",
                              f"去向「{exit.to}」在{chart.category}类中仅此一处，"
                              f"其他 {destinations[chart.category][usual]} 张图作「{usual}」，是否应统一？")


def _usual_spelling(name: str, counts: Counter[str]) -> str | None:
    """The common spelling one character away from a name used only once."""
    # two-character names (审查 / 审核, 管理 / 受理) differ by design
    if counts[name] != 1 or len(name) < 3:
        return None
    return next((n for n, c in counts.most_common() if c >= 3 and len(n) == len(name)
                 and edit_distance(n, name, 1) == 1), None)
