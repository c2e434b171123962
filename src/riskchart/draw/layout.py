"""Stage 4 — layout: a Chart → DOT text, through the Jinja2 template.

Python decides what the chart says (wrapped lines, numbers, colours, ids);
the template in `templates/chart.dot.j2` decides how DOT spells it.  Every
value printed by the template is escaped for Graphviz HTML-like labels
unless it is marked as markup, so user text can never become DOT or HTML.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .. import files, style
from ..config import Settings
from ..model import Chart
from .marks import NO_MARKS, Marks, Redline
from .page import Page, Sheet
from .page import sheet as sheet_for
from .templatefiles import CHART_TEMPLATE, CONTINUATION_TEMPLATE, template_folder
from .wrap import wrap

if TYPE_CHECKING:
    import jinja2



class Markup(str):
    """Text the template may print as it is (already DOT/HTML)."""


# What html.escape(quote=True) replaces, and then brackets and backslashes, in one pass.
_LABEL_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
                                "[": "&#91;", "]": "&#93;", "\\": "\\\\"})
_NEEDS_ESCAPE = re.compile(r"[&<>\"'\[\]\\]")


def escape_label(value: object) -> str:
    """Escape for an HTML-like label: XML entities; square brackets as
    character references, because Graphviz 2.43's label lexer rejects or
    silently drops a "]" next to a tag; backslashes doubled, because
    Graphviz expands \\N, \\G, \\l … even inside HTML labels.  Every value
    the template prints passes here (hundreds a chart, most of them numbers
    and plain text): what has nothing to escape is returned as it is."""
    if isinstance(value, Markup):
        return value
    text = value if isinstance(value, str) else str(value)
    return text.translate(_LABEL_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


@dataclass(frozen=True)
class Item:
    number: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ExitLines:
    when_lines: tuple[str, ...]
    to_lines: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    index: int
    name_lines: tuple[str, ...]
    level: str | None
    risks: tuple[Item, ...]
    measures: tuple[Item, ...]
    owner_lines: tuple[str, ...]
    time_lines: tuple[str, ...] = ()
    exits: tuple[ExitLines, ...] = ()
    risk_type: str = ""  # the tag on the risk box; "" for none
    note_lines: tuple[str, ...] = ()


_PROJECT_DEFAULTS = Settings()


def level_styles(levels: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Each level of a scale (highest first) its colours from the palette,
    by rank, spread over the palette so the ends stay darkest and palest."""
    last = len(style.LEVEL_PALETTE) - 1
    steps = max(len(levels) - 1, 1)
    return {name: style.LEVEL_PALETTE[round(rank * last / steps)] for rank, name in enumerate(levels)}


def legend(chart: Chart, settings: Settings) -> list[tuple[str, dict[str, str]]]:
    """The levels the footer explains: the whole scale where the project
    requires levels (every risk box has one), else only those the chart
    uses, and 未评定 when one of its risk boxes has no level."""
    colours = level_styles(settings.levels)
    used = {step.level for step in chart.steps if step.risks}
    shown = [(name, colours[name]) for name in settings.levels if "level" in settings.require or name in used]
    if None in used:
        shown.append((style.UNGRADED_LEGEND, {"fill": "white", "text": style.MUTED, "border": style.UNGRADED_BORDER}))
    return shown


@cache
def environment(folder: Path | None = None) -> jinja2.Environment:
    import jinja2  # only the build needs it; lint stays light

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder or template_folder())),
        undefined=jinja2.StrictUndefined,
        finalize=escape_label,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # the package's own templates: Jinja would otherwise stat the file for every chart (0.2 s at 400)
        auto_reload=False,
    )
    env.filters["safe_markup"] = Markup
    # a chart's every wrapped text is printed through one of these: in Python, a tenth of a macro's cost
    env.globals.update(lines=_joined('<BR ALIGN="LEFT"/>'), centred=_joined("<BR/>"))
    return env


def _joined(separator: str) -> Callable[[Iterable[object]], str]:
    """Lines as one label text: each escaped, `separator` between them."""
    def joined(lines: Iterable[object]) -> str:
        return separator.join(map(escape_label, lines))
    return joined


def cache_compiled_templates(*environments: jinja2.Environment) -> None:
    """Keep compiled templates in the user's own cache folder: compiling
    them anew costs a tenth of a second, a fifth of a rebuild after a
    one-line change.  Never in out/: a compiled template is code, and out/
    may come from anyone (a CI artifact, a shared folder)."""
    folder = files.user_cache_folder("templates")
    if folder is None:
        return  # a cache is an optimisation; without it templates just compile
    cache = compiled_template_cache(folder)
    for env in environments:
        env.bytecode_cache = cache


def compiled_template_cache(folder: Path) -> jinja2.BytecodeCache:
    """A Jinja2 bytecode cache in `folder` that stores marshalled code behind
    a plain-text header (Jinja2's own cache unpickles its header).  An entry
    for another template text, riskchart or Python version, or one that is
    damaged, is a miss."""
    import marshal
    import sys
    import types

    import jinja2

    from .. import __version__

    class UserCache(jinja2.BytecodeCache):
        def _header(self, bucket: jinja2.bccache.Bucket) -> bytes:
            return f"riskchart {__version__} {sys.implementation.cache_tag} {bucket.checksum}\n".encode()

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                data = (folder / f"{bucket.key}.code").read_bytes()
                header = self._header(bucket)
                if data.startswith(header):
                    code = marshal.loads(data[len(header):])
                    if isinstance(code, types.CodeType):
                        bucket.code = code
            except Exception:  # noqa: BLE001 - unreadable or damaged (in any way): compile anew
                bucket.reset()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            with contextlib.suppress(OSError):
                files.write_atomic(folder / f"{bucket.key}.code", self._header(bucket) + marshal.dumps(bucket.code))

    return UserCache()


