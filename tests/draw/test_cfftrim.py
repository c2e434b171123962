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


def test_only_the_subroutines_the_kept_outlines_call_are_kept(installed):
    data, cmap = installed
    trimmed = cffread.Cff(cfftrim.trimmed(data, [cmap[c] for c in TEXT]))
    original = cffread.Cff(data)
    kept_local = sum(len(font_dict.subrs) for font_dict in trimmed.font_dicts)
    assert 0 < len(trimmed.global_subrs) < len(original.global_subrs) // 4
    assert 0 < kept_local < 1000 < sum(len(font_dict.subrs) for font_dict in original.font_dicts)
    # each one is called: a font trimmed to nothing but .notdef keeps fewer
    bare = cffread.Cff(cfftrim.trimmed(data, []))
    assert sum(len(font_dict.subrs) for font_dict in bare.font_dicts) < kept_local


@pytest.mark.parametrize(("count", "bias"), [(0, 107), (1239, 107), (1240, 1131), (33899, 1131), (33900, 32768)])
def test_the_bias_of_a_subroutine_index_follows_its_count(count, bias):
    assert cfftrim.bias(count) == bias


def test_a_call_whose_number_is_computed_is_refused():
    numbers = (107, 107, {0: 0})
    assert cfftrim._compiled([0 - 107, "callsubr", "endchar"], numbers, numbers)
    with pytest.raises(cfftrim.NotTrimmable):
        cfftrim._compiled([1, 2, "add", "callsubr", "endchar"], numbers, numbers)
    with pytest.raises(cfftrim.NotTrimmable):  # a local call from a global subroutine: no font dict to renumber by
        cfftrim._compiled([0 - 107, "callsubr", "return"], numbers, None)


def test_a_call_is_renumbered_for_the_kept_subroutines_and_their_bias():
    from fontTools.misc.psCharStrings import T2CharString

    # subroutine 1500 of 2000 (bias 1131) becomes the 2nd of 3 kept (bias 107)
    renumbered = cfftrim._compiled([1500 - 1131, "callgsubr", "endchar"], (1131, 107, {7: 0, 1500: 1, 1999: 2}), None)
    outline, tokens, at = T2CharString(bytecode=renumbered), [], 0
    while True:  # read as written: there are no subroutines to call
        token, _, at = outline.getToken(at)
        if token is None:
            break
        tokens.append(token)
    assert tokens == [1 - 107, "callgsubr", "endchar"]


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
