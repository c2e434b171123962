"""How `riskchart build` shows its progress on the terminal.

A build of a few charts prints one line per chart drawn (生成 01-… 0.21 s).
Past PROGRESS_BAR_AFTER charts to draw, on a terminal, one click progress
bar with the count and the time left replaces those lines; a failing chart
still gets its line.  Not on a terminal (a log, CI) the lines stay, since a
bar would only be noise there; `-q` prints failures alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import click

from .check.characters import printable

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from .build import ChartOutcome

PROGRESS_BAR_AFTER = 50  # charts to draw: more than this many, and a terminal, make a bar
LABELS = {"built": "生成", "fresh": "最新", "failed": "失败"}


class BuildProgress:
    """The build's `planned` and `progress` callbacks, for one terminal (or not)."""

    def __init__(self, stream: TextIO, *, quiet: bool = False,
                 terminal: Callable[[TextIO], bool] = lambda stream: stream.isatty()) -> None:
        self._stream, self._quiet, self._terminal = stream, quiet, terminal
        self._bar: ProgressBar[int] | None = None  # while one is shown

    def planned(self, count: int) -> None:
        """`count` charts are about to be drawn."""
        if count > PROGRESS_BAR_AFTER and not self._quiet and self._terminal(self._stream):
            self._bar = click.progressbar(length=count, label="生成", show_eta=True, show_pos=True,
                                          file=self._stream)
            self._bar.__enter__()

    def __call__(self, outcome: ChartOutcome) -> None:
        if outcome.status == "failed":
            self._line(printable(f"  {LABELS['failed']}  {outcome.stem}：{outcome.reason}"))
        elif outcome.status == "built" and not self._quiet and self._bar is None:
            self._line(printable(f"  {LABELS['built']}  {outcome.stem}  {outcome.seconds:.2f} s"))
        if self._bar is not None and outcome.status != "fresh":
            # Charts finish a batch at a time: click's own estimate (the mean of a few
            # per-second samples) would swing with each burst; the build's mean rate does not.
            self._bar.avg = [(time.time() - self._bar.start) / (self._bar.pos + 1)]
            self._bar.update(min(1, (self._bar.length or 0) - self._bar.pos))  # never past the end

    def close(self) -> None:
        """End the bar (its line stays, complete), before the summary is printed."""
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def _line(self, text: str) -> None:
        if self._bar is not None:  # the line goes above the bar, which is drawn again below it
            click.echo("\r\033[K", nl=False, file=self._stream)
        click.echo(text, file=self._stream)
        if self._bar is not None:
            self._bar.render_progress()
