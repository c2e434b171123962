"""A saved chart's new drawing, for the open pages, before the build.

The build that follows a save (build/) fingerprints and checks the
whole project, lints the whole set, draws the chart's SVG and PDF and then
remakes the index, registers and booklets: on 400 charts the chart's SVG
reaches out/ half a second or more after the save.  A page only needs the
SVG, so `serve` first draws that alone: the saved chart checked by itself
(the session's lint cache keeps the result for the build), its DOT text
as the build makes it, one `dot -Tsvg` run (a third of the CPU of the SVG
and PDF together).  The bytes are the ones the build then writes to out/,
and are kept in memory, never in the output folder, which only a build
writes.

A chart that fails its own checks gets no preview: the page keeps its last
good drawing and the build shows the errors.  The cross-file rules (a
repeated id, title or code) are the build's: a chart that fails them goes
back to its last good drawing, dimmed, once the build is done.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import click

from ..build import BuildOptions
from ..departments import DEFAULTS_FILE
from ..draw import layout, render
from ..lint import CHART_SUFFIXES, ResultCache, charts_valid_alone

MAX_PREVIEWS = 2  # a save changes a chart or two; more (a checkout, a replace-all) waits for the build


@dataclass(frozen=True)
class Preview:
    key: str      # the chart's name in out/ (its stem, after its folders when nested)
    title: str
    svg: bytes


def saved_charts(changed: Iterable[Path], charts: Iterable[Path]) -> list[Path]:
    """The chart files among `changed` (absolute paths, as the watcher
    reports them), spelled as in `charts` (the session's paths, so that the
    lint cache entry is the build's): none when a `_defaults.yaml` or
    anything else but a chart changed, since then more than these charts
    change."""
    wanted = {os.path.realpath(p) for p in changed}
    if any(Path(p).name == DEFAULTS_FILE or Path(p).suffix.lower() not in CHART_SUFFIXES for p in wanted):
        return []
    found = [p for p in charts if os.path.realpath(p) in wanted]
    return found if len(found) == len(wanted) else []  # a new or deleted chart: the build's to show


def draw(paths: Collection[Path], options: BuildOptions, cache: ResultCache | None) -> list[Preview]:
    """The SVG of each chart of `paths` that passes its own checks, drawn as
    the build draws it; none when the project makes no SVG or there are
    more than MAX_PREVIEWS.  An interrupt (Ctrl-C) kills the dot run."""
    if not paths or len(paths) > MAX_PREVIEWS or "svg" not in options.formats:
        return []
    try:
        tools = render.toolchain(options.font)
    except click.ClickException:
        return []  # dot or the font gone: the build says so
    previews = []
    for chart in charts_valid_alone(list(paths), options.settings, cache).values():
        dot_text = layout.chart_dot(chart, options.font, options.settings, options.page)
        (drawn,) = render.draw_many([dot_text], ("svg",), tools, options.timeout, page=options.page)
        finished = render.finish(drawn, dot_text, ("svg",), tools, options.dpi, page=options.page)
        if not isinstance(finished, render.RenderFailure):  # a crash is the build's to report
            previews.append(Preview(chart.out_name, chart.title, finished["svg"]))
    return previews
