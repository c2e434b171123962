"""PNG at a chosen resolution: the A4 page, drawn from the finished PDF."""

import io
import math
import subprocess

import pytest
from conftest import CHART as CHART_TEXT
from conftest import write_files
from PIL import Image
from test_glyphs import glyph_boxes
from test_render import CHART

from riskchart.draw import raster, render
from riskchart.draw.layout import chart_dot
from riskchart.errors import MissingRasteriser

INK_CONTRAST = 60

pytestmark = pytest.mark.needs("dot", "cjk-font", "mutool")


@pytest.mark.parametrize("dpi", [72, 150, 300])
def test_png_is_the_a4_page_at_the_chosen_resolution(dpi):
    outputs = render.render(chart_dot(CHART), ("png",), render.toolchain(), dpi=dpi)
    assert set(outputs) == {"png"}  # the PDF drawn for it is not an output
    image = Image.open(io.BytesIO(outputs["png"]))
    assert image.size == (math.ceil(595 * dpi / 72), math.ceil(842 * dpi / 72))
    assert image.info.get("dpi", (dpi,))[0] == pytest.approx(dpi, abs=1)


def test_every_chinese_character_of_the_png_is_drawn(tmp_path):
    dpi = 100
    outputs = render.render(chart_dot(CHART), ("pdf", "png"), render.toolchain(), dpi=dpi)
    (tmp_path / "chart.pdf").write_bytes(outputs["pdf"])
    image = Image.open(io.BytesIO(outputs["png"])).convert("L")
    boxes = [b for b in glyph_boxes(tmp_path / "chart.pdf")[0] if "\u4e00" <= b[0] <= "\u9fff"]
    assert len(boxes) > 20
    blank = []
    for char, left, top, right, bottom in boxes:
        area = image.crop((int(left * dpi / 72), int(top * dpi / 72), int(right * dpi / 72) + 1,
                           int(bottom * dpi / 72) + 1))
        low, high = area.getextrema()
        if high - low < INK_CONTRAST:
            blank.append(char)
    assert blank == []


def test_drawing_pngs_crop_to_the_chart(tmp_path):
    pdf = render.render(chart_dot(CHART), ("pdf",), render.toolchain())["pdf"]
    (page,) = raster.drawing_pngs(pdf, 144)
    width, height = Image.open(io.BytesIO(page)).size
    assert width < 595 * 2 - 2 * 28 * 2 + 4 and height < 842 * 2 - 2 * 28 * 2  # no page margins
    assert width >= (595 - 2 * 28) * 2 - 4 or height >= (842 - 2 * 28) * 2 - 4  # the chart fills one side


def test_missing_mutool_stops_before_anything_is_written(monkeypatch, tmp_path):
    from riskchart.build import BuildOptions, build

    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    raster.mutool.cache_clear()
    monkeypatch.setattr(render, "toolchain", lambda font="": render.Toolchain("dot", font))
    write_files(tmp_path / "charts", {"01-a.yaml": CHART_TEXT})
    try:
        with pytest.raises(MissingRasteriser, match="mupdf-tools"):
            build([tmp_path / "charts"], BuildOptions(out=tmp_path / "out", formats=("png",)))
    finally:
        raster.mutool.cache_clear()
    assert not (tmp_path / "out").exists()


def test_the_png_made_from_mupdfs_pixels_is_mupdfs_own_png_pixel_for_pixel(tmp_path):
    pdf = tmp_path / "chart.pdf"
    pdf.write_bytes(render.render(chart_dot(CHART), ("pdf",), render.toolchain())["pdf"])
    subprocess.run([raster.mutool(), "draw", "-q", "-r", "110", "-o", str(tmp_path / "own.png"), str(pdf)],
                   check=True, capture_output=True)
    own = Image.open(tmp_path / "own.png")
    ours = Image.open(io.BytesIO(raster.pages_png(pdf.read_bytes(), 110)))
    assert ours.mode == own.mode == "RGB" and ours.size == own.size
    assert ours.tobytes() == own.tobytes()
    assert ours.info["dpi"] == pytest.approx((110, 110), abs=0.01)


@pytest.mark.parametrize("ppm", [b"P6\n4 2\n255\n" + b"\xff" * 23, b"P5\n4 2\n255\n" + b"\xff" * 8, b"P6\n0 0\n255\n"])
def test_pixels_mupdf_did_not_finish_are_a_raster_failure_not_a_broken_png(ppm):
    with pytest.raises(raster.RasterFailure):
        raster.png_of_ppm(ppm, 300)
