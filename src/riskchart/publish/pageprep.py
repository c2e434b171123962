"""What a booklet needs of one PDF's fonts, worked out once per PDF.

Sharing one font among a booklet's pages (fontshare.py) needs each page's
embedded subsets read: their glyphs, subroutines and widths, most of the
joining's time.  That depends on the PDF's bytes alone, so it is done once
per PDF: in a build, as each chart is finished (beside dot), and kept in
the output folder's cache under the PDF's digest; a booklet made after one
chart changed reads the other pages' from there.

The cache lives in out/, which riskchart trusts for nothing.  An entry is
JSON, read by the standard parser only, signed with the user's key of the
lint cache (check/cache.py) together with the name it is kept under, and
checked value by value; an entry that is missing, damaged, foreign or from
other code is simply worked out again from the PDF.
"""

from __future__ import annotations

import array
import collections
import contextlib
import functools
import hashlib
import hmac
import io
import itertools
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import files
from ..check.cache import signing_key
from ..draw import cffmerge

FORMAT = 1
ENTRY = re.compile(r"[0-9a-f]{32}\.fonts")  # the names of the entries, for pruning
_TAG = re.compile(r"^[A-Z]{6}\+")
_W_TOKEN = re.compile(rb"\[|\]|[-+]?(?:\d+\.?\d*|\.\d+)|R")
_HEAD = b"riskchart fonts, HMAC-SHA256 "
_MAC_LENGTH = 64
# what cairo writes in its fonts: a font with any other key is left as it is
_TYPE0_KEYS = {"/Type", "/Subtype", "/BaseFont", "/Encoding", "/DescendantFonts", "/ToUnicode"}
_CIDFONT_KEYS = {"/Type", "/Subtype", "/BaseFont", "/CIDSystemInfo", "/FontDescriptor", "/W", "/DW"}


@dataclass(frozen=True)
class Font:
    """One embedded CID-keyed CFF subset as cairo writes them."""
    family: str               # its name without the subset tag
    parts: cffmerge.Parts     # as kept in the cache
    subset: cffmerge.Subset   # as joined (the same, read from `parts`)
    widths: dict[int, float]  # by code, for every code of the subset


@dataclass(frozen=True)
class Prepared:
    """The fonts of one PDF that may be shared, by /BaseFont as written
    (a name two different fonts of the PDF carry is not among them)."""
    fonts: dict[str, Font]


def prepare(pages: Iterable[Any]) -> Prepared:
    """The shareable fonts used by these pages (pikepdf pages) and their forms."""
    import pikepdf

    by_name: dict[str, list[Any]] = collections.defaultdict(list)
    seen: set[tuple[int, int]] = set()
    for resources in resources_of(pages):
        fonts = resources.get(pikepdf.Name.Font)
        for font in fonts.values() if isinstance(fonts, pikepdf.Dictionary) else ():
            if font.is_indirect and font.objgen not in seen:
                seen.add(font.objgen)
                by_name[str(font.get(pikepdf.Name.BaseFont, ""))].append(font)
    found = {}
    for name, candidates in by_name.items():
        if len(candidates) == 1 and (read := _font(candidates[0])) is not None:
            found[name] = read
    return Prepared(found)


def resources_of(pages: Iterable[Any]) -> Iterator[Any]:
    """The resource dictionaries of the pages and of every form they draw,
    each once; a page without its own is skipped (its fonts stay as they are)."""
    import pikepdf

    seen: set[tuple[int, int]] = set()
    pending = collections.deque(page.obj.get(pikepdf.Name.Resources) for page in pages)
    while pending:
        resources = pending.popleft()
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        if resources.is_indirect:
            if resources.objgen in seen:
                continue
            seen.add(resources.objgen)
        yield resources
        forms = resources.get(pikepdf.Name.XObject)
        for form in forms.values() if isinstance(forms, pikepdf.Dictionary) else ():
            if isinstance(form, pikepdf.Stream) and form.get(pikepdf.Name.Subtype) == pikepdf.Name.Form \
                    and not (form.is_indirect and form.objgen in seen):
                if form.is_indirect:
                    seen.add(form.objgen)
                pending.append(form.get(pikepdf.Name.Resources))


