"""The text format: grouped by chart, one line per change, for a terminal.

With colour, removed text is red and struck through, added text green and
underlined; without it (a pipe, a file) the same runs are marked
[-removed-]{+added+} as `git diff --word-diff` does, so nothing depends on
colour.  Every text from a chart is passed through `printable`: a title
holding ESC shows `\\x1b` and cannot drive the terminal.
"""

from __future__ import annotations

import click

from ..check.characters import printable
from ..check.diagnostics import Diagnostic
from .changes import Change, ChartDiff, Diff, Side
from .compare import char_diff
from .wording import chart_files, chart_heading, summary

_ADDED = "+"
_REMOVED = "-"
_CHANGED = "~"
_SIGN = {"chart_added": _ADDED, "step_added": _ADDED, "item_added": _ADDED,
         "chart_removed": _REMOVED, "step_removed": _REMOVED, "item_removed": _REMOVED}
_SHOWN_DIAGNOSTICS = 20  # per side; lint lists them all


def render_text(diff: Diff, color: bool = False) -> str:
    painter = _Painter(color)
    lines = [f"旧版本：{printable(diff.old.label)}", f"新版本：{printable(diff.new.label)}"]
    for name, side in (("旧版本", diff.old), ("新版本", diff.new)):
        lines += _side_problems(name, side, painter)
    for chart in diff.charts:
        lines += ["", *_chart_lines(chart, painter)]
    lines += ["", painter.bold(summary(diff))]
    return "\n".join(lines) + "\n"


class _Painter:
    def __init__(self, color: bool):
        self.color = color

    def style(self, text: str, fg: str | None = None, bold: bool | None = None, underline: bool | None = None,
              strikethrough: bool | None = None) -> str:
        if not self.color or not text:
            return text
        return click.style(text, fg=fg, bold=bold, underline=underline, strikethrough=strikethrough)

    def bold(self, text: str) -> str:
        return self.style(text, bold=True)

    def old(self, text: str) -> str:
        return self.style(text, fg="red")

    def new(self, text: str) -> str:
        return self.style(text, fg="green")

    def removed(self, text: str) -> str:
        """Removed characters inside a reworded text."""
        return self.style(text, fg="red", strikethrough=True) if self.color else f"[-{text}-]"

    def added(self, text: str) -> str:
        """Added characters inside a reworded text."""
        return self.style(text, fg="green", underline=True) if self.color else f"{{+{text}+}}"


def _side_problems(name: str, side: Side, painter: _Painter) -> list[str]:
    errors = [d for d in side.diagnostics if d.is_error]
    if not errors:
        return []
    lines = [painter.style(f"{name}有 {len(errors)} 个错误，出错的图未比较：", fg="red", bold=True)]
    lines += [f"  {_diagnostic(d)}" for d in errors[:_SHOWN_DIAGNOSTICS]]
    if len(errors) > _SHOWN_DIAGNOSTICS:
        lines.append(f"  ……另有 {len(errors) - _SHOWN_DIAGNOSTICS} 个（riskchart lint 可查看全部）")
    return lines


def _diagnostic(d: Diagnostic) -> str:
    return printable(f"{d.path}:{d.line}:{d.column}: {d.severity.value} {d.code} {d.message}")


def _chart_lines(chart: ChartDiff, painter: _Painter) -> list[str]:
    heading = f"{chart_heading(chart)}（{chart_files(chart)}）"
    lines = [painter.bold(printable(heading))]
    for change in chart.changes:
        lines += _change_lines(change, painter)
    return lines


def _change_lines(change: Change, painter: _Painter) -> list[str]:
    sign = _SIGN.get(change.kind, _CHANGED)
    where = " · ".join(printable(part) for part in (change.step, change.item) if part)
    head = f"  {sign} {where}："
    if change.kind == "item_reworded":
        runs = char_diff(change.before, change.after)
        shown = "".join(printable(text) if op == "=" else painter.removed(printable(text)) if op == "-"
                        else painter.added(printable(text)) for op, text in runs)
        return [head + shown]
    if sign != _CHANGED:
        paint = painter.new if sign == _ADDED else painter.old
        first, *rest = (change.after or change.before).split("\n")  # a whole step: one line each
        return [head + paint(printable(first)), *(f"      {paint(printable(line))}" for line in rest)]
    before = painter.old(printable(change.before)) if change.before else "（无）"
    after = painter.new(printable(change.after)) if change.after else "（无）"
    return [f"{head}{before} → {after}"]
