"""`build()`: lint, lay out, render and publish the charts that changed.

When nothing changed at all the build returns before linting and writes
nothing (but the stamps of files touched and not changed, freshness.py).
Charts render in parallel (drawing.py); outputs are written atomically
under a folder lock, and only after a chart rendered fully (outputs.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import files, style
from ..check.characters import printable
from ..departments import defaults_files, discover
from ..draw import render
from ..errors import NoCharts
from . import stamps
from .freshness import (
    Looked,
    _all_fresh,
    _fingerprints,
    _is_fresh,
    _refresh_stamps,
    _stale_entries,
    _to_draw,
    _write_stamps_if_free,
    unmatched_fingerprint,
    written_since,
)
from .manifest import MANIFEST, Manifest, _read_manifest, _write_manifest
from .options import BuildOptions, BuildReport, ChartOutcome, Progress, _name
from .outputs import _has_outputs, _remove_stale, _write_outputs

if TYPE_CHECKING:  # lint, the YAML loader and dot's batches are imported by a build that has work to do,
    # not by a no-op one
    from ..lint import LintResult
    from ..model import Chart

CONTINUED_LISTED = 10  # charts continued over pages that get a warning each
# Files checked anew by the set's lint (after an upgrade, every one) from which the memory it freed is
# given back at once (glibc's malloc_trim: 15–50 ms at 4,000 charts, not worth it after a few).
RELINTED_MANY = 400


def build(paths: list[Path], options: BuildOptions,
          progress: Progress = lambda outcome: None,
          waiting: Callable[[str], None] = lambda holder: None,
          planned: Callable[[int], None] = lambda count: None) -> BuildReport:
    """`waiting(holder)` is called at once when another build holds the
    output folder's lock, before this one waits for it; `planned(count)`
    once the build knows how many charts it will draw, before the first
    `progress`."""
    started = time.perf_counter()
    # Outputs and the manifest are replaced by rename, so reading them
    # without the lock sees one build's state or another's, never a mix.
    warnings: list[str] = []
    chart_files, project_files, manifest, manifest_stamp, (fingerprints, stamp_keys, new_stamps, looked) = \
        _look(paths, options, warnings)
    to_draw = _to_draw(manifest, fingerprints, chart_files, options)
    if _all_fresh(manifest, fingerprints, to_draw, options):
        if _refresh_stamps(manifest, fingerprints, new_stamps, options):
            _write_stamps_if_free(fingerprints, new_stamps, options)
        return _nothing_to_do(chart_files, progress, started, options)
    tools = render.toolchain(options.font)  # before anything is written
    _require_rasteriser(options)
    waited = []

    def noting_the_wait(holder: str) -> None:
        waited.append(holder)
        waiting(holder)

    with files.locked(options.out, options.lock_timeout, noting_the_wait):
        # Look again if this build waited for another (the charts may have changed
        # meanwhile) or another build wrote the manifest since (its rename gives the
        # file a new inode): at 4,000 charts a second look costs a quarter of a second.
        # Otherwise what was found before the lock still holds: the set is not up to date.
        if waited or stamps.file_stamp(options.out / MANIFEST) != manifest_stamp:
            warnings = []
            chart_files, project_files, manifest, _, (fingerprints, stamp_keys, new_stamps, looked) = \
                _look(paths, options, warnings)
            to_draw = _to_draw(manifest, fingerprints, chart_files, options)
            if _all_fresh(manifest, fingerprints, to_draw, options):
                if _refresh_stamps(manifest, fingerprints, new_stamps, options):
                    _write_manifest(options.out, manifest)
                return _nothing_to_do(chart_files, progress, started, options)  # a build we waited for did the work
        stale = _stale_entries(manifest, project_files, options)
        files.remove_stale_temporaries(options.out, files.OUTPUT_CACHE)
        from ..draw import layout

        layout.cache_compiled_templates(layout.environment())
        try:
            report = _full_build(chart_files, to_draw, project_files, fingerprints, stamp_keys, new_stamps, looked,
                                 manifest, stale, tools, options, progress, started, planned)
            warnings += report.warnings
            from ..draw import glyphs

            glyphs.remember_verdicts()
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM) or failed: no temporary outlives the build,
            # even one whose writer was stopped between creating and removing it
            files.remove_stale_temporaries(options.out, files.OUTPUT_CACHE)
            raise
        files.remove_scratch_folder(options.out)  # empty by now: each dot run removes its own
        return replace(report, warnings=tuple(warnings))


def _look(paths: list[Path], options: BuildOptions, warnings: list[str]) \
        -> tuple[list[Path], list[Path], Manifest, stamps.Stamp | None,
                 tuple[dict[Path, str], dict[Path, str], dict[Path, str], Looked]]:
    """The chart files given, the project's, the manifest (its problems into
    `warnings`) with its file's stamp as it was before reading it, and the
    charts' fingerprints (see freshness._fingerprints)."""
    chart_files = discover(paths)
    if not chart_files:
        raise NoCharts(f"{'、'.join(map(str, paths))} 中没有 .yaml 防控图文件")
    project_files = _whole_project(chart_files, options)
    manifest_stamp = stamps.file_stamp(options.out / MANIFEST)
    manifest = _read_manifest(options.out, warnings)
    return chart_files, project_files, manifest, manifest_stamp, _fingerprints(project_files, options, manifest)


