"""A booklet made again by changing only the pages that changed.

After one chart's wording changed, a booklet differs from the last one in
that chart's pages alone: joining every chart's pages again and sharing
all their fonts (booklet.py, fontshare.py) costs a quarter of a second for
40 charts.  Instead the last booklet is opened and, page by page, the
changed pages take the new pages' content and resources; their fonts are
put over the booklet's shared font (a CMap from the page's codes to the
CIDs the shared font already has for the same outline and width), so the
booklet still embeds one font per typeface.  The page objects themselves
stay, and with them the bookmarks that point at them.

A patch is only made when it is certain to be right, else the booklet is
made whole as before:
- the last booklet is the one this code wrote, as it wrote it: a map of it
  (`BookletMap`, in the output folder's cache, signed with the user's key
  like every cache entry there) names the digest of its bytes and, block
  by block (each cover or contents page, each chart), the entry of the PDF
  its pages came from (pageprep.entry_name), its bookmark and its pages;
- the booklet has the same blocks, in the same order, with the same
  bookmarks and page counts (a new title, chart or page moves the contents
  and bookmarks: made whole);
- every glyph of the changed pages is in the shared font already, with the
  same width (a new character: made whole, and the font grows then).
The patched booklet draws exactly as the booklet made whole would; its
shared font may keep glyphs no page uses any more, and its CIDs keep the
last booklet's order, until the next booklet made whole (`build --force`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__, files
from ..check.cache import signing_key
from ..draw import cffmerge
from ..draw.glyphs import resources_of
from ..entrybatch import sealed
from . import fontshare, pageprep
from .fontentry import Prepared, text
from .setcache import read_sealed

FORMAT = 2  # 2: each chart block with its PDF's stamp
MAP = re.compile(r"[0-9a-f]{32}\.booklet")  # the names of the maps, for pruning
_HEAD = b"riskchart booklet map, HMAC-SHA256 "
_MOST_MAP_BYTES = 4 << 20  # ~100 bytes a block
_MOST_BOOKLET_BYTES = 64 << 20  # the 43 pages of the 40 seed charts are 0.7 MB, fonts included


@dataclass(frozen=True)
class Block:
    """Pages of a booklet that come from one PDF: a cover or contents page,
    or a chart (`key`: what it is and its bookmarks; `entry`: the name of
    its PDF's entry, pageprep.entry_name; `stamp`: a chart's PDF file's
    stamp (build/stamps.py) when it was read, so that the next booklet
    knows it unchanged without reading it)."""
    key: tuple[str, ...]
    entry: str
    pages: int
    stamp: tuple[int, ...] | None = None


@dataclass(frozen=True)
class BookletMap:
    """What a booklet this code wrote was made of, and the digest of its bytes."""
    title: str
    digest: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class _Shared:
    """A typeface's CIDFont shared by a booklet's pages; the CID of each of
    its glyphs by (outline, width); the first CID it has no glyph for."""
    font: Any
    cids: dict[tuple[cffmerge.Glyph, float], int]
    unused: int


def map_name(booklet: str) -> str:
    """The name of a booklet's map (`booklet`: its name in the output folder)."""
    return hashlib.sha256(f"booklet map\n{booklet}".encode()).hexdigest()[:32] + ".booklet"


def write_map(cache: Path, booklet: str, made: BookletMap) -> None:
    """Keep the map of a booklet just made (best effort, signed)."""
    secret = signing_key()
    folder = files.output_cache(cache)
    if secret is None or folder is None:
        return
    body = json.dumps({"format": FORMAT, "code": _code(), "booklet": booklet, "title": made.title,
                       "digest": made.digest,
                       "blocks": [[list(b.key), b.entry, b.pages, list(b.stamp) if b.stamp else None]
                                  for b in made.blocks]},
                      ensure_ascii=True, separators=(",", ":")).encode("ascii")
    files.write_cache(folder / map_name(booklet), sealed(_HEAD, body, secret))


