"""Stage 6 — publish: the set around the charts.

`out/index.html` (the website page), `out/risk-register.csv` (风险点台账)
and `out/booklet.pdf` (汇编), plus `out/<department folder>/booklet.pdf`
for each department in a folder of its own, are made from the same charts
in the same run, always from the whole project (see build/run.py's _whole_project).  Like the charts they are incremental: the set's fingerprint covers
every chart's fingerprint and the publication templates, and a set that
has not changed is not rewritten.
"""

from __future__ import annotations

import io
import operator
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .. import files
from ..draw import render
from ..model import Chart
from .booklets import publish_booklets, publish_word_booklet, word_pictures_in_background
from .cards import LINKED_FORMATS, href, html_environment, link, search_text
from .indexpage import FailingCard, index_html, index_page
from .names import BOOKLET, BOOKLET_DOCX, INDEX, REGISTER, REGISTER_XLSX
from .registerlayout import RegisterLayout, write_layout
from .setstamp import _is_current, _word_booklet, is_fresh, set_fingerprint
from .stampedfile import Stamp, digest_of, file_digest, placed_stamp, staged_inode

if TYPE_CHECKING:
    from ..build import BuildOptions
    from .pageprep import InHand

# what other modules and the tests take from here (the page and its cards have modules of their own)
__all__ = ["Published", "Registers", "href", "html_environment", "index_html", "is_fresh", "publish_set",
           "registers_ahead", "search_text", "set_fingerprint"]


@dataclass(frozen=True)
class Published:
    written: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the set leaves out on purpose (a booklet too long to print)


@dataclass(frozen=True)
class Registers:
    """The register's files (CSV and Excel) of some charts, made while dot
    draws and written aside (in the build's scratch folder) until published,
    and where each chart's rows are in them."""
    charts: tuple[Chart, ...]
    csv: Path
    xlsx: Path
    layout: RegisterLayout
    digests: tuple[str, str]  # the SHA-256 of each file's bytes as written (registerlayout.Stamp)


def registers_ahead(charts: list[Chart], options: BuildOptions, folder: Path,
                    fingerprints: Mapping[Path, str] | None = None) -> Registers:
    """The register of the charts the set will most likely show, made beside
    the dot runs into `folder`; publish_set moves it into place if the set
    turns out to be these charts.  `fingerprints`: the chart files' (by
    path), which find each chart's cached rows without reading its model."""
    csv, xlsx = folder / REGISTER, folder / REGISTER_XLSX
    with csv.open("wb") as stream:
        workbook, layout = _registers(charts, options, stream, fingerprints)
    xlsx.write_bytes(workbook)
    # digested here, beside the dot runs, not while the set is published
    return Registers(tuple(charts), csv, xlsx, layout, (file_digest(csv), digest_of(workbook)))


def _registers(charts: list[Chart], options: BuildOptions, csv: BinaryIO,
               fingerprints: Mapping[Path, str] | None) -> tuple[bytes, RegisterLayout]:
    """The CSV register into `csv`, and the Excel one, with their layout:
    spliced from the last register's files where they allow (splice.py),
    else each unchanged chart's rows as the last build made them (rowcache.py)."""
    from .rowcache import RowCache
    from .splice import spliced_registers
    from .xlsx import laid_out_registers

    categories, levels = options.settings.categories, options.settings.levels
    cache = RowCache(options.out / files.OUTPUT_CACHE, fingerprints)
    spliced = None if options.force else spliced_registers(charts, categories, levels, cache, options.out, csv)
    return spliced or laid_out_registers(charts, categories, levels, cache, csv)


