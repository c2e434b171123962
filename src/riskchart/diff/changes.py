"""The result of comparing two versions of a project: plain frozen values.

Charts are matched by (department, id), so a renamed file is the same chart.
Each change says where it sits in the old and the new chart (a ValuePath
such as ("steps", 2, "risks", 0)), so the redline drawing can mark the box
and the 修订对照表 can name the 环节 and 项目.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..check.diagnostics import Diagnostic
from ..model import Chart, ValuePath

# kind → 说明, the wording of the 修订对照表's last column.
KINDS: dict[str, str] = {
    "chart_added": "新增职权",
    "chart_removed": "删除职权",
    "field_changed": "修改",  # title, category, department, phones, code, basis, time limits, scope, owner…
    "step_added": "新增环节",
    "step_removed": "删除环节",
    "step_renamed": "环节更名",
    "step_moved": "环节顺序调整",
    "level_changed": "风险等级调整",
    "item_added": "新增",
    "item_removed": "删除",
    "item_reworded": "修改表述",
    "owner_changed": "责任人变更",
}


@dataclass(frozen=True)
class Change:
    """One row of the 修订对照表."""

    kind: str  # a key of KINDS
    step: str  # 环节: the step's new name (its old one when removed); "" for the chart as a whole
    item: str  # 项目: e.g. 标题, 风险等级, 风险点2, 防控措施1, 责任人, 法律依据1
    before: str = ""  # 修订前 ("" when added)
    after: str = ""  # 修订后 ("" when removed)
    old_path: ValuePath | None = None  # where it was in the old chart
    new_path: ValuePath | None = None  # where it is in the new chart

    @property
    def note(self) -> str:
        """说明."""
        return KINDS[self.kind]


@dataclass(frozen=True)
class ChartDiff:
    """One chart that differs; untouched charts get none."""

    department: str
    id: int
    title: str  # the new title (the old one when removed)
    old_file: str | None  # path relative to the charts folder, "/"-separated; None when added
    new_file: str | None  # None when removed
    changes: tuple[Change, ...]
    old: Chart | None = field(default=None, compare=False, repr=False)
    new: Chart | None = field(default=None, compare=False, repr=False)

    @property
    def renamed(self) -> bool:
        return self.old_file is not None and self.new_file is not None and self.old_file != self.new_file


@dataclass(frozen=True)
class Side:
    """One of the two versions: how to name it, and what lint found there."""

    label: str  # e.g. "v1.0 (3f2a9c1)", "工作区", or a folder
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.diagnostics)


@dataclass(frozen=True)
class Diff:
    old: Side
    new: Side
    charts: tuple[ChartDiff, ...]  # in the order of department, then id
    unchanged: int = 0  # charts present on both sides with no change

    def counts(self) -> Counter[str]:
        """How many changes of each kind, for the summary line."""
        return Counter(c.kind for chart in self.charts for c in chart.changes)

    def __bool__(self) -> bool:
        return bool(self.charts)
