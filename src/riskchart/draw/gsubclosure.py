"""The glyphs text shaping can reach from a set of glyphs (for trimfont.py).

A trimmed font must keep not only the glyphs its characters map to, but
every glyph the font's substitutions can put in their place: 「——」 is one
glyph made by `liga`, Japanese or Traditional forms come through `locl`
when the text's language asks for them.  The closure is taken over every
lookup of every feature a shaper may apply without being asked (Graphviz
asks for none), including the lookups contextual ones call; a ligature is
kept only when all of its components are.  It errs on the side of keeping:
contextual conditions are not evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Features a shaper applies only when the text asks for them (or for vertical text,
# which Graphviz never lays out): their substitutions cannot reach a chart.  Not
# among them: frac (HarfBuzz applies it around U+2044 by itself), nor any it applies unasked.
ON_REQUEST = frozenset({
    "aalt", "afrc", "c2pc", "c2sc", "case", "cpsp", "cswh", "dlig", "expt", "fwid", "halt", "hist",
    "hkna", "hngl", "hojo", "hwid", "ital", "jp04", "jp78", "jp83", "jp90", "lnum", "nalt", "nlck", "onum",
    "ordn", "ornm", "palt", "pcap", "pkna", "pnum", "pwid", "qwid", "ruby", "salt", "sinf", "smcp", "smpl",
    "subs", "sups", "swsh", "titl", "tnam", "tnum", "trad", "twid", "unic", "valt", "vert", "vhal",
    "vkna", "vkrn", "vpal", "vrt2", "vrtr", "zero",
    *(f"ss{n:02d}" for n in range(1, 21)), *(f"cv{n:02d}" for n in range(1, 100)),
})


def closure(gsub: Any, glyphs: Iterable[str]) -> set[str]:
    """`glyphs` and every glyph the GSUB table `gsub` (fontTools' table, or
    None) can substitute for them, by name."""
    reached = set(glyphs)
    if gsub is None or gsub.table.LookupList is None or gsub.table.FeatureList is None:
        return reached
    lookups = gsub.table.LookupList.Lookup
    chosen = _called({index for record in gsub.table.FeatureList.FeatureRecord
                      if record.FeatureTag not in ON_REQUEST for index in record.Feature.LookupListIndex}, lookups)
    subtables = [getattr(s, "ExtSubTable", s) for index in sorted(chosen) for s in lookups[index].SubTable]
    grown = True
    while grown:
        before = len(reached)
        for subtable in subtables:
            reached.update(_outputs(subtable, reached))
        grown = len(reached) > before
    return reached


def _outputs(subtable: Any, reached: set[str]) -> set[str]:
    found: set[str] = set()
    for source, target in (getattr(subtable, "mapping", None) or {}).items():  # single, multiple
        if source in reached:
            found.update([target] if isinstance(target, str) else target)
    for source, targets in (getattr(subtable, "alternates", None) or {}).items():
        if source in reached:
            found.update(targets)
    substitutes = getattr(subtable, "Substitute", None)  # reverse chaining (type 8): one per covered glyph
    if substitutes and getattr(subtable, "Coverage", None) is not None:
        found.update(target for source, target in zip(subtable.Coverage.glyphs, substitutes, strict=True)
                     if source in reached)
    for first, ligatures in (getattr(subtable, "ligatures", None) or {}).items():
        if first in reached:
            found.update(ligature.LigGlyph for ligature in ligatures
                         if all(component in reached for component in ligature.Component))
    return found


def _called(indices: set[int], lookups: list[Any]) -> set[int]:
    """The lookups `indices` and those their contextual rules call, at any depth."""
    pending, seen = set(indices), set()
    while pending:
        index = pending.pop()
        if index in seen or not 0 <= index < len(lookups):
            continue
        seen.add(index)
        for subtable in lookups[index].SubTable:
            pending.update(_records(getattr(subtable, "ExtSubTable", subtable)))
    return seen


def _records(subtable: Any) -> set[int]:
    """The lookups a contextual subtable calls (formats 1, 2 and 3, chained or not)."""
    found = {record.LookupListIndex for record in getattr(subtable, "SubstLookupRecord", None) or ()}
    for set_name in ("SubRuleSet", "SubClassSet", "ChainSubRuleSet", "ChainSubClassSet"):
        for rule_set in getattr(subtable, set_name, None) or ():
            for rule_name in ("SubRule", "SubClassRule", "ChainSubRule", "ChainSubClassRule"):
                for rule in getattr(rule_set, rule_name, None) or () if rule_set is not None else ():
                    found.update(record.LookupListIndex for record in rule.SubstLookupRecord or ())
    return found
