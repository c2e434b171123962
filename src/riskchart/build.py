"""`riskchart build`: lint, lay out, render and publish every chart.

Incremental: each chart's fingerprint covers its file, its folder's
_defaults.yaml, the templates, the rendering code, the font and the
formats.  A chart whose fingerprint and outputs are unchanged is left
alone; when nothing changed at all the build returns before linting and
writes nothing (but the stamps of files touched and not changed, see
below).  Like git's index, the manifest records each chart file's stamp
(stamps.py) with its fingerprint and each output's size and time, so that
a build with nothing to do reads no chart and opens no output.  Charts render in parallel; outputs are written
atomically under a folder lock, and only after a chart rendered fully.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from . import __version__, config, files, stamps, style
from .check.characters import printable
from .check.diagnostics import Diagnostic
from .departments import defaults_files, discover, out_name_of_text
from .draw import fonts, glyphs, layout, render
from .draw.page import A4_PORTRAIT, Page
from .errors import LockTimeout, NoCharts, OutputNotWritable
from .model import Chart
from .publish import index as publish
from .publish import pageprep

if TYPE_CHECKING:  # lint and the YAML loader are imported by a build that has work to do, not by a no-op one
    from .lint import LintResult, ResultCache

MANIFEST = ".riskchart-manifest.json"
# the JSON of MANIFEST: {"version": 1, "charts": {name: entry}, "set": {...}}; a chart's name is its
# path in out/ without the format (食品科/01-食品经营许可; the stem in a flat charts folder)
Manifest = dict[str, Any]
MAX_BATCH = 48  # charts per dot process: fonts load once, yet a failure costs little to isolate
_T = TypeVar("_T")
CONTINUED_LISTED = 10  # charts continued over pages that get a warning each
DEFAULT_FORMATS = style.DEFAULT_FORMATS
# Code whose change changes the drawing; its bytes are part of every fingerprint.
_RENDERING_MODULES = ("draw/layout.py", "draw/page.py", "draw/pages.py", "draw/render.py", "draw/glyphs.py",
                      "draw/fonts.py", "draw/wrap.py", "draw/raster.py", "style.py", "model.py")

_NO_PROJECT_SETTINGS = config.Settings()  # every code on, the standard categories



@dataclass(frozen=True)
class BuildOptions:
    out: Path = Path("out")
    formats: tuple[str, ...] = DEFAULT_FORMATS
    jobs: int = os.cpu_count() or 1
    force: bool = False
    font: str = style.DEFAULT_FONT
    timeout: float = style.DOT_TIMEOUT_SECONDS
    publish: bool = True
    settings: config.Settings = _NO_PROJECT_SETTINGS  # the project's: codes switched off, categories
    lock_timeout: float = style.LOCK_TIMEOUT_SECONDS
    dpi: int = style.DEFAULT_DPI  # PNG charts, and the pictures of booklet.docx (at least 300 there)
    page: Page = A4_PORTRAIT  # the paper charts, booklet and PNG are laid out for
    # each file's lint results from earlier builds (check/cache.py); None: the output folder's.
    # `serve` passes its own, which also keeps them in memory from save to save.
    lint_cache: ResultCache | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ChartOutcome:
    stem: str              # the chart's name in out/: its stem, after its folders when nested
    status: str            # "built", "fresh" (up to date) or "failed"
    reason: str = ""
    seconds: float = 0.0


Progress = Callable[[ChartOutcome], None]


@dataclass(frozen=True)
class BuildReport:
    outcomes: tuple[ChartOutcome, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)
    published: tuple[str, ...] = ()
    publish_failures: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0 and not self.publish_failures


def build(paths: list[Path], options: BuildOptions,
          progress: Progress = lambda outcome: None,
          waiting: Callable[[str], None] = lambda holder: None,
          planned: Callable[[int], None] = lambda count: None) -> BuildReport:
    """`waiting(holder)` is called at once when another build holds the
    output folder's lock, before this one waits for it; `planned(count)`
    once the build knows how many charts it will draw, before the first
    `progress`."""
    started = time.perf_counter()
    chart_files = discover(paths)
    if not chart_files:
        raise NoCharts(f"{'、'.join(map(str, paths))} 中没有 .yaml 防控图文件")
    project_files = _whole_project(chart_files, options)
    # Outputs and the manifest are replaced by rename, so reading them
    # without the lock sees one build's state or another's, never a mix.
    manifest = _read_manifest(options.out)
    fingerprints, stamp_keys, new_stamps = _fingerprints(project_files, options, manifest)
    if not options.force and _all_fresh(manifest, fingerprints, chart_files, options):
        if _refresh_stamps(manifest, fingerprints, new_stamps, options):
            _write_stamps_if_free(fingerprints, new_stamps, options)
        return _nothing_to_do(chart_files, progress, started, options)
    tools = render.toolchain(options.font)  # before anything is written
    _require_rasteriser(options)
    with files.locked(options.out, options.lock_timeout, waiting):
        # the charts may have changed while this build waited for the lock
        chart_files = discover(paths)
        project_files = _whole_project(chart_files, options)
        warnings: list[str] = []
        manifest = _read_manifest(options.out, warnings)
        fingerprints, stamp_keys, new_stamps = _fingerprints(project_files, options, manifest)
        if not options.force and _all_fresh(manifest, fingerprints, chart_files, options):
            if _refresh_stamps(manifest, fingerprints, new_stamps, options):
                _write_manifest(options.out, manifest)
            return _nothing_to_do(chart_files, progress, started, options)  # a build we waited for did the work
        stale = _stale_entries(manifest, project_files, options)
        files.remove_stale_temporaries(options.out, publish.CACHE)
        layout.cache_compiled_templates(layout.environment(), publish.html_environment())
        try:
            report = _full_build(chart_files, project_files, fingerprints, stamp_keys, new_stamps, manifest, stale,
                                 tools, options, progress, started, planned)
            warnings += report.warnings
            glyphs.remember_verdicts()
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM) or failed: no temporary outlives the build,
            # even one whose writer was stopped between creating and removing it
            files.remove_stale_temporaries(options.out, publish.CACHE)
            raise
        files.remove_scratch_folder(options.out)  # empty by now: each dot run removes its own
        return replace(report, warnings=tuple(warnings))


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


def _name(path: Path, options: BuildOptions) -> str:
    root = options.settings.charts
    return _out_name(str(path), None if root is None else str(root), os.getcwd())


@functools.lru_cache(maxsize=1 << 16)
def _out_name(path: str, root: str | None, cwd: str) -> str:
    """Once per chart and build (asked several times of each: thousands of
    folder lookups in a no-op build), by strings (a Path hashes slowly);
    `cwd` because relative names depend on it."""
    return out_name_of_text(path, root, cwd)


def _require_rasteriser(options: BuildOptions) -> None:
    """PNG charts and booklet.docx's pictures are drawn from PDFs by MuPDF:
    missing, it stops the build before anything is written."""
    if "png" in options.formats or (options.publish and "pdf" in options.formats and options.settings.word_booklet):
        from .draw import raster

        raster.mutool()


def _nothing_to_do(chart_files: list[Path], progress: Progress, started: float, options: BuildOptions) -> BuildReport:
    outcomes = tuple(ChartOutcome(_name(p, options), "fresh") for p in chart_files)
    for outcome in outcomes:
        progress(outcome)
    return BuildReport(outcomes, seconds=time.perf_counter() - started)


def _all_fresh(manifest: Manifest, fingerprints: dict[Path, str], chart_files: list[Path], options: BuildOptions) -> bool:
    """The given charts and the whole set are up to date (`fingerprints` are the whole project's)."""
    return not _stale_entries(manifest, list(fingerprints), options) \
        and all(_is_fresh(manifest, p, fingerprints[p], options) for p in chart_files) \
        and (not options.publish or publish.is_fresh(manifest, fingerprints, options))


def _full_build(chart_files: list[Path], project_files: list[Path], fingerprints: dict[Path, str],
                stamp_keys: dict[Path, str], new_stamps: dict[Path, str], manifest: Manifest, stale: list[str],
                tools: render.Toolchain,
                options: BuildOptions, progress: Progress, started: float,
                planned: Callable[[int], None]) -> BuildReport:
    # Charts whose files changed go to Graphviz at once if they pass their own
    # checks; the whole set is linted while dot draws them, and a chart that
    # then fails a cross-file rule (a repeated id or title) is not written.
    changed = [p for p in chart_files if options.force or not _is_fresh(manifest, p, fingerprints[p], options)]
    restamped = _refresh_stamps(manifest, fingerprints, new_stamps, options)
    from . import lint

    lint_cache = options.lint_cache or lint.ResultCache(options.out / files.OUTPUT_CACHE)  # results: see lint.py
    changed_paths = set(changed)  # asked of every chart: a list made this loop quadratic (minutes at 4,000)
    planned(len(changed))
    valid_alone = lint.charts_valid_alone(changed, options.settings, lint_cache)
    early = set(valid_alone)  # the paths: the drawing alone holds these models, and lets each go once drawn
    outcomes: dict[Path, ChartOutcome] = {}
    removed = _remove_stale(manifest, stale, options.out)
    scratch = files.scratch_folder(options.out)
    aside = Path(tempfile.mkdtemp(prefix="set-", dir=scratch))  # the register, made while dot draws
    continued: list[str] = []
    try:
        drawing = _Drawing(list(valid_alone.values()), tools, options, scratch)
        del valid_alone
        with drawing:
            drawing.wait_until_drawing()
            linted = lint.lint_paths(project_files, options.settings, cache=lint_cache)
            charts = {c.path: c for c in linted.charts}
            drawing.adopt(charts)
            registers = None
            if options.publish:
                # The register first: the front matter's second look waits for dot's layouts.
                likely = [charts[p] for p in project_files if p in charts]  # the set, if every chart draws
                registers = drawing.ahead(publish.registers_ahead, likely, options, aside)
                recorded = {name: entry.get("pages", 1) for name, entry in manifest["charts"].items()}
                drawing.ahead(publish.draw_front_matter_ahead, list(linted.charts), options, tools, scratch,
                              drawing.page_counts_so_far(recorded), drawing.runs)
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
                count = result.pages if isinstance(result, Staged) else 1  # whichever formats: PNG-only too
                if count > 1 and outcomes[chart.path].status == "built":
                    continued.append(f"{printable(chart.out_name)} 一页排不下（正文会小于 {style.MIN_BODY_SIZE:g} 磅），"
                                     f"续排为 {count} 页")
                if chart.path in drawing.fallbacks and outcomes[chart.path].status == "built":
                    continued.append(f"{printable(chart.out_name)} {drawing.fallbacks[chart.path]}")
    finally:
        if changed or removed or restamped:
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
                                            scratch, registers)
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


