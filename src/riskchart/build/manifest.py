"""The manifest: what the last build wrote into out/ (each chart's
fingerprint, stamp and outputs; the set's).  Read from out/, so trusted
for nothing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import files
from ..check.characters import printable
from ..draw import render
from ..publish.names import RESERVED_STEMS, is_set_output

MANIFEST = ".riskchart-manifest.json"
# the JSON of MANIFEST: {"version": 1, "charts": {name: entry}, "set": {...}}; a chart's name is its
# path in out/ without the format (食品科/01-食品经营许可; the stem in a flat charts folder)
Manifest = dict[str, Any]


_FORMATS = frozenset(render.FORMATS)
_SAFE_STEM = re.compile(r"[^/\\\x00-\x1f\x7f\ud800-\udfff]+")


def _read_manifest(out: Path, warnings: list[str] | None = None) -> Manifest:
    """The manifest of the last build, with every entry this build could not
    have written dropped (with a warning): a damaged or hand-made manifest
    can make charts rebuild, never make a file outside `out/` (or one that
    riskchart did not write) be deleted or trusted."""
    warn = warnings.append if warnings is not None else (lambda message: None)
    try:
        found = json.loads(files.read_untrusted(out / MANIFEST).decode("utf-8"))
    except (OSError, ValueError):
        return _fresh_manifest()
    if not isinstance(found, dict) or found.get("version") != 1:
        warn(f"{out / MANIFEST} 格式不对，已忽略：全部重新生成")
        return _fresh_manifest()
    charts: dict[Any, Any] = found["charts"] if isinstance(found.get("charts"), dict) else {}
    manifest = _fresh_manifest()
    for stem, entry in charts.items():
        if _valid_entry(stem, entry):
            manifest["charts"][stem] = entry
        else:
            warn(f"{out / MANIFEST} 中「{printable(repr(stem))}」的记录不是 riskchart 写的，已忽略（不删除任何文件）")
    entry = found.get("set")
    if isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str) \
            and isinstance(entry.get("outputs"), list) and all(map(is_set_output, entry["outputs"])):
        manifest["set"] = entry
    return manifest


def _fresh_manifest() -> Manifest:
    return {"version": 1, "charts": {}, "set": {}}


def _valid_entry(name: object, entry: object) -> bool:
    """An entry this build's rules could have written: a chart's name (plain
    folder names and a file stem, "/"-separated) and outputs named
    `<name>.<format>` only."""
    if not (isinstance(name, str) and all(_SAFE_STEM.fullmatch(part) and not part.startswith(".")
                                          for part in name.split("/"))
            and name.rsplit("/", 1)[-1].casefold() not in RESERVED_STEMS and isinstance(entry, dict)):
        return False
    outputs = entry.get("outputs")
    written = entry.get("written", {})
    return isinstance(entry.get("source"), str) and isinstance(entry.get("fingerprint"), str) \
        and isinstance(entry.get("title", ""), str) and isinstance(entry.get("pages", 1), int) \
        and isinstance(entry.get("stamp", ""), str) and isinstance(outputs, list) \
        and all(_is_output_of(name, output) for output in outputs) \
        and isinstance(written, dict) and all(output in outputs and isinstance(size_and_time, list)
                                              and len(size_and_time) == 2 and all(type(n) is int for n in size_and_time)
                                              for output, size_and_time in written.items())


def _is_output_of(name: str, output: object) -> bool:
    """Whether `output` is `<name>.<format>` (a format has no dot)."""
    if type(output) is not str:
        return False
    stem, _, fmt = output.rpartition(".")
    return stem == name and fmt in _FORMATS


def _write_manifest(out: Path, manifest: Manifest) -> None:
    # ASCII escapes: a file name that is not valid UTF-8 still round-trips.  Compact: with an
    # indent, json encodes in Python instead of C, ten times slower (0.3 s at 4,000 charts).
    data = json.dumps(manifest, ensure_ascii=True, separators=(",", ":"), sort_keys=True).encode("ascii")
    files.write_if_changed(out / MANIFEST, data)


@dataclass(frozen=True)
class Recorded:
    """A chart's files in the output folder, as the last build recorded them."""
    stem: str
    source: Path
    title: str
    outputs: tuple[str, ...]  # paths relative to the output folder, with "/"


def recorded(out: Path) -> dict[str, Recorded]:
    """What the manifest says each chart left in `out` (checked like every
    manifest read: names only this build's rules could have written)."""
    return {stem: Recorded(stem, Path(entry["source"]), entry.get("title") or stem, tuple(entry["outputs"]))
            for stem, entry in _read_manifest(out)["charts"].items()}
