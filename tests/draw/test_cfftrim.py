"""A CFF font trimmed to some outlines and the subroutines they call."""

from __future__ import annotations

import io
import shutil

import pytest
from fontTools.cffLib import CFFFontSet
from fontTools.pens.recordingPen import RecordingPen

from riskchart.draw import cffread, cfftrim, fonts
from riskchart.draw.glyphs import _sfnt_tables

pytestmark = pytest.mark.skipif(shutil.which("fc-match") is None, reason="fontconfig is not installed")

TEXT = "如不实审查决定送达ABC，。（）1"


@pytest.fixture(scope="module")
def installed():
    """The installed chart font: its CFF table and cmap."""
    from fontTools.ttLib import TTFont

    face = fonts.resolve("Noto Sans CJK SC")
    assert face is not None, "Noto Sans CJK SC is not installed"
    with TTFont(face.path, fontNumber=face.index, lazy=True) as font:
        numbers = font.getReverseGlyphMap()
        cmap = {chr(code): numbers[glyph] for code, glyph in font.getBestCmap().items()}
    return bytes(_sfnt_tables(face.path, face.index, (b"CFF ",))[b"CFF "]), cmap


def drawings(data: bytes, numbers: list[int]) -> dict[int, list]:
    font_set = CFFFontSet()
    font_set.decompile(io.BytesIO(data), None)
    top = font_set[font_set.fontNames[0]]
    charstrings, order = top.CharStrings, top.charset
    found = {}
    for number in numbers:
        pen = RecordingPen()
        charstrings[order[number]].draw(pen)
        found[number] = pen.value
    return found


def test_kept_outlines_draw_as_in_the_font_and_every_other_glyph_is_empty(installed):
    data, cmap = installed
    kept = sorted({cmap[c] for c in TEXT})
    trimmed = cfftrim.trimmed(data, kept)
    assert len(trimmed) < len(data) // 20
    assert drawings(trimmed, kept) == drawings(data, kept)
    others = [kept[0] + 1, cmap["堃"], 60000]
    assert all(value == [] for value in drawings(trimmed, others).values())
    assert all(value for value in drawings(data, others).values())
    small = CFFFontSet()
    small.decompile(io.BytesIO(trimmed), None)
    assert len(small[small.fontNames[0]].charset) == 65535  # every glyph keeps its number


def test_the_trimmed_font_keeps_no_subroutines(installed):
    data, cmap = installed
    original = cffread.Cff(data)
    assert len(original.global_subrs) > 1000 and sum(len(font_dict.subrs) for font_dict in original.font_dicts) > 40000
    trimmed = cffread.Cff(cfftrim.trimmed(data, [cmap[c] for c in TEXT]))
    assert len(trimmed.global_subrs) == 0
    assert all(len(font_dict.subrs) == 0 for font_dict in trimmed.font_dicts)
    assert len(trimmed.font_dicts) == len(original.font_dicts)


@pytest.mark.parametrize(("count", "bias"), [(0, 107), (1239, 107), (1240, 1131), (33899, 1131), (33900, 32768)])
def test_the_bias_of_a_subroutine_index_follows_its_count(count, bias):
    assert cfftrim.bias(count) == bias


class Called:
    def __init__(self, program):
        self.program = program


def subroutines(count: int, programs: dict[int, list]) -> cfftrim._Subroutines:
    found = cfftrim._Subroutines(cffread.Index(b"\0\0", 0))
    found.index.count = count  # as many as the bias is computed from
    found.used = {number: Called(program) for number, program in programs.items()}
    return found


def test_a_call_is_replaced_by_the_subroutine_without_its_return():
    local = subroutines(2000, {1500: [10, 20, "rlineto", "return"]})  # bias 1131
    globals_ = subroutines(3, {0: [5, "hmoveto", 1500 - 1131, "callsubr", "return"]})  # bias 107
    assert cfftrim._flattened([0 - 107, "callgsubr", "endchar"], globals_, local) == \
        [5, "hmoveto", 10, 20, "rlineto", "endchar"]
    ending = subroutines(3, {1: [1, 2, "rlineto", "endchar"]})
    assert cfftrim._flattened([1 - 107, "callsubr", 9, 9, "rlineto"], globals_, ending) == [1, 2, "rlineto", "endchar"]


def test_a_call_whose_number_is_computed_or_unknown_is_refused():
    local = subroutines(3, {0: ["return"]})
    with pytest.raises(cfftrim.NotTrimmable):
        cfftrim._flattened([1, 2, "add", "callsubr", "endchar"], local, local)
    with pytest.raises(cfftrim.NotTrimmable):
        cfftrim._flattened(["callsubr", "endchar"], local, local)
    with pytest.raises(cfftrim.NotTrimmable):
        cfftrim._flattened([2 - 107, "callsubr", "endchar"], local, local)  # never decompiled


def test_a_font_that_is_not_cid_keyed_is_refused(installed):
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef"])
    pen = T2CharStringPen(500, None)
    builder.setupCFF("Plain", {}, {".notdef": pen.getCharString()}, {})
    stream = io.BytesIO()
    builder.font["CFF "].cff.compile(stream, builder.font)
    with pytest.raises(cfftrim.NotTrimmable):
        cfftrim.trimmed(stream.getvalue(), [0])


def test_a_subroutine_whose_hint_mask_length_depends_on_its_caller_is_refused():
    from fontTools.misc.psCharStrings import SimpleT2Decompiler, T2CharString

    masked = b"\x13\xff\x0b"  # hintmask, one byte of mask, return: read where 8 stems were declared
    local = cfftrim._Subroutines(cffread.Index(b"\x00\x01\x01\x01" + bytes([1 + len(masked)]) + masked, 0))
    decompiler = cfftrim._decompiler_class(SimpleT2Decompiler)

    def outline(stems: int) -> T2CharString:
        # `stems` horizontal stems (all zero), then a call of subroutine 0 (bias 107: -107 is byte 32)
        return T2CharString(bytecode=b"\x8b" * (2 * stems) + b"\x01" + b"\x20\x0a" + b"\x0e")

    decompiler(local, local, None).execute(outline(8))
    decompiler(local, local, None).execute(outline(7))  # still one byte of mask
    with pytest.raises(cfftrim.NotTrimmable):
        decompiler(local, local, None).execute(outline(9))  # two bytes: the subroutine was read with one
