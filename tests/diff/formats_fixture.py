"""Diffs for the format tests: the scripted repository's v1 → v2, and a
hand-made one whose texts are hostile."""

from __future__ import annotations

from riskchart.check.diagnostics import make
from riskchart.diff.changes import Change, ChartDiff, Diff, Side

HOSTILE_TITLE = '<img src=x onerror="document.title=\'pwned\'">\x1b[2J\x1b]0;title\x07'
HOSTILE_ITEM = "</td><script>document.title='pwned'</script>\x1b[31m红"


def hostile_diff() -> Diff:
    changes = (Change("item_reworded", "<b>受理</b>\x1b[5m", "风险点1", "甲&乙" + HOSTILE_ITEM, "甲&amp;乙" + HOSTILE_ITEM,
                      ("steps", 0, "risks", 0), ("steps", 0, "risks", 0)),
               Change("field_changed", "", "标题", "旧", HOSTILE_TITLE, ("title",), ("title",)))
    diagnostic = make("charts/\x1b[2J<i>.yaml", 1, 1, "RC006", "YAML 语法错误：<script>")
    return Diff(Side("v1 <b>", (diagnostic,)), Side("工作区"),
                (ChartDiff("局\u202e", 1, HOSTILE_TITLE, "01-<a>.yaml", "01-<a>.yaml", changes),), 0)
