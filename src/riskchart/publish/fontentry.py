"""One PDF's fonts as pageprep.py keeps them in the output folder's cache.

An entry is a line of JSON (names and counts), then the font's numbers
packed little-endian (codes, font dicts, widths, lengths, subroutine
numbers), then its byte strings (DICTs, outlines, subroutines) one after
another, the whole signed with HMAC-SHA256 under the user's key of the lint
cache (check/cache.py) together with the name it is kept under: an entry
copied under another PDF's name is not believed.  Nothing is unpickled or
evaluated; every count and length is checked before it is used, and what
does not add up is no entry at all.
"""

from __future__ import annotations

import array
import itertools
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import files
from ..check.cache import signing_key
from ..draw import cffmerge
from ..entrybatch import opened_sealed, sealed

FORMAT = 1
_HEAD = b"riskchart fonts, HMAC-SHA256 "
_MOST_BYTES = 64 << 20  # an entry is ~50 KB a page; a larger file is none of riskchart's


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


def write(path: Path, name: str, found: Prepared) -> None:
    """The entry: a line of JSON, then the bytes it counts (outlines,
    subroutines, DICTs), both signed together with the entry's name."""
    secret = signing_key()
    if secret is None:
        return
    items: list[bytes] = []
    fonts = [[base, _font_json(font, items)] for base, font in found.fonts.items()]
    body = json.dumps({"format": FORMAT, "name": name, "fonts": fonts}, ensure_ascii=True,
                      separators=(",", ":")).encode("ascii") + b"\n" + b"".join(items)
    files.write_cache(path, sealed(_HEAD, body, secret))


def read(path: Path, name: str) -> Prepared | None:
    """The entry, or None when it is missing, damaged, not signed with the
    user's key, kept under another name, or not as this module writes them."""
    opened = opened_sealed(path, _HEAD, signing_key(), _MOST_BYTES)  # a regular file only: never waits on a FIFO
    if opened is None:
        return None
    data, start = opened
    try:
        end = data.index(b"\n", start)
        found = json.loads(data[start:end].decode("ascii"))
        if found["format"] != FORMAT or found["name"] != name or not isinstance(found["fonts"], list):
            return None
        blob = data[end + 1:]
        at, fonts = 0, {}
        for base, entry in found["fonts"]:
            fonts[text(base)], at = _font_of(entry, blob, at)
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
    names = [text(name) for name in entry["dicts"]]
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
    return Font(text(entry["family"]), kept, cffmerge.from_parts(kept),  # or NotMergeable
                dict(zip(codes, widths, strict=True))), ends[-1]


def _count(value: Any) -> int:
    if type(value) is not int or not 0 <= value < 1 << 32:
        raise TypeError("not a count")
    return value


def text(value: Any) -> str:
    """A value read from a cache entry's JSON that must be a text."""
    if not isinstance(value, str):
        raise TypeError("not a text")
    return value