def _whole_project(chart_files: list[Path], options: BuildOptions) -> list[Path]:
    """The charts the index, booklets and register describe: every chart of
    the project's charts folder, whichever files this build was given (those
    named as given), so that building one file never shrinks the set.
    Files given from outside the charts folder are a set of their own."""
    root = options.settings.charts
    if root is None or not root.is_dir() \
            or not any(Path(os.path.abspath(p)).is_relative_to(os.path.abspath(root)) for p in chart_files):
        return chart_files
    given = {os.path.abspath(p) for p in chart_files}
    shown_as = Path(os.path.relpath(root)) if Path(os.path.abspath(root)).is_relative_to(Path.cwd()) else root
    others = [p for p in discover([shown_as]) if os.path.abspath(p) not in given]
    return sorted(chart_files + others, key=str) if others else chart_files


def _require_rasteriser(options: BuildOptions) -> None:
    """PNG charts and booklet.docx's pictures are drawn from PDFs by MuPDF:
    missing, it stops the build before anything is written."""
    if "png" in options.formats or (options.publish and "pdf" in options.formats and options.settings.word_booklet):
        from ..draw import raster

        raster.mutool()


def _nothing_to_do(chart_files: list[Path], progress: Progress, started: float, options: BuildOptions) -> BuildReport:
    outcomes = tuple(ChartOutcome(_name(p, options), "fresh") for p in chart_files)
    for outcome in outcomes:
        progress(outcome)
    return BuildReport(outcomes, seconds=time.perf_counter() - started)


