"""The pages of `riskchart serve`: a chart page, and the index page of the
output folder with the live script added.  HTML from templates/, escaped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..publish.index import html_environment
from .session import Live

CHART_TEMPLATE = "serve-chart.html.j2"
SCRIPT_TEMPLATE = "serve-script.html.j2"
WAITING = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>riskchart serve</title></head>'
           "<body><p>索引页尚未生成：请看终端中的错误；生成后本页自动显示。</p></body></html>")


@dataclass(frozen=True)
class Page:
    found: bool
    html: str


def chart_page(live: Live, key: str) -> Page:
    """The chart's drawing large, with its file, its neighbours and its
    problems (filled in by serve.js from the live state)."""
    state = live.state
    charts: list[dict[str, Any]] = state["charts"]
    where = next((i for i, chart in enumerate(charts) if chart["key"] == key), None)
    chart = charts[where] if where is not None else None
    before = charts[where - 1] if where else None
    after = charts[where + 1] if where is not None and where + 1 < len(charts) else None
    html = html_environment().get_template(CHART_TEMPLATE).render(
        key=key, chart=chart, before=before, after=after, kind="chart", value=key, instance=live.instance)
    return Page(chart is not None, html)


def live_index(page: bytes, version: str, live: Live) -> bytes:
    """The output folder's index.html (of `version`, see serve.file_version)
    with the live script before its `</body>`; without an index yet, a
    page that waits for it."""
    script = _script("index", version, live).encode("utf-8")
    if not page:
        page = WAITING.encode("utf-8")
    at = page.rfind(b"</body>")
    return page[:at] + script + page[at:] if at >= 0 else page + script


def _script(kind: str, value: str, live: Live) -> str:
    return html_environment().get_template(SCRIPT_TEMPLATE).render(kind=kind, value=value, instance=live.instance)