def _items(texts: tuple[str, ...], columns: float, font: str) -> tuple[Item, ...]:
    return tuple(Item(n, tuple(wrap(t.strip(), columns, font))) for n, t in enumerate(texts, 1))


def rows(chart: Chart, font: str = style.DEFAULT_FONT, sheet: Sheet | None = None) -> list[Row]:
    s = sheet or chart_sheet(chart, Page())
    return [
        Row(
            index=i,
            name_lines=tuple(wrap(step.name.strip(), s.STEP_COLUMNS, font)),
            level=step.level if step.risks else None,
            risks=_items(step.risks, s.SIDE_COLUMNS, font),
            measures=_items(step.measures, s.SIDE_COLUMNS, font),
            owner_lines=_owner_lines(chart, i, font, s),
            time_lines=tuple(wrap("时限：" + step.time_limit.strip(), s.STEP_TIME_COLUMNS, font))
            if step.time_limit else (),
            exits=tuple(ExitLines(tuple(wrap(e.when.strip(), s.EXIT_WHEN_COLUMNS, font)),
                                  tuple(wrap(e.to.strip(), s.EXIT_COLUMNS, font))) for e in step.exits),
            risk_type=(chart.risk_type_of(step) or "").strip(),
            note_lines=tuple(wrap(step.note.strip(), s.STEP_TIME_COLUMNS, font)) if step.note else (),
        )
        for i, step in enumerate(chart.steps)
    ]


def _owner_lines(chart: Chart, index: int, font: str, s: Sheet) -> tuple[str, ...]:
    """责任人 of the step's own, 责任单位 inherited from the chart; none without measures or owner."""
    step = chart.steps[index]
    owner = chart.owner_of(step)
    if not owner or not owner.strip() or not step.measures:
        return ()
    label = "责任人：" if step.owner else "责任单位："
    return tuple(wrap(label + owner.strip(), s.SIDE_COLUMNS, font))


@dataclass(frozen=True)
class Header:
    """What the header says under the power's name; empty for a chart without these keys."""
    code: str
    time_limit: str
    basis: tuple[Item, ...]
    scope_lines: tuple[str, ...] = ()
    owner_lines: tuple[str, ...] = ()


def chart_sheet(chart: Chart, page: Page) -> Sheet:
    """Widths and wrap columns of `chart` on `page`: with the exits' lane when it has exits."""
    return sheet_for(page, chart.has_exits and not chart.draft)


def page_width(chart: Chart, page: Page | None = None) -> int:
    """The header's width: the three columns, and the exits' lane when there are exits."""
    return int(chart_sheet(chart, page or Page()).HEADER_WIDTH)


def header(chart: Chart, font: str = style.DEFAULT_FONT, sheet: Sheet | None = None) -> Header:
    s = sheet or chart_sheet(chart, Page())
    text_width = s.HEADER_WIDTH - style.BASIS_LABEL_WIDTH - style.NUMBER_WIDTH - 8  # 8: cell padding
    columns = 2 * text_width / style.BASIS_FONT_SIZE  # a column is half an em
    return Header(
        code=chart.code.strip() if chart.code else "",
        time_limit=chart.time_limit.text,
        basis=tuple(Item(n, tuple(wrap(b.strip(), columns, font))) for n, b in enumerate(chart.basis, 1)),
        scope_lines=tuple(wrap("适用范围：" + chart.scope.strip(), s.HEADER_COLUMNS, font)) if chart.scope else (),
        owner_lines=tuple(wrap("责任单位：" + chart.owner.strip(), s.HEADER_COLUMNS, font))
        if chart.owner and chart.owner.strip() else (),
    )


def chart_dot(chart: Chart, font: str = style.DEFAULT_FONT, settings: Settings = _PROJECT_DEFAULTS,
              page: Page | None = None, marks: Marks | None = None) -> str:
    """The DOT text of one chart, its levels coloured on the project's scale,
    laid out for `page` (A4 portrait unless given); with `marks`, a redline
    (marks.py): its revisions marked and a legend of the marks."""
    s = chart_sheet(chart, page or Page())
    redline = Redline(marks, chart, font, s.SIDE_COLUMNS, s.STEP_COLUMNS, s.HEADER_COLUMNS) if marks else NO_MARKS
    template = environment().get_template(CHART_TEMPLATE)
    return template.render(
        chart=chart,
        heading=chart.heading,
        power_lines=wrap("职权名称：" + chart.title.strip(), s.HEADER_COLUMNS, font),
        rows=rows(chart, font, s),
        power=header(chart, font, s),
        page_width=s.HEADER_WIDTH,
        font=font,
        s=s,
        levels=legend(chart, settings),
        level_styles=level_styles(settings.levels),
        redline=redline,
    )


def continuation_dot(chart: Chart, pages: int, font: str = style.DEFAULT_FONT) -> str:
    """The words a chart continued on `pages` pages adds: the title with 「（续）」 and
    「第 k 页 / 共 n 页」 for each page (pages.py places them)."""
    return environment().get_template(CONTINUATION_TEMPLATE).render(
        heading=chart.heading + "（续）", pages=pages, font=font, s=style)