def _write_registers(charts: list[Chart], options: BuildOptions, ahead: Future[Registers] | None,
                     fingerprints: Mapping[Path, str]) -> None:
    """The register's files put in place, and their layout recorded with their stamps."""
    made = ahead.result() if ahead is not None else None
    out = options.out
    if made is not None and len(made.charts) == len(charts) and all(map(operator.is_, made.charts, charts)):
        inodes = staged_inode(made.csv), staged_inode(made.xlsx)
        files.move_into_place(made.csv, out / REGISTER)
        files.move_into_place(made.xlsx, out / REGISTER_XLSX)
        layout = made.layout
        stamps = (placed_stamp(out / REGISTER, inodes[0], made.digests[0]),
                  placed_stamp(out / REGISTER_XLSX, inodes[1], made.digests[1]))
    else:
        csv = io.BytesIO()
        workbook, layout = _registers(charts, options, csv, fingerprints)
        stamps = _write_placed(out / REGISTER, csv.getvalue()), _write_placed(out / REGISTER_XLSX, workbook)
    write_layout(out / files.OUTPUT_CACHE, layout, stamps)


def _write_placed(path: Path, data: bytes) -> Stamp | None:
    """files.write_atomic, and the stamp of the file it put in place (with
    the digest of `data`), if that file is still there."""
    inode = []

    def write(stream: BinaryIO) -> None:
        stream.write(data)
        inode.append(os.fstat(stream.fileno()).st_ino)

    files.write_atomic(path, write)
    return placed_stamp(path, inode[0], digest_of(data))


def publish_set(charts: list[Chart], fingerprints: dict[Path, str], manifest: dict[str, Any], options: BuildOptions,
                tools: render.Toolchain, failing: Iterable[str] = (), scratch: Path | None = None,
                ahead: Future[Registers] | None = None, in_hand: InHand | None = None) -> Published:
    """Write index, register and booklet unless the set is unchanged.

    `failing` are charts that failed this build but keep their old outputs:
    the index lists them, marked, with their last title; the register and
    booklet leave them out rather than print what the chart no longer says.
    A booklet that cannot be made is reported and its old file kept; the
    set is then not recorded as done, so the next build tries again.  A
    booklet of more than BOOKLET_MAX_PAGES pages is not made (a note says
    so).  `ahead`: the register, made while the charts were drawn;
    `in_hand`: the fonts of the pages the build already has (pageprep.py).
    """
    failing = tuple(sorted(failing))
    fingerprint = set_fingerprint(fingerprints, [c.path for c in charts], options.formats, failing, options.dpi,
                                  _word_booklet(options))
    if not options.force and _is_current(manifest, fingerprint, options.out):
        return Published()
    out: Path = options.out
    today = date.today()
    written: list[str] = []
    failures: list[str] = []
    notes: list[str] = []
    pictures = word_pictures_in_background(charts, options, scratch)
    _write_registers(charts, options, ahead, fingerprints)
    written += [REGISTER, REGISTER_XLSX]
    written += publish_booklets(charts, manifest, options, tools, today, scratch, in_hand, failures, notes)
    if pictures:
        written += publish_word_booklet(charts, pictures, options, today, failures)
    # an old booklet is linked only while this build makes PDFs
    booklet = "pdf" in options.formats and (out / BOOKLET).is_file()
    word = options.settings.word_booklet and "pdf" in options.formats and (out / BOOKLET_DOCX).is_file()
    missing = [_missing_card(name, manifest, options.formats, out) for name in failing]
    from .pagecards import PageCards
    from .pagecards import write_layout as write_page_layout

    cards = PageCards(out, fingerprints, options.formats, from_page=not options.force)
    page = index_page(charts, out, options.formats, today, booklet=booklet, register=True, failing=missing,
                      categories=options.settings.categories, word=word, levels=options.settings.levels, cache=cards)
    write_page_layout(cards, _write_placed(out / INDEX, page))
    written.append(INDEX)
    if not failures:
        manifest["set"] = {"fingerprint": fingerprint, "outputs": sorted(written)}
    return Published(tuple(written), tuple(failures), tuple(notes))


def _missing_card(name: str, manifest: dict[str, Any], formats: tuple[str, ...], out: Path) -> FailingCard:
    entry = manifest["charts"].get(name) or {}
    kept = tuple((fmt, link(f"{name}.{fmt}")) for fmt in LINKED_FORMATS if (out / f"{name}.{fmt}").is_file())
    return FailingCard(name, entry.get("title") or name, kept)
