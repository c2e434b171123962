"""What a booklet needs of one PDF's fonts, worked out once per PDF.

Sharing one font among a booklet's pages (fontshare.py) needs each page's
embedded subsets read: their glyphs, subroutines and widths, most of the
joining's time.  That depends on the PDF's bytes alone, so it is done once
per PDF: in a build, as each chart is finished (beside dot), and kept in
the output folder's cache under the PDF's digest; a booklet made after one
chart changed reads the other pages' from there.

The cache lives in out/, which riskchart trusts for nothing: an entry
(fontentry.py) is signed with the user's key and checked value by value,
and one that is missing, damaged, foreign or from other code is simply
worked out again from the PDF.

A build also keeps what it worked out or read and checked in memory
(`InHand`), so that its booklets neither read back the entries it has just
written nor wait, after the last chart, for those of the charts it did not
draw (read while dot draws).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import io
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import files
from ..draw import cffmerge
from ..draw.glyphs import resources_of
from . import fontentry
from .fontentry import Font, Prepared

ENTRY = re.compile(r"[0-9a-f]{32}\.fonts")  # the names of the entries, for pruning
_TAG = re.compile(r"^[A-Z]{6}\+")
_W_TOKEN = re.compile(rb"\[|\]|[-+]?(?:\d+\.?\d*|\.\d+)|R")
# what cairo writes in its fonts: a font with any other key is left as it is
_TYPE0_KEYS = {"/Type", "/Subtype", "/BaseFont", "/Encoding", "/DescendantFonts", "/ToUnicode"}
_CIDFONT_KEYS = {"/Type", "/Subtype", "/BaseFont", "/CIDSystemInfo", "/FontDescriptor", "/W", "/DW"}


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
        found_widths = widths(descendant)
        default = float(descendant.get(pikepdf.Name.DW, 1000))
        kept = cffmerge.parts(subset)
        return Font(family_of(str(font.BaseFont)), kept, cffmerge.from_parts(kept),
                    {code: found_widths.get(code, default) for code in subset.glyphs})
    except (cffmerge.NotMergeable, pikepdf.PdfError, ValueError, TypeError, AttributeError, IndexError):
        return None


def family_of(base_font: str) -> str:
    """A font's typeface: its /BaseFont without the subset tag."""
    return _TAG.sub("", base_font.lstrip("/"))


def widths(descendant: Any) -> dict[int, float]:
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

class InHand:
    """What a build has in memory for its booklets: its PDFs' fonts, by
    entry name, each worked out from a PDF's bytes by this process or read
    from a signed entry and checked, never anything unchecked (at most
    `most` of them: a build passes its set's size, and none past
    style.BOOKLET_AHEAD_MAX_CHARTS; a booklet reads the others from the
    cache as before); and the
    pages of a booklet joined while dot draws, by the booklet's file
    (booklet.JoinedAhead)."""

    def __init__(self, most: int = 516) -> None:
        self._most = most
        self._found: dict[str, Prepared] = {}
        self._lock = threading.Lock()  # filled by the finishing thread and the set's, read by the booklet
        self.pages_ahead: dict[str, Any] = {}

    def get(self, name: str) -> Prepared | None:
        with self._lock:
            return self._found.get(name)

    def keep(self, name: str, found: Prepared) -> None:
        with self._lock:
            if name in self._found or len(self._found) < self._most:
                self._found[name] = found

    def has_room(self) -> bool:
        with self._lock:
            return len(self._found) < self._most

    def __len__(self) -> int:
        with self._lock:
            return len(self._found)


def entry_name(pdf: bytes) -> str:
    """The name of a PDF's entry: its digest and this code's."""
    return hashlib.sha256(_code() + hashlib.sha256(pdf).digest()).hexdigest()[:32] + ".fonts"


def prepared(pdf: bytes, document: Any, cache: Path | None, used: set[str] | None = None,
             in_hand: InHand | None = None, name: str | None = None) -> Prepared:
    """The PDF's fonts (`document`: the PDF opened): those `in_hand`, else
    from the cache when it has them, else read and kept there; the entry's
    name (`name`, if the caller has worked it out: entry_name(pdf)) goes
    into `used`."""
    name = name or entry_name(pdf)
    if used is not None:
        used.add(name)
    found = in_hand.get(name) if in_hand is not None else None
    if found is not None:
        return found
    folder = files.output_cache(cache)
    found = fontentry.read(folder / name, name) if folder else None
    if found is None:
        found = prepare(document.pages)
        if folder:
            fontentry.write(folder / name, name, found)
    if in_hand is not None:
        in_hand.keep(name, found)
    return found


def remember(pdf: bytes, cache: Path, in_hand: InHand | None = None, name: str | None = None) -> None:
    """Work out a PDF's fonts into the cache (a build, as each chart is
    finished), and keep them `in_hand`; with `in_hand`, an entry already in
    the cache is read (and checked) into it.  Best effort: whatever fails,
    the booklet does it later.  `name`: entry_name(pdf), if the caller has
    worked it out."""
    import pikepdf

    with contextlib.suppress(Exception):
        folder = files.output_cache(cache)
        name = name or entry_name(pdf)
        if folder is None or (in_hand is not None and in_hand.get(name) is not None):
            return
        if in_hand is not None and not in_hand.has_room():
            in_hand = None  # too many for a booklet: only the cache
        if (folder / name).is_file():
            if in_hand is None:
                return
            found = fontentry.read(folder / name, name)
            if found is not None:
                in_hand.keep(name, found)
                return
        with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
            found = prepare(document.pages)
        fontentry.write(folder / name, name, found)
        if in_hand is not None:
            in_hand.keep(name, found)


@functools.cache
def _code() -> bytes:
    """The code an entry's content depends on: an entry of other code is not found."""
    digest = hashlib.sha256(f"{fontentry.FORMAT}".encode())
    for module in (Path(__file__), Path(str(fontentry.__file__)), Path(str(cffmerge.__file__)),
                   Path(str(cffmerge.__file__)).with_name("glyphs.py")):
        digest.update(module.read_bytes())
    return digest.digest()