def _full_build(chart_files: list[Path], changed: list[Path], project_files: list[Path], fingerprints: dict[Path, str],
                stamp_keys: dict[Path, str], new_stamps: dict[Path, str], looked: Looked, manifest: Manifest,
                stale: list[str],
                tools: render.Toolchain,
                options: BuildOptions, progress: Progress, started: float,
                planned: Callable[[int], None]) -> BuildReport:
    # `changed`: the given charts not up to date (freshness._to_draw).
    # Charts whose files changed go to Graphviz at once if they pass their own
    # checks; the whole set is linted while dot draws them, and a chart that
    # then fails a cross-file rule (a repeated id or title) is not written.
    restamped = _refresh_stamps(manifest, fingerprints, new_stamps, options)
    from .. import lint
    from ..draw import layout
    from .drawing import Staged, _Drawing

    lint_cache = options.lint_cache or lint.ResultCache(options.out / files.OUTPUT_CACHE)  # results: see lint.py
    checked_before = lint_cache.checked  # serve's cache lives on from build to build
    changed_paths = set(changed)  # asked of every chart: a list made this loop quadratic (minutes at 4,000)
    planned(len(changed))
    valid_alone = lint.charts_valid_alone(changed, options.settings, lint_cache, among=len(project_files),
                                         jobs=options.jobs)
    early = set(valid_alone)  # the paths: the drawing alone holds these models, and lets each go once drawn
    outcomes: dict[Path, ChartOutcome] = {}
    removed = _remove_stale(manifest, stale, options.out)
    scratch = files.scratch_folder(options.out)
    aside = Path(tempfile.mkdtemp(prefix="set-", dir=scratch))  # the register, made while dot draws
    continued: list[str] = []
    try:
        drawing = _Drawing(list(valid_alone.values()), tools, options, scratch,
                           len(project_files) if options.publish else 0)
        del valid_alone
        with drawing:
            drawing.wait_until_drawing()
            # what the set needs is imported only now: imports before dot starts would hold it back
            from ..publish import booklets
            from ..publish import index as publish

            layout.cache_compiled_templates(publish.html_environment())
            # a chart deleted or renamed since it was found fails alone (_first_error), not the build
            present = [p for p in project_files if os.path.exists(p)] or project_files
            # the files as found, those unchanged since the last build not even read: see lint.py
            known = lint.FileStamps(stamp_keys, lambda path: stamps.file_stamp(path) == looked.charts[path][0])
            linted = lint.lint_paths(present, options.settings, cache=lint_cache, stamps=known, found=True)
            relinted = lint_cache.checked - checked_before
            # the cache's entries (20 MB of text at 4,000 charts) are not needed past the lint; serve keeps its own
            del lint_cache
            _give_back_memory_after_lint(relinted)
            charts = {c.path: c for c in linted.charts}
            # A chart file written while this build read it (an editor's autosave, then an undo): what
            # was drawn (from the first check's read, or lint's if drawn only now) and what the set
            # shows (lint's) may each be either version, so it is recorded under a fingerprint nothing
            # matches, and the next build draws it again.  Else an edit undone before the next build
            # would match the fingerprint taken first, and the drawing (and the set's cached card and
            # rows) of the edit would be kept as up to date.
            for path in written_since(looked, charts):
                fingerprints[path] = unmatched_fingerprint()
                stamp_keys.pop(path, None)
                changed_paths.add(path)  # a given chart found up to date is drawn too (below)
            drawing.adopt(charts)
            registers = None
            if options.publish:
                # The register first: the front matter's second look waits for dot's layouts.
                likely = [charts[p] for p in project_files if p in charts]  # the set, if every chart draws
                drawing.keep_fonts_for(booklets.BookletPlan(likely, changed_paths, manifest))
                registers = drawing.ahead(publish.registers_ahead, likely, options, aside, fingerprints)
                # the booklets' pages not drawn now: their fonts read while dot draws the others
                drawing.ahead(booklets.booklet_ahead, likely, changed_paths, options, drawing.fonts_in_hand,
                              lambda: drawing.runs.stopped)
                recorded = {name: entry.get("pages", 1) for name, entry in manifest["charts"].items()}
                drawing.ahead(booklets.draw_front_matter_ahead, list(linted.charts), options, tools, scratch,
                              drawing.page_counts_so_far(recorded), drawing.runs, drawing.fonts_in_hand)
            for path in chart_files:
                problem = _first_error(linted, path, options) if path not in charts else None
                if problem:
                    outcomes[path] = ChartOutcome(printable(_name(path, options)), "failed", problem)
                elif path not in changed_paths:
                    outcomes[path] = ChartOutcome(_name(path, options), "fresh")
                elif path not in early:  # valid now, though not when first looked at: draw it too
                    drawing.add(charts[path])
                if path in outcomes:
                    progress(outcomes[path])
            for chart, result, seconds in drawing.results():
                if chart.path in outcomes:
                    continue  # failed a cross-file rule: nothing is written
                outcomes[chart.path] = _write_outputs(chart, result, fingerprints[chart.path],
                                                      stamp_keys.get(chart.path), options, manifest, seconds)
                progress(outcomes[chart.path])
                if options.publish and outcomes[chart.path].status == "built":
                    booklets.join_drawn(chart, options, drawing.fonts_in_hand)  # the booklet's pages, while dot draws
                count = result.pages if isinstance(result, Staged) else 1  # whichever formats: PNG-only too
                if count > 1 and outcomes[chart.path].status == "built":
                    continued.append(f"{printable(chart.out_name)} 一页排不下（正文会小于 {style.MIN_BODY_SIZE:g} 磅），"
                                     f"续排为 {count} 页")
                if chart.path in drawing.fallbacks and outcomes[chart.path].status == "built":
                    continued.append(f"{printable(chart.out_name)} {drawing.fallbacks[chart.path]}")
    finally:
        if changed_paths or removed or restamped:
            # every chart written, recorded before the set is made: a build killed while it makes
            # the set (seconds at thousands of charts) must not lose their entries, or an undone
            # edit would match the old entry and its drawing be kept as up to date
            _write_manifest(options.out, manifest)
    if len(continued) > CONTINUED_LISTED:  # a line each for the first; the rest in one
        continued[CONTINUED_LISTED:] = [f"另有 {len(continued) - CONTINUED_LISTED} 张图一页排不下，续排为多页"]
    published, warnings = None, continued
    if options.publish:
        ready, unbuilt = _set_members(project_files, charts, outcomes, fingerprints, manifest, options)
        not_built = set(unbuilt)
        failing = [_name(p, options) for p in project_files if p not in ready and p not in not_built
                   and _has_outputs(manifest, _name(p, options), options.out)]
        if not ready:
            warnings.append("没有一张图生成成功：索引页、汇编和台账未发布（保持原样），请先改正上面的错误")
        elif unbuilt:
            warnings.append(f"索引页、汇编和台账未更新：另有 {len(unbuilt)} 张图尚未生成或已过时"
                            f"（如 {printable(str(unbuilt[0]))}）；不带文件运行 riskchart build 生成全部后即会更新")
        else:
            published = publish.publish_set(list(ready.values()), fingerprints, manifest, options, tools, failing,
                                            scratch, registers, drawing.fonts_in_hand)
            _write_manifest(options.out, manifest)
            warnings += published.notes
    shutil.rmtree(aside, ignore_errors=True)  # a register made for a set that was not published
    given = {str(p) for p in chart_files} | {str(d) for p in chart_files for d in defaults_files(p, options.settings.charts)}
    others = {d.path for d in linted.diagnostics if d.is_error and d.path not in given}
    if others:
        warnings.append(f"本次未指定的 {len(others)} 个文件有错误，这些图不编入索引页、汇编和台账；"
                        "运行 riskchart lint 查看")
    return BuildReport(
        outcomes=tuple(outcomes[p] for p in chart_files),
        diagnostics=tuple(d for d in linted.diagnostics if d.path in given),
        sources=linted.sources,
        published=published.written if published else (),
        publish_failures=published.failures if published else (),
        removed=tuple(removed),
        warnings=tuple(warnings),
        seconds=time.perf_counter() - started,
    )


