"""Corpus-wide rules: typos that only show when all charts are seen at once.

The charts are written from a small stock of standard phrases copied across
dozens of charts, so a phrase that is rare *and* one or two characters away
from a common one is very likely a slip (the search: phrases.py).
"""

from __future__ import annotations

import bisect
import codecs
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, lru_cache

from ..model import Chart, ValuePath
from .diagnostics import Diagnostic
from .phrases import Late, clause_counts, clauses, edit_distance, near_phrases
from .rules import chart_rule, chart_texts, corpus_rule, diagnostic_at, power_list_texts


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


def phrase_text(chart: Chart) -> str:
    """The chart's phrases, a line each: its share of RC401's corpus."""
    return "\n".join(_phrases(chart))


def all_text(chart: Chart) -> str:
    """All the chart's text, a line each: its share of RC402's corpus."""
    return "\n".join(_all_text(chart))


@dataclass(frozen=True)
class Totals:
    """What RC401 and RC402 count over a corpus, known beforehand (kept
    from the last lint and updated by the charts that changed:
    corpus_totals.py) for exactly the list of charts `charts`."""
    charts: list[Chart]
    clauses: Counter[str]      # clause_counts of every chart's phrase_text
    characters: Counter[str]   # uncommon_characters of every chart's all_text


KNOWN: ContextVar[Totals | None] = ContextVar("KNOWN", default=None)


def _known(charts: list[Chart]) -> Totals | None:
    known = KNOWN.get()
    return known if known is not None and known.charts is charts else None


@corpus_rule("RC401")
def near_duplicate_phrase(charts: list[Chart]) -> Iterator[Diagnostic]:
    """A rare phrase one or two characters away from a common one is a slip.
    Risks, measures, legal bases and exits are compared.

    passes: `- 未按承诺时限办理事项。` where the corpus uses it elsewhere too
    fails:  `- 朱按承诺时限办理事项。` beside 12 uses of 「未按承诺时限办理事项」
    """
    texts = Late(lambda: [phrase_text(chart) for chart in charts])
    corpus_text = Late(lambda: "\n".join(texts()))
    known = _known(charts)
    if known is None:
        counts = clause_counts(corpus_text())
        slips = near_phrases(counts, corpus_text)
    else:  # kept from the last lint: the corpus's own order is made only if a tie asks for it
        counts = known.clauses
        slips = near_phrases(counts, corpus_text,
                             lambda: {clause: number for number, clause in enumerate(clause_counts(corpus_text()))})
    if not slips:
        return
    holding = _charts_holding(slips, texts(), corpus_text())
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
    texts = Late(lambda: [all_text(chart) for chart in charts])
    corpus_text = Late(lambda: "\n".join(texts()))
    known = _known(charts)
    found = uncommon_characters(corpus_text()) if known is None else known.characters
    counts = {c: n for c, n in found.items() if _cjk().match(c)}
    odd = {c for c, n in counts.items() if n <= 2}
    if not odd:
        return
    holding = _charts_holding(odd, texts(), corpus_text())
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
