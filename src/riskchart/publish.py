"""Stage 6 — publish: the set around the charts.

`out/index.html` (the website page), `out/risk-register.csv` (风险点台账)
and `out/booklet.pdf` (汇编) are made from the same charts in the same
run.  Like the charts they are incremental: the set's fingerprint covers
every chart's fingerprint and the publication templates, and a set that
has not changed is not rewritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import __version__, files, layout, render, tables
from .model import Chart, Phones
from .schema import CATEGORIES, LEVELS

if TYPE_CHECKING:
    import jinja2

    from .build import BuildOptions

INDEX = "index.html"
REGISTER = "risk-register.csv"
BOOKLET = "booklet.pdf"
CACHE = ".riskchart-cache"  # cover and contents pages of the booklet, by content
SET_OUTPUTS = (INDEX, REGISTER, BOOKLET)
RESERVED_STEMS = frozenset(name.rsplit(".", 1)[0].casefold() for name in SET_OUTPUTS)  # no chart may be named so
FAILING_NOTE = "本图有错误，未更新"
LINKED_FORMATS = ("svg", "pdf", "png")  # what a card in the index links to, in this order
LEVEL_CLASS = {"高": "high", "中": "mid", "低": "low"}
_SET_TEMPLATES = ("index.html.j2", "index.css", "index.js", "cover.dot.j2", "contents.dot.j2")


@dataclass(frozen=True)
class Card:
    chart: Chart
    search: str
    levels: tuple[str, ...]
    svg: str | None
    link: str
    files: tuple[tuple[str, str], ...]


def set_fingerprint(fingerprints: dict[Path, str], ready: list[Path], formats: tuple[str, ...],
                    failing: tuple[str, ...] = ()) -> str:
    digest = hashlib.sha256(f"{__version__}|{','.join(formats)}|{'/'.join(failing)}".encode())
    folder = layout.template_folder()
    for name in _SET_TEMPLATES:
        digest.update((folder / name).read_bytes())
    for path in sorted(ready, key=str):
        digest.update(f"{path}|{fingerprints[path]}".encode())
    return digest.hexdigest()


def is_fresh(manifest: dict[str, Any], fingerprints: dict[Path, str], options: BuildOptions) -> bool:
    """Whether the set built from all these charts is already in out/."""
    return _is_current(manifest, set_fingerprint(fingerprints, list(fingerprints), options.formats), options.out)


def _is_current(manifest: dict[str, Any], fingerprint: str, out: Path) -> bool:
    entry = manifest.get("set") or {}
    return entry.get("fingerprint") == fingerprint and all((out / n).is_file() for n in entry.get("outputs", ()))


@dataclass(frozen=True)
class Published:
    written: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()


def publish_set(charts: list[Chart], fingerprints: dict[Path, str], manifest: dict[str, Any], options: BuildOptions,
                tools: render.Toolchain, failing: Iterable[str] = (), scratch: Path | None = None) -> Published:
    """Write index, register and booklet unless the set is unchanged.

    `failing` are charts that failed this build but keep their old outputs:
    the index lists them, marked, with their last title; the register and
    booklet leave them out rather than print what the chart no longer says.
    A booklet that cannot be made is reported and its old file kept; the
    set is then not recorded as done, so the next build tries again.
    """
    failing = tuple(sorted(failing))
    fingerprint = set_fingerprint(fingerprints, [c.path for c in charts], options.formats, failing)
    if not options.force and _is_current(manifest, fingerprint, options.out):
        return Published()
    out: Path = options.out
    today = date.today()
    written, failures = [], []
    files.write_atomic(out / REGISTER, tables.register_csv(charts))
    written.append(REGISTER)
    pdfs = {c.stem: out / f"{c.stem}.pdf" for c in charts}
    if charts and "pdf" in options.formats and all(p.is_file() for p in pdfs.values()):
        from .booklet import DamagedPdf, booklet_pdf

        try:
            files.write_atomic(out / BOOKLET, booklet_pdf(charts, pdfs, tools, _department(charts), today,
                                                          out / CACHE, scratch,
                                                          options.settings.categories))
            written.append(BOOKLET)
        except render.RenderFailure as failure:
            failures.append(f"{BOOKLET}：封面或目录无法生成：{failure}")
        except DamagedPdf as damaged:
            manifest["charts"].pop(damaged.stem, None)  # so the next build draws it again
            failures.append(f"{BOOKLET}：{damaged}")
    # an old booklet is linked only while this build makes PDFs
    booklet = "pdf" in options.formats and (out / BOOKLET).is_file()
    missing = [_missing_card(stem, manifest, options.formats, out) for stem in failing]
    files.write_atomic(out / INDEX, index_html(charts, out, options.formats, today, booklet=booklet, register=True,
                                               failing=missing,
                                               categories=options.settings.categories).encode("utf-8"))
    written.append(INDEX)
    if not failures:
        manifest["set"] = {"fingerprint": fingerprint, "outputs": sorted(written)}
    return Published(tuple(written), tuple(failures))


def draw_front_matter_ahead(charts: list[Chart], options: BuildOptions, tools: render.Toolchain,
                            scratch: Path | None = None) -> None:
    """Draw the booklet's cover and contents for these charts into its page
    cache while the charts are being drawn, so that publish_set finds them
    there instead of starting dot once more at the end.  Best effort: if
    the charts published turn out to be others, or drawing fails here,
    publish_set draws (and reports) on its own."""
    if not charts or "pdf" not in options.formats:
        return
    from .booklet import front_matter, front_matter_pages

    pages = front_matter_pages(charts, tools, _department(charts), date.today(), options.settings.categories)
    try:
        front_matter(pages, tools, options.out / CACHE, scratch)
    except (render.RenderFailure, OSError):
        return


@dataclass(frozen=True)
class FailingCard:
    """A chart with errors: its outputs from the last good build."""
    stem: str
    title: str
    files: tuple[tuple[str, str], ...]


def _missing_card(stem: str, manifest: dict[str, Any], formats: tuple[str, ...], out: Path) -> FailingCard:
    entry = manifest["charts"].get(stem) or {}
    kept = tuple((fmt, href(f"{stem}.{fmt}")) for fmt in LINKED_FORMATS if (out / f"{stem}.{fmt}").is_file())
    return FailingCard(stem, entry.get("title") or stem, kept)


def _department(charts: list[Chart]) -> str:
    return next((c.department for c in charts if c.department), "")


@cache
def html_environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(layout.template_folder())),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def search_text(chart: Chart) -> str:
    """Everything a user may look for in a chart, on one line."""
    parts = [str(chart.id), chart.category, chart.title]
    for step in chart.steps:
        parts += [step.name, step.level or "", *step.risks, *step.measures, step.owner or ""]
    return " ".join(p for p in parts if p)


def index_html(charts: list[Chart], out: Path, formats: tuple[str, ...], built_on: date,
               *, booklet: bool, register: bool, failing: Sequence[FailingCard] = (),
               categories: tuple[str, ...] = CATEGORIES) -> str:
    charts = sorted(charts, key=lambda c: c.id)
    stats = tables.statistics(charts, categories)
    groups = []
    for category in categories:
        members = [c for c in charts if c.category == category]
        if members:
            groups.append((category, [_card(c, formats) for c in members]))
    bar_scale = max([c.risk_total for c in stats.by_category.values()] + [1])
    phones = next((c.phones for c in charts if c.phones.service or c.phones.supervision), Phones())
    return html_environment().get_template("index.html.j2").render(
        department=_department(charts), version=__version__, built_on=built_on.isoformat(),
        stats=stats, groups=groups, levels=LEVELS, level_class=LEVEL_CLASS, bar_scale=bar_scale,
        booklet=href(BOOKLET) if booklet else None, register=href(REGISTER) if register else None, phones=phones,
        failing=failing, failing_note=FAILING_NOTE)


def href(name: str) -> str:
    """A relative link to a file in out/: every character but letters,
    digits and -_.~ percent-encoded (the bytes of a name that is not UTF-8
    as they are on disk), so a name can never become a scheme
    (javascript:), a fragment (#), a query (?) or another folder."""
    return quote(name, safe="", errors="surrogateescape")


def _card(chart: Chart, formats: tuple[str, ...]) -> Card:
    links = tuple((fmt, href(f"{chart.stem}.{fmt}")) for fmt in LINKED_FORMATS if fmt in formats)
    return Card(
        chart=chart,
        search=search_text(chart),
        levels=tuple(level for level in LEVELS if chart.risk_count(level)),
        svg=href(f"{chart.stem}.svg") if "svg" in formats else None,
        link=links[0][1] if links else "#",
        files=links,
    )
