"""The compilation as a Word document (booklet.docx), for a 公文's 附件.

A4 portrait with the 公文 margins: a cover, a contents list with page
numbers, then each chart on its own page(s) under its title as a Heading 1
(so Word's navigation pane lists every chart), as a picture at the full
printable width or height.  The pictures are drawn from the charts' A4
PDFs by MuPDF (raster.py), cropped to the chart, at no less than 300 dpi
at their placed size, and cached by the PDF's content: a rebuild after
one chart changed draws one picture.  Chinese text has its East Asian font
set (python-docx's `font.name` sets only the Latin one).

Page numbers in the contents are computed, not Word fields (which
LibreOffice and Word would have to update): every chart starts a page and
each contents page holds a fixed number of lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .. import files, style
from ..check.report import terminal_width
from ..check.schema import CATEGORIES
from ..draw.raster import PNG_SIGNATURE, png_chunk
from ..model import Chart

MIN_PICTURE_DPI = 300
PAGE_CM = (21.0, 29.7)
MARGINS_CM = {"top": 3.7, "bottom": 3.5, "left": 2.8, "right": 2.6}  # GB/T 9704 公文
HEADING_ROOM_CM = 1.6  # a chart's title above its picture, with room to spare
# The room for a picture: the printable width, and the printable height less its heading.
PICTURE_ROOM_CM = (PAGE_CM[0] - MARGINS_CM["left"] - MARGINS_CM["right"],
                   PAGE_CM[1] - MARGINS_CM["top"] - MARGINS_CM["bottom"] - HEADING_ROOM_CM)
POINTS_PER_CM = 72 / 2.54
CONTENTS_SIZE_PT = 14  # 四号
CONTENTS_LINE_PT = 24
CONTENTS_LINES_PER_PAGE = 22  # under the 目录 heading, with room to spare
CONTENTS_COLUMNS = 54  # display columns of an entry's title before the page number
_CACHED_PICTURE = re.compile(r"[0-9a-f]{32}-\d{3}\.png")


@dataclass(frozen=True)
class Fonts:
    body: str = style.DOCX_FONT
    heading: str = style.DOCX_HEADING_FONT


@dataclass(frozen=True)
class Entry:
    chart: Chart
    page: int


@dataclass(frozen=True)
class Category:
    name: str
    continued: bool = False  # repeated at the top of the next contents page


Line = Category | Entry


def plan(charts: list[Chart], pictures: dict[str, list[bytes]],
         categories: tuple[str, ...] = CATEGORIES) -> tuple[list[list[Line]], list[Entry]]:
    """The contents pages (category names and entries) and every chart's first page."""
    rank = {name: i for i, name in enumerate(categories)}
    ordered = sorted(charts, key=lambda c: (rank.get(c.category, len(rank)), c.id))
    lines: list[Line] = []
    for chart in ordered:
        if not lines or _category(lines) != chart.category:
            lines.append(Category(chart.category))
        lines.append(Entry(chart, 0))
    contents: list[list[Line]] = [[]]
    used = 0
    for line in lines:
        height = 1 if isinstance(line, Category) else _entry_lines(line.chart)
        if used + height > CONTENTS_LINES_PER_PAGE - isinstance(line, Category):  # no category alone at the foot
            contents.append([])
            used = 0
            if isinstance(line, Entry):
                contents[-1].append(Category(line.chart.category, continued=True))
                used = 1
        contents[-1].append(line)
        used += height
    page = 2 + len(contents)  # after the cover and the contents
    entries = []
    for chart in ordered:
        entries.append(Entry(chart, page))
        page += len(pictures[chart.out_name])
    numbered = {e.chart.out_name: e for e in entries}
    contents = [[numbered[x.chart.out_name] if isinstance(x, Entry) else x for x in page_lines] for page_lines in contents]
    return contents, entries


def _category(lines: list[Line]) -> str:
    last = lines[-1]
    return last.chart.category if isinstance(last, Entry) else last.name


def _entry_text(chart: Chart) -> str:
    return f"{chart.id}. {chart.title}" + ("（待录入）" if chart.draft else "")


