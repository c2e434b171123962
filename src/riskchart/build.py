"""`riskchart build`: lint, lay out, render and publish every chart.

Incremental: each chart's fingerprint covers its file, its folder's
_defaults.yaml, the templates, the rendering code, the font and the
formats.  A chart whose fingerprint and outputs are unchanged is left
alone; when nothing changed at all the build returns before linting and
writes nothing.  Charts render in parallel; outputs are written
atomically under a folder lock, and only after a chart rendered fully.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import __version__, config, files, fonts, glyphs, layout, publish, render, style
from .characters import printable
from .diagnostics import Diagnostic
from .lint import DEFAULTS_FILE, LintResult, charts_valid_alone, discover, lint_paths
from .load import read_chart_bytes
from .model import Chart

MANIFEST = ".riskchart-manifest.json"
Manifest = dict[str, Any]  # the JSON of MANIFEST: {"version": 1, "charts": {stem: entry}, "set": {...}}
RenderResult = dict[str, bytes] | render.RenderFailure
MAX_BATCH = 16  # charts per dot process: fonts load once, yet a failure costs little to isolate
DEFAULT_FORMATS = style.DEFAULT_FORMATS
# Code whose change changes the drawing; its bytes are part of every fingerprint.
_RENDERING_MODULES = ("layout.py", "render.py", "glyphs.py", "fonts.py", "style.py", "wrap.py", "model.py")

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


@dataclass(frozen=True)
class ChartOutcome:
    stem: str
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
          waiting: Callable[[str], None] = lambda holder: None) -> BuildReport:
    """`waiting(holder)` is called at once when another build holds the
    output folder's lock, before this one waits for it."""
    started = time.perf_counter()
    chart_files = discover(paths)
    fingerprints = {p: _fingerprint(p, options) for p in chart_files}
    # Outputs and the manifest are replaced by rename, so reading them
    # without the lock sees one build's state or another's, never a mix.
    if not options.force and _all_fresh(_read_manifest(options.out), fingerprints, chart_files, options):
        return _nothing_to_do(chart_files, progress, started)
    tools = render.toolchain(options.font)  # before anything is written
    with files.locked(options.out, options.lock_timeout, waiting):
        # the charts may have changed while this build waited for the lock
        chart_files = discover(paths)
        fingerprints = {p: _fingerprint(p, options) for p in chart_files}
        warnings: list[str] = []
        manifest = _read_manifest(options.out, warnings)
        if not options.force and _all_fresh(manifest, fingerprints, chart_files, options):
            return _nothing_to_do(chart_files, progress, started)  # a build we waited for did the work
        stale = _stale_entries(manifest, chart_files)
        files.remove_stale_temporaries(options.out, publish.CACHE)
        layout.cache_compiled_templates(layout.environment(), publish.html_environment())
        try:
            report = _full_build(paths, chart_files, fingerprints, manifest, stale, tools, options, progress, started)
            glyphs.remember_verdicts()
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM) or failed: no temporary outlives the build,
            # even one whose writer was stopped between creating and removing it
            files.remove_stale_temporaries(options.out, publish.CACHE)
            raise
        files.remove_scratch_folder(options.out)  # empty by now: each dot run removes its own
        return replace(report, warnings=tuple(warnings))


def _nothing_to_do(chart_files: list[Path], progress: Progress, started: float) -> BuildReport:
    outcomes = tuple(ChartOutcome(p.stem, "fresh") for p in chart_files)
    for outcome in outcomes:
        progress(outcome)
    return BuildReport(outcomes, seconds=time.perf_counter() - started)


def _all_fresh(manifest: Manifest, fingerprints: dict[Path, str], chart_files: list[Path], options: BuildOptions) -> bool:
    return not _stale_entries(manifest, chart_files) \
        and all(_is_fresh(manifest, p, f, options.out) for p, f in fingerprints.items()) \
        and (not options.publish or publish.is_fresh(manifest, fingerprints, options))


