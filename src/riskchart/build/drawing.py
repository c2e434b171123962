"""Charts drawn by dot in parallel batches of nearly equal cost, finished
(A4 fit, glyph check) in a thread of their own and staged on disk, with a
bounded number of batches in flight."""

from __future__ import annotations

import contextlib
import importlib
import math
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from .. import files, style
from ..draw import layout, render
from ..model import Chart
from .options import BuildOptions

if TYPE_CHECKING:
    from ..publish import pageprep
    from ..publish.booklets import BookletPlan

MAX_BATCH = 48  # charts per dot process: fonts load once, yet a failure costs little to isolate
_T = TypeVar("_T")


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

    def __init__(self, charts: list[Chart], tools: render.Toolchain, options: BuildOptions, scratch: Path,
                 set_size: int = 0) -> None:
        """`set_size`: the charts of the set (the booklet's pages); their
        fonts are kept in memory for the booklet unless there are too many
        for them to be held (style.BOOKLET_AHEAD_MAX_CHARTS)."""
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
        # the fonts of the PDFs finished (and those read ahead), for the booklets, with room for
        # the covers' and contents' pages: see pageprep.py and fonts_in_hand
        self._room_in_hand = set_size + 16 if set_size <= style.BOOKLET_AHEAD_MAX_CHARTS else 0
        self._in_hand: Future[pageprep.InHand] | None = None
        # which charts' fonts the booklets may need; None: not known yet, all of them
        self._booklet_plan: BookletPlan | None = None
        self._laid_out = (0, 0)  # pages and charts dot laid out so far (set under _laid_out_lock)
        self._laid_out_lock = threading.Lock()
        self._planned = balanced_batches(charts, options.jobs)
        # the dot runs started at once (none for DOT files alone: dot draws nothing then)
        self._first_runs = min(max(1, options.jobs), len(self._planned)) if set(options.formats) - {"dot"} else 0
        # pikepdf (and python-docx for booklet.docx) take a tenth of a second to import: do it
        # while the first dot runs, not while the first DOT texts are made.  Not a daemon: a
        # process that exits while nanobind is still registering pikepdf's types aborts
        # (SIGABRT), so shutdown waits for the import.
        self._imports = [module for module, needed in (
            ("pikepdf", "pdf" in options.formats or options.publish),
            ("docx", options.publish and "pdf" in options.formats and options.settings.word_booklet)) if needed]

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

    def _hold_fonts(self) -> pageprep.InHand:
        self.wait_until_drawing()
        from ..publish import pageprep

        return pageprep.InHand(self._room_in_hand)

    @property
    def fonts_in_hand(self) -> pageprep.InHand:
        """The fonts of the PDFs finished (and those read ahead), for the
        booklets.  Made by the finishing thread as its first work once dot
        runs (so every chart it finishes finds them): imported before,
        the booklets' code would hold dot back."""
        assert self._in_hand is not None, "only within `with drawing:`"
        return self._in_hand.result()

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

    def keep_fonts_for(self, plan: BookletPlan) -> None:
        """Read the fonts of a chart's PDF for the booklets only when `plan`
        says a booklet of it is likely to be made, with the pages laid out
        so far.  Until this is called, every chart's are read."""
        self._booklet_plan = plan

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
            laid_out = [count for done, count in zip(drawn, pages, strict=True) if isinstance(done, render.Drawn)]
            with self._laid_out_lock:  # two dot threads add theirs
                self._laid_out = (self._laid_out[0] + sum(laid_out), self._laid_out[1] + len(laid_out))
            return self._finishing.submit(self._finish, [c.out_name for c in charts], dot_texts, drawn, pages, began)
        except BaseException:
            self._in_flight.release()
            raise

    def _finish(self, names: list[str], dot_texts: list[str], drawn: list[render.Drawn | render.RenderFailure], pages: list[int],
                began: float) -> tuple[list[Staged | render.RenderFailure], float]:
        try:
            results = []
            for number, dot_text in enumerate(dot_texts):
                outputs = render.finish(drawn[number], dot_text, self._options.formats, self._tools,
                                        self._options.dpi, self._scratch, self._options.page)
                drawn[number] = render.RenderFailure("")  # its bytes are staged: let them go
                results.append(outputs if isinstance(outputs, render.RenderFailure)
                               else self._stage(outputs, pages[number], names[number]))
            return results, (time.perf_counter() - began) / len(dot_texts)
        finally:
            del drawn
            _give_back_freed_memory()
            self._in_flight.release()

    def _stage(self, outputs: dict[str, bytes], pages_drawn: int, out_name: str) -> Staged | render.RenderFailure:
        folder = Path(tempfile.mkdtemp(dir=self._staging))
        staged = {}
        try:
            for fmt, data in outputs.items():
                staged[fmt] = folder / fmt
                staged[fmt].write_bytes(data)
        except OSError as error:
            return render.RenderFailure(f"无法写入 {self._options.out}：{error.strerror or error}")
        plan = self._booklet_plan  # read once: the main thread sets it while this thread runs
        if self._options.publish and "pdf" in outputs and (plan is None or self._booklet_likely(plan, out_name)):
            # what the booklets need of its fonts, while dot draws
            from ..publish import pageprep

            pageprep.remember(outputs["pdf"], self._options.out / files.OUTPUT_CACHE, self.fonts_in_hand)
        return Staged(staged, pages_drawn)

    def _booklet_likely(self, plan: BookletPlan, out_name: str) -> bool:
        pages, charts = self._laid_out
        return plan.likely(out_name, self.page_counts, pages / charts if charts else 1.0)

    def results(self) -> Iterator[tuple[Chart, Staged | render.RenderFailure, float]]:
        """(chart, staged outputs or RenderFailure, seconds per chart), batch by batch."""
        while self._batches:
            charts, future = self._batches.popleft()  # and forgotten: nothing is held past its batch
            results, seconds = future.result().result()
            for chart, result in zip(charts, results, strict=True):
                yield chart, result, seconds

    def __enter__(self) -> Self:
        """Start the batches and the imports.  Here rather than in __init__,
        and stopped here if Ctrl-C comes while they start: once a dot thread
        runs, __exit__ must follow, or the threads outlive the build and the
        process hangs at exit waiting for them."""
        try:
            self._in_hand = self._finishing.submit(self._hold_fonts)
            for batch in self._planned:
                self.add(*batch)
            if self._imports:
                threading.Thread(target=self._import_once_drawing, args=(self._imports,)).start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        self._planned = []
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

    try:
        # The process's own symbols, libc's among them: ctypes.util.find_library would run
        # `ldconfig -p` (5–10 ms) just as the first batch finishes, on a one-chart build's path.
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
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
