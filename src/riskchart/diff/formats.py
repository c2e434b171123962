"""The diff formats by name: each renders a Diff to text or bytes.

Adding a format is one entry here (a renderer taking the Diff and the
Options); the command line offers every name in RENDERERS.  A renderer
that returns bytes writes only to a file (-o).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Settings
from .as_html import render_html
from .as_json import render_json
from .as_text import render_text
from .changes import Diff


@dataclass(frozen=True)
class Options:
    color: bool = False  # ANSI colour in the text format (a terminal)
    settings: Settings = field(default_factory=Settings)  # the project's (fonts for the office formats)


Renderer = Callable[[Diff, Options], "str | bytes"]


def _docx(diff: Diff, options: Options) -> bytes:
    from .office import revision_table_docx  # python-docx loads only when asked for

    return revision_table_docx(diff, options.settings)


def _xlsx(diff: Diff, options: Options) -> bytes:
    from .office import revision_table_xlsx

    return revision_table_xlsx(diff, options.settings)


RENDERERS: dict[str, Renderer] = {
    "text": lambda diff, options: render_text(diff, options.color),
    "json": lambda diff, options: render_json(diff),
    "html": lambda diff, options: render_html(diff),
    "docx": _docx,  # the 修订对照表 to attach to a 请示
    "xlsx": _xlsx,
}


def render(diff: Diff, name: str, options: Options = Options()) -> str | bytes:
    return RENDERERS[name](diff, options)
