"""One embedded font per booklet, shared by all its pages.

Every chart's PDF carries its own subsets of Noto Sans CJK (regular and
bold), each ~100–170 KB, almost all of it the subset's subroutines: a
booklet of 43 pages was 7 MB of which 6.7 MB were fonts.  Here the
subsets of each font are joined into one (cffmerge.py), with each distinct
glyph (outline and width) once; every page's font then becomes a small
Type0 font over that one shared CIDFont, whose encoding is a CMap taking
the page's own codes to the shared font's CIDs.  The pages' content
streams and ToUnicode maps stay as they were, so text extracts as before
and nothing is parsed or rewritten per page; the outlines are the bytes
the pages carried (already checked and repaired by glyphs.py), so the
pages draw as before.

What each page's fonts hold is read once per PDF (pageprep.py, kept in the
output folder's cache).  Only fonts as cairo writes them are shared
(Type0, Identity-H, CID-keyed CFF); any other font stays as it is, and
anything unexpected leaves the whole document as it was.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..draw import cffmerge
from ..draw.glyphs import resources_of
from . import fontentry, pageprep

CidTable = list[tuple[int, int]]  # a page font's codes and the shared font's CID of each
FamilyKey = tuple[str, int]  # see family_key
_MOST_GLYPHS = 0xFF00  # in a shared font: the CIDs above are for codes a page's font has no glyph for (_cmap)


@dataclass
class _Family:
    """One font (by name without the subset tag): its subsets joined so far,
    and the CID each distinct glyph (outline and width) has in the shared font."""
    template: Any  # the Type0 font dictionary of the first subset
    joined: cffmerge.Joined
    cids: dict[tuple[cffmerge.Glyph, float], int] = field(default_factory=dict)


def share_fonts(document: Any, prepared: Sequence[fontentry.Prepared | None] | None = None) -> bool:  # a pikepdf.Pdf
    """Let the pages' fonts share one embedded font per typeface; True if
    done, False if the document was left as it was.  `prepared`: what
    pageprep found in each page's PDF, page by page (a booklet's come from
    its cache); without it, each page's fonts are read here."""
    import pikepdf

    try:
        families: dict[FamilyKey, _Family] = {}
        tables: dict[tuple[int, int], tuple[Any, FamilyKey, CidTable]] = {}  # by the page font's object: it, its family
        places: list[tuple[Any, str, tuple[int, int]]] = []  # (resources, name, font) to replace
        for number, page in enumerate(document.pages):
            found = prepared[number] if prepared is not None else pageprep.prepare([page])
            if found is None:
                continue
            for resources in resources_of([page]):
                fonts = resources.get(pikepdf.Name.Font)
                for key, font in fonts.items() if isinstance(fonts, pikepdf.Dictionary) else ():
                    if font.is_indirect and font.objgen not in tables:
                        prepared_font = found.fonts.get(str(font.get(pikepdf.Name.BaseFont, "")))
                        if prepared_font is None:
                            continue
                        tables[font.objgen] = (font, family_key(prepared_font), _added(families, font, prepared_font))
                    if font.is_indirect and font.objgen in tables:
                        places.append((resources, key, font.objgen))
        if not tables:
            return False
        shared = {key: _shared_font(document, key[0], family) for key, family in families.items()}
        replaced = {objgen: page_font(document, font, shared[family], table, len(families[family].cids) + 1)
                    for objgen, (font, family, table) in tables.items()}
    except Exception:  # noqa: BLE001 - an optimisation: whatever fails, the pages keep their own fonts
        return False
    # everything is computed: only now is the document changed
    for resources, key, objgen in places:
        resources.Font[key] = replaced[objgen]
    return True


def family_key(prepared: fontentry.Font) -> FamilyKey:
    """The font a subset was cut from: its name, and how many global
    subroutines it has (cairo keeps every subroutine's number, so each
    subset of one font has as many).  Two fonts may carry one name — the
    chart font's trimmed copy and, for a character outside the copy, the
    font as installed (draw/trimfont.py) — and their subsets cannot be
    joined.  Should two such fonts still agree in this, cffmerge finds
    their subroutines differ and the pages keep their own fonts."""
    return prepared.family, prepared.subset.subroutine_count("")


def _added(families: dict[FamilyKey, _Family], font: Any, prepared: fontentry.Font) -> CidTable:
    """Add a page font's subset to its family; the shared CID of each of its codes."""
    key = family_key(prepared)
    family = families.get(key)
    if family is None:
        family = families[key] = _Family(font, cffmerge.Joined(prepared.subset))
    else:
        family.joined.add(prepared.subset)
    cids, widths = family.cids, prepared.widths
    table = [(code, cids.setdefault((glyph, widths[code]), len(cids) + 1))
             for code, glyph in prepared.subset.glyphs.items()]
    if len(cids) >= _MOST_GLYPHS:
        raise cffmerge.NotMergeable("两字节编码不够用")
    return table


