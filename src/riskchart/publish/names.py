"""The names the set writes in out/ beside the charts.

Apart from index.py so that reading the manifest (build/manifest.py),
which every build does before dot starts, need not import the publishing
code.
"""

from __future__ import annotations

from ..check.characters import file_name_problem

INDEX = "index.html"
REGISTER = "risk-register.csv"
REGISTER_XLSX = "risk-register.xlsx"
BOOKLET_DOCX = "booklet.docx"
BOOKLET = "booklet.pdf"
CACHE = ".riskchart-cache"  # cover and contents pages of the booklet, by content
SET_OUTPUTS = (INDEX, REGISTER, REGISTER_XLSX, BOOKLET, BOOKLET_DOCX)
RESERVED_STEMS = frozenset(name.rsplit(".", 1)[0].casefold() for name in SET_OUTPUTS)  # no chart may be named so


def is_set_output(name: object) -> bool:
    """A name the set writes: index, register, booklet, or a department's
    booklet `<folder>/booklet.pdf` (folder names as RC211 lets them through)."""
    if not isinstance(name, str):
        return False
    folder, _, last = name.rpartition("/")
    return name in SET_OUTPUTS or (last == BOOKLET and bool(folder)
                                   and all(file_name_problem(part) is None for part in folder.split("/")))
