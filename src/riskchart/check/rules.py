"""Lint rules on the model: one small function per code, registered in
`RULES`.  A chart rule sees one chart, a corpus rule sees all of them.

Each docstring shows one passing and one failing example; README lists
the codes and a test keeps the table, README and examples in step.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from .. import style
from ..draw import page
from ..model import Chart, Step, ValuePath
from ..style import FORMATS
from .characters import file_name_problem, printable, safe_file_name
from .diagnostics import Diagnostic, make

FILE_NAME = re.compile(r"(?P<number>[0-9]+)-\S+")
# "1." "2、" "（3）" — but not "1.5倍", "10，000元" or "3：30", where a digit follows;
# circled and parenthesised numbers "①" "⑴" "⒈" "❶"; Chinese "一、" "（二）".
_CIRCLED = "\u2460-\u249b\u24ea-\u24ff\u2776-\u2793"
_CHINESE_NUMERALS = "一二三四五六七八九十"
_NUMBER_STARTS = frozenset(" \u3000(（0123456789０１２３４５６７８９" + _CHINESE_NUMERALS) \
    | {chr(c) for c in (*range(0x2460, 0x249C), *range(0x24EA, 0x2500), *range(0x2776, 0x2794))}


@cache  # compiled on first use (milliseconds): only an item starting like a number needs it
def _item_number() -> re.Pattern[str]:
    return re.compile(
        r"\s*(?:[0-9０-９]{1,3}\s*[.．、,，:：)）](?![0-9０-９])|[(（][0-9０-９]{1,3}[)）]"
        rf"|[{_CIRCLED}]\s*[.．、]?|[{_CHINESE_NUMERALS}]{{1,3}}、|[(（][{_CHINESE_NUMERALS}]{{1,3}}[)）])\s*")


@dataclass(frozen=True)
class Rule:
    code: str
    check: Callable[[Any], Iterable[Diagnostic]]  # of one Chart, or of a list of them for a corpus rule
    corpus: bool = False


RULES: dict[str, Rule] = {}


_Check = TypeVar("_Check", bound=Callable[[Any], Iterable[Diagnostic]])


# Runs at import, before mutmut picks a mutant: a mutant here could never be switched on.
def chart_rule(code: str) -> Callable[[_Check], _Check]:  # pragma: no mutate block
    def register(check: _Check) -> _Check:
        RULES[code] = Rule(code, check)
        return check
    return register


# Runs at import, before mutmut picks a mutant: a mutant here could never be switched on.
def corpus_rule(code: str) -> Callable[[_Check], _Check]:  # pragma: no mutate block
    def register(check: _Check) -> _Check:
        RULES[code] = Rule(code, check, corpus=True)
        return check
    return register


def run_chart_rules(chart: Chart, enabled: Callable[[str], bool] = lambda code: True) -> list[Diagnostic]:
    return [d for rule in RULES.values() if not rule.corpus and enabled(rule.code) for d in rule.check(chart)]


def run_corpus_rules(charts: list[Chart], enabled: Callable[[str], bool] = lambda code: True) -> list[Diagnostic]:
    return [d for rule in RULES.values() if rule.corpus and enabled(rule.code) for d in rule.check(charts)]


def run_rules(charts: list[Chart], enabled: Callable[[str], bool] = lambda code: True) -> list[Diagnostic]:
    found = [d for chart in charts for d in run_chart_rules(chart, enabled)]
    return found + run_corpus_rules(charts, enabled)


def diagnostic_at(chart: Chart, path: ValuePath, code: str, message: str) -> Diagnostic:
    line, column = chart.where(*path)
    return make(chart.path, line, column, code, message)


def chart_texts(chart: Chart) -> Iterable[tuple[ValuePath, str]]:
    """Every piece of user text with its path."""
    yield ("title",), chart.title
    if chart.scope:
        yield ("scope",), chart.scope
    if chart.owner:
        yield ("owner",), chart.owner
    if chart.code:
        yield ("code",), chart.code
    yield from power_list_texts(chart)
    for i, step in enumerate(chart.steps):
        yield ("steps", i, "name"), step.name
        for kind in ("risks", "measures"):
            for j, item in enumerate(getattr(step, kind)):
                yield ("steps", i, kind, j), item
        if step.owner:
            yield ("steps", i, "owner"), step.owner
        if step.note:
            yield ("steps", i, "note"), step.note


def power_list_texts(chart: Chart) -> Iterator[tuple[ValuePath, str]]:
    """Legal bases, time limits and exits with their paths (a chart without them costs a glance)."""
    for j, basis in enumerate(chart.basis):
        yield ("basis", j), basis
    for part in ("statutory", "promised"):
        if getattr(chart.time_limit, part):
            yield ("time_limit", part), getattr(chart.time_limit, part)
    for i, step in enumerate(chart.steps):
        if step.time_limit:
            yield ("steps", i, "time_limit"), step.time_limit
        for j, exit in enumerate(step.exits):
            yield ("steps", i, "exits", j, "when"), exit.when
            yield ("steps", i, "exits", j, "to"), exit.to


def is_item(path: ValuePath) -> bool:
    """A numbered list item: a risk, a measure or a legal basis (the renderer numbers them)."""
    return len(path) == 4 or path[0] == "basis"


@chart_rule("RC201")
def id_matches_file_name(chart: Chart) -> Iterator[Diagnostic]:
    """The id equals the number before the first '-' of the file name.

    passes: 07-带薪年休假.yaml with `id: 7`
    fails:  07-带薪年休假.yaml with `id: 8`
    """
    named = FILE_NAME.fullmatch(chart.stem)
    if named and int(named["number"]) != chart.id:
        yield diagnostic_at(chart, ("id",), "RC201",
            f"id 为 {chart.id}，但文件名编号为 {named['number']}：两者须一致（改 id 或改文件名）")


@chart_rule("RC202")
def file_name_has_number(chart: Chart) -> Iterator[Diagnostic]:
    """File names are `NN-短名.yaml`, zero-padded so they sort in order.

    passes: 07-带薪年休假.yaml
    fails:  带薪年休假.yaml
    """
    if not FILE_NAME.fullmatch(chart.stem):
        yield make(chart.path, 1, 1, "RC202",
            f"文件名应为「编号-简称.yaml」，如 {chart.id:02d}-{chart.title[:6]}.yaml，以便按编号排序")


@chart_rule("RC211")
def file_name_is_safe(chart: Chart) -> Iterator[Diagnostic]:
    """File and folder names become links in index.html, folders in out/ and
    words on command lines: only letters, digits, Chinese punctuation and
    - _ . , no leading - or ., and valid UTF-8.

    passes: 07-带薪年休假（试行）.yaml, 食品科/01-食品经营许可.yaml
    fails:  javascript:alert(1).yaml, 07 带薪年休假.yaml, -07-带薪年休假.yaml, 食品 科/01-a.yaml
    """
    for folder in chart.folder.split("/") if chart.folder else ():
        problem = file_name_problem(folder, "文件夹名")
        if problem:
            yield make(chart.path, 1, 1, "RC211",
                f"{problem}：文件夹名只能用汉字等文字、数字、中文标点和 - _ .，且不能以 - 或 . 开头；"
                f"请把文件夹「{printable(folder)}」改名，如 {safe_file_name(folder)}")
            return
    problem = file_name_problem(chart.path.name)
    if problem:
        yield make(chart.path, 1, 1, "RC211",
            f"{problem}：文件名只能用汉字等文字、数字、中文标点和 - _ .，且不能以 - 或 . 开头；"
            f"请改名，如 {safe_file_name(chart.path.name)}")


@corpus_rule("RC203")
def unique_ids(charts: list[Chart]) -> Iterator[Diagnostic]:
    """No two charts of one department share an id; each department
    (a folder whose _defaults.yaml sets department) numbers from 1.

    passes: 01-a.yaml `id: 1`, 02-b.yaml `id: 2`; 食品科/01-a.yaml and 特设科/01-b.yaml both `id: 1`
    fails:  01-a.yaml `id: 1`, 02-b.yaml `id: 1`
    """
    yield from _duplicates(charts, lambda c: (c.unit.folder, c.id), ("id",), "RC203", "id {value}")


@corpus_rule("RC204")
def unique_titles(charts: list[Chart]) -> Iterator[Diagnostic]:
    """No two charts of one department share a title (职权名称).

    passes: `title: 劳动用工备案` and `title: 集体合同审查`
    fails:  `title: 劳动用工备案` in two files of one department
    """
    yield from _duplicates(charts, lambda c: (c.unit.folder, c.title), ("title",), "RC204", "职权名称「{value}」")


@corpus_rule("RC213")
def unique_codes(charts: list[Chart]) -> Iterator[Diagnostic]:
    """No two charts of one department share a code (职权编码).

    passes: `code: 140403-XK-0007` and `code: 140403-XK-0008`
    fails:  `code: 140403-XK-0007` in two charts of the same department
    """
    coded = [c for c in charts if c.code]
    yield from _duplicates(coded, lambda c: (c.unit.folder, c.code), ("code",), "RC213",
                           "本部门的职权编码 {value}")


# Names of the set's own outputs (index.html, booklet.pdf, risk-register.csv)
_SET_STEMS = {"index": "index.html", "booklet": "booklet.pdf", "risk-register": "risk-register.csv"}


@corpus_rule("RC212")
def unique_output_names(charts: list[Chart]) -> Iterator[Diagnostic]:
    """Every chart's outputs get a name of their own in out/, which mirrors
    the charts folder: no file stem equal to a set output's (a department's
    booklet.pdf sits in its folder), nor to another chart's in the same
    folder of out/, nor a folder named like a chart's output (case ignored).

    passes: 01-a.yaml and 02-b.yaml; 食品科/01-a.yaml and 特设科/01-a.yaml
    fails:  booklet.yaml; or a/01-a.yaml and b/01-a.yaml given without a charts folder above them
    """
    holders: dict[str, list[Chart]] = defaultdict(list)
    for chart in sorted(charts, key=lambda c: str(c.path)):
        holders[chart.out_name.casefold()].append(chart)
        if chart.stem.casefold() in _SET_STEMS:
            yield make(chart.path, 1, 1, "RC212",
                f"文件名「{chart.stem}」与汇编输出 {_SET_STEMS[chart.stem.casefold()]} 重名，会互相覆盖：请改名，"
                f"如 {chart.id:02d}-{chart.stem}.yaml")
    for same in holders.values():
        for chart in same[1:]:
            yield make(chart.path, 1, 1, "RC212",
                f"文件名「{chart.stem}」与 {same[0].path} 相同，两图的输出文件会互相覆盖：请改名")
    outputs = {f"{name}.{fmt}" for name in holders for fmt in FORMATS}
    for chart in charts:
        parts = chart.folder.casefold().split("/") if chart.folder else []
        for depth in range(1, len(parts) + 1):
            if "/".join(parts[:depth]) in outputs:
                yield make(chart.path, 1, 1, "RC212",
                    f"文件夹「{'/'.join(chart.folder.split('/')[:depth])}」与另一张图的输出文件同名，"
                    f"会互相覆盖：请把文件夹改名")


def _duplicates(charts: list[Chart], key: Callable[[Chart], Hashable], path: ValuePath, code: str,
                what: str) -> Iterator[Diagnostic]:
    holders: dict[Hashable, list[Chart]] = defaultdict(list)
    for chart in sorted(charts, key=lambda c: str(c.path)):
        holders[key(chart)].append(chart)
    for value, same in holders.items():
        for chart in same[1:]:
            first = same[0]
            line, _ = first.where(*path)
            where = first.path.name if first.path.parent == chart.path.parent else str(first.path)
            yield diagnostic_at(chart, path, code,
                f"{what.format(value=value[-1] if isinstance(value, tuple) else value)} 已在 {where} 第 {line} 行使用")


@chart_rule("RC205")
def unique_step_names(chart: Chart) -> Iterator[Diagnostic]:
    """Step names are unique within a chart.

    passes: 申请 → 受理 → 审查
    fails:  申请 → 受理 → 受理
    """
    seen: dict[str, int] = {}
    for i, step in enumerate(chart.steps):
        if step.name in seen:
            yield diagnostic_at(chart, ("steps", i, "name"), "RC205",
                f"环节「{step.name}」与第 {seen[step.name] + 1} 个环节重名（常见于复制后忘记改名）")
        seen.setdefault(step.name, i)


@chart_rule("RC206")
def risks_have_level(chart: Chart) -> Iterator[Diagnostic]:
    """A step with risks states their level — where the project's
    riskchart.toml says `require = ["level"]`; elsewhere RC306 warns.

    passes: `{name: 受理, level: 中, risks: [故意刁难申请人。]}`
    fails:  `{name: 受理, risks: [故意刁难申请人。]}`
    """
    for i, step in _steps_with_unrated_risks(chart):
        yield diagnostic_at(chart, ("steps", i), "RC206",
                            f"环节「{step.name}」有风险点，但没有写 level（风险等级）：本项目要求每处风险点都评定等级")


@chart_rule("RC306")
def risks_without_level(chart: Chart) -> Iterator[Diagnostic]:
    """Risks whose level the department did not assess are drawn without
    a level row; the warning keeps them in view.  Off where the project
    requires levels (then RC206 makes it an error).

    passes: `{name: 受理, level: 中, risks: [故意刁难申请人。]}`
    fails:  `{name: 受理, risks: [故意刁难申请人。]}`
    """
    for i, step in _steps_with_unrated_risks(chart):
        yield diagnostic_at(chart, ("steps", i), "RC306",
                            f"环节「{step.name}」的风险点未评定风险等级：图上不印等级；部门评定后写 level")


def _steps_with_unrated_risks(chart: Chart) -> Iterator[tuple[int, Step]]:
    """(index, step) of each step with risks and no level."""
    return ((i, step) for i, step in enumerate(chart.steps) if step.risks and not step.level)


@chart_rule("RC207")
def measures_have_owner(chart: Chart) -> Iterator[Diagnostic]:
    """A step with measures names who is responsible, itself or through
    the chart's `owner` — where the project says `require = ["owner"]`;
    elsewhere RC307 warns.

    passes: `{name: 受理, measures: [建立受理单制度。], owner: 受理人}`
    fails:  `{name: 受理, measures: [建立受理单制度。]}` in a chart without `owner`
    """
    for i, step in _steps_with_unowned_measures(chart):
        yield diagnostic_at(chart, ("steps", i), "RC207", f"环节「{step.name}」有防控措施，但没有写 owner（责任人）")


@chart_rule("RC307")
def measures_without_owner(chart: Chart) -> Iterator[Diagnostic]:
    """Measures nobody answers for: neither the step nor the chart names
    an owner.  Off where the project requires owners (then RC207).

    passes: `owner: 主管税务机关` on the chart, or on the step with the measures
    fails:  `{name: 受理, measures: [建立受理单制度。]}` in a chart without `owner`
    """
    for i, step in _steps_with_unowned_measures(chart):
        yield diagnostic_at(chart, ("steps", i), "RC307",
                            f"环节「{step.name}」的防控措施没有责任人：在环节或整张图上写 owner（责任人或责任单位）")


def _steps_with_unowned_measures(chart: Chart) -> Iterator[tuple[int, Step]]:
    """(index, step) of each step with measures that neither it nor the chart gives an owner."""
    return ((i, step) for i, step in enumerate(chart.steps) if step.measures and not chart.owner_of(step))


@chart_rule("RC308")
def chart_without_category(chart: Chart) -> Iterator[Diagnostic]:
    """A chart without a category is listed under 未分类 in the index,
    booklet and register.  Off where the project requires categories
    (then a missing category is RC103).

    passes: `category: 行政许可`
    fails:  a chart without `category`
    """
    if not chart.categorised:
        yield make(chart.path, 1, 1, "RC308",
            f"没有写 category（职权类别）：此图列入「{chart.category}」")


@chart_rule("RC208")
def level_has_risks(chart: Chart) -> Iterator[Diagnostic]:
    """A level without risks has nothing to qualify.

    passes: `{name: 受理, level: 中, risks: [故意刁难申请人。]}`
    fails:  `{name: 受理, level: 中}`
    """
    for i, step in enumerate(chart.steps):
        if step.level and not step.risks:
            yield diagnostic_at(chart, ("steps", i, "level"), "RC208",
                f"环节「{step.name}」写了风险等级，却没有风险点（risks）")


@chart_rule("RC209")
def owner_has_measures(chart: Chart) -> Iterator[Diagnostic]:
    """An owner without measures is responsible for nothing.

    passes: `{name: 受理, measures: [建立受理单制度。], owner: 受理人}`
    fails:  `{name: 受理, owner: 受理人}`
    """
    for i, step in enumerate(chart.steps):
        if step.owner and not step.measures:
            yield diagnostic_at(chart, ("steps", i, "owner"), "RC209",
                f"环节「{step.name}」写了责任人，却没有防控措施（measures）")


@chart_rule("RC210")
def finished_chart_has_steps(chart: Chart) -> Iterator[Diagnostic]:
    """A chart that is not a draft has a workflow.

    passes: `steps: [{name: 申请}, {name: 受理}]`, or `status: draft` and no steps
    fails:  no `steps` and no `status: draft`
    """
    if not chart.draft and not chart.steps:
        yield make(chart.path, 1, 1, "RC210",
            "没有 steps（工作流程）：请写入环节，或标注 status: draft 表示尚未录入")


@chart_rule("RC301")
def draft_chart(chart: Chart) -> Iterator[Diagnostic]:
    """Drafts build as clearly marked placeholders; the warning keeps them in view.

    passes: a chart without `status`
    fails:  `status: draft`
    """
    if chart.draft:
        yield diagnostic_at(chart, ("status",), "RC301", "草稿图：将以“本图待录入”的占位页发布，请尽快补全")


@chart_rule("RC302")
def item_without_number(chart: Chart) -> Iterator[Diagnostic]:
    """Items are written without their numbers; the renderer numbers them.

    passes: `- 故意刁难申请人。`
    fails:  `- 1. 故意刁难申请人。` (also 2、 （3） ① ⑴ 一、 （一）; in `basis` too)
    """
    for path, text in chart_texts(chart):
        if is_item(path) and text[:1] in _NUMBER_STARTS:
            number = _item_number().match(text)
            if number:
                yield diagnostic_at(chart, path, "RC302",
                    f"条目以序号「{number.group().strip()}」开头：序号由程序自动编排，请删除")


@chart_rule("RC303")
def no_surrounding_spaces(chart: Chart) -> Iterator[Diagnostic]:
    """Text has no leading or trailing spaces (full-width ones included).

    passes: `title: 劳动用工备案`
    fails:  `title: "劳动用工备案 "`
    """
    for path, text in chart_texts(chart):
        if text != text.strip():
            yield diagnostic_at(chart, path, "RC303", f"「{text}」首尾有空格，请删除")


@chart_rule("RC309")  # RC306–RC308 are the optional-key warnings on main
def step_fits_a_page(chart: Chart) -> Iterator[Diagnostic]:
    """A step's risks, or its measures, fit one A4 page at 7 pt: a long chart
    continues on the next page between steps, never inside one.

    passes: a step with up to a dozen risks of a line or two each
    fails:  a step with 30 risks of 300 characters each
    """
    for i, step in enumerate(chart.steps):
        for kind, items, what in (("risks", step.risks, "风险点"), ("measures", step.measures, "防控措施")):
            if len(items) * 8 > 30 and page.side_box_height(items) > page.band_room():  # a glance first
                yield diagnostic_at(chart, ("steps", i, kind), "RC309",
                    f"环节「{step.name}」的{what}太多太长：即使用 {style.MIN_BODY_SIZE:g} 磅小字，一页 A4 纸也排不下"
                    "（续页只在环节之间分页）；请拆分这个环节或精简文字")


@chart_rule("RC304")
def risks_and_measures_together(chart: Chart) -> Iterator[Diagnostic]:
    """A risk comes with a measure against it, and a measure answers a risk.

    passes: a step with both `risks` and `measures`, or with neither
    fails:  a step with `risks` only

    A step that legitimately has only one side (an 办结 step with an
    archiving measure) says so with `# riskchart: ignore RC304` on its name.
    """
    for i, step in enumerate(chart.steps):
        if step.risks and not step.measures:
            yield diagnostic_at(chart, ("steps", i, "name"), "RC304",
                f"环节「{step.name}」有风险点却没有防控措施")
        elif step.measures and not step.risks:
            yield diagnostic_at(chart, ("steps", i, "name"), "RC304",
                f"环节「{step.name}」有防控措施却没有风险点")
