"""The JSON format: one stable document for CI bots (shape in README).

`version` changes only when a key is renamed or removed or its meaning
changes; new keys may appear without it.  Paths are the model's value
paths, e.g. ["steps", 2, "risks", 0]; null where the side has no such value.
"""

from __future__ import annotations

import json
from typing import Any

from ..check.characters import unprintable_beyond_c0
from ..check.diagnostics import Diagnostic
from .changes import Change, ChartDiff, Diff, Side
from .wording import status, summary

VERSION = 1


def diff_document(diff: Diff) -> dict[str, Any]:
    counts = diff.counts()
    statuses = [status(chart) for chart in diff.charts]
    return {
        "version": VERSION,
        "old": _side(diff.old),
        "new": _side(diff.new),
        "summary": {
            "changed_charts": len(diff.charts),
            "added_charts": statuses.count("added"),
            "removed_charts": statuses.count("removed"),
            "unchanged_charts": diff.unchanged,
            "changes": sum(counts.values()),
            "by_kind": dict(sorted(counts.items())),
            "text": summary(diff),
        },
        "charts": [_chart(chart) for chart in diff.charts],
    }


def render_json(diff: Diff) -> str:
    text = json.dumps(diff_document(diff), ensure_ascii=False, indent=2)
    # json.dumps escapes C0 controls but not DEL, C1 or bidi controls: escape those too (same data)
    return unprintable_beyond_c0().sub(lambda c: f"\\u{ord(c.group()):04x}", text) + "\n"


def _side(side: Side) -> dict[str, Any]:
    return {"label": side.label, "errors": side.errors,
            "diagnostics": [_diagnostic(d) for d in side.diagnostics]}


def _diagnostic(d: Diagnostic) -> dict[str, Any]:
    return {"path": d.path, "line": d.line, "column": d.column, "code": d.code, "severity": d.severity.value,
            "message": d.message}


def _chart(chart: ChartDiff) -> dict[str, Any]:
    return {"department": chart.department, "id": chart.id, "title": chart.title, "status": status(chart),
            "old_file": chart.old_file, "new_file": chart.new_file,
            "changes": [_change(change) for change in chart.changes]}


def _change(change: Change) -> dict[str, Any]:
    return {"kind": change.kind, "note": change.note, "step": change.step, "item": change.item,
            "before": change.before, "after": change.after,
            "old_path": None if change.old_path is None else list(change.old_path),
            "new_path": None if change.new_path is None else list(change.new_path)}
