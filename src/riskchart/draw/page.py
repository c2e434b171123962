"""The printed page a chart is laid out for: its size, its orientation and
the column widths and wrap widths that follow from its printable width.

A chart is drawn at the size it is printed at: the columns are made as wide
as the page allows at the body type size (style.FONT_SIZE), so the PDF
needs no shrinking across and only a tall chart is scaled, a little, or
continued on further pages (pages.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .. import style

SIZES = {"A4": (595, 842), "A3": (842, 1191)}  # portrait, in points
ORIENTATIONS = ("portrait", "landscape")


@dataclass(frozen=True)
class Page:
    size: str = "A4"
    landscape: bool = False

    @property
    def width(self) -> float:
        short, long = SIZES[self.size]
        return long if self.landscape else short

    @property
    def height(self) -> float:
        short, long = SIZES[self.size]
        return short if self.landscape else long

    @property
    def printable_width(self) -> float:
        return self.width - 2 * style.PAGE_MARGIN

    @property
    def printable_height(self) -> float:
        return self.height - 2 * style.PAGE_MARGIN

    @property
    def key(self) -> str:
        """What the fingerprint and the file caches record."""
        return f"{self.size}-{'landscape' if self.landscape else 'portrait'}"


def _columns(width: float, font_size: float, slack: float) -> int:
    """Half-em columns of `font_size` that fit `width` points, less `slack` columns."""
    return max(4, math.floor(width / (font_size / 2) - slack))


class Sheet:
    """The style module as the template sees it for one chart on one page:
    the widths and wrap columns computed here, every other name from style.py."""

    def __init__(self, base: ModuleType, **computed: Any) -> None:
        self._base = base
        self.__dict__.update(computed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


def sheet(page: Page, has_exits: bool) -> Sheet:
    """Column widths for `page`: the drawing (pad, two side columns, the
    workflow, two gaps and the exits' lane when there is one) spans the
    printable width exactly at the body size."""
    separation = style.NODE_SEPARATION_INCH * 72
    wide = page.printable_width > 700
    step = style.STEP_WIDTH_WIDE if wide else style.STEP_WIDTH
    exit_width = style.EXIT_WIDTH_WIDE if wide else style.EXIT_WIDTH
    # exits right of the workflow's line, past a spacer and two node separations
    lane = round(style.EXIT_SPACER + exit_width + 2 * separation - step / 2) if has_exits else 0
    # the column titles' boxes are widest: their WIDTH less 2, plus a 1 pt border and 2 pt cell spacing a side
    titles_extra = 3 * 4
    free = page.printable_width - 2 * style.GRAPH_PAD_INCH * 72 - step - 2 * separation - lane - titles_extra - 1
    side = math.floor(free / 2)
    # the header is centred over the workflow: as wide as the columns left of the lane, so that it
    # reaches no further left than the risks do
    header_width = round(2 * side + step + 2 * separation)
    text_width = side - style.NUMBER_WIDTH - 2  # a cell's WIDTH includes its padding; the border 1 pt a side
    return Sheet(
        style,
        SIDE_WIDTH=side,
        STEP_WIDTH=step,
        EXIT_WIDTH=exit_width,
        HEADER_WIDTH=header_width,
        SIDE_COLUMNS=_columns(text_width - 2 * style.CELL_PADDING, style.FONT_SIZE, 1),
        STEP_COLUMNS=_columns(step - 2 * 72 * 0.06, style.FONT_SIZE, 3),
        STEP_TIME_COLUMNS=_columns(step - 2 * 72 * 0.06, style.STEP_TIME_FONT_SIZE, 0.5),
        HEADER_COLUMNS=_columns(header_width - 8, style.POWER_FONT_SIZE, 2),
        EXIT_COLUMNS=_columns(exit_width - 8, style.EXIT_FONT_SIZE, 1),
        EXIT_WHEN_COLUMNS=_columns(exit_width - 4, style.EXIT_WHEN_FONT_SIZE, 1),
    )


A4_PORTRAIT = Page()  # the default paper

LINE_HEIGHT = 1.45  # of a line of text in Graphviz's HTML labels, in ems (Noto Sans CJK's ascent and descent)


def side_box_height(items: tuple[str, ...], page: Page = A4_PORTRAIT) -> float:
    """A risk or measure box's height at the body size, estimated without the font
    (every character full-width): for lint, which draws nothing."""
    columns: int = sheet(page, has_exits=False).SIDE_COLUMNS
    line = style.FONT_SIZE * LINE_HEIGHT
    lines = sum(max(1, math.ceil(2 * len(text) / columns)) for text in items)
    return lines * line + len(items) * 2 * style.CELL_PADDING + line + 2 * style.CELL_PADDING  # + level/owner row


def band_room(page: Page = A4_PORTRAIT) -> float:
    """The tallest band a continued page holds at MIN_BODY_SIZE, under its title,
    column titles, connector rings and page number (about 70 pt of the page)."""
    return (page.printable_height - 72) * style.FONT_SIZE / style.MIN_BODY_SIZE
