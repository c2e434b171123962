"""Stage 5 — render: DOT text → output bytes, through the `dot` program.

Each chart is laid out once and written in every requested format by one
`dot` run.  Outputs are returned as bytes; writing them into `out/` is the
publish stage's job.  A failing, crashing or hanging `dot` becomes a
`RenderFailure` with the reason; a missing `dot`, text-layout plugin or
CJK font is an environment problem that stops the whole build.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .. import style
from ..errors import MissingFont, MissingGraphviz
from . import fonts, trimfont
from .page import Page

if TYPE_CHECKING:  # glyphs and pages are imported once dot has drawn: a build starts dot without them
    from . import pages

FORMATS = style.FORMATS
INSTALL_HINT = ("Debian/Ubuntu：sudo apt-get install graphviz fonts-noto-cjk；"
                "macOS：brew install graphviz font-noto-sans-cjk；"
                "Windows：请在 WSL 中按 Debian/Ubuntu 的方法安装")
# stderr lines that mean the drawing is wrong even though dot exited 0.
_FATAL_WARNINGS = re.compile(r"non-ASCII character|too small for content|Could not find|"
                             r"Error|syntax error")
_POLL_SECONDS = 0.1  # how often a waiting build looks at dot's progress
_UNRESOLVED = re.compile(r"fontname: unable to resolve")
_RESOLVED = re.compile(r'fontname: "(?P<asked>[^"]*)" resolved to: .*?"(?P<got>[^",]*)')


class RenderFailure(Exception):
    """One chart could not be rendered; the others go on."""


@dataclass(frozen=True)
class Toolchain:
    dot: str
    font: str
    font_file: fonts.FontFile | None = None
    trimmed: trimfont.TrimmedFont | None = None  # the copy of the font dot draws with (trimfont.py)


@cache
def toolchain(font: str = style.DEFAULT_FONT) -> Toolchain:
    """Find `dot` and the file fontconfig draws `font` with, before anything
    is written.  Whether dot measures text with pango in that font is also
    checked on every run, from its verbose log, at no extra cost."""
    dot = shutil.which("dot")
    if dot is None:
        raise MissingGraphviz(f"找不到 Graphviz 的 dot 命令，无法生成图。请先安装：{INSTALL_HINT}")
    font_file = fonts.resolve(font)
    if font_file is None and shutil.which("fc-match"):
        raise missing_font(font)  # without fc-match to ask, dot's log is still checked on every run
    return Toolchain(dot, font, font_file, trimfont.for_font(font))


def missing_font(font: str, substitute: str = "") -> MissingFont:
    instead = f"（Graphviz 用了「{substitute}」代替，中文会显示成方框）" if substitute else "（中文会显示成方框）"
    return MissingFont(f"找不到字体「{font}」{instead}。请安装：{INSTALL_HINT}；"
                       "或用 --font 指定已安装的中文字体（fc-list :lang=zh 可列出）")


# Where a chart too tall for one page is cut, and the drawing of its further
# pages' header: ((the chart's drawing, the cuts), the header's outputs).
Windows = tuple[tuple["pages.Drawing", list[float]], dict[str, bytes]]


@dataclass
class Drawn:
    """One chart's outputs as dot wrote them, before `finish`."""
    outputs: dict[str, bytes]
    windows: Windows | None = None
    fallback: str = ""  # why a chart too tall for one page is shrunk onto one after all (for the build's notice)