def _font(font: Any) -> Font | None:
    """The font, read, if it is one as cairo writes them (Type0, Identity-H,
    CID-keyed CFF, Adobe-Identity); None otherwise or when it does not read."""
    import pikepdf

    try:
        descendants = font.get(pikepdf.Name.DescendantFonts)
        if font.get(pikepdf.Name.Subtype) != pikepdf.Name.Type0 \
                or font.get(pikepdf.Name.Encoding) != pikepdf.Name("/Identity-H") \
                or not isinstance(descendants, pikepdf.Array) or len(descendants) != 1 \
                or not set(font.keys()) <= _TYPE0_KEYS:
            return None
        descendant = descendants[0]
        descriptor = descendant.get(pikepdf.Name.FontDescriptor)
        system = descendant.get(pikepdf.Name.CIDSystemInfo)
        if descendant.get(pikepdf.Name.Subtype) != pikepdf.Name.CIDFontType0 \
                or not set(descendant.keys()) <= _CIDFONT_KEYS or not isinstance(descriptor, pikepdf.Dictionary) \
                or not isinstance(descriptor.get(pikepdf.Name.FontFile3), pikepdf.Stream) \
                or not isinstance(system, pikepdf.Dictionary) \
                or (str(system.get("/Registry")), str(system.get("/Ordering"))) != ("Adobe", "Identity"):
            return None
        subset = cffmerge.read_subset(descriptor.FontFile3.read_bytes())
        widths = _widths(descendant)
        default = float(descendant.get(pikepdf.Name.DW, 1000))
        kept = cffmerge.parts(subset)
        return Font(_TAG.sub("", str(font.BaseFont).lstrip("/")), kept, cffmerge.from_parts(kept),
                    {code: widths.get(code, default) for code in subset.glyphs})
    except (cffmerge.NotMergeable, pikepdf.PdfError, ValueError, TypeError, AttributeError, IndexError):
        return None


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


# ------------------------------------------------------------- the cache

def entry_name(pdf: bytes) -> str:
    """The name of a PDF's entry: its digest and this code's."""
    return hashlib.sha256(_code() + hashlib.sha256(pdf).digest()).hexdigest()[:32] + ".fonts"


def prepared(pdf: bytes, document: Any, cache: Path | None, used: set[str] | None = None) -> Prepared:
    """The PDF's fonts (`document`: the PDF opened), from the cache when it
    has them, else read and kept there; the entry's name goes into `used`."""
    name = entry_name(pdf)
    if used is not None:
        used.add(name)
    folder = _folder(cache)
    found = _read(folder / name, name) if folder else None
    if found is None:
        found = prepare(document.pages)
        if folder:
            _write(folder / name, name, found)
    return found


def remember(pdf: bytes, cache: Path) -> None:
    """Work out a new PDF's fonts into the cache (a build, as each chart is
    finished).  Best effort: whatever fails, the booklet does it later."""
    import pikepdf

    with contextlib.suppress(Exception):
        folder = _folder(cache)
        name = entry_name(pdf)
        if folder is None or (folder / name).is_file():
            return
        with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
            _write(folder / name, name, prepare(document.pages))


def _folder(cache: Path | None) -> Path | None:
    """Not a folder riskchart made (a link, a file): neither read nor write through it."""
    if cache is None or cache.is_symlink() or (cache.exists() and not cache.is_dir()):
        return None
    return cache


@functools.cache
def _code() -> bytes:
    """The code an entry's content depends on: an entry of other code is not found."""
    digest = hashlib.sha256(f"{FORMAT}".encode())
    for module in (Path(__file__), Path(str(cffmerge.__file__)), Path(str(cffmerge.__file__)).with_name("glyphs.py")):
        digest.update(module.read_bytes())
    return digest.digest()


_keys: dict[tuple[str, str], bytes] = {}


def _signing_key() -> bytes | None:
    """The user's signing key, read once per cache folder (a booklet reads
    an entry per page); not kept while there is none."""
    where = (os.environ.get("XDG_CACHE_HOME", ""), os.path.expanduser("~"))
    key = _keys.get(where)
    if key is None:
        key = signing_key()
        if key is not None:
            _keys[where] = key
    return key


def _write(path: Path, name: str, found: Prepared) -> None:
    """The entry: a line of JSON, then the bytes it counts (outlines,
    subroutines, DICTs), both signed together with the entry's name."""
    secret = _signing_key()
    if secret is None:
        return
    items: list[bytes] = []
    fonts = [[base, _font_json(font, items)] for base, font in found.fonts.items()]
    body = json.dumps({"format": FORMAT, "name": name, "fonts": fonts}, ensure_ascii=True,
                      separators=(",", ":")).encode("ascii") + b"\n" + b"".join(items)
    files.write_cache(path, _HEAD + hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii") + body)


def _read(path: Path, name: str) -> Prepared | None:
    """The entry, or None when it is missing, damaged, not signed with the
    user's key, kept under another name, or not as this module writes them."""
    secret = _signing_key()
    try:
        data = path.read_bytes()
    except OSError:
        return None
    start = len(_HEAD) + _MAC_LENGTH
    if secret is None or not data.startswith(_HEAD):
        return None
    body = memoryview(data)[start:]
    if not hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii"),
                               data[len(_HEAD):start]):
        return None
    try:
        end = data.index(b"\n", start)
        found = json.loads(data[start:end].decode("ascii"))
        if found["format"] != FORMAT or found["name"] != name or not isinstance(found["fonts"], list):
            return None
        blob = data[end + 1:]
        at, fonts = 0, {}
        for base, entry in found["fonts"]:
            fonts[_text(base)], at = _font_of(entry, blob, at)
        return Prepared(fonts) if at == len(blob) else None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, OverflowError,
            cffmerge.NotMergeable):
        return None


