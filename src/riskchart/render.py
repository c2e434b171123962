"""Stage 5 — render: DOT text → output bytes, through the `dot` program.

Each chart is laid out once and written in every requested format by one
`dot` run.  Outputs are returned as bytes; writing them into `out/` is the
publish stage's job.  A failing, crashing or hanging `dot` becomes a
`RenderFailure` with the reason; a missing `dot`, text-layout plugin or
CJK font is an environment problem that stops the whole build.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import style
from .errors import MissingFont, MissingGraphviz

FORMATS = ("svg", "pdf", "png", "dot")
INSTALL_HINT = ("Debian/Ubuntu：sudo apt-get install graphviz fonts-noto-cjk；"
                "macOS：brew install graphviz font-noto-sans-cjk；"
                "Windows：winget install Graphviz.Graphviz，并安装思源黑体/Noto Sans CJK")
# stderr lines that mean the drawing is wrong even though dot exited 0.
_FATAL_WARNINGS = re.compile(r"non-ASCII character|too small for content|Could not find|"
                             r"Error|syntax error")
_RESOLVED = re.compile(r'fontname: "(?P<asked>[^"]*)" resolved to: .*?"(?P<got>[^",]*)')


class RenderFailure(Exception):
    """One chart could not be rendered; the others go on."""


@dataclass(frozen=True)
class Toolchain:
    dot: str
    font: str
    version: str


@lru_cache(maxsize=None)
def toolchain(font: str = style.DEFAULT_FONT) -> Toolchain:
    """Find `dot` and check it measures text with pango in a real CJK font."""
    dot = shutil.which("dot")
    if dot is None:
        raise MissingGraphviz(f"找不到 Graphviz 的 dot 命令，无法生成图。请先安装：{INSTALL_HINT}")
    probe = f'digraph {{ a [fontname="{font}", label="中文"] }}'
    try:
        run = subprocess.run([dot, "-v", "-Tsvg", "-o", "/dev/null"], input=probe.encode(),
                             capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MissingGraphviz(f"无法运行 {dot}：{error}") from error
    log = run.stderr.decode("utf-8", "replace")
    if "textlayout" not in log:
        raise MissingGraphviz(
            "这个 Graphviz 没有 pango 文字排版插件，中文宽度会算错、方框会太窄。"
            f"请安装完整版：{INSTALL_HINT}")
    resolved = _RESOLVED.search(log)
    got = resolved["got"] if resolved else ""
    if not got.lower().startswith(font.lower().split(",")[0].strip()):
        raise MissingFont(
            f"找不到字体「{font}」（Graphviz 用了「{got or '未知字体'}」代替，中文会显示成方框）。"
            f"请安装：{INSTALL_HINT}；或用 --font 指定已安装的中文字体（fc-list :lang=zh 可列出）")
    version = next((line for line in log.splitlines() if "graphviz version" in line), "graphviz")
    return Toolchain(dot, font, version.strip())


def render(dot_text: str, formats: tuple[str, ...], tools: Toolchain,
           timeout: float = style.DOT_TIMEOUT_SECONDS) -> dict[str, bytes]:
    """Lay the DOT out once and return each format's bytes."""
    outputs: dict[str, bytes] = {}
    if "dot" in formats:
        outputs["dot"] = dot_text.encode("utf-8")
    drawn = [f for f in formats if f != "dot"]
    if not drawn:
        return outputs
    with tempfile.TemporaryDirectory(prefix="riskchart-") as scratch:
        command = [tools.dot]
        for fmt in drawn:
            command += [f"-T{fmt}", f"-o{Path(scratch) / ('chart.' + fmt)}"]
        _run_dot(command, dot_text, timeout)
        for fmt in drawn:
            written = Path(scratch) / f"chart.{fmt}"
            if not written.is_file() or written.stat().st_size == 0:
                raise RenderFailure(f"Graphviz 报告成功，却没有写出 {fmt} 文件")
            outputs[fmt] = written.read_bytes()
    if "pdf" in outputs:
        outputs["pdf"] = fit_to_a4(outputs["pdf"])
    if "svg" in outputs:
        outputs["svg"] = with_font_fallbacks(outputs["svg"], tools.font)
    return outputs


def _run_dot(command: list[str], dot_text: str, timeout: float) -> None:
    # Its own session, so a timeout or Ctrl-C can kill dot and anything it started.
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except OSError as error:
        raise RenderFailure(f"无法运行 Graphviz：{error}") from None
    try:
        _, stderr = process.communicate(dot_text.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise RenderFailure(f"Graphviz 超时：{timeout:g} 秒内未完成（可用 --timeout 调整）") from None
    except BaseException:
        _kill(process)
        raise
    log = stderr.decode("utf-8", "replace").strip()
    if process.returncode < 0:
        name = _signal_name(-process.returncode)
        raise RenderFailure(f"Graphviz 崩溃（被信号 {name} 终止）{('：' + log) if log else ''}")
    if process.returncode != 0:
        raise RenderFailure(f"Graphviz 出错（退出码 {process.returncode}）：{log or '没有错误信息'}")
    fatal = [line for line in log.splitlines() if _FATAL_WARNINGS.search(line)]
    if fatal:
        raise RenderFailure("Graphviz 警告，生成的图不可靠：" + "；".join(fatal[:3]))


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def fit_to_a4(pdf: bytes) -> bytes:
    """Scale and centre the one-page drawing onto an A4 portrait page.

    The page's content is wrapped in one transformation and its box set to
    A4; fonts and images stay as cairo wrote them.
    """
    import pikepdf

    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        page = document.pages[0]
        left, bottom, right, top = (float(v) for v in page.MediaBox)
        width, height = right - left, top - bottom
        room_w = style.A4_WIDTH - 2 * style.A4_MARGIN
        room_h = style.A4_HEIGHT - 2 * style.A4_MARGIN
        scale = min(room_w / width, room_h / height, style.A4_MAX_SCALE)
        x = (style.A4_WIDTH - width * scale) / 2 - left * scale
        y = (style.A4_HEIGHT - height * scale) / 2 - bottom * scale
        page.contents_add(pikepdf.Stream(document, f"q {scale:.6f} 0 0 {scale:.6f} {x:.3f} {y:.3f} cm\n".encode()),
                          prepend=True)
        page.contents_add(pikepdf.Stream(document, b"\nQ\n"), prepend=False)
        page.MediaBox = pikepdf.Array([0, 0, style.A4_WIDTH, style.A4_HEIGHT])
        for other in ("/CropBox", "/TrimBox", "/BleedBox", "/ArtBox"):
            if other in page.obj:
                del page.obj[other]
        buffer = io.BytesIO()
        document.save(buffer)
    return buffer.getvalue()


def with_font_fallbacks(svg: bytes, font: str) -> bytes:
    """Name fallbacks after the CJK font, for viewers that lack it."""
    families = ",".join(dict.fromkeys((font, *style.SVG_FONT_FALLBACKS)))
    return svg.replace(f'font-family="{font}"'.encode(), f'font-family="{families}"'.encode())