def _give_back_memory_after_lint(relinted: int) -> bool:
    """After the set's lint checked `relinted` files anew (after an upgrade,
    every one), give back what that freed: their texts, YAML trees and the
    stale cache entries, some 60 MB at 4,000 charts, which glibc would keep
    and the set's tables would come on top of (330 MB, over the 300 MB a
    build of 4,000 charts may take).  Not after a few: malloc_trim takes
    15–50 ms at 4,000 charts.  True when it did."""
    if relinted < RELINTED_MANY:
        return False
    from .drawing import _give_back_freed_memory

    _give_back_freed_memory()
    return True


def _set_members(project_files: list[Path], charts: dict[Path, Chart], outcomes: dict[Path, ChartOutcome],
                 fingerprints: dict[Path, str], manifest: Manifest,
                 options: BuildOptions) -> tuple[dict[Path, Chart], list[Path]]:
    """The charts the set shows: those this build drew or found fresh, and
    the project's others whose outputs are up to date; and the project's
    valid charts that this (partial) build did not draw and that have no
    current outputs: while there are any, the set is left as it is."""
    ready, unbuilt = {}, []
    for path in project_files:
        if path not in charts:
            continue
        if path in outcomes:
            if outcomes[path].status != "failed":
                ready[path] = charts[path]
        elif _is_fresh(manifest, path, fingerprints[path], options):
            ready[path] = charts[path]
        else:
            unbuilt.append(path)
    return ready, unbuilt


def _first_error(linted: LintResult, path: Path, options: BuildOptions) -> str:
    """Why a chart cannot be built: its first error, or that of a
    _defaults.yaml above it (charts under a broken _defaults.yaml all fail)."""
    first = next((d for d in linted.diagnostics if d.path == str(path) and d.is_error), None)
    if first:
        return f"{first.line}:{first.column} {first.code} {first.message}"
    for defaults in reversed(defaults_files(path, options.settings.charts)):
        first = next((d for d in linted.diagnostics if d.path == str(defaults) and d.is_error), None)
        if first:
            return f"{defaults} 有错误，本图不能生成：{first.line}:{first.column} {first.code} {first.message}"
    return "构建期间文件被改名或删除"