def _entry_lines(chart: Chart) -> int:
    return max(1, math.ceil(terminal_width(_entry_text(chart)) / CONTENTS_COLUMNS))


def booklet_docx(charts: list[Chart], pictures: dict[str, list[bytes]], department: str, built_on: date,
                 categories: tuple[str, ...] = CATEGORIES, fonts: Fonts = Fonts()) -> bytes:
    """`pictures`: each chart's pages as PNG (drawing_pictures), by the chart's name in out/."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
    from docx.shared import Cm, Pt

    title = f"{department}权力运行廉政风险防控图汇编"
    document = a4_document(fonts, title)
    width_cm, height_cm = PICTURE_ROOM_CM

    cover = [("", 120), (department, 22), ("权力运行廉政风险防控图汇编", 26), ("", 60),
             (f"共 {len(charts)} 张", 16), (f"{built_on.year} 年 {built_on.month} 月 {built_on.day} 日", 16)]
    for text, size in cover:
        paragraph = document.add_paragraph(style="Title" if size >= 22 else None)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_before = Pt(size if text else 0)
        run = paragraph.add_run(text)
        run.font.size = Pt(size)

    contents, entries = plan(charts, pictures, categories)
    for number, page_lines in enumerate(contents):
        heading = document.add_paragraph(style="Title")
        heading.add_run("目　　录" + ("（续）" if number else "")).font.size = Pt(22)
        heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
        heading.paragraph_format.page_break_before = True
        for line in page_lines:
            paragraph = document.add_paragraph()
            layout = paragraph.paragraph_format
            layout.line_spacing, layout.space_before, layout.space_after = Pt(CONTENTS_LINE_PT), Pt(0), Pt(0)
            layout.widow_control = False
            if isinstance(line, Category):
                run = paragraph.add_run(f"{line.name}类" + ("（续）" if line.continued else ""))
                run.bold = True
            else:
                layout.left_indent = Cm(0.8)
                layout.tab_stops.add_tab_stop(Cm(width_cm - 0.8), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)
                run = paragraph.add_run(f"{_entry_text(line.chart)}\t{line.page}")
            run.font.size = Pt(CONTENTS_SIZE_PT)

    placed: list[bytes] = []
    for entry in entries:
        heading = document.add_heading(_entry_text(entry.chart), level=1)
        heading.paragraph_format.page_break_before = True
        for number, png in enumerate(pictures[entry.chart.out_name]):
            paragraph = document.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.paragraph_format.page_break_before = number > 0
            paragraph.paragraph_format.space_before = paragraph.paragraph_format.space_after = Pt(0)
            width, height = _placed_size(png, width_cm, height_cm)
            paragraph.add_run().add_picture(io.BytesIO(_stand_in(len(placed))), width=Cm(width), height=Cm(height))
            placed.append(png)
    buffer = io.BytesIO()
    document.save(buffer)
    return _with_pictures(buffer.getvalue(), placed)


def _stand_in(number: int) -> bytes:
    """A one-pixel PNG naming the picture it stands in for.

    python-docx deflates every part it saves; the pictures (PNG, already
    compressed: over 10 MB for 40 charts) would take most of a second for
    nothing, so the document is saved with stand-ins and the pictures are
    then stored as they are (_with_pictures).
    """
    return (PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + png_chunk(b"tEXt", b"riskchart\0%d" % number) + png_chunk(b"IDAT", zlib.compress(b"\0\0"))
            + png_chunk(b"IEND", b""))


def _with_pictures(package: bytes, pictures: list[bytes]) -> bytes:
    stand_ins = {_stand_in(number): png for number, png in enumerate(pictures)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(buffer, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            if data in stand_ins:
                target.writestr(member.filename, stand_ins.pop(data), compress_type=zipfile.ZIP_STORED)
            else:
                target.writestr(member, data)
    if stand_ins:
        raise RuntimeError("python-docx did not keep every picture")  # one stand-in per picture, all distinct
    return buffer.getvalue()


def a4_document(fonts: Fonts, title: str, landscape: bool = False,
                margins_cm: dict[str, float] = MARGINS_CM) -> Any:
    """An empty A4 Word document with the Chinese fonts set (East Asian too)
    and its title in the file's properties: the booklet's, the 修订对照表's."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    document = docx.Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    width, height = sorted(PAGE_CM, reverse=landscape)
    section.page_width, section.page_height = Cm(width), Cm(height)
    for side, cm in margins_cm.items():
        setattr(section, f"{side}_margin", Cm(cm))
    _set_fonts(document, fonts)
    document.core_properties.title = title
    document.core_properties.author = "riskchart"
    return document


