"""Every character a PDF carries is drawn — by MuPDF, Ghostscript and poppler.

Text tests read the text layer, which survives a broken outline (cairo 1.16
wrote 如 so that every viewer drew a blank while pdftotext still found
it).  These tests draw the pages: MuPDF and Ghostscript must not warn
about a glyph, and on a poppler raster every glyph's box (from MuPDF's
structured text) must hold ink.  They run on the 40 real charts, the
booklet and charts that carry all 6,763 hanzi of GB2312.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pikepdf
import pytest
from conftest import CHARTS

from riskchart.build import BuildOptions, build
from riskchart.draw import cffread, glyphs, render
from riskchart.draw.layout import chart_dot

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")

# Lines of MuPDF's and Ghostscript's logs that mean a glyph was not drawn.
GLYPH_TROUBLE = re.compile(r"cannot render glyph|FT_Load_Glyph|broken file|error", re.IGNORECASE)
INK_CONTRAST = 60      # grey levels between the lightest and darkest pixel of a drawn glyph
RASTER_DPI = 80


def need(program: str) -> str:
    """The program's path; without it the test skips, except in CI, where it fails."""
    found = shutil.which(program)
    if found is None:
        message = f"{program} is not installed (Debian: mupdf-tools, ghostscript, poppler-utils)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def mupdf_trouble(pdfs: list[Path]) -> list[str]:
    """MuPDF's complaints while drawing the PDFs (one run for all)."""
    done = subprocess.run([need("mutool"), "draw", "-r", "30", "-F", "png", "-o", "/dev/null", *map(str, pdfs)],
                          capture_output=True, text=True)
    return [line for line in (done.stdout + done.stderr).splitlines() if GLYPH_TROUBLE.search(line)] \
        + ([f"mutool exit {done.returncode}"] if done.returncode else [])


def ghostscript_trouble(pdfs: list[Path]) -> list[str]:
    """Ghostscript's complaints while drawing the PDFs (one run for all)."""
    done = subprocess.run([need("gs"), "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=png16m", "-r30",
                           "-sOutputFile=/dev/null", *map(str, pdfs)], capture_output=True, text=True)
    return [line for line in (done.stdout + done.stderr).splitlines() if GLYPH_TROUBLE.search(line)] \
        + ([f"gs exit {done.returncode}"] if done.returncode else [])


def glyph_boxes(pdf: Path) -> list[list[tuple[str, float, float, float, float]]]:
    """Per page, (character, left, top, right, bottom) of every drawn
    character's em box in points, from MuPDF's structured text."""
    done = subprocess.run([need("mutool"), "draw", "-F", "stext", "-o", "-", str(pdf)],
                          capture_output=True, text=True, check=True)
    pages = []
    for page in done.stdout.split("<page ")[1:]:
        boxes = []
        for size, body in re.findall(r'<font name="[^"]*" size="([\d.]+)">(.*?)</font>', page, re.DOTALL):
            for quad, baseline, char in re.findall(r'<char quad="([^"]+)" x="[^"]+" y="([^"]+)"[^>]* c="([^"]*)"',
                                                  body):
                char = re.sub(r"&#x([0-9a-fA-F]+);", lambda m: chr(int(m[1], 16)), char)
                char = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&apos;": "'"}.get(char, char)
                if char.isspace():
                    continue
                corners = list(map(float, quad.split()))
                em, base = float(size), float(baseline)
                boxes.append((char, min(corners[0::2]), base - 0.88 * em, max(corners[0::2]), base + 0.12 * em))
        pages.append(boxes)
    return pages


