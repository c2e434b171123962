"""Whether the set (index page, booklets, register) in out/ is current: its
fingerprint covers the charts' fingerprints, the set's templates and the
code that writes its files.  A module of its own so that a build with
nothing to do answers it without importing the publishing code."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, style
from ..draw.templatefiles import template_folder

if TYPE_CHECKING:
    from ..build import BuildOptions

_SET_TEMPLATES = ("index.html.j2", "index-card.html.j2", "index.css", "index.js", "cover.dot.j2", "contents.dot.j2")
# their code makes a set file: a new version rewrites it
_OFFICE_MODULES = ("indexpage.py", "cards.py", "xlsx.py", "sheetxml.py", "chartrows.py", "deflated.py", "tables.py",
                   "docx.py", "booklet.py", "fontshare.py", "pageprep.py", "fontentry.py", "../draw/cffmerge.py")


def set_fingerprint(fingerprints: dict[Path, str], ready: list[Path], formats: tuple[str, ...],
                    failing: tuple[str, ...] = (), dpi: int = style.DEFAULT_DPI,
                    word: tuple[str, ...] | None = None) -> str:
    """`word`: the Word booklet's fonts when one is made."""
    digest = hashlib.sha256(f"{__version__}|{','.join(formats)}|{'/'.join(failing)}|{dpi}|{word}".encode())
    folder = template_folder()
    for name in _SET_TEMPLATES:
        digest.update((folder / name).read_bytes())
    digest.update(_office_code())
    for path in sorted(ready, key=str):
        digest.update(f"{path}|{fingerprints[path]}".encode())
    return digest.hexdigest()


def _office_code() -> bytes:
    package = Path(__file__).parent
    return b"".join((package / name).read_bytes() for name in _OFFICE_MODULES)


def _word_booklet(options: BuildOptions) -> tuple[str, ...] | None:
    """What the set's fingerprint knows of booklet.docx: its fonts, or None when none is made."""
    return options.settings.docx_fonts if options.settings.word_booklet else None


def is_fresh(manifest: dict[str, Any], fingerprints: dict[Path, str], options: BuildOptions) -> bool:
    """Whether the set built from all these charts is already in out/."""
    return _is_current(manifest, set_fingerprint(fingerprints, list(fingerprints), options.formats, dpi=options.dpi,
                                                 word=_word_booklet(options)),
                       options.out)


def _is_current(manifest: dict[str, Any], fingerprint: str, out: Path) -> bool:
    entry = manifest.get("set") or {}
    return entry.get("fingerprint") == fingerprint and all((out / n).is_file() for n in entry.get("outputs", ()))
