"""Stage 3 — model: validated values → frozen dataclasses.

Later stages (rules, layout, render, publish) read these and never change
them.  Positions stay beside the data in `Chart.positions`, keyed by the
path of a value, e.g. ("steps", 2, "risks", 0), so diagnostics can point
into the file without the renderer ever seeing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .check.schema import UNCATEGORISED

# Where a value sits in a chart file: keys and list indexes from the top, e.g. ("steps", 2, "risks", 0).
ValuePath = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class Phones:
    service: str = ""
    supervision: str = ""


@dataclass(frozen=True)
class Department:
    """A folder whose _defaults.yaml sets `department`: ids are unique within
    it and number from 1.  The charts folder itself is one when its
    _defaults.yaml names the department (the one-department project)."""

    folder: str = ""  # relative to the charts folder, "/"-separated; "" for the charts folder
    name: str = ""
    phones: Phones = Phones()


@dataclass(frozen=True)
class Defaults:
    """What a folder's charts inherit: its _defaults.yaml merged over its parent's."""

    department: str = ""
    phones: Phones = Phones()
    folder: str = ""  # the folder these apply to, relative to the charts folder
    unit: Department = Department()  # the department the folder belongs to


@dataclass(frozen=True)
class TimeLimit:
    """办理时限 of a whole power: 法定 (by law) and 承诺 (promised); "" when not given."""
    statutory: str = ""
    promised: str = ""

    def __bool__(self) -> bool:
        return bool(self.statutory or self.promised)

    @property
    def text(self) -> str:
        """法定二十个工作日，承诺十个工作日 — the parts that are given."""
        parts = [f"法定{self.statutory}" if self.statutory else "", f"承诺{self.promised}" if self.promised else ""]
        return "，".join(p for p in parts if p)


@dataclass(frozen=True)
class Exit:
    """Where the flow leaves a step besides going on to the next one."""
    when: str
    to: str


@dataclass(frozen=True)
class Step:
    name: str
    level: str | None = None
    risks: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    owner: str | None = None
    time_limit: str | None = None
    exits: tuple[Exit, ...] = ()
    note: str | None = None  # a short remark drawn with the step
    risk_type: str | None = None  # its own; Chart.risk_type_of gives the chart's default too


@dataclass(frozen=True)
class Chart:
    path: Path
    id: int
    category: str
    title: str
    steps: tuple[Step, ...]
    department: str
    phones: Phones
    draft: bool = False
    code: str | None = None  # 职权编码
    basis: tuple[str, ...] = ()  # 法律依据, in order
    time_limit: TimeLimit = TimeLimit()
    positions: Mapping[ValuePath, Position] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False)
    folder: str = ""  # the file's folder relative to the charts folder, "/"-separated
    unit: Department = Department()  # the department it belongs to (ids are unique within it)
    scope: str | None = None  # 适用范围, under the title
    owner: str | None = None  # the chart's 责任单位: every step with measures and no owner of its own has it
    risk_type: str | None = None  # the default of its steps' risk types
    categorised: bool = True  # False: no category given, listed under 未分类

    def owner_of(self, step: Step) -> str | None:
        """Who answers for a step's measures: its own owner, or the chart's."""
        return step.owner or (self.owner if step.measures else None)

    def risk_type_of(self, step: Step) -> str | None:
        return (step.risk_type or self.risk_type) if step.risks else None

    # Made once per chart (the set's stages ask thousands of times; Path.stem parses the path
    # each time): cached_property keeps it in the instance's own dict, not in a field.
    @cached_property
    def stem(self) -> str:
        return self.path.stem

    @cached_property
    def out_name(self) -> str:
        """Its outputs' name in out/ without the format: the tree mirrored,
        e.g. 食品科/01-食品经营许可 (just the stem in a flat charts folder)."""
        return f"{self.folder}/{self.stem}" if self.folder else self.stem

    @property
    def heading(self) -> str:
        """权力运行廉政风险防控图<行政裁决类1>; 其他权力 has no 类, a chart without a category just its id."""
        if not self.categorised:
            return f"权力运行廉政风险防控图<{self.id}>"
        kind = self.category if self.category == "其他权力" else self.category + "类"
        return f"权力运行廉政风险防控图<{kind}{self.id}>"

    def where(self, *path: str | int) -> Position:
        """Position of a value, or of the nearest enclosing value that has one."""
        while path and path not in self.positions:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    @property
    def has_exits(self) -> bool:
        return any(step.exits for step in self.steps)

    def risk_count(self, level: str | None = None) -> int:
        return sum(len(s.risks) for s in self.steps if level is None or s.level == level)


def merge_defaults(parent: Defaults, values: dict[str, Any] | None, folder: str) -> Defaults:
    """A folder's defaults: its _defaults.yaml's completely valid values (or
    none) over its parent folder's; naming a department starts one."""
    values = values or {}
    phones = _phones(values.get("phones"), parent.phones)
    department = values.get("department") or parent.department
    unit = Department(folder, department, phones) if values.get("department") else parent.unit
    return Defaults(department, phones, folder, unit)


def build_chart(path: Path, values: dict[str, Any], positions: Mapping[ValuePath, Position],
                defaults: Defaults) -> Chart:
    """A chart from values that validated without a single diagnostic."""
    phones = values.get("phones")
    return Chart(
        path=path,
        id=values["id"],
        category=values.get("category") or UNCATEGORISED,
        categorised="category" in values,
        title=values["title"],
        steps=tuple(_step(s) for s in values.get("steps") or ()),
        department=values.get("department") or defaults.department,
        phones=_phones(phones, defaults.phones) if phones else defaults.phones,
        draft=values.get("status") == "draft",
        code=values.get("code"),
        basis=tuple(values.get("basis") or ()),
        time_limit=TimeLimit(**values.get("time_limit") or {}),
        # a dict is copied (its maker may change it); a read-only mapping, as the lint cache's, is kept undecoded
        positions=MappingProxyType(dict(positions)) if isinstance(positions, dict) else positions,
        folder=defaults.folder,
        unit=defaults.unit,
        scope=values.get("scope"),
        owner=_joined(values.get("owner")),
        risk_type=values.get("risk_type"),
    )


def _joined(owner: str | list[str] | None) -> str | None:
    """Several units or posts as the chart prints them: joined with 、."""
    if isinstance(owner, list):
        return "、".join(owner)
    return owner


def _step(values: dict[str, Any]) -> Step:
    return Step(
        name=values["name"],
        level=values.get("level"),
        risks=tuple(values.get("risks") or ()),
        measures=tuple(values.get("measures") or ()),
        owner=_joined(values.get("owner")),
        time_limit=values.get("time_limit"),
        exits=tuple(Exit(e["when"], e["to"]) for e in values.get("exits") or ()),
        note=values.get("note"),
        risk_type=values.get("risk_type"),
    )


def _phones(values: dict[str, str] | None, fallback: Phones = Phones()) -> Phones:
    values = values or {}
    return Phones(values.get("service", fallback.service),
                  values.get("supervision", fallback.supervision))


def sort_key(chart: Chart) -> tuple[str, int, str]:
    """Department by department (the charts folder's first), then by id."""
    return (chart.unit.folder, chart.id, str(chart.path))


def department_groups(charts: list[Chart]) -> list[tuple[Department, list[Chart]]]:
    """The charts department by department (the charts folder's first), each by id."""
    found: dict[Department, list[Chart]] = {}
    for chart in sorted(charts, key=sort_key):
        found.setdefault(chart.unit, []).append(chart)
    return list(found.items())
