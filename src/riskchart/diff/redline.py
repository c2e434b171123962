"""Redline drawings (`riskchart diff --redline DIR`): each changed chart's
new version with its revisions marked, as SVG and PDF.

The chart is laid out as the build lays it out (layout.chart_dot with
marks, see draw/marks.py) and rendered through the same path (one dot run,
the PDF fitted to the page or continued over pages, every glyph checked and
repaired).  New and changed boxes are outlined in blue and their items
carry a blue bar; removed items are struck through in the box they were
in; a legend under the footer explains the marks.  Removed and unchanged
charts are not drawn.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import files, style
from ..config import Settings
from ..draw import layout, render
from ..draw.marks import Marks, Removed
from ..draw.page import A4_PORTRAIT, Page
from ..errors import EnvironmentProblem, OutputNotWritable
from ..model import Chart, ValuePath
from .changes import Change, ChartDiff, Diff

FORMATS = ("svg", "pdf")
NEW_CHART_NOTE = "本图为新增职权"
_NO_PROJECT_SETTINGS = Settings()
# Step fields whose old value is shown struck through beside the new one.
_OLD_VALUE_SHOWN = {"level_changed": "level", "owner_changed": "owner", "step_renamed": "name"}


class RedlineFailed(EnvironmentProblem):
    """A redline could not be drawn (the others were written)."""


def drawn(diff: Diff) -> list[ChartDiff]:
    """The charts a redline is drawn for: present in the new version, with changes."""
    return [chart for chart in diff.charts if chart.new is not None and chart.changes]


def marks_of(chart: ChartDiff) -> Marks:
    """The marks of a chart's changes on its new version."""
    new = chart.new
    assert new is not None
    changed: set[ValuePath] = set()
    removed: list[Removed] = []
    note = ""
    for change in chart.changes:
        if change.kind == "chart_added":
            note = NEW_CHART_NOTE
            changed.add(("title",))
        elif change.kind == "step_removed":  # its name: `before` describes the whole step
            removed.append(Removed(("steps",), change.step or change.before))
        elif change.kind == "item_removed" and (change.old_path or ())[:1] == ("steps",):
            removed.append(_removed_item(change, chart))
        elif change.new_path is None:  # removed from the header (a 法律依据 …)
            if change.before:
                removed.append(Removed(("header",), f"{change.item}：{change.before}"))
        else:
            changed.add(change.new_path)
            if change.kind == "step_added":  # its boxes are new too
                changed |= _items_of(new, change.new_path)
            shown = _OLD_VALUE_SHOWN.get(change.kind)
            if shown and change.before and change.new_path[:1] == ("steps",):
                removed.append(Removed(("steps", change.new_path[1], shown), change.before))
            elif change.new_path[:1] != ("steps",) and change.before and change.new_path[:1] != ("phones",):
                removed.append(Removed(("header",), f"{change.item}：{change.before}"))
    return Marks(frozenset(changed), tuple(removed), note)


def _items_of(chart: Chart, path: ValuePath) -> set[ValuePath]:
    """The paths of the risks and measures of the step at `path`."""
    if len(path) != 2 or not isinstance(path[1], int) or not 0 <= path[1] < len(chart.steps):
        return set()
    step = chart.steps[path[1]]
    return {("steps", path[1], box, j) for box in ("risks", "measures") for j in range(len(getattr(step, box)))}


def _removed_item(change: Change, chart: ChartDiff) -> Removed:
    """A removed risk or measure, in the box of the step it was in (found by
    the step's name in the new chart); listed with the removed steps when
    that step is gone too."""
    path = change.old_path or ()
    box = path[2] if len(path) > 2 and path[2] in ("risks", "measures") else "risks"
    names = [change.step]
    if chart.old is not None and len(path) > 1 and isinstance(path[1], int) and path[1] < len(chart.old.steps):
        names.append(chart.old.steps[path[1]].name)
    new = chart.new
    assert new is not None
    for name in names:
        for index, step in enumerate(new.steps):
            if step.name == name:
                return Removed(("steps", index, str(box)), change.before)
    return Removed(("steps",), f"{change.step}：{change.before}")


def redline_dot(chart: ChartDiff, font: str = style.DEFAULT_FONT, settings: Settings = _NO_PROJECT_SETTINGS,
                page: Page = A4_PORTRAIT) -> str:
    """The DOT text of a changed chart's new version with its changes marked."""
    assert chart.new is not None
    return layout.chart_dot(chart.new, font, settings, page, marks=marks_of(chart))


def draw_redlines(diff: Diff, directory: Path, *, font: str = style.DEFAULT_FONT,
                  settings: Settings = _NO_PROJECT_SETTINGS, page: Page = A4_PORTRAIT,
                  timeout: float = style.DOT_TIMEOUT_SECONDS, jobs: int = os.cpu_count() or 1) -> list[Path]:
    """Draw every changed chart's redline into `directory` as <out_name>.svg and
    .pdf (out_name as in out/: 食品科/01-食品经营许可); the paths written.

    Raises MissingGraphviz/MissingFont before drawing anything, and
    RedlineFailed (after writing the others) when a chart cannot be drawn
    or written."""
    charts = drawn(diff)
    if not charts:
        return []
    tools = render.toolchain(font)
    new: list[Chart] = [c.new for c in charts if c.new is not None]
    dot_texts = [redline_dot(c, font, settings, page) for c in charts]
    # `jobs` dot processes, each drawing a share of the charts (fonts load once per process)
    size = math.ceil(len(charts) / max(1, min(jobs, len(charts))))
    starts = range(0, len(charts), size)

    def draw(start: int) -> list[dict[str, bytes] | render.RenderFailure]:
        return render.render_many(dot_texts[start:start + size], FORMATS, tools, timeout, page=page,
                                  continuation=lambda n, pages: layout.continuation_dot(new[start + n], pages, font))

    with ThreadPoolExecutor(max_workers=len(starts)) as pool:
        results = [result for batch in pool.map(draw, starts) for result in batch]
    written: list[Path] = []
    failed: list[str] = []
    for chart, result in zip(new, results, strict=True):
        if isinstance(result, render.RenderFailure):
            failed.append(f"{chart.out_name}（{result}）")
            continue
        try:
            for fmt in FORMATS:
                path = files.inside(directory, f"{chart.out_name}.{fmt}")
                files.write_atomic(path, result[fmt])
                written.append(path)
        except OSError as error:
            raise OutputNotWritable(f"无法写入 {directory}：{error.strerror or error}") from None
    if failed:
        raise RedlineFailed(f"{len(failed)} 张红线图未能生成：{'；'.join(failed)}")
    return written
