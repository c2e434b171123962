"""Words every format shares: a chart's heading and the summary line."""

from __future__ import annotations

from .changes import KINDS, ChartDiff, Diff

# The summary line counts kinds by these words where the 说明 alone would be vague ("新增 3" what?).
SUMMARY_WORDS = {**KINDS, "field_changed": "项目修改", "item_added": "新增条目", "item_removed": "删除条目"}


def chart_heading(chart: ChartDiff) -> str:
    """长治高新区组织和人力资源部 第 3 号 食品经营许可 (raw text: each format escapes it)."""
    department = f"{chart.department} " if chart.department else ""
    return f"{department}第 {chart.id} 号 {chart.title}"


def chart_files(chart: ChartDiff) -> str:
    """The chart's file, or old → new when it was renamed."""
    if chart.renamed:
        return f"{chart.old_file} → {chart.new_file}"
    return chart.new_file or chart.old_file or ""


def status(chart: ChartDiff) -> str:
    """added, removed or changed."""
    kinds = {change.kind for change in chart.changes}
    return "added" if "chart_added" in kinds else "removed" if "chart_removed" in kinds else "changed"


def summary(diff: Diff) -> str:
    """一句话：几张图有修订（新增、删除、修改各几张）、几张未变，各类修订各几处。"""
    if not diff.charts:
        return f"没有修订：{diff.unchanged} 张图未变。"
    statuses = [status(chart) for chart in diff.charts]
    kinds = [(word, statuses.count(key)) for key, word in (("added", "新增"), ("removed", "删除"), ("changed", "修改"))]
    charts = "，".join(f"{word} {count} 张" for word, count in kinds if count)
    counts = diff.counts()
    changes = "，".join(f"{word} {counts[kind]}" for kind, word in SUMMARY_WORDS.items() if counts[kind])
    return (f"{len(diff.charts)} 张图有修订（{charts}），{diff.unchanged} 张未变；"
            f"共 {sum(counts.values())} 处修订：{changes}。")
