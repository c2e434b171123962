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


def _font_json(font: Font, items: list[bytes]) -> dict[str, Any]:
    """A font as JSON, its byte strings added to `items` in the order
    _font_of takes them back (the JSON has their lengths)."""
    subset = font.parts
    names = [name for name, _, _ in subset.font_dicts]
    fd_number = {name: number for number, name in enumerate(names)}
    codes = list(subset.glyphs)
    subroutines = [subset.subroutines.get(name, (0, {})) for name in ("", *names)]
    mine = [subset.name, subset.top, *subset.strings,
            *itertools.chain.from_iterable((tokens, private) for _, tokens, private in subset.font_dicts),
            *(subset.glyphs[code].charstring for code in codes),
            *itertools.chain.from_iterable(used.values() for _, used in subroutines)]
    items += mine
    return {"family": font.family, "dicts": names, "strings": len(subset.strings), "codes": codes,
            "fds": [fd_number[subset.glyphs[code].font_dict] for code in codes],
            "widths": [font.widths[code] for code in codes],
            "counts": [count for count, _ in subroutines], "used": [list(used) for _, used in subroutines],
            "lengths": list(map(len, mine))}


def _font_of(entry: dict[str, Any], blob: bytes, at: int) -> tuple[Font, int]:
    """A font from its JSON and its bytes from `at` on; and where they end.
    Raises on anything _font_json did not write."""
    lengths = _numbers(entry["lengths"])
    ends = list(itertools.accumulate(lengths, initial=at))
    if ends[-1] > len(blob):
        raise ValueError("lengths")
    items = list(map(blob.__getitem__, map(slice, ends, ends[1:])))
    names = [_text(name) for name in entry["dicts"]]
    strings = _numbers([entry["strings"]])[0]
    codes, fds, counts = _numbers(entry["codes"]), _numbers(entry["fds"]), _numbers(entry["counts"])
    used = [_numbers(numbers) for numbers in entry["used"]]
    widths = array.array("d", entry["widths"])  # numbers only, or TypeError
    if len(fds) != len(codes) or len(widths) != len(codes) \
            or len(set(codes)) != len(codes) or len(counts) != len(names) + 1 or len(used) != len(counts) \
            or len(items) != 2 + strings + 2 * len(names) + len(codes) + sum(map(len, used)) \
            or (widths and not (min(widths) >= 0 and max(widths) < 1e5 and math.isfinite(sum(widths)))):
        raise ValueError("not as written")
    next_item = 2 + strings + 2 * len(names)
    font_dicts = list(zip(names, items[2 + strings:next_item:2], items[3 + strings:next_item:2], strict=True))
    outlines = items[next_item:next_item + len(codes)]
    glyphs = dict(zip(codes, map(cffmerge.Glyph._make, zip(map(names.__getitem__, fds), outlines, strict=True)),
                      strict=True))
    next_item += len(codes)
    subroutines = {}
    for fd, count, numbers in zip(("", *names), counts, used, strict=True):
        subroutines[fd] = (count, dict(zip(numbers, items[next_item:next_item + len(numbers)], strict=True)))
        next_item += len(numbers)
    kept = cffmerge.Parts(items[0], items[1], items[2:2 + strings], font_dicts, subroutines, glyphs)
    return Font(_text(entry["family"]), kept, cffmerge.from_parts(kept),  # or NotMergeable
                dict(zip(codes, widths, strict=True))), ends[-1]


def _numbers(values: Any) -> list[int]:
    """`values` if it is a list of whole numbers ≥ 0 (checked in C: tens of thousands per entry)."""
    if not isinstance(values, list) or (values and min(array.array("q", values)) < 0):
        raise TypeError("not a list of numbers")
    return values


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a text")
    return value
