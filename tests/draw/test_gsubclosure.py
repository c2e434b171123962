"""The glyphs shaping can reach from a set of glyphs (the trimmed font keeps them)."""

from __future__ import annotations

import pytest
from fontTools.feaLib.builder import addOpenTypeFeaturesFromString
from fontTools.fontBuilder import FontBuilder

from riskchart.draw import gsubclosure

GLYPHS = [".notdef", "f", "i", "f_i", "a", "a.vert", "b", "b.alt", "c", "c.rev", "d", "e", "e.alt", "g",
          "one", "one.numr"]
FEATURES = """
languagesystem DFLT dflt;
lookup NESTED { sub e by e.alt; } NESTED;
lookup REVERSE { rsub c' d by c.rev; } REVERSE;
feature liga { sub f i by f_i; } liga;
feature vert { sub a by a.vert; } vert;
feature ccmp { sub b by b.alt; } ccmp;
feature calt { sub e' lookup NESTED g; lookup REVERSE; } calt;
feature frac { sub one by one.numr; } frac;
"""


@pytest.fixture(scope="module")
def gsub():
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(GLYPHS)
    builder.setupCharacterMap({ord("f"): "f", ord("i"): "i", ord("a"): "a"})
    builder.setupGlyf({name: _empty() for name in GLYPHS})
    builder.setupHorizontalMetrics({name: (500, 0) for name in GLYPHS})
    builder.setupHorizontalHeader()
    addOpenTypeFeaturesFromString(builder.font, FEATURES)
    return builder.font["GSUB"]


def _empty():
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    return TTGlyphPen(None).glyph()


def test_a_ligature_is_kept_only_with_all_its_components(gsub):
    assert "f_i" in gsubclosure.closure(gsub, {"f", "i"})
    assert "f_i" not in gsubclosure.closure(gsub, {"f"})


def test_features_a_shaper_applies_unasked_are_followed_and_vertical_ones_are_not(gsub):
    reached = gsubclosure.closure(gsub, {"a", "b", "one"})
    assert {"b.alt", "one.numr"} <= reached  # ccmp; frac, applied around U+2044 by HarfBuzz
    assert "a.vert" not in reached


def test_lookups_called_by_contextual_rules_and_reverse_chaining_are_followed(gsub):
    assert "e.alt" in gsubclosure.closure(gsub, {"e"})
    assert "c.rev" in gsubclosure.closure(gsub, {"c"})


def test_no_gsub_reaches_nothing_more():
    assert gsubclosure.closure(None, {"a"}) == {"a"}