class _Drawing:
    """Charts drawn by dot in parallel batches, in a pool of threads.

    Each chart's outputs are written to a staging folder inside the scratch
    area as soon as it is finished, so a build holds at most a few batches'
    bytes at once whatever the number of charts; `_write_outputs` then moves
    them into out/.  On leaving with an exception (Ctrl-C among them) the dot
    runs under way are killed and batches not yet started are cancelled;
    since files reach out/ only from finished results, every file there is
    complete.
    """

    def __init__(self, charts: list[Chart], tools: render.Toolchain, options: BuildOptions, scratch: Path) -> None:
        self._tools, self._options, self._scratch = tools, options, scratch
        self._runs = render.DotRuns()
        self._staging = Path(tempfile.mkdtemp(prefix="staged-", dir=scratch))
        self._pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
        # Python's share of each chart (A4 fit, glyph check, staging) runs in one more thread,
        # beside the dot runs: a dot thread starts its next batch at once.
        self._finishing = ThreadPoolExecutor(max_workers=1)
        # The set's own work (front matter, register) runs in one more thread beside the
        # dot pool, so that it neither waits for the batches nor leaves a core idle at the end.
        self._beside = ThreadPoolExecutor(max_workers=1)
        # Batches drawn and not yet finished: a dot thread waits before drawing more, so
        # that raw outputs never pile up ahead of the finishing thread (gigabytes at 4,000 charts).
        self._in_flight = threading.Semaphore(max(1, options.jobs) + 1)
        self._stopping = threading.Event()
        self._batches: deque[tuple[list[Chart], Future[Future[tuple[list[Staged | render.RenderFailure], float]]]]] = deque()
        self._ahead: list[Future[Any]] = []
        self.fallbacks: dict[Path, str] = {}  # charts drawn on one page after their continued pages failed: why
        self.page_counts: dict[str, int] = {}  # pages of each chart drawn (by out_name), as dot's layout decided
        batches = balanced_batches(charts, options.jobs)
        # the dot runs started at once (none for DOT files alone: dot draws nothing then)
        self._first_runs = min(max(1, options.jobs), len(batches)) if set(options.formats) - {"dot"} else 0
        for batch in batches:
            self.add(*batch)
        # pikepdf (and python-docx for booklet.docx) take a tenth of a second to import: do it
        # while the first dot runs, not while the first DOT texts are made.  Not a daemon: a
        # process that exits while nanobind is still registering pikepdf's types aborts
        # (SIGABRT), so shutdown waits for the import.
        wanted = [module for module, needed in (
            ("pikepdf", "pdf" in options.formats or options.publish),
            ("docx", options.publish and "pdf" in options.formats and options.settings.word_booklet)) if needed]
        if wanted:
            threading.Thread(target=self._import_once_drawing, args=(wanted,)).start()

    def wait_until_drawing(self, timeout: float = 1.0) -> None:
        """Return once dot runs for each of the first batches (or after
        `timeout`): their DOT texts are made in Python, and Python work
        started meanwhile in other threads (linting the set, imports) takes
        the interpreter from them and holds dot back."""
        self._runs.wait_started(self._first_runs, timeout)

    def _import_once_drawing(self, modules: list[str]) -> None:
        self.wait_until_drawing()
        for module in modules:
            importlib.import_module(module)

    @property
    def runs(self) -> render.DotRuns:
        """The build's dot processes: work run `ahead` that starts dot passes them on."""
        return self._runs

    def add(self, *charts: Chart) -> None:
        if charts:
            batch = list(charts)  # one list for the pool and for results(): see adopt
            future = self._pool.submit(self._draw, batch)
            self._batches.append((batch, future))

    def adopt(self, models: Mapping[Path, Chart]) -> None:
        """Draw the whole set's models (the lint's, the same files) instead of
        those checked alone: the batches not yet drawn let theirs go, so the
        build holds one model of each chart, not two (85 MB at 4,000 charts)."""
        for batch, _ in self._batches:
            for number, chart in enumerate(batch):
                batch[number] = models.get(chart.path, chart)

    def page_counts_so_far(self, recorded: dict[str, int]) -> Callable[[bool], dict[str, int] | None]:
        """The pages of each chart (by out_name): of those laid out so far as
        dot's layout decided them (pages.py), of the others as `recorded` (by
        the last build); with `wait`, once dot has laid out every batch added
        until now; None when the build is being stopped.  Waiting is only for
        work run by `ahead` after these batches: the pool started each before
        it, so it cannot deadlock."""
        batches = [future for _, future in self._batches]

        def counts(wait: bool) -> dict[str, int] | None:
            for future in batches if wait else ():
                with contextlib.suppress(Exception):  # a failing batch is the build's to report
                    future.result()
            # one step for the GIL: a dot thread adding its counts meanwhile cannot break the copy
            return None if self._runs.stopped else recorded | self.page_counts

        return counts

    def ahead(self, work: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run `work` beside the dot runs: the set's own drawing and tables
        (the booklet's cover and contents, the register), started early."""
        future = self._beside.submit(work, *args)
        self._ahead.append(future)
        return future

    def _draw(self, charts: list[Chart]) -> Future[tuple[list[Staged | render.RenderFailure], float]]:
        began = time.perf_counter()
        page = self._options.page
        # made before waiting for a slot: dot starts the moment one is free
        dot_texts = [layout.chart_dot(c, self._options.font, self._options.settings, page) for c in charts]
        made = time.perf_counter() - began
        while not self._in_flight.acquire(timeout=0.1):
            if self._stopping.is_set():
                raise render.RenderFailure("已中断")
        try:
            began = time.perf_counter() - made  # the seconds of each chart: not those spent waiting
            drawn = render.draw_many(dot_texts, self._options.formats, self._tools, self._options.timeout,
                                     self._runs, self._scratch, page,
                                     lambda n, pages: layout.continuation_dot(charts[n], pages, self._options.font))
            # a page per window of a continued chart
            pages = [len(d.windows[0][1]) if isinstance(d, render.Drawn) and d.windows else 1 for d in drawn]
            for chart, done, count in zip(charts, drawn, pages, strict=True):
                if isinstance(done, render.Drawn):
                    self.page_counts[chart.out_name] = count
                    if done.fallback:
                        self.fallbacks[chart.path] = done.fallback
            return self._finishing.submit(self._finish, dot_texts, drawn, pages, began)
        except BaseException:
            self._in_flight.release()
            raise

    def _finish(self, dot_texts: list[str], drawn: list[render.Drawn | render.RenderFailure], pages: list[int],
                began: float) -> tuple[list[Staged | render.RenderFailure], float]:
        try:
            results = []
            for number, dot_text in enumerate(dot_texts):
                outputs = render.finish(drawn[number], dot_text, self._options.formats, self._tools,
                                        self._options.dpi, self._scratch, self._options.page)
                drawn[number] = render.RenderFailure("")  # its bytes are staged: let them go
                results.append(outputs if isinstance(outputs, render.RenderFailure)
                               else self._stage(outputs, pages[number]))
            return results, (time.perf_counter() - began) / len(dot_texts)
        finally:
            del drawn
            _give_back_freed_memory()
            self._in_flight.release()

    def _stage(self, outputs: dict[str, bytes], pages_drawn: int) -> Staged | render.RenderFailure:
        folder = Path(tempfile.mkdtemp(dir=self._staging))
        staged = {}
        try:
            for fmt, data in outputs.items():
                staged[fmt] = folder / fmt
                staged[fmt].write_bytes(data)
        except OSError as error:
            return render.RenderFailure(f"无法写入 {self._options.out}：{error.strerror or error}")
        if self._options.publish and "pdf" in outputs:  # what the booklets need of its fonts, while dot draws
            pageprep.remember(outputs["pdf"], self._options.out / publish.CACHE)
        return Staged(staged, pages_drawn)

    def results(self) -> Iterator[tuple[Chart, Staged | render.RenderFailure, float]]:
        """(chart, staged outputs or RenderFailure, seconds per chart), batch by batch."""
        while self._batches:
            charts, future = self._batches.popleft()  # and forgotten: nothing is held past its batch
            results, seconds = future.result().result()
            for chart, result in zip(charts, results, strict=True):
                yield chart, result, seconds

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is not None:
            self._stopping.set()  # a dot thread waiting for the finishing thread gives up
            self._runs.stop()
        # Cancel only when stopping: on a normal exit all is waited for (under load, work
        # started ahead may still be queued, and cancelling it would fail the build).
        self._pool.shutdown(wait=True, cancel_futures=kind is not None)
        self._finishing.shutdown(wait=True, cancel_futures=kind is not None)
        # the set's work is waited for unless the build is stopping: publish_set takes it up
        self._beside.shutdown(wait=True, cancel_futures=kind is not None)
        shutil.rmtree(self._staging, ignore_errors=True)  # what a chart failing a cross-file rule staged
        if kind is None:
            for future in self._ahead:
                future.result()  # a mistake in it is not to pass unseen


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where there is none (macOS, musl)."""
    import ctypes
    import ctypes.util

    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def _give_back_freed_memory() -> None:
    """Return to the system the memory a finished batch freed: each batch's
    outputs (tens of megabytes) are allocated in several threads, and glibc
    otherwise keeps the freed pages in each thread's arena, so the build's
    size would creep up with the number of batches."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@dataclass(frozen=True)
class Staged:
    """A finished chart's outputs, written into the staging folder, by format."""
    files: dict[str, Path]
    pages: int


def drawing_cost(chart: Chart) -> int:
    """A rough measure of dot's work on a chart: its boxes and their text."""
    text = sum(len(item) for step in chart.steps for item in (*step.risks, *step.measures))
    return 200 + 40 * len(chart.steps) + text + sum(map(len, chart.basis))


def balanced_batches(charts: list[Chart], jobs: int) -> list[list[Chart]]:
    """The charts in batches of nearly equal drawing cost, a multiple of
    `jobs` of them (at least two per worker), the costliest first: every
    worker then finishes at about the same time, with no core idle at the
    end; no batch has more than MAX_BATCH charts.  Each chart goes to the
    lightest batch so far, the largest charts first (longest processing
    time first); within a batch the charts keep their order."""
    if not charts:
        return []
    jobs = max(1, jobs)
    count = min(len(charts), max(2 * jobs, math.ceil(len(charts) / MAX_BATCH)))
    count = min(len(charts), math.ceil(count / jobs) * jobs)
    bins: list[list[Chart]] = [[] for _ in range(count)]
    loads = [0] * count
    limit = math.ceil(len(charts) / count)
    order = sorted(range(len(charts)), key=lambda i: -drawing_cost(charts[i]))
    for i in order:
        lightest = min((b for b in range(count) if len(bins[b]) < limit), key=lambda b: loads[b])
        bins[lightest].append(charts[i])
        loads[lightest] += drawing_cost(charts[i])
    position = {id(chart): i for i, chart in enumerate(charts)}
    batches = [sorted(b, key=lambda c: position[id(c)]) for b in bins if b]
    return [batch for _, batch in sorted(zip(loads, batches, strict=True), key=lambda pair: -pair[0])]


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


def _fingerprints(paths: list[Path], options: BuildOptions,
                  manifest: Manifest) -> tuple[dict[Path, str], dict[Path, str], dict[Path, str]]:
    """Every chart's fingerprint, the stamp key of each chart whose files
    have settled (stamps.py), and those of these keys the manifest does not have.  A chart whose stamp key is the one the
    manifest recorded keeps its recorded fingerprint unread: the key covers
    the stamps of the chart file and of its _defaults.yaml files, and all
    that the fingerprint covers besides files.  Each _defaults.yaml is read
    once (thousands of charts share a few), each folder resolved once."""
    _real_folder.cache_clear()  # folders and links may have changed since the last build of this process
    _out_name.cache_clear()
    looked_at = stamps.now_ns()  # before the first stat: see stamps.settled
    context = _fingerprint_context(options)
    shared: dict[Path, bytes] = {}
    folders: dict[Path, str | None] = {}  # each folder's _defaults.yaml files and their stamps; None: racy
    fingerprints, keys, new = {}, {}, {}
    recorded = manifest["charts"]
    for path in paths:
        own = stamps.file_stamp(path)
        if path.parent not in folders:
            chain = [(str(d), stamps.file_stamp(d)) for d in defaults_files(path, options.settings.charts)]
            folders[path.parent] = f"{context}|{chain}" if all(stamps.settled(s, looked_at) for _, s in chain) \
                else None
        key = None
        if own is not None and stamps.settled(own, looked_at) and folders[path.parent] is not None:
            key = hashlib.sha256(f"{folders[path.parent]}|{own}".encode("utf-8", "surrogateescape")).hexdigest()
            keys[path] = key
        entry = recorded.get(_name(path, options))
        if key is not None and entry is not None and entry.get("stamp") == key:
            fingerprints[path] = entry["fingerprint"]
        else:
            fingerprints[path] = _fingerprint(path, options, shared)
            if key is not None:
                new[path] = key
    return fingerprints, keys, new


def _fingerprint_context(options: BuildOptions) -> str:
    """All that a chart's fingerprint covers besides its files' bytes."""
    return hashlib.sha256(repr((_static_inputs(options.font, options.formats, options.page.key),
                                sorted(options.settings.disabled), options.settings.categories, options.dpi,
                                options.settings.levels, sorted(options.settings.require),
                                options.settings.risk_types)).encode("utf-8", "surrogateescape")).hexdigest()


def _refresh_stamps(manifest: Manifest, fingerprints: dict[Path, str], stamp_keys: dict[Path, str],
                    options: BuildOptions) -> bool:
    """Record the stamps of charts found up to date by reading them (touched,
    not changed; or settled since), and of their whole outputs where the
    manifest has none (written by an older riskchart): the next build need
    neither read nor open them.  True when an entry changed."""
    refreshed = False
    for path, key in stamp_keys.items():
        entry = manifest["charts"].get(_name(path, options))
        if entry is None or entry["fingerprint"] != fingerprints[path]:
            continue
        if entry.get("stamp") != key:
            entry["stamp"] = key
            refreshed = True
        written = entry.setdefault("written", {})
        for output in entry["outputs"]:
            if output not in written and _complete(options.out, output):
                size_and_time = stamps.output_stamp(files.inside(options.out, output))
                if size_and_time is not None:
                    written[output] = size_and_time
                    refreshed = True
    return refreshed


def _write_stamps_if_free(fingerprints: dict[Path, str], stamp_keys: dict[Path, str],
                          options: BuildOptions) -> None:
    """`_refresh_stamps` into the manifest for a build with nothing else to
    do, if no other build holds the output folder (never waiting for one)."""
    with contextlib.suppress(LockTimeout, OutputNotWritable, OSError), files.locked(options.out, timeout=0):
        manifest = _read_manifest(options.out)  # as the build before us may have left it
        if _refresh_stamps(manifest, fingerprints, stamp_keys, options):
            _write_manifest(options.out, manifest)


def _fingerprint(path: Path, options: BuildOptions, shared: dict[Path, bytes] | None = None) -> str:
    digest = hashlib.sha256()
    digest.update(_static_inputs(options.font, options.formats, options.page.key).encode())
    # the settings decide whether a chart passes lint: a code switched on, a category dropped
    digest.update(f"{sorted(options.settings.disabled)}|{options.settings.categories}".encode())
    if "png" in options.formats:
        digest.update(f"|dpi={options.dpi}".encode())
    digest.update(_contents(path))
    for defaults in defaults_files(path, options.settings.charts):  # every folder's, down to the chart's
        if shared is None or defaults not in shared:
            contents = _contents(defaults)
            if shared is None:
                digest.update(contents)
                continue
            shared[defaults] = contents
        digest.update(shared[defaults])
    # colours and legend; and the risk types lint accepts
    digest.update(repr((options.settings.levels, sorted(options.settings.require), options.settings.risk_types)).encode())
    return digest.hexdigest()


def _contents(path: Path) -> bytes:
    """A file's bytes (never more than the size limit + 1, never waiting on a
    FIFO); a missing or unreadable one gets a fingerprint of its own, and
    lint then says what is wrong with it."""
    try:
        from .check.load import read_chart_bytes

        return read_chart_bytes(path) if path.exists() else b"\0absent"
    except OSError:
        return b"\0unreadable"


@cache
def _static_inputs(font: str, formats: tuple[str, ...], page: str) -> str:
    """What every chart's output depends on besides its own files: its
    template (the set's templates are the publish stage's), the drawing
    code and the font file fontconfig resolves (path, size, mtime)."""
    font_file = fonts.resolve(font)  # restoring or changing the installed font redraws
    digest = hashlib.sha256(f"{__version__}|{font}|{font_file.key if font_file else '-'}|{','.join(formats)}|{page}".encode())
    digest.update((layout.template_folder() / layout.CHART_TEMPLATE).read_bytes())
    digest.update((layout.template_folder() / layout.CONTINUATION_TEMPLATE).read_bytes())
    package = Path(__file__).parent  # riskchart/
    for module in _RENDERING_MODULES:
        digest.update((package / module).read_bytes())
    return digest.hexdigest()


def _is_fresh(manifest: Manifest, path: Path, fingerprint: str, options: BuildOptions) -> bool:
    entry = manifest["charts"].get(_name(path, options))
    return bool(entry) and entry["fingerprint"] == fingerprint and entry["source"] == _resolved(path) \
        and all(_complete(options.out, name, entry.get("written", {}).get(name)) for name in entry["outputs"])


def _resolved(path: Path) -> str:
    """str(path.resolve()), with the folder's real path found once per build."""
    if os.path.islink(path):
        return str(path.resolve())
    folder, name = os.path.split(str(path))
    return os.path.join(_real_folder(folder or "."), name)


@functools.lru_cache(maxsize=1024)
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder)


def _complete(out: Path, name: str, written: list[int] | None = None) -> bool:
    """An output is whole when it is as big and as old as the build that
    wrote it recorded (`written`), or when it looks whole."""
    if written is not None and "/" not in name and stamps.output_stamp(os.path.join(out, name)) == written:
        return True  # a name straight in out/ (checked when the manifest was read): no folder on the way
    try:
        target = files.inside(out, name)
    except OSError:
        return False
    return (written is not None and stamps.output_stamp(target) == written) or files.looks_complete(target)


def _has_outputs(manifest: Manifest, name: str, out: Path) -> bool:
    entry = manifest["charts"].get(name)
    return bool(entry) and any(_is_file(out, output) for output in entry["outputs"])


def _is_file(out: Path, name: str) -> bool:
    try:
        return files.inside(out, name).is_file()
    except OSError:
        return False


def _stale_entries(manifest: Manifest, project_files: list[Path], options: BuildOptions) -> list[str]:
    """Charts built before whose source is gone or renamed."""
    current = {_name(p, options) for p in project_files}
    return [name for name, entry in manifest["charts"].items()
            if name not in current and not Path(entry["source"]).exists()]


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


# --- The manifest: read from out/, so trusted for nothing -----------------

_SAFE_STEM = re.compile(r"[^/\\\x00-\x1f\x7f\ud800-\udfff]+")


def _read_manifest(out: Path, warnings: list[str] | None = None) -> Manifest:
    """The manifest of the last build, with every entry this build could not
    have written dropped (with a warning): a damaged or hand-made manifest
    can make charts rebuild, never make a file outside `out/` (or one that
    riskchart did not write) be deleted or trusted."""
    warn = warnings.append if warnings is not None else (lambda message: None)
    try:
        found = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
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
            and isinstance(entry.get("outputs"), list) and all(map(publish.is_set_output, entry["outputs"])):
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
            and name.rsplit("/", 1)[-1].casefold() not in publish.RESERVED_STEMS and isinstance(entry, dict)):
        return False
    outputs = entry.get("outputs")
    written = entry.get("written", {})
    allowed = {f"{name}.{fmt}" for fmt in render.FORMATS}
    return isinstance(entry.get("source"), str) and isinstance(entry.get("fingerprint"), str) \
        and isinstance(entry.get("title", ""), str) and isinstance(entry.get("pages", 1), int) \
        and isinstance(entry.get("stamp", ""), str) and isinstance(outputs, list) \
        and all(output in allowed for output in outputs) \
        and isinstance(written, dict) and all(output in outputs and isinstance(size_and_time, list)
                                              and len(size_and_time) == 2 and all(type(n) is int for n in size_and_time)
                                              for output, size_and_time in written.items())


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