# A font's numbers, packed little-endian before its byte strings: codes, the
# font dict of each glyph, widths, each byte string's length, the numbers of
# the used subroutines (read in C: tens of thousands per entry).
_ARRAYS = (("codes", "H"), ("fds", "B"), ("widths", "d"), ("lengths", "I"), ("used", "I"))


def _font_json(font: Font, items: list[bytes]) -> dict[str, Any]:
    """A font as JSON, its numbers and byte strings added to `items` in the
    order _font_of takes them back (the JSON counts them)."""
    subset = font.parts
    names = [name for name, _, _ in subset.font_dicts]
    fd_number = {name: number for number, name in enumerate(names)}
    codes = list(subset.glyphs)
    subroutines = [subset.subroutines.get(name, (0, {})) for name in ("", *names)]
    strings = [subset.name, subset.top, *subset.strings,
               *itertools.chain.from_iterable((tokens, private) for _, tokens, private in subset.font_dicts),
               *(subset.glyphs[code][1] for code in codes),
               *itertools.chain.from_iterable(used.values() for _, used in subroutines)]
    arrays: dict[str, list[Any]] = {"codes": codes, "fds": [fd_number[subset.glyphs[code][0]] for code in codes],
              "widths": [font.widths[code] for code in codes], "lengths": list(map(len, strings)),
              "used": list(itertools.chain.from_iterable(used for _, used in subroutines))}
    for key, kind in _ARRAYS:
        packed = array.array(kind, arrays[key])
        if sys.byteorder != "little":
            packed.byteswap()
        items.append(packed.tobytes())
    items += strings
    return {"family": font.family, "dicts": names, "strings": len(subset.strings), "glyphs": len(codes),
            "counts": [count for count, _ in subroutines], "used": [len(used) for _, used in subroutines],
            "bytes": sum(map(len, strings))}


def _font_of(entry: dict[str, Any], blob: bytes, at: int) -> tuple[Font, int]:
    """A font from its JSON and its bytes from `at` on; and where they end.
    Raises on anything _font_json did not write."""
    names = [_text(name) for name in entry["dicts"]]
    strings, glyph_count, size = (_count(entry[key]) for key in ("strings", "glyphs", "bytes"))
    counts, used_counts = [_count(n) for n in entry["counts"]], [_count(n) for n in entry["used"]]
    if len(counts) != len(names) + 1 or len(used_counts) != len(counts):
        raise ValueError("subroutines")
    sizes = {"codes": glyph_count, "fds": glyph_count, "widths": glyph_count,
             "lengths": 2 + strings + 2 * len(names) + glyph_count + sum(used_counts), "used": sum(used_counts)}
    arrays: dict[str, array.array[Any]] = {}
    for key, kind in _ARRAYS:
        arrays[key] = array.array(kind)
        end = at + sizes[key] * arrays[key].itemsize
        if end > len(blob):
            raise ValueError("too short")
        arrays[key].frombytes(blob[at:end])
        if sys.byteorder != "little":
            arrays[key].byteswap()
        at = end
    codes, widths = arrays["codes"].tolist(), arrays["widths"]
    ends = list(itertools.accumulate(arrays["lengths"], initial=at))
    if ends[-1] != at + size or ends[-1] > len(blob) or len(set(codes)) != len(codes) \
            or (widths and not (min(widths) >= 0 and max(widths) < 1e5 and math.isfinite(sum(widths)))):
        raise ValueError("not as written")
    items = list(map(blob.__getitem__, map(slice, ends, ends[1:])))
    glyphs_at = 2 + strings + 2 * len(names)
    font_dicts = list(zip(names, items[2 + strings:glyphs_at:2], items[3 + strings:glyphs_at:2], strict=True))
    outlines = items[glyphs_at:glyphs_at + glyph_count]
    glyphs = dict(zip(codes, zip(map(names.__getitem__, arrays["fds"]), outlines, strict=True), strict=True))
    subroutines, number_at, item_at = {}, 0, glyphs_at + glyph_count
    for fd, count, used in zip(("", *names), counts, used_counts, strict=True):
        subroutines[fd] = (count, dict(zip(arrays["used"][number_at:number_at + used].tolist(),
                                           items[item_at:item_at + used], strict=True)))
        number_at, item_at = number_at + used, item_at + used
    kept = cffmerge.Parts(items[0], items[1], items[2:2 + strings], font_dicts, subroutines, glyphs)
    return Font(_text(entry["family"]), kept, cffmerge.from_parts(kept),  # or NotMergeable
                dict(zip(codes, widths, strict=True))), ends[-1]


def _count(value: Any) -> int:
    if type(value) is not int or not 0 <= value < 1 << 32:
        raise TypeError("not a count")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a text")
    return value
