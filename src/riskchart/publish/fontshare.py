"""One embedded font per booklet, shared by all its pages.

Every chart's PDF carries its own subsets of Noto Sans CJK (regular and
bold), each ~100–170 KB, almost all of it the subset's subroutines: a
booklet of 43 pages was 7 MB of which 6.7 MB were fonts.  Here the
subsets of each font are joined into one (cffmerge.py), every text string
of every page and form is rewritten from the page's codes to the shared
font's, and every page names the one shared font, with one ToUnicode map
and one width table.  The outlines are the bytes the pages carried (already
checked and repaired by glyphs.py), so the pages draw as before.

Only fonts as cairo writes them are shared (Type0, Identity-H, CID-keyed
CFF); anything else, or anything unexpected, leaves the document as it was.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ..draw import cffmerge, glyphs

_TAG = re.compile(r"^[A-Z]{6}\+")
_SHOWS = {b"Tj", b"'", b'"', b"TJ"}
_DELIMITER = rb"\s\[\]()<>{}/%"
_TOKEN = re.compile(rb"(?P<name>/[^%s]*)|(?P<hex><[0-9A-Fa-f\s]*>)|(?P<operator>(?<![^%s])[A-Za-z'\"*][^%s]*)"
                    % (_DELIMITER, _DELIMITER, _DELIMITER))
_UNPARSED = re.compile(rb"[(%]|(?<![^\s\]>])BI(?![^\s\[</])")


@dataclass
class _Family:
    """The subsets of one font (by name without the subset tag) and the codes
    each gets in the shared font."""
    subsets: list[cffmerge.Subset] = field(default_factory=list)
    fonts: list[Any] = field(default_factory=list)  # the Type0 font dictionary of each subset
    codes: dict[tuple[cffmerge.Glyph, float, str], int] = field(default_factory=dict)


def share_fonts(document: Any) -> bool:  # a pikepdf.Pdf
    """Replace the fonts cairo embedded in each page by one shared font per
    font; True if done, False if the document was left as it was."""
    import pikepdf

    try:
        holders = _holders(document)
        families: dict[str, _Family] = {}
        recoded: dict[tuple[int, int], tuple[_Family, dict[int, int]]] = {}
        for _, resources in holders:
            for font in resources.Font.values() if pikepdf.Name.Font in resources else ():
                if font.objgen not in recoded and (subset := _subset(font)) is not None:
                    recoded[font.objgen] = _added(families, font, subset)
        if not recoded:
            return False
        shared = {name: _shared_font(document, name, family) for name, family in families.items()}
        rewritten = [(holder, _recoded(holder, resources, recoded)) for holder, resources in holders]
    except (cffmerge.NotMergeable, pikepdf.PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False
    # everything is computed: only now is the document changed
    for holder, content in rewritten:
        if content is None:
            continue
        if isinstance(holder, pikepdf.Stream):
            holder.write(content)
        else:
            holder.Contents = document.make_stream(content)
    for _, resources in holders:
        if pikepdf.Name.Font in resources:
            for key, font in list(resources.Font.items()):
                if font.objgen in recoded:
                    resources.Font[key] = shared[_family_name(font)]
    return True


def _holders(document: Any) -> list[tuple[Any, Any]]:
    """(page or form XObject, its resources): everything with a content stream."""
    import pikepdf

    found: list[tuple[Any, Any]] = []
    seen: set[tuple[int, int]] = set()
    pending = [(page.obj, page.obj.get(pikepdf.Name.Resources)) for page in document.pages]
    while pending:
        holder, resources = pending.pop(0)
        if holder.is_indirect:
            if holder.objgen in seen:
                continue
            seen.add(holder.objgen)
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        found.append((holder, resources))
        forms = resources.get(pikepdf.Name.XObject)
        if isinstance(forms, pikepdf.Dictionary):
            for form in forms.values():
                if isinstance(form, pikepdf.Stream) and form.get(pikepdf.Name.Subtype) == pikepdf.Name.Form:
                    pending.append((form, form.get(pikepdf.Name.Resources)))
    return found


def _family_name(font: Any) -> str:
    return _TAG.sub("", str(font.get("/BaseFont", "")).lstrip("/"))


def _subset(font: Any) -> cffmerge.Subset | None:
    """The font's CFF subset, if it is a font as cairo writes them."""
    import pikepdf

    if font.get(pikepdf.Name.Subtype) != pikepdf.Name.Type0 or font.get(pikepdf.Name.Encoding) != pikepdf.Name(
            "/Identity-H") or len(font.get(pikepdf.Name.DescendantFonts, ())) != 1:
        return None
    descendant = font.DescendantFonts[0]
    descriptor = descendant.get(pikepdf.Name.FontDescriptor)
    if descendant.get(pikepdf.Name.Subtype) != pikepdf.Name.CIDFontType0 or descriptor is None \
            or pikepdf.Name.FontFile3 not in descriptor or pikepdf.Name.CIDToGIDMap in descendant:
        return None
    return cffmerge.read_subset(descriptor.FontFile3.read_bytes())


def _added(families: dict[str, _Family], font: Any, subset: cffmerge.Subset) -> tuple[_Family, dict[int, int]]:
    """Add a subset to its family; the shared code of each of its codes."""
    family = families.setdefault(_family_name(font), _Family())
    family.subsets.append(subset)
    family.fonts.append(font)
    widths = _widths(font.DescendantFonts[0])
    default = float(font.DescendantFonts[0].get("/DW", 1000))
    texts = glyphs._to_unicode(font)
    recode = {0: 0}
    for code, glyph in subset.glyphs.items():
        if code:
            key = (glyph, widths.get(code, default), texts.get(code, ""))
            recode[code] = family.codes.setdefault(key, len(family.codes) + 1)
    return family, recode