class DotRuns:
    """The dot processes of one build, so that Ctrl-C can stop them all:
    dot runs in its own session (a timeout kills it with anything it
    started), so the terminal's interrupt does not reach it by itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[bytes]] = set()
        self._started = 0
        self._stopped = False

    def start(self, command: list[str], log: IO[bytes] | None = None,
              environment: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `command`, its stderr written into the file `log` (else dropped)."""
        with self._lock:
            if self._stopped:
                raise RenderFailure("已中断")
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL if log is None else log, start_new_session=True,
                                       env=environment)
            self._live.add(process)
            self._started += 1
            return process

    def wait_started(self, count: int, timeout: float) -> None:
        """Return once `count` runs have started (or the runs were stopped), or after `timeout` seconds.
        Looks without the runs' lock, every 2 ms: the main thread waits here, and a Ctrl-C
        arriving just as it took a lock shared with the dot threads (on leaving
        Condition.__enter__) would leave the lock taken for good and those threads hung."""
        deadline = time.monotonic() + timeout
        while self._started < count and not self._stopped and time.monotonic() < deadline:
            time.sleep(0.002)

    def finished(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._live.discard(process)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for process in self._live:
                _kill_group(process)


def render(dot_text: str, formats: tuple[str, ...], tools: Toolchain,
           timeout: float = style.DOT_TIMEOUT_SECONDS, dpi: int = style.DEFAULT_DPI,
           page: Page | None = None) -> dict[str, bytes]:
    """Lay one chart out once and return each format's bytes."""
    (result,) = render_many([dot_text], formats, tools, timeout, dpi=dpi, page=page)
    if isinstance(result, RenderFailure):
        raise result
    return result


def render_many(dot_texts: list[str], formats: tuple[str, ...], tools: Toolchain,
                timeout: float = style.DOT_TIMEOUT_SECONDS,
                runs: DotRuns | None = None, scratch: Path | None = None,
                dpi: int = style.DEFAULT_DPI, page: Page | None = None,
                continuation: Callable[[int, int], str] | None = None) -> list[dict[str, bytes] | RenderFailure]:
    """Lay several charts out in one `dot` process and finish each output
    (see `draw_many` and `finish`)."""
    drawn = draw_many(dot_texts, formats, tools, timeout, runs, scratch, page, continuation)
    return [finish(result, dot_text, formats, tools, dpi, scratch, page)
            for result, dot_text in zip(drawn, dot_texts, strict=True)]


def draw_many(dot_texts: list[str], formats: tuple[str, ...], tools: Toolchain,
              timeout: float = style.DOT_TIMEOUT_SECONDS,
              runs: DotRuns | None = None, scratch: Path | None = None, page: Page | None = None,
              continuation: Callable[[int, int], str] | None = None) -> list[Drawn | RenderFailure]:
    """Lay several charts out in one `dot` process, each once for all formats;
    the outputs as dot wrote them, to be passed through `finish`.  A chart too
    tall for one `page` gets where it breaks into pages and, drawn from
    `continuation(number, pages)`, the header of its further pages.

    Starting dot and loading the CJK font cost more than laying a chart out,
    so one process for many charts is over twice as fast.  If that run fails
    in any way, each chart is run on its own, so a failure is pinned to its
    chart and the others still come out.  `timeout` holds for each chart:
    the run is stopped when dot finished no chart for that long.  Working
    files go into a new folder inside `scratch` (the output folder's
    temporary area, so that a later build removes what a killed one left).
    """
    # PNG is drawn from the finished PDF, at `dpi` (raster.py), not by dot
    drawn = tuple(dict.fromkeys("pdf" if f == "png" else f for f in formats if f != "dot"))
    if "pdf" in drawn and continuation:
        drawn += ("json0",)  # where the step bands are, should the chart continue on more pages
    runs = runs or DotRuns()
    page = page or Page()
    results = _draw(dot_texts, drawn, tools, timeout, runs, scratch) if drawn else [{} for _ in dot_texts]
    from . import pages

    ends: dict[int, tuple[pages.Drawing, list[float]]] = {}
    for number, result in enumerate(results):
        if not (continuation and isinstance(result, dict) and "json0" in result) \
                or not pages.continues(*pages.size(result["json0"]), page):
            continue  # the json0 read no further: the chart fits its page
        plan = pages.drawing(result["json0"])
        if plan:
            ends[number] = (plan, pages.cuts(plan, page))
    headers: dict[int, dict[str, bytes] | RenderFailure] = {}
    if ends and continuation:  # a second, small drawing only for the charts that continue
        numbers = sorted(ends)
        drawn_headers = _draw([continuation(n, len(ends[n][1])) for n in numbers], ("pdf", "json0"),
                              tools, timeout, runs, scratch)
        headers = dict(zip(numbers, drawn_headers, strict=True))
    finished: list[Drawn | RenderFailure] = []
    for number, result in enumerate(results):
        header = headers.get(number)
        if isinstance(result, RenderFailure):
            finished.append(result)
            continue
        result.pop("json0", None)
        if isinstance(header, RenderFailure):
            finished.append(Drawn(result, None, _one_page_instead(ends[number][0], page, header)))
        else:
            finished.append(Drawn(result, (ends[number], header) if isinstance(header, dict) else None))
    return finished


def _one_page_instead(plan: pages.Drawing, page: Page, failure: RenderFailure) -> str:
    """The chart itself was drawn, only its further pages' header was not: rather
    than lose the chart, it is shrunk onto one page (as before continuation pages),
    and the build says so."""
    from . import pages

    size = style.FONT_SIZE * pages.one_page_scale(plan.width, plan.height, page)
    return (f"续页的「（续）」标题和页码画不出（{failure}），改为整张图缩小排在一页上，正文约 {size:.1f} 磅；"
            "可用 build --force 重试")


def _draw(dot_texts: list[str], drawn: tuple[str, ...], tools: Toolchain, timeout: float, runs: DotRuns,
          scratch: Path | None) -> list[dict[str, bytes] | RenderFailure]:
    """Each DOT text drawn in `drawn` formats: in one dot run, or one by one if that fails."""
    with tempfile.TemporaryDirectory(prefix="riskchart-", dir=scratch) as work:
        inputs = []
        for number, dot_text in enumerate(dot_texts):
            inputs.append(Path(work) / f"{number:05d}.dot")
            inputs[-1].write_text(dot_text, encoding="utf-8")
        try:
            _run_dot(runs, tools, drawn, inputs, timeout)
            return [_collect(path, drawn) for path in inputs]
        except RenderFailure as failure:
            if len(inputs) == 1:
                return [failure]
            return [_render_alone(runs, tools, drawn, path, timeout) for path in inputs]


def _render_alone(runs: DotRuns, tools: Toolchain, drawn: tuple[str, ...], path: Path,
                  timeout: float) -> dict[str, bytes] | RenderFailure:
    try:
        _run_dot(runs, tools, drawn, [path], timeout)
        return _collect(path, drawn)
    except RenderFailure as failure:
        return failure


def _collect(path: Path, drawn: tuple[str, ...]) -> dict[str, bytes]:
    outputs = {}
    for fmt in drawn:
        written = path.with_name(f"{path.name}.{fmt}")  # dot -O names outputs after the input
        if not written.is_file() or written.stat().st_size == 0:
            raise RenderFailure(f"Graphviz 报告成功，却没有写出 {fmt} 文件")
        outputs[fmt] = written.read_bytes()
    return outputs


def finish(drawn: Drawn | RenderFailure, dot_text: str, formats: tuple[str, ...], tools: Toolchain,
           dpi: int = style.DEFAULT_DPI, scratch: Path | None = None,
           page: Page | None = None) -> dict[str, bytes] | RenderFailure:
    """One chart's outputs as written: the DOT text added, the PDF fitted to
    the page (or cut into pages) with every glyph checked (and repaired), the
    SVG's fonts completed, the PNG drawn from the finished PDF at `dpi`."""
    if isinstance(drawn, RenderFailure):
        return drawn
    outputs, windows, page = drawn.outputs, drawn.windows, page or Page()
    if "dot" in formats:
        outputs["dot"] = dot_text.encode("utf-8")
    if "pdf" in outputs:
        from . import glyphs, pages

        try:
            if windows:
                (plan, ends), header = windows
                outputs["pdf"] = pages.on_pages(outputs["pdf"], plan, ends, header["pdf"],
                                                pages.header_boxes(header["json0"]), page)
            else:
                outputs["pdf"] = fit_to_page(outputs["pdf"], page)
        except glyphs.UndrawableGlyphs as failure:
            return RenderFailure(str(failure))
    if "png" in formats:
        undrawn = _add_png(outputs, formats, dpi, scratch)
        if undrawn:
            return undrawn
    if "svg" in outputs:
        outputs["svg"] = with_font_fallbacks(_first_graph_id(outputs["svg"]), tools.font)
    return outputs


def _first_graph_id(svg: bytes) -> bytes:
    """The id dot gives a chart's drawing when it is the first graph of its
    run: Graphviz 2.43 names every later graph of one run "page0,1_graph0",
    so without this the SVG would depend on how the charts were batched."""
    return svg.replace(b'<g id="page0,1_graph0" class="graph"', b'<g id="graph0" class="graph"', 1)


def _add_png(outputs: dict[str, bytes], formats: tuple[str, ...], dpi: int, scratch: Path | None) -> RenderFailure | None:
    """The page at `dpi` as PNG; a continued chart's pages one under another (a PNG holds one picture)."""
    from . import raster

    pdf = outputs["pdf"] if "pdf" in formats else outputs.pop("pdf")
    try:
        outputs["png"] = raster.pages_png(pdf, dpi, scratch)
    except raster.RasterFailure as failure:
        return RenderFailure(str(failure))
    return None


def _run_dot(runs: DotRuns, tools: Toolchain, drawn: tuple[str, ...], inputs: list[Path], timeout: float) -> None:
    command = [tools.dot, "-v", *(f"-T{fmt}" for fmt in drawn), "-O", *map(str, inputs)]
    # The verbose log goes to a file, not a pipe: dot writes it a line at a time (hundreds
    # of lines a batch), and a pipe would wake this thread for every one of them.
    log_file = inputs[0].with_name(f"{inputs[0].name}.log")
    try:
        with log_file.open("wb") as log_writer:
            process = runs.start(command, log_writer, tools.trimmed.environment if tools.trimmed else None)
    except OSError as error:
        raise RenderFailure(f"无法运行 Graphviz：{error}") from None
    try:
        _wait(process, [[path.with_name(f"{path.name}.{fmt}") for fmt in drawn] for path in inputs], timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait()
        raise RenderFailure(f"Graphviz 超时：{timeout:g} 秒内未完成（可用 --timeout 调整）") from None
    except BaseException:
        _kill_group(process)
        raise
    finally:
        runs.finished(process)
    try:
        log = log_file.read_bytes().decode("utf-8", "replace")
    except OSError as error:
        raise RenderFailure(f"读不到 Graphviz 的日志：{error}") from None
    problems = _problems(log)
    if process.returncode < 0:
        name = _signal_name(-process.returncode)
        raise RenderFailure(f"Graphviz 崩溃（被信号 {name} 终止）{('：' + problems) if problems else ''}")
    if process.returncode != 0:
        raise RenderFailure(f"Graphviz 出错（退出码 {process.returncode}）：{problems or '没有错误信息'}")
    _check_text_layout(log, tools.font)
    fatal = [line for line in log.splitlines() if _FATAL_WARNINGS.search(line)]
    if fatal:
        raise RenderFailure("Graphviz 警告，生成的图不可靠：" + "；".join(fatal[:3]))


def _wait(process: subprocess.Popen[bytes], outputs: list[list[Path]], timeout: float) -> None:
    """Return once dot exits; TimeoutExpired when it finished no chart (wrote
    all of that chart's outputs) for `timeout` seconds."""
    finished = 0
    deadline = time.monotonic() + timeout
    with _exit_signal(process) as exited:
        while True:
            if exited(max(0.0, min(_POLL_SECONDS, deadline - time.monotonic()))):
                return
            before = finished
            while finished < len(outputs) and all(path.exists() for path in outputs[finished]):
                finished += 1
            if finished > before:
                deadline = time.monotonic() + timeout
            elif time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(process.args, timeout)


@contextlib.contextmanager
def _exit_signal(process: subprocess.Popen[bytes]) -> Iterator[Callable[[float], bool]]:
    """A function that waits up to some seconds for `process` to exit and says
    whether it did.  On Linux a pidfd wakes the waiter the moment dot exits;
    elsewhere Popen.wait polls (it sleeps up to 50 ms between looks)."""
    try:
        pidfd = os.pidfd_open(process.pid)  # Linux only
        watch = select.poll()  # not select(): it fails for descriptors past 1023
        watch.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pidfd = None

    def exited(seconds: float) -> bool:
        if pidfd is not None:
            watch.poll(seconds * 1000)
            return process.poll() is not None
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    try:
        yield exited
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _problems(log: str) -> str:
    """The lines of a verbose log that report a problem, with their context."""
    lines = log.splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith(("Error", "Warning"))]
    if not found:
        return ""
    return "\n".join(lines[found[0]:found[0] + 3]).strip()


def _check_text_layout(log: str, font: str) -> None:
    """Refuse a run that measured text without pango or without the CJK font."""
    if "textlayout" not in log:
        raise MissingGraphviz(
            "这个 Graphviz 没有 pango 文字排版插件，中文宽度会算错、方框会太窄。"
            f"请安装完整版：{INSTALL_HINT}")
    if _UNRESOLVED.search(log):
        raise missing_font(font)
    wanted = font.split(",")[0].strip().lower()
    for resolved in _RESOLVED.finditer(log):
        if resolved["asked"].lower() == font.lower() and not resolved["got"].lower().startswith(wanted):
            raise missing_font(font, resolved["got"])


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def fit_to_page(pdf: bytes, page: Page | None = None) -> bytes:
    """Put the one-page drawing on `page` (A4 portrait unless given): at the
    top of the printable area, centred across, never enlarged (it is laid
    out at its printed size, page.py), shrunk only as far as it must.

    The page's content is wrapped in one transformation and its box set to
    the page; images stay as cairo wrote them, and so do fonts, except outlines
    that cannot be drawn, which are redrawn from the installed font
    (glyphs.py; raises UndrawableGlyphs for what cannot be repaired).
    """
    import pikepdf

    from . import glyphs

    page = page or Page()
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        sheet = document.pages[0]
        left, bottom, right, top = (float(v) for v in sheet.MediaBox)
        width, height = right - left, top - bottom
        scale = min(page.printable_width / width, page.printable_height / height, style.MAX_SCALE)
        x = (page.width - width * scale) / 2 - left * scale
        y = page.height - style.PAGE_MARGIN - height * scale - bottom * scale
        sheet.contents_add(pikepdf.Stream(document, f"q {scale:.6f} 0 0 {scale:.6f} {x:.3f} {y:.3f} cm\n".encode()),
                           prepend=True)
        sheet.contents_add(pikepdf.Stream(document, b"\nQ\n"), prepend=False)
        sheet.MediaBox = pikepdf.Array([0, 0, page.width, page.height])
        glyphs.repair_fonts(document)
        for other in ("/CropBox", "/TrimBox", "/BleedBox", "/ArtBox"):
            if other in sheet.obj:
                del sheet.obj[other]
        # the chart's extent on the page, for a picture of the chart alone
        sheet.ArtBox = pikepdf.Array([round(v, 3) for v in (x + left * scale, y + bottom * scale,
                                                            x + right * scale, y + top * scale)])
        buffer = io.BytesIO()
        document.save(buffer)
    return buffer.getvalue()


def with_font_fallbacks(svg: bytes, font: str) -> bytes:
    """Name fallbacks after the CJK font, for viewers that lack it."""
    families = ",".join(dict.fromkeys((font, *style.SVG_FONT_FALLBACKS)))
    return svg.replace(f'font-family="{font}"'.encode(), f'font-family="{families}"'.encode())