def _shared_font(document: Any, name: str, family: _Family) -> Any:
    """The one CIDFont of a family, with its font file and widths."""
    import pikepdf

    ordered = sorted(family.cids.items(), key=lambda entry: entry[1])
    cff = family.joined.font([glyph for (glyph, _), _ in ordered])
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(cff).digest()[:6])
    base_font = pikepdf.Name(f"/{tag}+{name}")
    template = family.template.DescendantFonts[0]
    descriptor = pikepdf.Dictionary({key: value for key, value in template.FontDescriptor.items()})
    descriptor.FontName = base_font
    descriptor.FontFile3 = pikepdf.Stream(document, cff, Subtype=pikepdf.Name.CIDFontType0C)
    first_width = float(template.get("/DW", 1000))
    widths = [first_width] + [width for (_, width), _ in ordered]
    shared = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType0, BaseFont=base_font,
        CIDSystemInfo=template.CIDSystemInfo, FontDescriptor=document.make_indirect(descriptor),
        W=pikepdf.Array([0, pikepdf.Array([int(w) if w == int(w) else w for w in widths])]))
    if pikepdf.Name.DW in template:  # the width of a code without a glyph, as on the page
        shared.DW = template.DW
    return document.make_indirect(shared)


def page_font(document: Any, font: Any, shared: Any, table: CidTable, unused: int) -> Any:
    """A page's font over the shared CIDFont: the page's codes, by a CMap,
    to the shared CIDs; its own ToUnicode map."""
    import pikepdf

    cmap, cmap_name = _cmap(table, unused)
    system = shared.CIDSystemInfo
    encoding = pikepdf.Stream(document, cmap, Type=pikepdf.Name.CMap, CMapName=pikepdf.Name(f"/{cmap_name}"),
                              CIDSystemInfo=system)
    replaced = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name(f"{shared.BaseFont}-{cmap_name}"),
        Encoding=document.make_indirect(encoding), DescendantFonts=pikepdf.Array([shared]))
    if pikepdf.Name.ToUnicode in font:
        replaced.ToUnicode = font.ToUnicode
    return document.make_indirect(replaced)


def _cmap(table: CidTable, unused: int) -> tuple[bytes, str]:
    """The CMap text taking a page font's codes to the shared font's CIDs,
    and its name (from its content: one name, one map).  Every other code
    goes to a CID from `unused` on, which the shared font does not have: as
    under Identity-H, where the page's subset has no such CID, nothing is
    drawn (poppler would read an unmapped code as one byte and MuPDF draw
    the .notdef box).  No range crosses a change of its first byte."""
    table = sorted(table)
    codes = [code for code, _ in table]
    chars = [b"<%04x> %d\n" % entry for entry in table]
    unmapped = _unmapped_blocks(unused)
    ranges = []
    for first, last in zip([0, *(code + 1 for code in codes)], [*codes, 0x10000], strict=True):
        while first < last:  # the codes from first to last - 1 have no glyph
            if not first & 0xFF and last - first > 0xFF:  # whole blocks of 256 codes
                ranges += unmapped[first >> 8:last >> 8]
                first = last & ~0xFF
            else:
                end = min(last - 1, first | 0xFF)
                ranges.append(b"<%04x> <%04x> %d\n" % (first, end, unused))
                first = end + 1
    lines = {b"cidrange": ranges, b"cidchar": chars}
    body = []
    for kind, found in lines.items():
        for start in range(0, len(found), 100):
            block = found[start:start + 100]
            body += [b"%d begin%s\n" % (len(block), kind), *block, b"end%s\n" % kind]
    mapping = b"".join(body)
    name = "Riskchart-" + hashlib.sha256(mapping).hexdigest()[:16]
    return (b"%!PS-Adobe-3.0 Resource-CMap\n/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            b"/CIDSystemInfo 3 dict dup begin\n/Registry (Adobe) def\n/Ordering (Identity) def\n/Supplement 0 def\n"
            b"end def\n/CMapName /" + name.encode() + b" def\n/CMapVersion 1 def\n/CMapType 1 def\n/WMode 0 def\n"
            b"1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n" + mapping
            + b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"), name


@functools.lru_cache(maxsize=4)
def _unmapped_blocks(unused: int) -> list[bytes]:
    """The CMap lines of each block of 256 codes (by first byte) that all go to `unused` on."""
    return [b"<%02x00> <%02xff> %d\n" % (first, first, unused) for first in range(256)]