def _set_fonts(document: Any, fonts: Fonts) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    for name, font, size in (("Normal", fonts.body, 16), ("Title", fonts.heading, 22), ("Heading 1", fonts.heading, 16)):
        style = document.styles[name]
        style.font.name = font
        style.font.size = Pt(size)
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
        if name != "Normal":
            style.font.bold = False  # 黑体 is heavy already
            style.paragraph_format.space_before = Pt(0)
            style.paragraph_format.space_after = Pt(6)
    title = document.styles["Title"].element.pPr
    if title is not None:  # the default template underlines the title with a border
        for border in title.findall(qn("w:pBdr")):
            title.remove(border)


def _placed_size(png: bytes, width_cm: float, height_cm: float) -> tuple[float, float]:
    """The picture's size on the page: as large as the printable room allows."""
    pixels_w, pixels_h = png_size(png)
    scale = min(width_cm / pixels_w, height_cm / pixels_h)
    return pixels_w * scale, pixels_h * scale


def png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def drawing_pictures(charts: list[Chart], chart_pdfs: dict[str, Path], dpi: int, cache: Path,
                     scratch: Path | None, jobs: int,
                     draw: Callable[..., list[bytes]] | None = None) -> dict[str, list[bytes]]:
    """Each chart's pages as PNG, cropped to the chart, at max(dpi, 300) at
    their placed size (raster.drawing_pngs draws no more pixels than that).

    Kept in `cache` under the hash of the PDF, the resolution and the room
    on the page; pictures no longer used are removed.
    """
    from ..draw import raster

    draw = draw or raster.drawing_pngs
    dpi = max(dpi, MIN_PICTURE_DPI)
    room = (PICTURE_ROOM_CM[0] * POINTS_PER_CM, PICTURE_ROOM_CM[1] * POINTS_PER_CM)
    folder = files.output_cache(cache)
    keys = {}
    for chart in charts:
        stamp = f"{dpi}|{room}|".encode()
        keys[chart.out_name] = hashlib.sha256(stamp + files.read_untrusted(chart_pdfs[chart.out_name])).hexdigest()[:32]
    found = {stem: _cached(folder, key) for stem, key in keys.items()}
    missing = [stem for stem, pages in found.items() if pages is None]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        drawn = dict(zip(missing, pool.map(lambda stem: draw(files.read_untrusted(chart_pdfs[stem]), dpi, scratch, fit=room), missing),
                         strict=True))
    for stem, pages in drawn.items():
        if folder:
            for number, png in enumerate(pages, start=1):
                files.write_atomic(folder / f"{keys[stem]}-{number:03d}.png", png)
    if folder:
        used = set(keys.values())
        for old in folder.glob("*.png"):
            if _CACHED_PICTURE.fullmatch(old.name) and old.name[:32] not in used:
                with contextlib.suppress(OSError):
                    old.unlink()
    return {stem: found[stem] or drawn[stem] for stem in keys}


def _cached(folder: Path | None, key: str) -> list[bytes] | None:
    """A chart's cached pages, or None when any is missing or damaged."""
    if folder is None:
        return None
    pages = []
    for path in sorted(folder.glob(f"{key}-*.png")):
        try:
            data = files.read_untrusted(path)
        except OSError:
            return None
        if not (data.startswith(PNG_SIGNATURE) and data.endswith(b"IEND\xaeB`\x82")):
            return None
        pages.append(data)
    return pages or None
