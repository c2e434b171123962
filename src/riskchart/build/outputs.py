"""A chart's outputs in out/: moved into place once it rendered fully, and
deleted when its chart is gone (only files the manifest says a build wrote)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import files
from ..draw import render
from . import stamps
from .manifest import Manifest
from .options import BuildOptions, ChartOutcome

if TYPE_CHECKING:  # imported by a build that draws (and a no-op one loads this module too)
    from ..model import Chart
    from .drawing import Staged


def _write_outputs(chart: Chart, result: Staged | render.RenderFailure, fingerprint: str, stamp_key: str | None,
                   options: BuildOptions, manifest: Manifest, seconds: float) -> ChartOutcome:
    """`stamp_key`: the chart file's stamp as it was when fingerprinted (None: racy, see stamps.py)."""
    name = chart.out_name
    if isinstance(result, render.RenderFailure):
        return ChartOutcome(name, "failed", str(result), seconds)
    written = {}
    try:
        for fmt, staged in result.files.items():
            target = files.inside(options.out, f"{name}.{fmt}")
            files.move_into_place(staged, target)
            written[f"{name}.{fmt}"] = stamps.output_stamp(target)
    except OSError as error:
        return ChartOutcome(name, "failed", f"无法写入 {options.out}：{error.strerror or error}", seconds)
    entry = {"source": str(chart.path.resolve()), "fingerprint": fingerprint, "outputs": sorted(written),
             "title": chart.title, "pages": result.pages,
             "written": {output: size_and_time for output, size_and_time in written.items() if size_and_time}}
    if stamp_key is not None:
        entry["stamp"] = stamp_key
    manifest["charts"][name] = entry
    return ChartOutcome(name, "built", "", seconds)


def _has_outputs(manifest: Manifest, name: str, out: Path) -> bool:
    entry = manifest["charts"].get(name)
    return bool(entry) and any(_is_file(out, output) for output in entry["outputs"])


def _is_file(out: Path, name: str) -> bool:
    try:
        return files.inside(out, name).is_file()
    except OSError:
        return False


def _remove_stale(manifest: Manifest, stale: list[str], out: Path) -> list[str]:
    """Delete the outputs of charts that are gone.  Only names the manifest
    check let through (`<name>.<format>`, inside `out`) ever get here, and
    none through a folder that is a link."""
    removed = []
    for name in stale:
        for output in manifest["charts"][name]["outputs"]:
            try:
                target = files.inside(out, output)
            except OSError:
                continue
            if target.is_file() or target.is_symlink():
                target.unlink()
                removed.append(output)
        del manifest["charts"][name]
    return removed
