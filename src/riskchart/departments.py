"""Departments as folders: where a chart file sits in the charts folder.

Charts may live in nested folders under the project's charts folder.  Each
folder's `_defaults.yaml` applies over its parent's, and a folder whose
`_defaults.yaml` sets `department` starts a department: ids are unique
within it and number from 1.  Outputs mirror the tree
(`out/<folder>/<stem>.svg`), so names never clash across departments.

A file outside the charts folder (or with no charts folder known) stands
alone: only its own folder's `_defaults.yaml` applies and its outputs go
straight into out/, as they did before folders could nest.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import NoCharts

DEFAULTS_FILE = "_defaults.yaml"
CHART_SUFFIXES = (".yaml", ".yml")


def folder_parts(path: Path, root: Path | None) -> tuple[str, ...]:
    """The folders between the charts folder `root` and the file, e.g.
    ("食品科",); () for a file directly in it, or outside it."""
    if root is None:
        return ()
    return _parts(str(path.parent), str(root), os.getcwd())


@functools.lru_cache(maxsize=4096)
def _parts(folder_name: str, root: str, cwd: str) -> tuple[str, ...]:
    """Per folder, not per file: a build asks for thousands of charts in a few folders.
    (`cwd`: relative names are taken from it.)"""
    folder = Path(os.path.abspath(os.path.join(cwd, folder_name)))
    base = Path(os.path.abspath(os.path.join(cwd, root)))
    return folder.relative_to(base).parts if folder.is_relative_to(base) else ()


def relative_folder(path: Path, root: Path | None) -> str:
    """`folder_parts` as one "/"-separated name ("" for the charts folder)."""
    return "/".join(folder_parts(path, root))


def out_name(path: Path, root: Path | None) -> str:
    """A chart file's outputs' name in out/ without the format (see Chart.out_name)."""
    folder = relative_folder(path, root)
    return f"{folder}/{path.stem}" if folder else path.stem


def out_name_of_text(path: str, root: str | None, cwd: str) -> str:
    """`out_name` from the path's text, relative names taken from `cwd`:
    the same name without making a Path (a build with nothing to do asks
    it of thousands of files)."""
    folder, file = os.path.split(path)
    dot = file.rfind(".")
    stem = file[:dot] if 0 < dot < len(file) - 1 else file  # Path.stem
    parts = _parts(folder or ".", root, cwd) if root is not None else ()
    return "/".join((*parts, stem))


def defaults_files(path: Path, root: Path | None) -> list[Path]:
    """The `_defaults.yaml` files that apply to a chart file, outermost
    first (present or not), named from the file's path as given so that
    diagnostics name them the way the user typed the chart's."""
    return list(_defaults_files(path.parent, root, os.getcwd()) if root is not None else [path.parent / DEFAULTS_FILE])


@functools.lru_cache(maxsize=4096)
def _defaults_files(folder: Path, root: Path, cwd: str) -> tuple[Path, ...]:
    folders = [folder]
    for _ in _parts(str(folder), str(root), cwd):
        folders.append(Path(os.path.normpath(folders[-1] / "..")))
    return tuple(folder / DEFAULTS_FILE for folder in reversed(folders))


def discover(paths: Iterable[Path]) -> list[Path]:
    """Chart files under the given files and folders, sub-folders included,
    in name order.

    Everything named like a chart is listed, even a folder, FIFO or device
    of that name: loading it then says what it is (RC001) instead of the
    name being skipped in silence, and it is never opened.  Names starting
    with _ or . (files and folders) are not charts; a linked folder is not
    followed (it could lead outside the project or back into itself).
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(_charts_under(path))
        elif path.exists():
            found.append(path)
        else:
            raise NoCharts(f"找不到 {path}：请给出防控图文件或所在文件夹（默认 charts/）")
    return sorted(dict.fromkeys(found), key=str)


def _charts_under(top: Path) -> Iterator[Path]:
    def refuse(error: OSError) -> None:
        raise NoCharts(f"无法读取文件夹 {error.filename}：{error.strerror or error}")

    for folder, subfolders, names in os.walk(top, onerror=refuse):
        here = Path(folder)
        named_like_charts = [n for n in subfolders if n.lower().endswith(CHART_SUFFIXES)]
        subfolders[:] = sorted(n for n in subfolders if not n.startswith(("_", ".")) and n not in named_like_charts
                               and not (here / n).is_symlink())
        for name in [*names, *named_like_charts]:
            if name.lower().endswith(CHART_SUFFIXES) and not name.startswith(("_", ".")):
                yield here / name