def _full_build(paths: list[Path], chart_files: list[Path], fingerprints: dict[Path, str], manifest: Manifest,
                stale: list[str], tools: render.Toolchain, options: BuildOptions, progress: Progress,
                started: float) -> BuildReport:
    # Charts whose files changed go to Graphviz at once if they pass their own
    # checks; the whole set is linted while dot draws them, and a chart that
    # then fails a cross-file rule (a repeated id or title) is not written.
    changed = [p for p in chart_files if options.force or not _is_fresh(manifest, p, fingerprints[p], options.out)]
    early = charts_valid_alone([p for p in changed if not _name_problem(p)], options.settings)
    outcomes: dict[Path, ChartOutcome] = {}
    removed = _remove_stale(manifest, stale, options.out)
    scratch = files.scratch_folder(options.out)
    try:
        with _Drawing(list(early.values()), tools, options, scratch) as drawing:
            linted = lint_paths(paths, options.settings)
            charts = {c.path: c for c in linted.charts}
            if options.publish:
                drawing.ahead(publish.draw_front_matter_ahead, list(linted.charts), options, tools, scratch)
            for path in chart_files:
                problem = _name_problem(path) or (_first_error(linted, path) if path not in charts else None)
                if problem:
                    outcomes[path] = ChartOutcome(printable(path.stem), "failed", problem)
                elif path not in changed:
                    outcomes[path] = ChartOutcome(path.stem, "fresh")
                elif path not in early:  # valid now, though not when first looked at: draw it too
                    drawing.add(charts[path])
                if path in outcomes:
                    progress(outcomes[path])
            for chart, result, seconds in drawing.results():
                if chart.path in outcomes:
                    continue  # failed a cross-file rule: nothing is written
                outcomes[chart.path] = _write_outputs(chart, result, fingerprints[chart.path], options,
                                                      manifest, seconds)
                progress(outcomes[chart.path])
    finally:
        if changed or removed:
            _write_manifest(options.out, manifest)
    published = None
    if options.publish:
        ready = [charts[p] for p in chart_files if p in charts and outcomes[p].status != "failed"]
        failing = [p.stem for p in chart_files if outcomes[p].status == "failed" and not _name_problem(p)
                   and _has_outputs(manifest, p.stem, options.out)]
        published = publish.publish_set(ready, fingerprints, manifest, options, tools, failing, scratch)
        _write_manifest(options.out, manifest)
    return BuildReport(
        outcomes=tuple(outcomes[p] for p in chart_files),
        diagnostics=linted.diagnostics,
        sources=linted.sources,
        published=published.written if published else (),
        publish_failures=published.failures if published else (),
        removed=tuple(removed),
        seconds=time.perf_counter() - started,
    )


def _first_error(linted: LintResult, path: Path) -> str:
    """Why a chart cannot be built: its first error, or its folder's
    _defaults.yaml's (charts under a broken _defaults.yaml all fail)."""
    defaults = str(path.parent / DEFAULTS_FILE)
    for wanted, prefix in ((str(path), ""), (defaults, f"{DEFAULTS_FILE} 有错误，本图不能生成："),):
        first = next((d for d in linted.diagnostics if d.path == wanted and d.is_error), None)
        if first:
            return f"{prefix}{first.line}:{first.column} {first.code} {first.message}"
    return "构建期间文件被改名或删除"


