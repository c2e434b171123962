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

import collections
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ..draw import cffmerge, glyphs

_TAG = re.compile(r"^[A-Z]{6}\+")
_DELIMITER = rb"\s\[\]()<>{}/%"
_HEX = rb"<[0-9A-Fa-f\s]*+>"
# What recoding needs of a content stream: the font each Tf selects, q and
# Q (which save and restore it), and every string shown with its operator.
# Other names are read as tokens, so that `/q` is no operator.  (The leading
# look-ahead lets the engine skip to the few characters that can start a
# match; possessive repeats never backtrack, whatever the stream holds.)
_CONTENT = re.compile(
    rb"(?=[/\[<qQ])(?:(?P<font>/[^%(d)s]+)\s+[-+\d.]+\s+Tf(?![^%(d)s])|/[^%(d)s]*"
    rb"|(?P<shown>\[(?:\s*+(?:%(h)s|[-+\d.]++))*+\s*+\]\s*+TJ|%(h)s\s*+(?:Tj|'|\"))(?![^%(d)s])"
    rb"|(?P<stack>[qQ])(?<![^%(d)s][qQ])(?![^%(d)s]))" % {b"d": _DELIMITER, b"h": _HEX})
_INLINE_IMAGE = re.compile(rb"(?<![^\s\]>])BI(?![^\s\[</])")
_BFCHAR_BLOCK = re.compile(rb"beginbfchar(.*?)endbfchar", re.DOTALL)
_BFCHAR = re.compile(rb"<([0-9a-fA-F]{1,4})>\s*<([0-9a-fA-F]+)>")
_FOUR_DIGITS = re.compile(rb"....", re.DOTALL)
_W_TOKEN = re.compile(rb"\[|\]|[-+]?(?:\d+\.?\d*|\.\d+)|R")

Recode = dict[bytes, bytes]  # a page font's code → the shared font's, both as 4 lower-case hex digits
_NO_CODE = b"...."  # in a recoding table: a code the page's font does not have


@dataclass
class _Family:
    """One font (by name without the subset tag): its subsets joined so far,
    and the code each distinct glyph has in the shared font."""
    template: Any  # the Type0 font dictionary of the first subset
    joined: cffmerge.Joined
    codes: dict[tuple[cffmerge.Glyph, float, bytes], int] = field(default_factory=dict)  # text: UTF-16BE hex


def share_fonts(document: Any) -> bool:  # a pikepdf.Pdf
    """Replace the fonts cairo embedded in each page by one shared font per
    font; True if done, False if the document was left as it was."""
    import pikepdf

    try:
        holders = _holders(document)
        families: dict[str, _Family] = {}
        recoded: dict[tuple[int, int], bytes] = {}  # a font → its recoding table (_added)
        for _, resources in holders:
            for font in resources.Font.values() if pikepdf.Name.Font in resources else ():
                if font.objgen not in recoded and (subset := _subset(font)) is not None:
                    recoded[font.objgen] = _added(families, font, subset)
        if not recoded:
            return False
        shared = {name: _shared_font(document, name, family) for name, family in families.items()}
        rewritten = [(holder, _recoded(holder, resources, recoded)) for holder, resources in holders]
    except Exception:  # noqa: BLE001 - an optimisation: whatever fails, the pages keep their own fonts
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
    pending = collections.deque((page.obj, page.obj.get(pikepdf.Name.Resources)) for page in document.pages)
    while pending:
        holder, resources = pending.popleft()
        if holder.is_indirect:
            if holder.objgen in seen:
                continue
            seen.add(holder.objgen)
        if not isinstance(resources, pikepdf.Dictionary):
            if pikepdf.Name.Contents in holder:  # resources inherited from the page tree: not followed here
                raise ValueError("a page without resources of its own")
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


def _added(families: dict[str, _Family], font: Any, subset: cffmerge.Subset) -> bytes:
    """Add a subset to its family; its recoding table: the shared code of
    each code n at [4n:4n + 4], as hex digits (a few hundred bytes a page,
    not a dictionary's tens of kilobytes: a booklet may have thousands)."""
    family = families.get(_family_name(font))
    if family is None:
        family = families[_family_name(font)] = _Family(font, cffmerge.Joined(subset))
    else:
        family.joined.add(subset)
    widths = _widths(font.DescendantFonts[0])
    default = float(font.DescendantFonts[0].get("/DW", 1000))
    texts = _texts(font)
    table = [_NO_CODE] * (max(subset.glyphs) + 1)
    table[0] = b"0000"
    for code, glyph in subset.glyphs.items():
        if code:
            key = (glyph, widths.get(code, default), texts.get(code, b""))
            table[code] = b"%04x" % family.codes.setdefault(key, len(family.codes) + 1)
    if len(family.codes) >= 0xFFFF:
        raise cffmerge.NotMergeable("两字节编码不够用")
    return b"".join(table)


def _texts(font: Any) -> dict[int, bytes]:
    """The font's ToUnicode map, code → UTF-16BE as hex digits (kept as
    written: they are written again into the shared map)."""
    stream = font.get("/ToUnicode")
    if stream is None:
        return {}
    data = stream.read_bytes()
    if b"beginbfrange" in data:  # cairo writes single codes; ranges through the general reader
        return {code: text.encode("utf-16-be").hex().encode() for code, text in glyphs._to_unicode(font).items()}
    return {int(code, 16): text.lower() for block in _BFCHAR_BLOCK.findall(data) for code, text in _BFCHAR.findall(block)}


