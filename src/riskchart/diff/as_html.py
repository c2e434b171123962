"""The HTML format: one self-contained page (its style inline, nothing
fetched), a table per chart with 修订前 and 修订后 side by side and the
changed characters highlighted.  Jinja escapes every text: titles and
items are hostile."""

from __future__ import annotations

from dataclasses import dataclass

from .. import __version__
from .changes import Change, Diff
from .compare import char_diff
from .wording import chart_files, chart_heading, status, summary


@dataclass(frozen=True)
class _Row:
    kind: str
    step: str
    item: str
    before: list[tuple[str, str]]  # runs of the old text: "=" kept, "-" removed
    after: list[tuple[str, str]]  # runs of the new text: "=" kept, "+" added
    note: str


def _row(change: Change) -> _Row:
    runs = char_diff(change.before, change.after)
    return _Row(change.kind, change.step, change.item, [(op, text) for op, text in runs if op != "+"],
                [(op, text) for op, text in runs if op != "-"], change.note)


def render_html(diff: Diff) -> str:
    charts = [{"status": status(chart), "heading": chart_heading(chart), "files": chart_files(chart),
               "rows": [_row(change) for change in chart.changes]} for chart in diff.charts]
    sides = [{"name": name, "errors": [d for d in side.diagnostics if d.is_error]}
             for name, side in (("修订前", diff.old), ("修订后", diff.new)) if side.errors]
    from ..publish.index import html_environment  # Jinja2 and the publishing code: only for this format

    template = html_environment().get_template("diff.html.j2")
    return template.render(version=__version__, old=diff.old, new=diff.new, summary=summary(diff), sides=sides,
                           charts=charts)