def _name_problem(path: Path) -> str | None:
    """A file name that cannot be written into the manifest, the index or a
    terminal (bytes that are not UTF-8) is refused before anything is drawn."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "文件名不是有效的 UTF-8 编码：请用正常的中文或英文重新命名这个文件"
    return None


class _Drawing:
    """Charts drawn by dot in parallel batches, in a pool of threads.

    On leaving with an exception (Ctrl-C among them) the dot runs under way
    are killed and batches not yet started are cancelled; since files are
    written only from finished results, every file in out/ is complete.
    """

    def __init__(self, charts: list[Chart], tools: render.Toolchain, options: BuildOptions, scratch: Path) -> None:
        self._tools, self._options, self._scratch = tools, options, scratch
        self._runs = render.DotRuns()
        self._pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
        # Python's share of each chart (A4 fit, glyph check) runs in one more thread,
        # beside the dot runs: a dot thread starts its next batch at once.
        self._finishing = ThreadPoolExecutor(max_workers=1)
        self._batches: list[tuple[list[Chart], Future[Future[tuple[list[RenderResult], float]]]]] = []
        self._ahead: list[Future[None]] = []
        if "pdf" in options.formats or options.publish:
            # pikepdf takes a tenth of a second to import: do it while the first dot runs.
            # Not a daemon: a process that exits while nanobind is still registering
            # pikepdf's types aborts (SIGABRT), so shutdown waits for the import.
            threading.Thread(target=importlib.import_module, args=("pikepdf",)).start()
        size = min(MAX_BATCH, max(1, math.ceil(len(charts) / (2 * max(1, options.jobs)))))
        for start in range(0, len(charts), size):
            self.add(*charts[start:start + size])

    def add(self, *charts: Chart) -> None:
        if charts:
            future = self._pool.submit(self._draw, list(charts))
            self._batches.append((list(charts), future))

    def ahead(self, work: Callable[..., None], *args: Any) -> None:
        """Run `work` in the pool after the batches so far: the set's own
        drawing (the booklet's cover and contents), started early."""
        self._ahead.append(self._pool.submit(work, *args))

    def _draw(self, charts: list[Chart]) -> Future[tuple[list[RenderResult], float]]:
        began = time.perf_counter()
        dot_texts = [layout.chart_dot(c, self._options.font) for c in charts]
        drawn = render.draw_many(dot_texts, self._options.formats, self._tools, self._options.timeout,
                                 self._runs, self._scratch)
        return self._finishing.submit(self._finish, dot_texts, drawn, began)

    def _finish(self, dot_texts: list[str], drawn: list[RenderResult],
                began: float) -> tuple[list[RenderResult], float]:
        results = [render.finish(outputs, dot_text, self._options.formats, self._tools)
                   for outputs, dot_text in zip(drawn, dot_texts, strict=True)]
        return results, (time.perf_counter() - began) / len(dot_texts)

    def results(self) -> Iterator[tuple[Chart, RenderResult, float]]:
        """(chart, outputs or RenderFailure, seconds per chart), batch by batch."""
        for charts, future in self._batches:
            results, seconds = future.result().result()
            for chart, result in zip(charts, results, strict=True):
                yield chart, result, seconds

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is not None:
            self._runs.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._finishing.shutdown(wait=True, cancel_futures=True)
        if kind is None:
            for future in self._ahead:
                future.result()  # a mistake in it is not to pass unseen


def _write_outputs(chart: Chart, result: RenderResult, fingerprint: str, options: BuildOptions, manifest: Manifest,
                   seconds: float) -> ChartOutcome:
    if isinstance(result, render.RenderFailure):
        return ChartOutcome(chart.stem, "failed", str(result), seconds)
    names = []
    try:
        for fmt, data in result.items():
            target = options.out / f"{chart.stem}.{fmt}"
            files.write_atomic(target, data)
            names.append(target.name)
    except OSError as error:
        return ChartOutcome(chart.stem, "failed", f"无法写入 {options.out}：{error.strerror or error}", seconds)
    manifest["charts"][chart.stem] = {"source": str(chart.path.resolve()), "fingerprint": fingerprint,
                                      "outputs": sorted(names), "title": chart.title}
    return ChartOutcome(chart.stem, "built", "", seconds)


def _fingerprint(path: Path, options: BuildOptions) -> str:
    digest = hashlib.sha256()
    digest.update(_static_inputs(options.font, options.formats).encode())
    digest.update(_contents(path))
    digest.update(_contents(path.parent / DEFAULTS_FILE))
    return digest.hexdigest()


def _contents(path: Path) -> bytes:
    """A file's bytes (never more than the size limit + 1, never waiting on a
    FIFO); a missing or unreadable one gets a fingerprint of its own, and
    lint then says what is wrong with it."""
    try:
        return read_chart_bytes(path) if path.exists() else b"\0absent"
    except OSError:
        return b"\0unreadable"


@cache
def _static_inputs(font: str, formats: tuple[str, ...]) -> str:
    """What every chart's output depends on besides its own files: its
    template (the set's templates are the publish stage's), the drawing
    code and the font file fontconfig resolves (path, size, mtime)."""
    font_file = fonts.resolve(font)  # restoring or changing the installed font redraws
    digest = hashlib.sha256(f"{__version__}|{font}|{font_file.key if font_file else '-'}|{','.join(formats)}".encode())
    digest.update((layout.template_folder() / layout.CHART_TEMPLATE).read_bytes())
    package = Path(__file__).parent
    for module in _RENDERING_MODULES:
        digest.update((package / module).read_bytes())
    return digest.hexdigest()


def _is_fresh(manifest: Manifest, path: Path, fingerprint: str, out: Path) -> bool:
    entry = manifest["charts"].get(path.stem)
    return bool(entry) and entry["fingerprint"] == fingerprint and entry["source"] == str(path.resolve()) \
        and all(files.looks_complete(out / name) for name in entry["outputs"])


def _has_outputs(manifest: Manifest, stem: str, out: Path) -> bool:
    entry = manifest["charts"].get(stem)
    return bool(entry) and any((out / name).is_file() for name in entry["outputs"])


def _stale_entries(manifest: Manifest, chart_files: list[Path]) -> list[str]:
    """Charts built before whose source is gone or renamed."""
    current = {p.stem for p in chart_files}
    return [stem for stem, entry in manifest["charts"].items()
            if stem not in current and not Path(entry["source"]).exists()]


def _remove_stale(manifest: Manifest, stale: list[str], out: Path) -> list[str]:
    """Delete the outputs of charts that are gone.  Only names the manifest
    check let through (`<stem>.<format>`, inside `out`) ever get here."""
    removed = []
    for stem in stale:
        for name in manifest["charts"][stem]["outputs"]:
            target = out / name
            if target.is_file() or target.is_symlink():
                target.unlink()
                removed.append(name)
        del manifest["charts"][stem]
    return removed


# --- The manifest: read from out/, so trusted for nothing -----------------

_SAFE_STEM = re.compile(r"[^/\\\x00-\x1f\x7f]+")


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
            and isinstance(entry.get("outputs"), list) and set(entry["outputs"]) <= set(publish.SET_OUTPUTS):
        manifest["set"] = entry
    return manifest


def _fresh_manifest() -> Manifest:
    return {"version": 1, "charts": {}, "set": {}}


def _valid_entry(stem: object, entry: object) -> bool:
    """An entry this build's rules could have written: a plain file stem and
    outputs named `<stem>.<format>` only."""
    if not (isinstance(stem, str) and _SAFE_STEM.fullmatch(stem) and not stem.startswith(".")
            and stem.casefold() not in publish.RESERVED_STEMS and isinstance(entry, dict)):
        return False
    outputs = entry.get("outputs")
    return isinstance(entry.get("source"), str) and isinstance(entry.get("fingerprint"), str) \
        and isinstance(entry.get("title", ""), str) and isinstance(outputs, list) \
        and all(name in {f"{stem}.{fmt}" for fmt in render.FORMATS} for name in outputs)


def _write_manifest(out: Path, manifest: Manifest) -> None:
    # ASCII escapes: a file name that is not valid UTF-8 still round-trips
    data = json.dumps(manifest, ensure_ascii=True, indent=1, sort_keys=True).encode("ascii")
    files.write_if_changed(out / MANIFEST, data)
