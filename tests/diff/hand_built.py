"""Hand-built Diff values over charts loaded from small YAML files, for the
修订对照表 and redline tests (independent of the comparison in compare.py).

Chart 3 has one change of each kind the redline marks: a renamed title, a
reworded risk, a removed risk, an added measure, an added step (which moves
审查 from index 2 to 3) and a level change.  Chart 5 is removed, chart 6
added, chart 7 is unchanged (present on both sides, no ChartDiff).
"""

from __future__ import annotations

from pathlib import Path

from conftest import lint_files

from riskchart.diff.changes import Change, ChartDiff, Diff, Side
from riskchart.model import Chart

DEFAULTS = "department: 市场监管局\n"

OLD = {
    "_defaults.yaml": DEFAULTS,
    "03-食品经营许可.yaml": """\
id: 3
category: 行政许可
title: 食品经营许可
code: XK-003
steps:
  - name: 申请
  - name: 受理
    level: 中
    risks:
      - 不按规定程序受理。
      - 对申请人故意刁难。
    measures:
      - 建立受理单制度。
    owner: 受理人
  - name: 审查
    level: 中
    risks:
      - 审查不严，把关不实。
    measures:
      - 实行两人审查。
    owner: 审查人
  - name: 决定
""",
    "05-旧职权.yaml": "id: 5\ncategory: 行政许可\ntitle: 旧职权\nsteps:\n  - name: 受理\n",
    "07-不变.yaml": "id: 7\ncategory: 行政许可\ntitle: 不变的职权\nsteps:\n  - name: 受理\n",
}

NEW = {
    "_defaults.yaml": DEFAULTS,
    "03-食品经营许可.yaml": """\
id: 3
category: 行政许可
title: 食品经营许可（含备案）
code: XK-003
steps:
  - name: 申请
  - name: 受理
    level: 中
    risks:
      - 不按规定程序和时限受理。
    measures:
      - 建立受理单制度。
      - 一次性告知需补正的材料。
    owner: 受理人
  - name: 现场核查
    level: 低
    risks:
      - 核查走过场。
    measures:
      - 两人以上共同核查。
    owner: 核查人
  - name: 审查
    level: 高
    risks:
      - 审查不严，把关不实。
    measures:
      - 实行两人审查。
    owner: 审查人
  - name: 决定
""",
    "06-新职权.yaml": "id: 6\ncategory: 行政许可\ntitle: 新职权\nsteps:\n  - name: 受理\n",
    "07-不变.yaml": "id: 7\ncategory: 行政许可\ntitle: 不变的职权\nsteps:\n  - name: 受理\n",
}

CHANGES = (
    Change("field_changed", "", "标题", "食品经营许可", "食品经营许可（含备案）", ("title",), ("title",)),
    Change("item_reworded", "受理", "风险点1", "不按规定程序受理。", "不按规定程序和时限受理。",
           ("steps", 1, "risks", 0), ("steps", 1, "risks", 0)),
    Change("item_removed", "受理", "风险点2", "对申请人故意刁难。", "", ("steps", 1, "risks", 1), None),
    Change("item_added", "受理", "防控措施2", "", "一次性告知需补正的材料。", None, ("steps", 1, "measures", 1)),
    Change("step_added", "现场核查", "环节", "", "现场核查", None, ("steps", 2)),
    Change("level_changed", "审查", "风险等级", "中", "高", ("steps", 2, "level"), ("steps", 3, "level")),
)

# What the 修订对照表 of chart 3 says, row by row (环节 of the chart as a whole: —).
CHART_3_ROWS = [
    ("—", "标题", "食品经营许可", "食品经营许可（含备案）", "修改"),
    ("受理", "风险点1", "不按规定程序受理。", "不按规定程序和时限受理。", "修改表述"),
    ("受理", "风险点2", "对申请人故意刁难。", "", "删除"),
    ("受理", "防控措施2", "", "一次性告知需补正的材料。", "新增"),
    ("现场核查", "环节", "", "现场核查", "新增环节"),
    ("审查", "风险等级", "中", "高", "风险等级调整"),
]


def load(folder: Path, files: dict[str, str]) -> dict[int, Chart]:
    result = lint_files(folder, files)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return {c.id: c for c in result.charts}


def revision(tmp: Path, changes: tuple[Change, ...] = CHANGES) -> Diff:
    """The Diff of OLD → NEW as compare.py would give it."""
    old, new = load(tmp / "old", OLD), load(tmp / "new", NEW)
    return Diff(
        old=Side("v1.0 (3f2a9c1)"),
        new=Side("工作区"),
        charts=(
            ChartDiff("市场监管局", 3, "食品经营许可（含备案）", "03-食品经营许可.yaml", "03-食品经营许可.yaml",
                      changes, old[3], new[3]),
            ChartDiff("市场监管局", 5, "旧职权", "05-旧职权.yaml", None,
                      (Change("chart_removed", "", "职权", "旧职权", "", (), None),), old[5], None),
            ChartDiff("市场监管局", 6, "新职权", None, "06-新职权.yaml",
                      (Change("chart_added", "", "职权", "", "新职权", None, ()),), None, new[6]),
        ),
        unchanged=1,
    )