def grey_pages(pdf: Path, folder: Path) -> list[tuple[int, int, bytes]]:
    """poppler's raster of each page, as (width, height, 8-bit grey pixels)."""
    prefix = folder / pdf.stem
    subprocess.run([need("pdftoppm"), "-gray", "-r", str(RASTER_DPI), str(pdf), str(prefix)], check=True)
    pages = []
    for image in sorted(folder.glob(f"{pdf.stem}-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        data = image.read_bytes()
        header = re.match(rb"P5\s+(?:#[^\n]*\n\s*)*(\d+)\s+(\d+)\s+255\s", data)
        width, height = int(header[1]), int(header[2])
        pages.append((width, height, data[header.end():]))
        image.unlink()
    return pages


def blank_glyphs(pdf: Path, folder: Path) -> list[str]:
    """Characters whose box on poppler's raster holds no ink."""
    blank = []
    for boxes, (width, height, pixels) in zip(glyph_boxes(pdf), grey_pages(pdf, folder), strict=True):
        scale = RASTER_DPI / 72
        for char, left, top, right, bottom in boxes:
            x0, x1 = max(0, int(left * scale)), min(width, int(right * scale) + 1)
            y0, y1 = max(0, int(top * scale)), min(height, int(bottom * scale) + 1)
            rows = [pixels[y * width + x0:y * width + x1] for y in range(y0, y1)]
            if not rows or max(map(max, rows)) - min(map(min, rows)) < INK_CONTRAST:
                blank.append(char)
    return blank


def undrawn(pdfs: list[Path], inked: list[Path], folder: Path) -> list[str]:
    """What the renderers found wrong: MuPDF and Ghostscript draw all
    `pdfs`; on poppler's raster of the `inked` ones every glyph must show."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        logs = pool.submit(mupdf_trouble, pdfs), pool.submit(ghostscript_trouble, pdfs)
        blank = [f"{pdf.name}：poppler 画成空白：{''.join(chars)}"
                 for pdf in inked if (chars := blank_glyphs(pdf, folder))]
        return logs[0].result() + logs[1].result() + blank


def test_every_glyph_of_the_real_charts_and_the_booklet_is_drawn(built_set, tmp_path):
    """The booklet holds every chart's page as the chart PDF has it, with
    cover and contents: poppler's ink check runs on it once."""
    pdfs = sorted(built_set.glob("*.pdf"))
    assert len(pdfs) == 41 and (built_set / "booklet.pdf") in pdfs
    assert undrawn(pdfs, [built_set / "booklet.pdf"], tmp_path) == []


GB2312_HANZI = "".join(bytes([row, cell]).decode("gb2312")
                       for row in range(0xB0, 0xF8) for cell in range(0xA1, 0xFF)
                       if not (row == 0xD7 and cell > 0xF9))
ITEM_CHARACTERS = 200


def chart_punctuation() -> str:
    """Every character of the real charts that is not a GB2312 hanzi."""
    text = "".join(path.read_text(encoding="utf-8") for path in CHARTS.glob("*.yaml"))
    return "".join(sorted(set(text) - set(GB2312_HANZI) - set(" \n\r\t")))


def character_charts(folder: Path) -> Path:
    """Charts that carry every GB2312 hanzi and the charts' punctuation."""
    text = GB2312_HANZI + chart_punctuation()
    items = [text[i:i + ITEM_CHARACTERS] for i in range(0, len(text), ITEM_CHARACTERS)]
    folder.mkdir()
    shutil.copy(CHARTS / "_defaults.yaml", folder / "_defaults.yaml")
    for number, start in enumerate(range(0, len(items), 6), 1):
        chunk = items[start:start + 6]
        risks, measures = chunk[:3], chunk[3:] or ["核对字表。"]
        lines = [f"id: {number}", "category: 行政裁决", f"title: 字表第{number}张", "steps:", "  - name: 申请",
                 "  - name: 核对", "    level: 低", "    risks:"]
        lines += [f"      - {json.dumps(item, ensure_ascii=False)}" for item in risks]
        lines += ["    measures:"] + [f"      - {json.dumps(item, ensure_ascii=False)}" for item in measures]
        lines += ["    owner: 核对人", "  - name: 办结", ""]
        (folder / f"{number:02d}-字表.yaml").write_text("\n".join(lines), encoding="utf-8")
    return folder


def test_gb2312_table_is_complete():
    assert len(GB2312_HANZI) == 6763 and "如" in GB2312_HANZI and "齄" in GB2312_HANZI
    assert {"，", "。", "（", "）", "、", "；"} <= set(chart_punctuation())


def test_every_gb2312_hanzi_and_chart_punctuation_is_drawn(tmp_path):
    charts = character_charts(tmp_path / "charts")
    out = tmp_path / "out"
    report = build([charts], BuildOptions(out=out, formats=("pdf",), publish=False))
    assert report.ok, [o.reason for o in report.outcomes if o.status == "failed"]
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 6
    assert undrawn(pdfs, pdfs, tmp_path) == []


# The repair itself, on a glyph broken on purpose ------------------------------

def chart_pdf(text: str, installed: bool = True) -> bytes:
    """A one-step chart's PDF, drawn by default with the font as installed
    (not its trimmed copy, draw/trimfont.py): cairo's subsets of it carry
    the font's subroutines, and break 「如」, as the repair must handle."""
    from riskchart.model import Chart, Phones, Step

    chart = Chart(path=Path("01-x.yaml"), id=1, category="行政裁决", title="测试",
                  steps=(Step("受理", "高", (text,), ("核对。",), "受理人"),),
                  department="某部门", phones=Phones("1", "2"))
    tools = render.toolchain()
    return render.render(chart_dot(chart), ("pdf",), replace(tools, trimmed=None) if installed else tools)["pdf"]


def break_glyph(pdf: bytes, char: str) -> bytes:
    """The PDF with the outline of `char` in its Regular font replaced by
    one that cannot be drawn (a curve with too few operands)."""
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        for font in glyphs._fonts(document):
            if "Regular" not in str(font.BaseFont):
                continue
            stream = font.DescendantFonts[0].FontDescriptor.FontFile3
            cff = cffread.Cff(stream.read_bytes())
            code = next(c for c, t in glyphs._to_unicode(font).items() if t == char)
            broken = glyphs._with_charstrings(cff, {cff.codes().index(code): bytes([139, 139, 8, 14])})
            stream.write(broken)
        buffer = io.BytesIO()
        document.save(buffer)
    return buffer.getvalue()


def embedded_undrawable(pdf: bytes) -> int:
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        return sum(len(glyphs.undrawable(font.DescendantFonts[0].FontDescriptor.FontFile3.read_bytes()))
                   for font in glyphs._fonts(document))


def test_cairo_breaks_如_from_the_installed_font_but_not_from_its_trimmed_copy():
    from riskchart.model import Chart, Phones, Step

    chart = Chart(path=Path("01-x.yaml"), id=1, category="行政裁决", title="测试",
                  steps=(Step("受理", "高", ("不如实填报。",), ("核对。",), "受理人"),),
                  department="某部门", phones=Phones("1", "2"))
    tools = render.toolchain()
    assert tools.trimmed is not None

    def as_dot_wrote_it(tools: render.Toolchain) -> bytes:  # before finish() repairs it
        (drawn,) = render.draw_many([chart_dot(chart)], ("pdf",), tools)
        assert isinstance(drawn, render.Drawn)
        return drawn.outputs["pdf"]

    assert embedded_undrawable(as_dot_wrote_it(replace(tools, trimmed=None))) == 1  # 如
    assert embedded_undrawable(as_dot_wrote_it(tools)) == 0


def test_a_broken_outline_is_redrawn_from_the_installed_font(tmp_path):
    broken = break_glyph(chart_pdf("情况不属实，核实后上报。"), "实")
    assert embedded_undrawable(broken) == 1

    repaired = render.fit_to_page(broken)
    assert embedded_undrawable(repaired) == 0
    (tmp_path / "repaired.pdf").write_bytes(repaired)
    assert undrawn([tmp_path / "repaired.pdf"], [tmp_path / "repaired.pdf"], tmp_path) == []
    assert "情况不属实" in subprocess.run(["pdftotext", str(tmp_path / "repaired.pdf"), "-"],
                                        capture_output=True, text=True).stdout


def test_a_repaired_font_is_stored_compressed_with_every_other_outline_as_it_was():
    broken = break_glyph(chart_pdf("情况不属实，核实后上报。"), "实")
    with pikepdf.Pdf.open(io.BytesIO(broken)) as document:
        (regular,) = [font for font in glyphs._fonts(document) if "Regular" in str(font.BaseFont)]
        stream = regular.DescendantFonts[0].FontDescriptor.FontFile3
        before = cffread.Cff(stream.read_bytes())
        assert glyphs.repair_fonts(document) == 1
        # compressed by the repair itself, not left for the save to compress
        assert stream.get("/Filter") == pikepdf.Name.FlateDecode
        assert len(stream.read_raw_bytes()) < 0.9 * len(stream.read_bytes())
        after = cffread.Cff(stream.read_bytes())
    changed = [n for n in range(len(before.charstrings))
               if before.charstrings.item(n) != after.charstrings.item(n)]
    assert len(changed) == 1 and glyphs._undrawable(after) == []


def test_an_outline_that_cannot_be_repaired_fails_the_chart_naming_the_character(monkeypatch):
    broken = break_glyph(chart_pdf("情况不属实。"), "实")
    monkeypatch.setattr(glyphs, "_installed_font", lambda name: None)
    with pytest.raises(glyphs.UndrawableGlyphs, match=r"「实」\(U\+5B9E\)"):
        render.fit_to_page(broken)
    failed = render.finish(render.Drawn({"pdf": broken}), "", ("pdf",), render.toolchain())
    assert isinstance(failed, render.RenderFailure) and "「实」(U+5B9E)" in str(failed)


def subrs_index(*items: bytes) -> cffread.Index:
    offsets, total = [1], 1
    for item in items:
        total += len(item)
        offsets.append(total)
    return cffread.Index(len(items).to_bytes(2, "big") + bytes([1]) + bytes(offsets) + b"".join(items), 0)


def test_an_outline_is_judged_again_when_a_subroutine_it_calls_differs():
    """Verdicts are reused across PDFs only while the outline's bytes and
    every subroutine it called (and their count) are the same."""
    calls_subr_0 = bytes([139 - 107, 10, 14])  # callsubr 0 (bias 107), endchar
    good = subrs_index(bytes([139, 139, 5, 11]), b"\x0b")  # rlineto 0 0, return
    broken = subrs_index(bytes([139, 8, 11]), b"\x0b")      # rrcurveto with one operand
    font_dict = cffread.FontDict(b"", None)
    font_dict.subrs = good
    assert glyphs._draw(calls_subr_0, font_dict, subrs_index()).drawable
    verdict = glyphs._draw(calls_subr_0, font_dict, subrs_index())
    assert verdict.holds_for(good, subrs_index())
    assert not verdict.holds_for(broken, subrs_index())
    assert not verdict.holds_for(subrs_index(bytes([139, 139, 5, 11])), subrs_index())  # fewer subroutines
    stored = glyphs._Verdict(2, 0, ((7, b"\x0b"),), (), True)  # names a subroutine past the last
    assert not stored.holds_for(good, subrs_index())
    # the same, for all of a font's outlines at once
    font = SimpleNamespace(font_dict_of=[0], font_dicts=[font_dict], global_subrs=subrs_index())
    assert glyphs._held_at_once(font, {0: (verdict,)}) == {0: verdict}
    for other in (broken, subrs_index(bytes([139, 139, 5, 11])), subrs_index(bytes([139, 139, 5, 11]), b"\x0b", b"")):
        font_dict.subrs = other  # a subroutine differs; one fewer; one more
        assert glyphs._held_at_once(font, {0: (verdict,)}) == {}
    font_dict.subrs = good
    assert glyphs._held_at_once(font, {0: (stored,)}) == {}
    font_dict.subrs = broken
    assert not glyphs._draw(calls_subr_0, font_dict, subrs_index()).drawable


@pytest.fixture
def fresh_verdicts(tmp_path, monkeypatch):
    """No verdicts in memory, and a cache folder of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(glyphs, "_VERDICTS", {})
    monkeypatch.setattr(glyphs, "_STORED", {"loaded": False, "count": 0, "drawn": 0, "fonts_loaded": False,
                                            "fonts_learnt": 0})
    monkeypatch.setattr(glyphs, "_USED", set())
    for name in ("_CLEAN_SUBSETS", "_USED_SUBSETS"):
        monkeypatch.setattr(glyphs, name, set())
    monkeypatch.setattr(glyphs, "_REPAIRED_SUBSETS", {})

    def forget():
        glyphs._VERDICTS.clear()
        glyphs._USED.clear()
        glyphs._CLEAN_SUBSETS.clear()
        glyphs._USED_SUBSETS.clear()
        glyphs._REPAIRED_SUBSETS.clear()
        glyphs._STORED.update(loaded=False, count=0, drawn=0, fonts_loaded=False, fonts_learnt=0)

    return forget


def embedded_fonts(pdf: bytes) -> list[bytes]:
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        return [font.DescendantFonts[0].FontDescriptor.FontFile3.read_bytes() for font in glyphs._fonts(document)]


def test_verdicts_are_kept_between_builds_and_a_bad_file_is_ignored(fresh_verdicts, tmp_path, monkeypatch):
    fonts_data = embedded_fonts(chart_pdf("情况不属实，核实后上报。"))
    assert all(glyphs.undrawable(data) == [] for data in fonts_data)
    glyphs.remember_verdicts()
    (stored,) = (tmp_path / "cache" / "riskchart").glob("glyph-verdicts-*.json")

    fresh_verdicts()
    drawn = []
    real_draw = glyphs._draw
    monkeypatch.setattr(glyphs, "_draw", lambda *args: drawn.append(args) or real_draw(*args))
    assert all(glyphs.undrawable(data) == [] for data in fonts_data)
    assert drawn == []  # every outline was recognised from the stored verdicts

    for bad in ("{", '{"verdicts": [["zz", 1, 1, [], [], true]]}', '{"verdicts": [["00", "1", 1, [], [], true]]}'):
        stored.write_text(bad, encoding="utf-8")
        fresh_verdicts()
        assert all(glyphs.undrawable(data) == [] for data in fonts_data)
        assert drawn  # nothing was taken from a malformed file
        drawn.clear()


def test_a_font_seen_before_is_known_by_its_bytes_and_a_stored_repair_is_checked(fresh_verdicts, monkeypatch):
    """A clean build of charts built before reads none of their fonts again:
    a font with the bytes of one found drawable is left as it is; one
    repaired before gets the same outlines, and the result is read again
    unless it has the bytes of a font found drawable.  Other bytes are read."""
    clean = chart_pdf("情况不属实，核实后上报。")
    broken = break_glyph(clean, "实")
    render.fit_to_page(clean)
    render.fit_to_page(broken)
    glyphs.remember_verdicts()

    fresh_verdicts()
    read: list[object] = []
    real_undrawable = glyphs._undrawable
    monkeypatch.setattr(glyphs, "_undrawable", lambda cff: read.append(cff) or real_undrawable(cff))
    monkeypatch.setattr(glyphs, "_installed_font", lambda name: None)  # no repair but a stored one
    render.fit_to_page(clean)
    repaired = render.fit_to_page(broken)
    assert read == []
    assert embedded_undrawable(repaired) == 0
    with pytest.raises(glyphs.UndrawableGlyphs, match="「情」"):  # other bytes: read, found broken
        render.fit_to_page(break_glyph(clean, "情"))

    fresh_verdicts()
    glyphs._load_fonts()
    assert glyphs._REPAIRED_SUBSETS
    for redrawn in glyphs._REPAIRED_SUBSETS.values():  # a spoilt cache: outlines that cannot be drawn
        redrawn.update(dict.fromkeys(redrawn, bytes([139, 139, 8, 14])))
    glyphs._CLEAN_SUBSETS.clear()
    with pytest.raises(glyphs.UndrawableGlyphs, match="「实」"):
        render.fit_to_page(broken)


# Re-checking a repaired font: only what changed, when nothing else did ----------

def regular_font(pdf: bytes) -> tuple[cffread.Cff, dict[int, str]]:
    """The Regular font's CFF and its glyphs' characters."""
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        (font,) = [font for font in glyphs._fonts(document) if "Regular" in str(font.BaseFont)]
        cff = cffread.Cff(font.DescendantFonts[0].FontDescriptor.FontFile3.read_bytes())
        to_unicode = glyphs._to_unicode(font)
    return cff, {n: to_unicode.get(code, "") for n, code in enumerate(cff.codes())}


def test_after_a_repair_only_the_redrawn_outlines_are_drawn_again_and_one_still_broken_fails(
        fresh_verdicts, monkeypatch):
    broken = break_glyph(chart_pdf("情况不属实，核实后上报。"), "实")
    _, characters = regular_font(broken)
    (number,) = [n for n, c in characters.items() if c == "实"]
    asked: list[object] = []
    real_undrawable = glyphs._undrawable
    monkeypatch.setattr(glyphs, "_undrawable",
                        lambda font, numbers=None: asked.append(numbers) or real_undrawable(font, numbers))
    assert embedded_undrawable(render.fit_to_page(broken)) == 0
    assert [number] in asked  # the repaired font: only the redrawn outline was drawn again

    fresh_verdicts()
    monkeypatch.setattr(glyphs, "_redraw", lambda *args: bytes([139, 139, 8, 14]))  # a redrawing that does not draw
    with pytest.raises(glyphs.UndrawableGlyphs, match="「实」"):
        render.fit_to_page(broken)


def spoiler(cff: cffread.Cff, number: int):
    """A function spoiling, in the bytes of `cff` (or a font with the same
    subroutines in the same place), a local subroutine glyph `number` calls:
    it then calls one far past the last, and the glyph cannot be drawn."""
    font_dict = cff.font_dicts[cff.font_dict_of[number]]
    called = glyphs._draw(cff.charstrings.item(number), font_dict, cff.global_subrs).local_called
    subroutine = next(n for n, code in called if len(code) >= 4)
    spoilt_at = font_dict.subrs.base + font_dict.subrs.offsets()[subroutine]
    return lambda data: data[:spoilt_at] + bytes([28, 0x7F, 0xFF, 10]) + data[spoilt_at + 4:]


def test_a_known_verdict_is_not_taken_when_a_subroutine_the_outline_calls_differs(fresh_verdicts):
    cff, characters = regular_font(chart_pdf("情况不属实，核实后上报。"))
    assert glyphs._undrawable(cff) == []  # every outline's verdict is known now
    (number,) = [n for n, c in characters.items() if c == "情"]
    assert glyphs.undrawable(spoiler(cff, number)(bytes(cff.data))) == [number]


def test_a_repaired_font_whose_subroutines_differ_is_drawn_again_in_full(fresh_verdicts, monkeypatch):
    """Should the repaired font differ in more than the redrawn outlines (here a
    subroutine that 情 calls, spoilt), every outline is drawn again."""
    broken = break_glyph(chart_pdf("情况不属实，核实后上报。"), "实")
    cff, characters = regular_font(broken)
    (number,) = [n for n, c in characters.items() if c == "情"]
    spoil = spoiler(cff, number)
    real_with_charstrings = glyphs._with_charstrings
    monkeypatch.setattr(glyphs, "_with_charstrings", lambda font, replaced: spoil(real_with_charstrings(font, replaced)))
    with pytest.raises(glyphs.UndrawableGlyphs, match="「情」"):
        render.fit_to_page(broken)


def test_a_font_stored_with_flate_alone_is_inflated_as_qpdf_would():
    with pikepdf.Pdf.open(io.BytesIO(chart_pdf("情况不属实。"))) as document:
        for font in glyphs._fonts(document):
            stream = font.DescendantFonts[0].FontDescriptor.FontFile3
            stored = stream.read_raw_bytes()
            assert glyphs._inflated(stored, stream.get("/Filter"), stream.get("/DecodeParms")) == stream.read_bytes()
            assert glyphs._inflated(stored[:-40], pikepdf.Name.FlateDecode, None) is None  # cut short: qpdf's turn
            assert glyphs._inflated(stored, pikepdf.Array([pikepdf.Name.FlateDecode]), None) is None
