"""The printable compilation (风险防控图汇编): cover, contents, every chart.

Cover and contents are drawn by Graphviz from templates like the charts
themselves; pypdf joins the pages and adds a bookmark per category and per
chart.  Every page is A4 portrait.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from . import layout, render, style
from .model import Chart
from .wrap import wrap


@dataclass(frozen=True)
class Entry:
    number: int
    category: str
    title_lines: tuple[str, ...]
    draft: bool
    page: int


def booklet_pdf(charts: list[Chart], chart_pdfs: dict[str, Path], tools: render.Toolchain,
                department: str, built_on: date) -> bytes:
    from pypdf import PdfReader, PdfWriter

    charts = sorted(charts, key=lambda c: c.id)
    contents_pages = max(1, math.ceil(len(charts) / style.TOC_ROWS_PER_PAGE))
    first_chart_page = 2 + contents_pages
    entries = [Entry(c.id, c.category, tuple(wrap(c.title, style.TOC_TITLE_COLUMNS)), c.draft,
                     first_chart_page + i) for i, c in enumerate(charts)]
    env = layout.environment()
    pages = [env.get_template("cover.dot.j2").render(
        department=department, date=f"{built_on.year} 年 {built_on.month} 月 {built_on.day} 日",
        count=len(charts), font=tools.font, s=style)]
    for start in range(0, max(1, len(entries)), style.TOC_ROWS_PER_PAGE):
        pages.append(env.get_template("contents.dot.j2").render(
            entries=entries[start:start + style.TOC_ROWS_PER_PAGE], continued=start > 0,
            font=tools.font, s=style))

    writer = PdfWriter()
    for dot_text in pages:
        writer.append(PdfReader(io.BytesIO(render.render(dot_text, ("pdf",), tools)["pdf"])))
    category_marks = {}
    for chart in charts:
        page_index = len(writer.pages)
        writer.append(PdfReader(chart_pdfs[chart.stem]))
        if chart.category not in category_marks:
            category_marks[chart.category] = writer.add_outline_item(title=f"{chart.category}类", page_number=page_index)
        writer.add_outline_item(title=f"{chart.id}. {chart.title}", page_number=page_index,
                                parent=category_marks[chart.category])
    writer.add_metadata({"/Title": f"{department}权力运行廉政风险防控图汇编", "/Creator": "riskchart"})
    writer.page_mode = "/UseOutlines"
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
