"""Two sets of charts → the semantic changes between them (changes.py).

Charts are paired by department folder + id (then department name + id,
then file path), so a renamed file is the same chart.  Steps are paired by
name, then by position between steps that kept their names, so a renamed
step is renamed and a moved one moved.  Items (risks, measures, legal bases)
are paired by exact text, then by similar text ("reworded").  Items are
numbered by position, so a shifted number is never a change.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence

from ..model import Chart, Step, ValuePath, sort_key
from .changes import Change, ChartDiff

# Two texts at least this similar (difflib's ratio) are the same item reworded.
REWORDED_FROM = 0.5
# (project item, value of a chart) for the fields compared one to one, in the order of the 修订对照表.
_CHART_FIELDS: tuple[tuple[str, ValuePath, Callable[[Chart], str]], ...] = (
    ("标题", ("title",), lambda c: c.title),
    ("职权类别", ("category",), lambda c: c.category if c.categorised else ""),
    ("职权编码", ("code",), lambda c: c.code or ""),
    ("部门", ("department",), lambda c: c.department),
    ("服务电话", ("phones", "service"), lambda c: c.phones.service),
    ("监管电话", ("phones", "supervision"), lambda c: c.phones.supervision),
    ("适用范围", ("scope",), lambda c: c.scope or ""),
    ("法定时限", ("time_limit", "statutory"), lambda c: c.time_limit.statutory),
    ("承诺时限", ("time_limit", "promised"), lambda c: c.time_limit.promised),
    ("责任单位", ("owner",), lambda c: c.owner or ""),
    ("风险类型", ("risk_type",), lambda c: c.risk_type or ""),
    ("状态", ("status",), lambda c: "草稿" if c.draft else "正式"),
)
_STEP_FIELDS: tuple[tuple[str, str, str, Callable[[Step], str]], ...] = (
    # (kind, item, key, value)
    ("level_changed", "风险等级", "level", lambda s: s.level or ""),
    ("owner_changed", "责任人", "owner", lambda s: s.owner or ""),
    ("field_changed", "办理时限", "time_limit", lambda s: s.time_limit or ""),
    ("field_changed", "备注", "note", lambda s: s.note or ""),
    ("field_changed", "风险类型", "risk_type", lambda s: s.risk_type or ""),
    ("field_changed", "分支", "exits", lambda s: "；".join(f"{e.when} → {e.to}" for e in s.exits)),
)


def compare(old: Iterable[Chart], new: Iterable[Chart]) -> tuple[list[ChartDiff], int]:
    """The charts that differ, department by department and by id, and how
    many charts are on both sides without a change."""
    pairs, removed, added = pair_charts(list(old), list(new))
    found: list[tuple[tuple[str, int, str], ChartDiff]] = []
    unchanged = 0
    for before, after in pairs:
        changes = chart_changes(before, after)
        if changes:
            found.append((sort_key(after), _chart_diff(before, after, changes)))
        else:
            unchanged += 1
    for chart in removed:
        change = Change("chart_removed", "", "职权", before=chart.title, old_path=())
        found.append((sort_key(chart), _chart_diff(chart, None, [change])))
    for chart in added:
        change = Change("chart_added", "", "职权", after=chart.title, new_path=())
        found.append((sort_key(chart), _chart_diff(None, chart, [change])))
    found.sort(key=lambda pair: pair[0])
    return [diff for _, diff in found], unchanged


def _chart_diff(old: Chart | None, new: Chart | None, changes: list[Change]) -> ChartDiff:
    shown = new or old
    assert shown is not None
    return ChartDiff(department=shown.department, id=shown.id, title=shown.title,
                     old_file=_file(old), new_file=_file(new), changes=tuple(changes), old=old, new=new)


def _file(chart: Chart | None) -> str | None:
    if chart is None:
        return None
    return f"{chart.folder}/{chart.path.name}" if chart.folder else chart.path.name


def pair_charts(old: list[Chart], new: list[Chart]) -> tuple[list[tuple[Chart, Chart]], list[Chart], list[Chart]]:
    """(old, new) pairs of the same chart, the charts only in old, those only in new."""
    keys: tuple[Callable[[Chart], object], ...] = (
        lambda c: (c.unit.folder, c.id), lambda c: (c.department, c.id), lambda c: _file(c))
    pairs: list[tuple[Chart, Chart]] = []
    for key in keys:
        waiting: dict[object, Chart] = {}
        for chart in old:
            waiting.setdefault(key(chart), chart)
        still_new = []
        for chart in new:
            partner = waiting.pop(key(chart), None)
            if partner is None:
                still_new.append(chart)
            else:
                pairs.append((partner, chart))
        paired = {id(before) for before, _ in pairs}
        old, new = [c for c in old if id(c) not in paired], still_new
    return pairs, old, new


def chart_changes(old: Chart, new: Chart) -> list[Change]:
    """Every change from one version of a chart to the next, top to bottom."""
    changes = [Change("field_changed", "", item, before, after, path, path)
               for item, path, value in _CHART_FIELDS
               for before, after in [(value(old), value(new))] if before != after]
    changes += item_changes("", "法律依据", old.basis, new.basis, ("basis",), ("basis",))
    return changes + step_changes(old.steps, new.steps)


def step_changes(old: Sequence[Step], new: Sequence[Step]) -> list[Change]:
    partner = pair_steps(old, new)
    moved = _moved(partner)
    placed: list[tuple[float, int, list[Change]]] = []  # (position in the new chart, tie-break, changes)
    for i, step in enumerate(old):
        if i not in partner:
            after = max((partner[k] for k in partner if k < i), default=-1)
            placed.append((after + 0.5, i, [Change("step_removed", step.name, "环节", before=describe(step),
                                                   old_path=("steps", i))]))
    paired = {j: i for i, j in partner.items()}
    for j, step in enumerate(new):
        if j not in paired:
            placed.append((j, 0, [Change("step_added", step.name, "环节", after=describe(step),
                                         new_path=("steps", j))]))
            continue
        i = paired[j]
        found = []
        if old[i].name != step.name:
            found.append(Change("step_renamed", step.name, "环节名称", old[i].name, step.name,
                                ("steps", i, "name"), ("steps", j, "name")))
        if i in moved:
            found.append(Change("step_moved", step.name, "环节顺序", f"第 {i + 1} 个环节", f"第 {j + 1} 个环节",
                                ("steps", i), ("steps", j)))
        found += _step_field_changes(old[i], step, i, j)
        found += item_changes(step.name, "风险点", old[i].risks, step.risks, ("steps", i, "risks"), ("steps", j, "risks"))
        found += item_changes(step.name, "防控措施", old[i].measures, step.measures,
                              ("steps", i, "measures"), ("steps", j, "measures"))
        placed.append((j, 0, found))
    placed.sort(key=lambda entry: entry[:2])
    return [change for _, _, changes in placed for change in changes]


def _step_field_changes(old: Step, new: Step, i: int, j: int) -> list[Change]:
    return [Change(kind, new.name, item, before, after, ("steps", i, key), ("steps", j, key))
            for kind, item, key, value in _STEP_FIELDS
            for before, after in [(value(old), value(new))] if before != after]


def describe(step: Step) -> str:
    """A whole step as lines of text: for a step added or removed."""
    lines = [step.name]
    if step.level:
        lines.append(f"风险等级：{step.level}")
    lines += [f"风险点{n}：{text}" for n, text in enumerate(step.risks, start=1)]
    lines += [f"防控措施{n}：{text}" for n, text in enumerate(step.measures, start=1)]
    if step.owner:
        lines.append(f"责任人：{step.owner}")
    return "\n".join(lines)


def pair_steps(old: Sequence[Step], new: Sequence[Step]) -> dict[int, int]:
    """Old step index → new step index: same names first; then the steps
    left between the same two paired steps, in order (renamed in place)."""
    where = {step.name: j for j, step in reversed(list(enumerate(new)))}
    partner: dict[int, int] = {}
    for i, step in enumerate(old):
        j = where.get(step.name)
        if j is not None and j not in partner.values():
            partner[i] = j
    by_name = dict(partner)
    taken = set(partner.values())
    for i in range(len(old)):
        if i in partner:
            continue
        before = max((by_name[k] for k in by_name if k < i), default=-1)
        following = [by_name[k] for k in by_name if k > i]
        until = min(following) if following else len(new)
        gap = [j for j in range(before + 1, until) if j not in taken]
        if gap:
            partner[i] = gap[0]
            taken.add(gap[0])
    return partner


def _moved(partner: dict[int, int]) -> set[int]:
    """The old indexes of paired steps whose order changed: those outside a
    longest run kept in the same order (an insertion shifts none)."""
    olds = sorted(partner)
    news = [partner[i] for i in olds]
    # longest increasing subsequence, O(n²): charts have a few dozen steps at most
    best: list[list[int]] = []
    for index, value in enumerate(news):
        runs = [run for run in best[:index] if news[run[-1]] < value]
        longest = max(runs, key=len) if runs else []
        best.append([*longest, index])
    kept_run: list[int] = max(best, key=len) if best else []
    keep = set(kept_run)
    return {olds[index] for index in range(len(olds)) if index not in keep}


def item_changes(step: str, name: str, old: Sequence[str], new: Sequence[str],
                 old_base: ValuePath, new_base: ValuePath) -> list[Change]:
    """Added, removed and reworded items of one list, in the new list's order
    (removed ones where they stood)."""
    unpaired_old = list(range(len(old)))
    unpaired_new = []
    for j, text in enumerate(new):
        same = next((i for i in unpaired_old if old[i] == text), None)
        if same is None:
            unpaired_new.append(j)
        else:
            unpaired_old.remove(same)
    similar = sorted(((similarity(old[i], new[j]), -j, -i) for i in unpaired_old for j in unpaired_new), reverse=True)
    reworded: dict[int, int] = {}
    for ratio, minus_j, minus_i in similar:
        i, j = -minus_i, -minus_j
        if ratio < REWORDED_FROM:
            break
        if i not in reworded.values() and j not in reworded:
            reworded[j] = i
    placed: list[tuple[float, Change]] = []
    for j in unpaired_new:
        label = f"{name}{j + 1}"
        if j in reworded:
            i = reworded[j]
            placed.append((j, Change("item_reworded", step, label, old[i], new[j], (*old_base, i), (*new_base, j))))
        else:
            placed.append((j, Change("item_added", step, label, after=new[j], new_path=(*new_base, j))))
    for i in unpaired_old:
        if i not in reworded.values():
            placed.append((i - 0.5, Change("item_removed", step, f"{name}{i + 1}", before=old[i],
                                           old_path=(*old_base, i))))
    placed.sort(key=lambda entry: entry[0])
    return [change for _, change in placed]


def similarity(before: str, after: str) -> float:
    return difflib.SequenceMatcher(None, before, after, autojunk=False).ratio()


def char_diff(before: str, after: str) -> list[tuple[str, str]]:
    """The two texts as runs: ("=", kept), ("-", only in before), ("+", only in after).

    「不按规定程序受理」→「不按规定程序和时限受理」 gives
    [("=", "不按规定程序"), ("+", "和时限"), ("=", "受理")].
    """
    runs: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for operation, i1, i2, j1, j2 in matcher.get_opcodes():
        if operation == "equal":
            runs.append(("=", before[i1:i2]))
            continue
        if i2 > i1:
            runs.append(("-", before[i1:i2]))
        if j2 > j1:
            runs.append(("+", after[j1:j2]))
    return runs