def _widths(descendant: Any) -> dict[int, float]:
    """The /W array of a CIDFont: width by CID."""
    found: dict[int, float] = {}
    entries = list(descendant.get("/W", ()))
    at = 0
    while at < len(entries):
        first = int(entries[at])
        if isinstance(entries[at + 1], (list, tuple)) or hasattr(entries[at + 1], "as_list"):
            for offset, width in enumerate(entries[at + 1]):
                found[first + offset] = float(width)
            at += 2
        else:
            for cid in range(first, int(entries[at + 1]) + 1):
                found[cid] = float(entries[at + 2])
            at += 3
    return found


def _shared_font(document: Any, name: str, family: _Family) -> Any:
    """The one Type0 font of a family, with its CIDFont, font file, widths and ToUnicode map."""
    import pikepdf

    ordered = sorted(family.codes.items(), key=lambda entry: entry[1])
    cff = cffmerge.merged(family.subsets, [glyph for (glyph, _, _), _ in ordered])
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(cff).digest()[:6])
    base_font = pikepdf.Name(f"/{tag}+{name}")
    template = family.fonts[0].DescendantFonts[0]
    descriptor = pikepdf.Dictionary({key: value for key, value in template.FontDescriptor.items()})
    descriptor.FontName = base_font
    descriptor.FontFile3 = pikepdf.Stream(document, cff, Subtype=pikepdf.Name.CIDFontType0C)
    first_width = float(template.get("/DW", 1000))
    widths = [first_width] + [width for (_, width, _), _ in ordered]
    descendant = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType0, BaseFont=base_font,
        CIDSystemInfo=template.CIDSystemInfo, FontDescriptor=document.make_indirect(descriptor),
        W=pikepdf.Array([0, pikepdf.Array([int(w) if w == int(w) else w for w in widths])]))
    texts = [(code, text) for (_, _, text), code in ordered if text]
    return document.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=base_font, Encoding=pikepdf.Name("/Identity-H"),
        DescendantFonts=pikepdf.Array([document.make_indirect(descendant)]),
        ToUnicode=pikepdf.Stream(document, _to_unicode_cmap(texts))))


def _to_unicode_cmap(texts: list[tuple[int, str]]) -> bytes:
    lines = [(b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
              b"/CIDSystemInfo\n<< /Registry (Adobe)\n   /Ordering (UCS)\n   /Supplement 0\n>> def\n"
              b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
              b"1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n")]
    for start in range(0, len(texts), 100):
        block = texts[start:start + 100]
        lines.append(f"{len(block)} beginbfchar\n".encode())
        lines += [f"<{code:04x}> <{text.encode('utf-16-be').hex()}>\n".encode() for code, text in block]
        lines.append(b"endbfchar\n")
    lines.append(b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
    return b"".join(lines)


def _recoded(holder: Any, resources: Any, recoded: dict[tuple[int, int], tuple[_Family, dict[int, int]]]) -> bytes | None:
    """The holder's content stream with every string shown in a shared font
    in the shared font's codes; None if its resources name no such font.

    A small tokenizer rather than pikepdf's parser (10 ms a page, most of a
    booklet's joining time): names and hex strings are read as tokens (so
    neither `/Q` nor `<0051>` looks like an operator), and an operator's
    operands are the strings since the operator before it.  Literal
    strings, comments and inline images are not parsed: a stream with any
    of them is left alone, with its fonts."""
    import pikepdf

    fonts = resources.get(pikepdf.Name.Font)
    codes_of = {bytes(str(key), "latin-1"): recoded[font.objgen][1] for key, font in fonts.items()
                if font.objgen in recoded} if isinstance(fonts, pikepdf.Dictionary) else {}
    if not codes_of:
        return None
    if isinstance(holder, pikepdf.Stream):
        content = holder.read_bytes()
    else:
        streams = holder.Contents if isinstance(holder.Contents, pikepdf.Array) else [holder.Contents]
        content = b"\n".join(stream.read_bytes() for stream in streams)
    if _UNPARSED.search(content):
        raise ValueError("content stream with literal strings, comments or inline images")
    pieces, done = [], 0
    current: dict[int, int] | None = None
    saved: list[dict[int, int] | None] = []
    name = b""
    operands: list[re.Match[bytes]] = []
    for token in _TOKEN.finditer(content):
        kind = token.lastgroup
        if kind == "name":
            name = token[0]
        elif kind == "hex":
            operands.append(token)
            continue
        elif kind == "operator":
            operator = token[0]
            if operator == b"q":
                saved.append(current)
            elif operator == b"Q" and saved:
                current = saved.pop()
            elif operator == b"Tf":
                current = codes_of.get(name)
            elif operator in _SHOWS and current is not None:
                for shown in operands:
                    pieces += [content[done:shown.start()], _hex(shown[0], current)]
                    done = shown.end()
            operands = []
    return b"".join([*pieces, content[done:]])


def _hex(shown: bytes, codes: dict[int, int]) -> bytes:
    data = bytes.fromhex(re.sub(rb"\s", b"", shown[1:-1]).decode("ascii"))
    if len(data) % 2:
        raise ValueError("odd string in a two-byte font")
    return b"<" + b"".join(codes[int.from_bytes(data[at:at + 2], "big")].to_bytes(2, "big")
                           for at in range(0, len(data), 2)).hex().encode() + b">"