def read_map(cache: Path, booklet: str) -> BookletMap | None:
    """The map of the booklet last made under that name, or None when there
    is none this code wrote under the user's key for that booklet."""
    opened = read_sealed(cache, map_name(booklet), _HEAD, _MOST_MAP_BYTES)
    if opened is None:
        return None
    data, start = opened
    try:
        found = json.loads(data[start:].decode("ascii"))
        if found["format"] != FORMAT or found["code"] != _code() or found["booklet"] != booklet:
            return None
        blocks = tuple(Block(tuple(text(k) for k in key), text(entry), _pages(pages), _stamp(stamp))
                       for key, entry, pages, stamp in found["blocks"])
        return BookletMap(text(found["title"]), text(found["digest"]), blocks)
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def digest(booklet: bytes) -> str:
    return hashlib.sha256(booklet).hexdigest()


def likely(cache: Path, booklet: str, charts: Sequence[str], changed: int) -> bool:
    """Whether the booklet will probably be patched: its map lists these
    charts (out_name, in the booklet's order) and at most a few changed.
    Only a guess, to skip joining pages ahead that a patch does not need."""
    found = read_map(cache, booklet) if 0 < changed <= 3 else None
    return found is not None and [b.key[1] for b in found.blocks if b.key[0] == "chart"] == list(charts)