def _widths(descendant: Any) -> dict[int, float]:
    """The /W array of a CIDFont: width by CID (read from its text: faster
    than through pikepdf's objects)."""
    array = descendant.get("/W")
    tokens = _W_TOKEN.findall(array.unparse()) if array is not None else [b"[", b"]"]
    if b"R" in tokens:
        raise ValueError("widths by reference")
    found: dict[int, float] = {}
    at = 1
    while at < len(tokens) - 1:
        first = int(tokens[at])
        if tokens[at + 1] == b"[":
            close = tokens.index(b"]", at + 2)
            found.update((first + offset, float(width)) for offset, width in enumerate(tokens[at + 2:close]))
            at = close + 1
        else:
            found.update(dict.fromkeys(range(first, int(tokens[at + 1]) + 1), float(tokens[at + 2])))
            at += 3
    return found


def _shared_font(document: Any, name: str, family: _Family) -> Any:
    """The one Type0 font of a family, with its CIDFont, font file, widths and ToUnicode map."""
    import pikepdf

    ordered = sorted(family.codes.items(), key=lambda entry: entry[1])
    cff = family.joined.font([glyph for (glyph, _, _), _ in ordered])
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(cff).digest()[:6])
    base_font = pikepdf.Name(f"/{tag}+{name}")
    template = family.template.DescendantFonts[0]
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


def _to_unicode_cmap(texts: list[tuple[int, bytes]]) -> bytes:
    lines = [(b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
              b"/CIDSystemInfo\n<< /Registry (Adobe)\n   /Ordering (UCS)\n   /Supplement 0\n>> def\n"
              b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
              b"1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n")]
    for start in range(0, len(texts), 100):
        block = texts[start:start + 100]
        lines.append(f"{len(block)} beginbfchar\n".encode())
        lines += [b"<%04x> <%s>\n" % (code, text) for code, text in block]
        lines.append(b"endbfchar\n")
    lines.append(b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
    return b"".join(lines)


def _recoded(holder: Any, resources: Any, recoded: dict[tuple[int, int], bytes]) -> bytes | None:
    """The holder's content stream with every string shown in a shared font
    in the shared font's codes; None if its resources name no such font.

    Read with a regular expression rather than pikepdf's parser (10 ms a
    page, most of a booklet's joining time), for the few things that matter
    (_CONTENT); every text-showing operator must have been found with its
    strings.  Literal strings, comments and inline images are not read: a
    stream with any of them raises ValueError, and nothing is shared."""
    import pikepdf

    fonts = resources.get(pikepdf.Name.Font)
    codes_of = {bytes(str(key), "latin-1"): _recoding(recoded[font.objgen]) for key, font in fonts.items()
                if font.objgen in recoded} if isinstance(fonts, pikepdf.Dictionary) else {}
    if not codes_of:
        return None
    if isinstance(holder, pikepdf.Stream):
        content = holder.read_bytes()
    else:
        streams = holder.Contents if isinstance(holder.Contents, pikepdf.Array) else [holder.Contents]
        content = b"\n".join(stream.read_bytes() for stream in streams)
    if b"(" in content or b"%" in content or (b"BI" in content and _INLINE_IMAGE.search(content)):
        raise ValueError("content stream with literal strings, comments or inline images")
    pieces, done, shows = [], 0, 0
    current: Recode | None = None
    saved: list[Recode | None] = []
    for found in _CONTENT.finditer(content):
        if found["font"]:
            current = codes_of.get(found["font"])
        elif found["stack"] == b"q":
            saved.append(current)
        elif found["stack"] == b"Q":
            current = saved.pop() if saved else current
        elif found["shown"]:
            shows += 1
            if current is not None:
                for shown in re.finditer(_HEX, found[0]):
                    pieces += [content[done:found.start() + shown.start()], _hex(shown[0], current)]
                    done = found.start() + shown.end()
    # every operator that shows text is among these bytes (a name may hold them too: then nothing is shared)
    if shows != sum(map(content.count, (b"Tj", b"TJ", b"'", b'"'))):
        raise ValueError("text shown in a way not read here")
    return b"".join([*pieces, content[done:]])


def _recoding(table: bytes) -> Recode:
    """The dictionary of a recoding table (built in C: a page has hundreds of codes)."""
    return dict(zip(_all_codes(), _FOUR_DIGITS.findall(table), strict=False))


@functools.cache
def _all_codes() -> list[bytes]:
    return [b"%04x" % code for code in range(0x10000)]


def _hex(shown: bytes, codes: Recode) -> bytes:
    if len(shown) == 6:  # one code, as cairo writes most strings of a TJ array
        recoded = codes[shown[1:5].lower()]
    else:
        digits = shown[1:-1].translate(None, b" \t\r\n\f\0").lower()
        if len(digits) % 4:
            raise ValueError("a string of whole two-byte codes expected")
        recoded = b"".join(map(codes.__getitem__, _FOUR_DIGITS.findall(digits)))
    if _NO_CODE[:1] in recoded:
        raise ValueError("a code the font does not have")
    return b"<" + recoded + b">"
