"""Stage 4 — layout: a Chart → DOT text, through the Jinja2 template.

Python decides what the chart says (wrapped lines, numbers, colours, ids);
the template in `templates/chart.dot.j2` decides how DOT spells it.  Every
value printed by the template is escaped for Graphviz HTML-like labels
unless it is marked as markup, so user text can never become DOT or HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from . import style
from .model import Chart
from .wrap import wrap


CHART_TEMPLATE = "chart.dot.j2"


class Markup(str):
    """Text the template may print as it is (already DOT/HTML)."""


_BRACKETS = str.maketrans({"[": "&#91;", "]": "&#93;"})


def escape_label(value) -> str:
    """Escape for an HTML-like label: XML entities; square brackets as
    character references, because Graphviz 2.43's label lexer rejects or
    silently drops a "]" next to a tag; backslashes doubled, because
    Graphviz expands \\N, \\G, \\l … even inside HTML labels."""
    if isinstance(value, Markup):
        return value
    text = value if isinstance(value, str) else str(value)
    return html.escape(text, quote=True).translate(_BRACKETS).replace("\\", "\\\\")


@dataclass(frozen=True)
class Item:
    number: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    index: int
    name_lines: tuple[str, ...]
    level: str | None
    risks: tuple[Item, ...]
    measures: tuple[Item, ...]
    owner_lines: tuple[str, ...]


def template_folder() -> Path:
    """templates/ of the source tree, or the copy packaged into a wheel."""
    in_tree = Path(__file__).resolve().parents[2] / "templates"
    if in_tree.is_dir():
        return in_tree
    return Path(str(resources.files("riskchart.templates")))


@lru_cache(maxsize=None)
def environment(folder: Path | None = None):
    import jinja2  # only the build needs it; lint stays light

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder or template_folder())),
        undefined=jinja2.StrictUndefined,
        finalize=escape_label,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["safe_markup"] = Markup
    return env


def cache_compiled_templates(*environments, folder: Path) -> None:
    """Keep compiled templates in `folder`: compiling them anew costs a
    tenth of a second, a fifth of a rebuild after a one-line change."""
    import jinja2

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a cache is an optimisation; without it templates just compile
    for env in environments:
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))


def _items(texts: tuple[str, ...], font: str) -> tuple[Item, ...]:
    return tuple(Item(n, tuple(wrap(t.strip(), style.SIDE_COLUMNS, font))) for n, t in enumerate(texts, 1))


def rows(chart: Chart, font: str = style.DEFAULT_FONT) -> list[Row]:
    return [
        Row(
            index=i,
            name_lines=tuple(wrap(step.name.strip(), style.STEP_COLUMNS, font)),
            level=step.level if step.risks else None,
            risks=_items(step.risks, font),
            measures=_items(step.measures, font),
            owner_lines=tuple(wrap("责任人：" + step.owner.strip(), style.SIDE_COLUMNS, font))
            if step.owner and step.measures else (),
        )
        for i, step in enumerate(chart.steps)
    ]


def chart_dot(chart: Chart, font: str = style.DEFAULT_FONT) -> str:
    """The DOT text of one chart."""
    template = environment().get_template(CHART_TEMPLATE)
    return template.render(
        chart=chart,
        heading=chart.heading,
        power_lines=wrap("职权名称：" + chart.title.strip(), style.HEADER_COLUMNS, font),
        rows=rows(chart, font),
        font=font,
        s=style,
        levels=[(name, style.LEVEL_STYLES[name]) for name in style.LEVEL_ORDER],
    )