def patched(previous: Path, last: BookletMap, title: str, blocks: Sequence[Block],
            changed: dict[int, tuple[Any, Prepared]]) -> bytes | None:
    """The last booklet (the file `previous`, mapped by `last`) with the
    pages of the blocks `changed` (by number: the new PDF, opened, and its
    fonts) replaced; None when that would not be the booklet made whole."""
    import pikepdf

    if title != last.title or [(b.key, b.pages) for b in blocks] != [(b.key, b.pages) for b in last.blocks] \
            or set(changed) != {n for n, (new, old) in enumerate(zip(blocks, last.blocks, strict=True))
                                if new.entry != old.entry}:
        return None
    try:
        data = files.read_untrusted(previous, _MOST_BOOKLET_BYTES)
    except OSError:
        return None
    if digest(data) != last.digest:
        return None  # not the booklet the map is of: changed since, or another's
    if not changed:
        return data  # the same pages from the same PDFs (a chart's comment changed, say)
    try:
        with pikepdf.Pdf.open(io.BytesIO(data)) as booklet:
            if len(booklet.pages) != sum(b.pages for b in blocks):
                return None
            first_pages = list(itertools.accumulate((b.pages for b in blocks), initial=0))
            needed = {fontshare.family_key(font) for _, fonts in changed.values() for font in fonts.fonts.values()}
            old_pages = [booklet.pages[first_pages[n] + offset] for n in changed for offset in range(blocks[n].pages)]
            shared = _shared_fonts(booklet, old_pages, needed)
            if shared is None:
                return None
            for number, (pdf, fonts) in changed.items():
                if len(pdf.pages) != blocks[number].pages:
                    return None
                targets = []
                for offset, page in enumerate(pdf.pages):
                    if "/Annots" in page.obj:
                        return None  # links point at their page: copied alone, they would point at another PDF's
                    target = booklet.pages[first_pages[number] + offset]
                    _take_content(booklet, target, page)
                    targets.append(target)
                # all the PDF's pages at once: a continued chart's pages show one form (draw/pages.py),
                # whose fonts are put over the shared ones once
                if not _fonts_shared(booklet, targets, fonts, shared):
                    return None
            buffer = io.BytesIO()
            booklet.save(buffer)
            return buffer.getvalue()
    except (pikepdf.PdfError, cffmerge.NotMergeable, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None


def _take_content(booklet: Any, target: Any, page: Any) -> None:
    """Give the booklet's page `target` everything of `page` (another PDF's)
    but its place in the page tree."""
    copied = booklet.copy_foreign(page.obj)  # a page's copy has no /Parent; left unused, it is not saved
    kept = {"/Type", "/Parent"}
    for key in [key for key in target.obj if key not in kept and key not in copied]:
        del target.obj[key]
    for key, value in copied.items():
        if key not in kept:
            target.obj[key] = value


def _fonts_shared(booklet: Any, pages: list[Any], fonts: Prepared, shared: dict[fontshare.FamilyKey, _Shared]) -> bool:
    """Put the fonts of the pages (one PDF's) and of their forms over the
    booklet's shared fonts; False if one of them cannot be (not shareable,
    another typeface, a glyph or width the shared font lacks)."""
    import pikepdf

    replaced: dict[tuple[int, int], Any] = {}
    for resources in resources_of(pages):
        found = resources.get(pikepdf.Name.Font)
        for key, font in list(found.items()) if isinstance(found, pikepdf.Dictionary) else ():
            if not font.is_indirect:
                return False
            if font.objgen not in replaced:
                prepared = fonts.fonts.get(str(font.get(pikepdf.Name.BaseFont, "")))
                family = shared.get(fontshare.family_key(prepared)) if prepared is not None else None
                if prepared is None or family is None:
                    return False
                table = [(code, family.cids.get((glyph, prepared.widths[code])))
                         for code, glyph in prepared.subset.glyphs.items()]
                if any(cid is None for _, cid in table):
                    return False
                replaced[font.objgen] = fontshare.page_font(booklet, font, family.font,
                                                            [(code, cid) for code, cid in table if cid is not None],
                                                            family.unused)
            resources.Font[key] = replaced[font.objgen]
    return True


def _shared_fonts(booklet: Any, first: list[Any], needed: set[fontshare.FamilyKey]) -> dict[fontshare.FamilyKey, _Shared] | None:
    """The booklet's shared CIDFonts of the typefaces `needed` (name without
    the subset tag, and number of global subroutines: fontshare.family_key),
    read; looked for on the pages `first` (the changed ones), then on the
    others until each is found.  None if a font on the way is not a shared
    one (a booklet whose fonts could not be shared has none: fontshare.py
    shares all or nothing, and so does a patch), or two are of one
    typeface, or one needed is not found."""
    import pikepdf

    by_family: dict[fontshare.FamilyKey, Any] = {}
    programs: dict[tuple[int, int], cffmerge.Subset] = {}
    for resources in _resources_until(booklet, first, needed, by_family):
        found = resources.get(pikepdf.Name.Font)
        for font in found.values() if isinstance(found, pikepdf.Dictionary) else ():
            descendants = font.get(pikepdf.Name.DescendantFonts)
            if not isinstance(font.get(pikepdf.Name.Encoding), pikepdf.Stream) \
                    or not isinstance(descendants, pikepdf.Array) or len(descendants) != 1:
                return None  # a font of its own: this booklet's fonts are not shared
            cid_font = descendants[0]
            if not cid_font.is_indirect:
                return None
            if cid_font.objgen not in programs:
                programs[cid_font.objgen] = cffmerge.read_subset(cid_font.FontDescriptor.FontFile3.read_bytes())
            family = (pageprep.family_of(str(cid_font.get(pikepdf.Name.BaseFont, ""))),
                      programs[cid_font.objgen].subroutine_count(""))
            if by_family.setdefault(family, cid_font).objgen != cid_font.objgen:
                return None
    if not needed <= by_family.keys():
        return None
    shared = {}
    for family, cid_font in by_family.items():
        program = programs[cid_font.objgen]
        widths = pageprep.widths(cid_font)
        glyphs = len(program.glyphs)
        if sorted(program.glyphs) != list(range(glyphs)) or not widths.keys() <= set(range(glyphs)):
            return None
        default = float(cid_font.get(pikepdf.Name.DW, 1000))
        cids = {(program.glyphs[cid], widths.get(cid, default)): cid for cid in range(1, glyphs)}
        shared[family] = _Shared(cid_font, cids, glyphs)
    return shared


def _resources_until(booklet: Any, first: list[Any], needed: set[fontshare.FamilyKey],
                     found: dict[fontshare.FamilyKey, Any]) -> Iterator[Any]:
    """The resources of the pages `first`, then of the booklet's others,
    until `found` has every typeface `needed` (at least one page's)."""
    seen: set[tuple[int, int]] = set()
    for page in itertools.chain(first, booklet.pages):
        if seen and needed <= found.keys():
            return
        if page.obj.objgen not in seen:
            seen.add(page.obj.objgen)
            yield from resources_of([page])


@functools.cache
def _code() -> str:
    """The code a booklet's pages and fonts are put together by: a map of
    another version's booklet is not used."""
    found = hashlib.sha256(__version__.encode())
    here = Path(__file__).parent
    for module in ("patch.py", "booklet.py", "fontshare.py", "pageprep.py", "fontentry.py", "../draw/cffmerge.py"):
        found.update((here / module).read_bytes())
    return found.hexdigest()


def _stamp(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 4 or any(type(v) is not int for v in value):
        raise TypeError("not a stamp")
    return tuple(value)


def _pages(value: Any) -> int:
    if type(value) is not int or not 1 <= value <= 100_000:
        raise TypeError("not a page count")
    return value
