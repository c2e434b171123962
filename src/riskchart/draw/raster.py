"""PDF pages as PNG pictures at a chosen resolution, drawn by MuPDF.

Graphviz's own PNG is the drawing at 96 dpi; a picture for print, slides
or a Word document is drawn from the finished A4 PDF instead (fonts
already repaired, see glyphs.py), by `mutool draw`: about three times
faster than poppler's pdftoppm at 300 dpi.  `drawing_pngs` crops each page
to its ArtBox, the extent of the chart that render.fit_to_page records.

MuPDF writes the pixels (binary PPM) and they are made PNG here, rows
unfiltered and deflated at zlib's fastest level: MuPDF's own PNG writer
spends more than the drawing itself on compression (a chart at 300 dpi:
0.18 s CPU as PNG, 0.08 s as PPM plus 0.04 s here) for files about a
tenth smaller.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from functools import cache
from pathlib import Path

from .. import style
from ..errors import MissingRasteriser

INSTALL_HINT = "Debian/Ubuntu：sudo apt-get install mupdf-tools；macOS：brew install mupdf-tools"
_UNDRAWN = "cannot render glyph"  # MuPDF's warning for an outline it cannot draw
_PPM_HEADER = re.compile(rb"P6\s+(\d+)\s+(\d+)\s+255\s")  # as MuPDF writes it: RGB, 8 bits, no comments
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INCHES_PER_METRE = 1 / 0.0254


class RasterFailure(Exception):
    """One PDF could not be drawn as PNG."""


@cache
def mutool() -> str:
    """The `mutool` program, or the one-sentence environment error."""
    found = shutil.which("mutool")
    if found is None:
        raise MissingRasteriser(f"找不到 MuPDF 的 mutool 命令，无法生成 PNG 或 Word 汇编中的图片。请先安装：{INSTALL_HINT}")
    return found


def pages_png(pdf: bytes, dpi: int, scratch: Path | None = None,
              timeout: float = style.DOT_TIMEOUT_SECONDS) -> bytes:
    """One PNG of every page, whole, at `dpi` (an A4 page at 300 dpi is 2480 px
    wide): a chart continued over several pages gives them one under another,
    as in the PDF (headers with 「（续）」, rings and page numbers), a thin grey
    rule where one page ends."""
    (png,) = _draw(stacked(pdf), dpi, scratch, timeout)
    return png


def stacked(pdf: bytes) -> bytes:
    """The pages of `pdf` (all of one size) one under another on one tall page;
    a PDF of one page as it is."""
    import pikepdf

    with pikepdf.Pdf.open(io.BytesIO(pdf)) as source:
        count = len(source.pages)
        if count == 1:
            return pdf
        left, bottom, right, top = (float(v) for v in source.pages[0].MediaBox)
        width, height = right - left, top - bottom
        with pikepdf.Pdf.new() as tall:
            tall.add_blank_page(page_size=(width, height * count))
            forms, ops = pikepdf.Dictionary(), []
            for number, page in enumerate(source.pages):
                forms[f"/P{number}"] = tall.copy_foreign(page.as_form_xobject())
                ops.append(f"q 1 0 0 1 {-left:.3f} {height * (count - 1 - number) - bottom:.3f} cm /P{number} Do Q")
            grey = " ".join(f"{int(style.CONNECTOR[i:i + 2], 16) / 255:.3f}" for i in (1, 3, 5))
            ops += [f"q {grey} RG 0.75 w 0 {height * n:.3f} m {width:.3f} {height * n:.3f} l S Q"
                    for n in range(1, count)]
            tall.pages[0].Resources = pikepdf.Dictionary(XObject=forms)
            tall.pages[0].Contents = tall.make_stream("\n".join(ops).encode())
            buffer = io.BytesIO()
            tall.save(buffer)
    return buffer.getvalue()


def drawing_pngs(pdf: bytes, dpi: int, scratch: Path | None = None, timeout: float = style.DOT_TIMEOUT_SECONDS,
                 fit: tuple[float, float] | None = None) -> list[bytes]:
    """Every page cropped to its ArtBox (the page when it has none), at `dpi`;
    with `fit` (width, height in points), at the resolution that gives `dpi`
    once the largest page is scaled to fit that box (no more pixels than a
    picture placed there needs)."""
    import pikepdf

    scales = [1.0]
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            if "/ArtBox" in page.obj:
                page.obj.CropBox = page.obj.ArtBox
            left, bottom, right, top = (float(v) for v in page.obj.get("/CropBox", page.MediaBox))
            if fit and right > left and top > bottom:
                scales.append(min(fit[0] / (right - left), fit[1] / (top - bottom)))
        buffer = io.BytesIO()
        document.save(buffer)
    drawn_dpi = math.ceil(dpi * max(scales[1:] or scales))
    return _draw(buffer.getvalue(), drawn_dpi, scratch, timeout)


def _draw(pdf: bytes, dpi: int, scratch: Path | None, timeout: float) -> list[bytes]:
    with tempfile.TemporaryDirectory(prefix="riskchart-", dir=scratch) as work:
        source = Path(work) / "in.pdf"
        source.write_bytes(pdf)
        command = [mutool(), "draw", "-q", "-r", str(dpi), "-c", "rgb", "-F", "pnm",
                   "-o", str(Path(work) / "page-%04d.ppm"), str(source)]
        try:
            done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RasterFailure(f"MuPDF 超时：{timeout:g} 秒内未画完") from None
        except OSError as error:
            raise RasterFailure(f"无法运行 MuPDF：{error}") from None
        log = done.stderr.decode("utf-8", "replace")
        if done.returncode != 0:
            raise RasterFailure(f"MuPDF 出错（退出码 {done.returncode}）：{log.strip()[:300] or '没有错误信息'}")
        if _UNDRAWN in log:
            raise RasterFailure("MuPDF 有字形画不出，PNG 会缺字")
        pages = sorted(Path(work).glob("page-*.ppm"))
        if not pages:
            raise RasterFailure("MuPDF 报告成功，却没有画出 PNG")
        return [png_of_ppm(page.read_bytes(), dpi) for page in pages]


def png_of_ppm(ppm: bytes, dpi: int) -> bytes:
    """MuPDF's RGB pixels as PNG (8-bit RGB, its resolution recorded)."""
    header = _PPM_HEADER.match(ppm)
    if header is None:
        raise RasterFailure("MuPDF 画出的图无法读取")
    width, height = int(header[1]), int(header[2])
    pixels, row = memoryview(ppm)[header.end():], width * 3
    if width == 0 or len(pixels) != row * height:
        raise RasterFailure("MuPDF 画出的图不完整")
    # every row after its filter byte, 0: none (a filter would be computed byte by byte in Python)
    rows = b"\0" + b"\0".join([pixels[y * row:(y + 1) * row] for y in range(height)])
    packer = zlib.compressobj(1)
    per_metre = round(dpi * INCHES_PER_METRE)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
            + png_chunk(b"IDAT", packer.compress(rows) + packer.flush()) + png_chunk(b"IEND", b""))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
