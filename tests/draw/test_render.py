"""Rendering through Graphviz: the environment check, failures, A4 PDF, SVG text."""

import io
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import pdf_text, squeeze

from riskchart import style
from riskchart.draw import render
from riskchart.draw.layout import chart_dot, continuation_dot
from riskchart.draw.page import A4_PORTRAIT, Page
from riskchart.errors import MissingFont, MissingGraphviz
from riskchart.model import Chart, Phones, Step

REAL_DOT = shutil.which("dot")
needs_dot = pytest.mark.needs("dot", "cjk-font")

CHART = Chart(path=Path("01-x.yaml"), id=1, category="行政裁决", title="调解仲裁劳动人事争议",
              steps=(Step("申请"), Step("受理", "高", ("故意刁难申请人。",), ("建立受理单制度。",), "受理人")),
              department="某部门", phones=Phones("8583591", "2032510"))


@pytest.fixture(autouse=True)
def fresh_toolchain():
    render.toolchain.cache_clear()
    yield
    render.toolchain.cache_clear()


def stand_in(folder: Path, name: str, real: str | None, body: str) -> Path:
    """A shell script `folder/name` that does `body` (which may call the real tool as $REAL)."""
    folder.mkdir()
    script = folder / name
    script.write_text(f"#!/bin/sh\nREAL={real}\n{body}\n")
    script.chmod(0o755)
    return script


def fake_dot(tmp_path, monkeypatch, body: str) -> None:
    """Put a `dot` on PATH that does `body` (which may call the real one as $REAL)."""
    stand_in(tmp_path / "bin", "dot", REAL_DOT, body)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")


def recording_folders(tmp_path, monkeypatch, fake, suffix: str) -> tuple[Path, Path]:
    """Put a tool on PATH (`fake`: fake_dot or fake_mutool) that notes the folder
    of each input ending in `suffix` and then runs the real one; the file of
    its notes, and an empty scratch folder to hand to render."""
    seen = tmp_path / "seen"
    fake(tmp_path, monkeypatch, f'for a in "$@"; do case $a in *{suffix}) dirname "$a" >> {seen};; esac; done\n'
                                'exec $REAL "$@"')
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return seen, scratch


def test_missing_dot_is_an_environment_problem(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingGraphviz) as raised:
        render.toolchain()
    assert "apt-get install graphviz" in raised.value.message
    assert raised.value.exit_code == 2


@needs_dot
def test_graphviz_without_text_layout_plugin_is_refused(monkeypatch, tmp_path):
    # the real dot draws, but its log no longer shows the pango text-layout plugin
    fake_dot(tmp_path, monkeypatch, '$REAL "$@" 2>&1 >/dev/null | grep -v textlayout >&2')
    with pytest.raises(MissingGraphviz) as raised:
        render.render(chart_dot(CHART), ("svg",), render.toolchain())
    assert raised.value.message.startswith("这个 Graphviz 没有 pango 文字排版插件，中文宽度会算错")


@needs_dot
def test_missing_font_is_refused_with_the_install_command():
    font = "No Such Font 12345"
    with pytest.raises(MissingFont) as raised:
        render.render(chart_dot(CHART, font), ("svg",), render.toolchain(font))
    assert font in raised.value.message
    assert "fonts-noto-cjk" in raised.value.message
    # no substitute to name (dot never ran), and the way out spelt as typed at the prompt
    assert f"找不到字体「{font}」（中文会显示成方框）。请安装：" in raised.value.message
    assert raised.value.message.endswith("；或用 --font 指定已安装的中文字体（fc-list :lang=zh 可列出）")


@needs_dot
@pytest.mark.parametrize("body, reason", [
    ("echo 'Error: syntax error in line 1' >&2; exit 3", "Graphviz 出错（退出码 3）：Error: syntax error in line 1"),
    ("exit 3", "Graphviz 出错（退出码 3）：没有错误信息"),
    # the first problem with the two lines after it, as context
    (r"printf 'layout\nError: first\ncontext 1\ncontext 2\ncontext 3\nWarning: second\n' >&2; exit 1",
     "Graphviz 出错（退出码 1）：Error: first\ncontext 1\ncontext 2"),
    ("echo 'Warning: only a warning' >&2; exit 1", "Graphviz 出错（退出码 1）：Warning: only a warning"),
    ("kill -SEGV $$", "Graphviz 崩溃（被信号 SIGSEGV 终止）"),
    ("echo 'Error: out of memory' >&2; kill -SEGV $$", "Graphviz 崩溃（被信号 SIGSEGV 终止）：Error: out of memory"),
])
def test_dot_failures_become_render_failures(tmp_path, monkeypatch, body, reason):
    fake_dot(tmp_path, monkeypatch, body)
    with pytest.raises(render.RenderFailure) as raised:
        render.render(chart_dot(CHART), ("svg",), render.toolchain())
    assert str(raised.value) == reason


@needs_dot
def test_a_dot_that_cannot_be_started_is_a_render_failure(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "dot").write_text("#!/no/such/interpreter\n")
    (folder / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    with pytest.raises(render.RenderFailure) as raised:
        render.render(chart_dot(CHART), ("svg",), render.toolchain())
    assert str(raised.value).startswith("无法运行 Graphviz：[Errno 2]")


@needs_dot
def test_hanging_dot_times_out(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, "sleep 30 & wait")
    with pytest.raises(render.RenderFailure, match="超时：1 秒"):
        render.render(chart_dot(CHART), ("svg",), render.toolchain(), timeout=1)


@needs_dot
def test_a_batch_pins_a_failure_to_its_chart(tmp_path, monkeypatch):
    # dot fails whenever the chart titled 坏图 is among its inputs
    fake_dot(tmp_path, monkeypatch, 'for a in "$@"; do case $a in *.dot) if grep -q 坏图 "$a"; then '
                                    'echo "Error: bad chart" >&2; exit 1; fi;; esac; done; exec $REAL "$@"')
    from dataclasses import replace

    charts = [CHART, replace(CHART, title="坏图"), replace(CHART, title="好图")]
    results = render.render_many([chart_dot(c) for c in charts], ("svg",), render.toolchain())
    assert isinstance(results[1], render.RenderFailure) and "bad chart" in str(results[1])
    assert "调解仲裁劳动人事争议" in results[0]["svg"].decode() and "好图" in results[2]["svg"].decode()


@needs_dot
@pytest.mark.needs("pdftotext")
def test_one_layout_gives_every_format(tmp_path):
    outputs = render.render(chart_dot(CHART), ("svg", "pdf", "png", "dot"), render.toolchain())
    assert set(outputs) == {"svg", "pdf", "png", "dot"}
    assert outputs["dot"].decode() == chart_dot(CHART)
    svg_text = "".join(ET.fromstring(outputs["svg"]).itertext())
    (tmp_path / "c.pdf").write_bytes(outputs["pdf"])
    for text in (svg_text, pdf_text(tmp_path / "c.pdf")):
        assert "调解仲裁劳动人事争议" in text and "故意刁难申请人。" in squeeze(text) and "建立受理单制度。" in squeeze(text)
    assert outputs["png"].startswith(b"\x89PNG")
    width, height = struct.unpack(">II", outputs["png"][16:24])
    assert width > 400 and height > 300  # the whole chart, not an empty canvas


@needs_dot
def test_an_svg_does_not_depend_on_how_the_charts_were_batched():
    """Graphviz names every graph after the first of a run differently; the SVG of a
    chart is the same drawn alone or second in a batch (a rebuild compares them)."""
    alone = render.render(chart_dot(CHART), ("svg",), render.toolchain())["svg"]
    first, second = render.render_many([chart_dot(CHART)] * 2, ("svg",), render.toolchain())
    assert first["svg"] == second["svg"] == alone


@needs_dot
def test_svg_keeps_text_as_text_with_font_fallbacks():
    svg = render.render(chart_dot(CHART), ("svg",), render.toolchain())["svg"].decode()
    assert "故意刁难申请人。" in svg and "建立受理单制度。" in svg
    assert 'font-family="Noto Sans CJK SC,Source Han Sans SC,Microsoft YaHei' in svg


@needs_dot
@pytest.mark.needs("pdffonts")
def test_pdf_is_one_a4_page_with_embedded_cjk_font(tmp_path):
    import pikepdf

    pdf = render.render(chart_dot(CHART), ("pdf",), render.toolchain())["pdf"]
    with pikepdf.Pdf.open(__import__("io").BytesIO(pdf)) as document:
        assert len(document.pages) == 1
        assert [float(v) for v in document.pages[0].MediaBox] == [0, 0, 595, 842]
        assert len(document.pages[0].Resources.Font) >= 1
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert "NotoSansCJK" in listing
    assert all(line.split()[-5] == "yes" for line in listing.splitlines()[2:])  # emb column


def fitted_box(width_inch: float, height_inch: float, page: Page = A4_PORTRAIT,
               ) -> tuple[float, float, float, float, float]:
    """Where a drawing of that size lands on the page: (left, bottom, right, top) in points,
    and its scale."""
    import pikepdf

    drawn = subprocess.run([REAL_DOT, "-Tpdf"], input=f"digraph {{ margin=0; a [width={width_inch}, height={height_inch}] }}".encode(),
                           capture_output=True, check=True).stdout
    with pikepdf.Pdf.open(io.BytesIO(drawn)) as document:
        _, _, width, height = (float(v) for v in document.pages[0].MediaBox)
    with pikepdf.Pdf.open(io.BytesIO(render.fit_to_page(drawn, page))) as document:
        fitted = document.pages[0]
        assert [float(v) for v in fitted.MediaBox] == [0, 0, page.width, page.height]
        content = b"".join(s.read_bytes() for s in fitted.Contents).decode("latin-1")
    assert content.rstrip().endswith("Q")
    scale, _, _, _, x, y = (float(v) for v in content.split()[1:7])
    return x, y, x + width * scale, y + height * scale, scale


@needs_dot
@pytest.mark.parametrize("page", [A4_PORTRAIT, Page("A4", landscape=True), Page("A3"), Page("A3", landscape=True)])
@pytest.mark.parametrize("width, height, fills", [(14, 2, "width"), (2, 20, "height"), (5, 9, "height")])
def test_fit_to_page_puts_the_drawing_at_the_top_centred_across_shrunk_along_the_limiting_side(
        width, height, fills, page):
    left, bottom, right, top, scale = fitted_box(width, height, page)
    margin = style.PAGE_MARGIN
    assert left >= margin - 0.01 and bottom >= margin - 0.01          # inside the margins
    assert right <= page.width - margin + 0.01
    assert top == pytest.approx(page.height - margin, abs=0.01)       # at the top
    assert abs(left - (page.width - right)) < 0.01                    # centred across
    if scale < 1:
        if fills == "width":
            assert abs(right - left - (page.width - 2 * margin)) < 0.01
        else:
            assert abs(top - bottom - (page.height - 2 * margin)) < 0.01


@needs_dot
def test_a_small_drawing_is_never_enlarged():
    *_, scale = fitted_box(1, 0.5)
    assert scale == 1


@needs_dot
def test_a_warning_that_spoils_the_drawing_fails_even_with_exit_0(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, '$REAL "$@" || exit $?\necho "Warning: node risk_0, port x, size too small for content" >&2')
    with pytest.raises(render.RenderFailure, match="too small for content"):
        render.render(chart_dot(CHART), ("svg",), render.toolchain())


@needs_dot
def test_the_first_three_warnings_that_spoil_the_drawing_are_named(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, '$REAL "$@" || exit $?\n'
                                    "printf 'Warning: a, size too small for content\\nError: b\\n"
                                    "Warning: c has a non-ASCII character\\nWarning: Could not find d\\n' >&2")
    with pytest.raises(render.RenderFailure) as raised:
        render.render(chart_dot(CHART), ("svg",), render.toolchain())
    assert str(raised.value) == ("Graphviz 警告，生成的图不可靠：Warning: a, size too small for content；Error: b；"
                                 "Warning: c has a non-ASCII character")


@needs_dot
def test_a_log_that_is_not_utf8_is_still_read(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, '$REAL "$@" || exit $?\nprintf "network simplex: \\377\\376\\n" >&2')
    assert b"</svg>" in render.render(chart_dot(CHART), ("svg",), render.toolchain())["svg"]


@needs_dot
def test_a_dot_that_lingers_after_writing_every_output_is_waited_for(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, '$REAL "$@" || exit $?\nsleep 1')
    results = render.render_many([chart_dot(CHART)] * 2, ("svg",), render.toolchain())
    assert all(b"</svg>" in result["svg"] for result in results)


@needs_dot
def test_a_lone_failing_chart_is_not_drawn_again_and_a_failing_pair_is_drawn_one_by_one(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    fake_dot(tmp_path, monkeypatch, f'echo run >> {runs}\necho "Error: bad" >&2; exit 1')
    (alone,) = render.render_many([chart_dot(CHART)], ("svg",), render.toolchain())
    assert isinstance(alone, render.RenderFailure) and runs.read_text().count("run") == 1
    runs.unlink()
    pair = render.render_many([chart_dot(CHART)] * 2, ("svg",), render.toolchain())
    assert [str(r) for r in pair] == ["Graphviz 出错（退出码 1）：Error: bad"] * 2
    assert runs.read_text().count("run") == 3  # the batch, then each chart alone


@needs_dot
def test_an_interrupt_while_waiting_for_dot_kills_it_and_what_it_started(tmp_path, monkeypatch):
    child = tmp_path / "child.pid"
    fake_dot(tmp_path, monkeypatch, f"sleep 30 & echo $! > {child}; wait")

    def interrupted(process, outputs, timeout):  # Ctrl-C while dot runs
        deadline = time.monotonic() + 30
        while (not child.is_file() or not child.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render.render(chart_dot(CHART), ("svg",), render.toolchain())
    grandchild = int(child.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(1000):  # killed with its group; give the kernel a moment to reap it
            os.kill(grandchild, 0)
            time.sleep(0.01)


@needs_dot
def test_a_finished_dot_is_not_signalled_when_the_runs_are_stopped(monkeypatch):
    runs = render.DotRuns()
    render.render_many([chart_dot(CHART)], ("svg",), render.toolchain(), runs=runs)
    signalled: list[int] = []
    monkeypatch.setattr(render, "_kill_group", lambda process: signalled.append(process.pid))
    runs.stop()
    assert signalled == []  # its process id may be another program's by now


@needs_dot
def test_a_chart_is_drawn_the_same_under_a_locale_that_is_not_utf8():
    """The DOT file is written as UTF-8 whatever the locale (a GBK or ASCII one would
    mangle the Chinese text dot reads): LC_ALL=C without Python's UTF-8 mode here."""
    import sys

    dot_text = chart_dot(CHART)
    here = render.render(dot_text, ("svg",), render.toolchain())["svg"]
    program = ("import sys; from riskchart.draw import render; sys.stdout.buffer.write("
               "render.render(sys.stdin.buffer.read().decode('utf-8'), ('svg',), render.toolchain())['svg'])")
    ascii_locale = {**os.environ, "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    there = subprocess.run([sys.executable, "-c", program], input=dot_text.encode(), capture_output=True,
                           env=ascii_locale, check=True).stdout
    assert there == here


@needs_dot
def test_an_empty_output_file_is_a_failure(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, '$REAL "$@" || exit $?\nfor a in "$@"; do case $a in *.dot) : > "$a.svg";; esac; done')
    with pytest.raises(render.RenderFailure, match="没有写出 svg"):
        render.render(chart_dot(CHART), ("svg",), render.toolchain())


@needs_dot
def test_a_batch_times_out_only_when_no_chart_finishes_within_the_timeout(tmp_path, monkeypatch):
    # dot takes over 1 s per chart, one after another: 3 charts in one run need over 3 s,
    # more than the 2 s timeout, yet a chart finishes every 2 s
    runs = tmp_path / "runs"
    fake_dot(tmp_path, monkeypatch, f'echo run >> {runs}\n'
                                    'options=; for a in "$@"; do case $a in *.dot) ;; *) options="$options $a";; esac; done\n'
                                    'for a in "$@"; do case $a in *.dot) sleep 1; $REAL $options "$a" || exit $?;; esac; done')
    results = render.render_many([chart_dot(CHART)] * 3, ("svg",), render.toolchain(), timeout=2)
    assert all(isinstance(r, dict) for r in results)
    assert runs.read_text().count("run") == 1  # not retried chart by chart after a timeout


def test_a_signal_without_a_name_is_shown_by_number():
    assert render._signal_name(9) == "SIGKILL"
    assert render._signal_name(200) == "200"


def test_stopping_the_runs_kills_dot_and_what_it_started_and_refuses_new_ones(tmp_path):
    runs = render.DotRuns()
    child = tmp_path / "child.pid"
    process = runs.start(["sh", "-c", f"sleep 30 & echo $! > {child}; wait"])
    while not child.is_file() or not child.read_text().strip():
        time.sleep(0.01)
    runs.stop()
    assert process.wait(10) == -signal.SIGKILL
    grandchild = int(child.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(1000):  # killed with its group; give the kernel a moment to reap it
            os.kill(grandchild, 0)
            time.sleep(0.01)
    with pytest.raises(render.RenderFailure, match="已中断"):
        runs.start(["true"])


def test_dot_reads_nothing_and_writes_nothing_on_our_terminal(tmp_path):
    """dot gets its input files and writes its outputs next to them: its standard input
    and output (and its error output, unless given a log file) are /dev/null, never the
    terminal or pipe riskchart was started with."""
    seen = tmp_path / "seen"
    read, write = os.pipe()
    ours = os.dup(0), os.dup(1), os.dup(2)
    try:
        os.dup2(read, 0)
        os.dup2(write, 1)
        os.dup2(write, 2)
        # read into variables first: a redirection of the loop itself would change what it reads
        script = f"fds=$(for fd in 0 1 2; do readlink /proc/$$/fd/$fd; done); echo $fds > {seen}"
        render.DotRuns().start(["sh", "-c", script]).wait()
    finally:
        for fd, saved in enumerate(ours):
            os.dup2(saved, fd)
            os.close(saved)
        os.close(read)
        os.close(write)
    assert seen.read_text().split() == ["/dev/null"] * 3


def test_waiting_for_runs_to_start_ends_once_they_have_or_the_runs_are_stopped():
    runs = render.DotRuns()
    waiter = threading.Thread(target=runs.wait_started, args=(2, 60))
    waiter.start()
    runs.start(["true"]).wait()
    waiter.join(0.2)
    assert waiter.is_alive()  # one run of the two
    runs.start(["true"]).wait()
    waiter.join(30)
    assert not waiter.is_alive()
    stopped = threading.Thread(target=runs.wait_started, args=(5, 60))
    stopped.start()
    runs.stop()
    stopped.join(30)
    assert not stopped.is_alive()


def test_waiting_for_runs_to_start_looks_every_few_milliseconds(monkeypatch):
    """The build's main thread waits here for dot to start: a long nap would delay every build."""
    naps: list[float] = []

    class Clock:  # the time module as render sees it (other threads' naps are not counted)
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            naps.append(seconds)
            time.sleep(seconds)

    monkeypatch.setattr(render, "time", Clock)
    render.DotRuns().wait_started(1, 0.05)  # nothing starts: it waits the whole 0.05 s
    assert naps and max(naps) <= 0.01


@needs_dot
def test_dots_log_is_read_from_its_file_once_dot_exits(tmp_path, monkeypatch):
    # a log far longer than a pipe holds, written a line at a time as dot -v does
    fake_dot(tmp_path, monkeypatch, 'i=0; while [ $i -lt 3000 ]; do echo "network simplex: $i" >&2; i=$((i+1)); done\n'
                                    'echo "Warning: node risk_0, port x, size too small for content" >&2\n$REAL "$@"')
    with pytest.raises(render.RenderFailure, match="too small for content"):
        render.render(chart_dot(CHART), ("svg",), render.toolchain())


def test_fit_to_page_moves_a_page_whose_box_does_not_start_at_zero():
    import pikepdf

    document = pikepdf.new()
    document.add_blank_page(page_size=(300, 400))
    document.pages[0].MediaBox = pikepdf.Array([100, 200, 400, 600])  # 300 × 400 pt, away from the origin
    boxes = ("/CropBox", "/TrimBox", "/BleedBox", "/ArtBox")
    for box in boxes:  # a viewer would show only these old boxes of the new page
        document.pages[0].obj[box] = pikepdf.Array([100, 200, 400, 600])
    buffer = io.BytesIO()
    document.save(buffer)
    with pikepdf.Pdf.open(io.BytesIO(render.fit_to_page(buffer.getvalue()))) as fitted:
        content = b"".join(s.read_bytes() for s in fitted.pages[0].Contents).decode("latin-1")
        assert [box for box in boxes[:3] if box in fitted.pages[0].obj] == []
        art_box = [float(v) for v in fitted.pages[0].ArtBox]
    x = (595 - 300) / 2 - 100
    y = 842 - style.PAGE_MARGIN - 400 - 200
    # the old ArtBox replaced by the drawing's extent on the page (a picture of the chart alone)
    assert art_box == pytest.approx([x + 100, y + 200, x + 400, y + 600])
    assert content.startswith(f"q 1.000000 0 0 1.000000 {x:.3f} {y:.3f} cm")


@pytest.mark.parametrize("left, bottom, width, height", [(100, 200, 1190, 1000), (-300, 50, 700, 3000)])
def test_fit_to_page_shrinks_a_page_whose_box_does_not_start_at_zero(left, bottom, width, height):
    """Shrunk as well as moved: the box's corner is scaled with the drawing."""
    import pikepdf

    document = pikepdf.new()
    document.add_blank_page(page_size=(width, height))
    document.pages[0].MediaBox = pikepdf.Array([left, bottom, left + width, bottom + height])
    buffer = io.BytesIO()
    document.save(buffer)
    with pikepdf.Pdf.open(io.BytesIO(render.fit_to_page(buffer.getvalue()))) as fitted:
        content = b"".join(s.read_bytes() for s in fitted.pages[0].Contents).decode("latin-1")
        art_box = [float(v) for v in fitted.pages[0].ArtBox]
    scale, _, _, _, x, y = (float(v) for v in content.split()[1:7])
    margin = style.PAGE_MARGIN
    assert scale == pytest.approx(min((595 - 2 * margin) / width, (842 - 2 * margin) / height), abs=1e-6)
    # the drawing's corners land where its box is drawn: centred across, at the top margin
    assert x + left * scale == pytest.approx((595 - width * scale) / 2, abs=2e-3)
    assert y + (bottom + height) * scale == pytest.approx(842 - margin, abs=2e-3)
    assert art_box == pytest.approx([(595 - width * scale) / 2, 842 - margin - height * scale,
                                     (595 + width * scale) / 2, 842 - margin], abs=2e-3)
    assert all(round(v, 3) == v for v in art_box)  # in thousandths of a point, as the page's transformation


def test_a_log_saying_the_font_is_unresolved_is_a_missing_font():
    log = 'Activated plugin library: libgvplugin_pango.so.6\ntextlayout\nfontname: unable to resolve "Noto Sans CJK SC"\n'
    with pytest.raises(MissingFont, match=r"找不到字体「Noto Sans CJK SC」.*fonts-noto-cjk"):
        render._check_text_layout(log, "Noto Sans CJK SC")


def test_a_log_showing_another_font_drawn_names_the_substitute():
    # a font of the same family but without the CJK glyphs: only the whole name tells it apart
    log = ('textlayout\nfontname: "Noto Sans CJK SC" resolved to: (PangoCairoFcFont) "Noto Sans, Regular" '
           '/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf\n')  # as dot -v writes it
    with pytest.raises(MissingFont, match="找不到字体「Noto Sans CJK SC」（Graphviz 用了「Noto Sans」代替"):
        render._check_text_layout(log, "Noto Sans CJK SC")
    render._check_text_layout(log.replace('"Noto Sans,', '"Noto Sans CJK SC,'), "Noto Sans CJK SC")


def test_a_font_list_is_drawn_in_its_first_family_and_other_fonts_resolve_as_they_may():
    """--font may name fallbacks after a comma: the first family is the one to be drawn;
    how dot resolves a font riskchart did not ask for (a default) is not checked."""
    log = ('textlayout\nfontname: "Times-Roman" resolved to: (PangoCairoFcFont) "DejaVu Serif, Book" '
           '/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf\n'
           'fontname: "Noto Sans CJK SC,Noto Sans" resolved to: (PangoCairoFcFont) "Noto Sans CJK SC, Regular" '
           '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc\n')
    render._check_text_layout(log, "Noto Sans CJK SC,Noto Sans")


@needs_dot
def test_dot_works_in_the_scratch_folder_it_is_given(tmp_path, monkeypatch):
    """So that a later build removes what a killed one left (files.remove_scratch_folder)."""
    seen, scratch = recording_folders(tmp_path, monkeypatch, fake_dot, ".dot")
    render.render_many([chart_dot(CHART)], ("svg",), render.toolchain(), scratch=scratch)
    (folder,) = set(seen.read_text().split())
    assert Path(folder).parent == scratch and not Path(folder).exists()


def svg_width(svg: bytes) -> float:
    return float(re.search(rb'<svg width="([\d.]+)pt"', svg).group(1))


@needs_dot
@pytest.mark.parametrize("run", ["→" * 35, "※" * 35, "W" * 40, "@" * 40, "1234567890" * 6, "→※W@1" * 12])
def test_runs_of_wide_symbols_wrap_inside_their_column(run):
    """Widths come from the font: a run of arrows must wrap, not widen the chart."""
    import dataclasses

    tools = render.toolchain()
    normal = svg_width(render.render(chart_dot(CHART), ("svg",), tools)["svg"])
    step = dataclasses.replace(CHART.steps[1], risks=(run,), measures=(run,))
    wide = dataclasses.replace(CHART, steps=(CHART.steps[0], step))
    assert svg_width(render.render(chart_dot(wide), ("svg",), tools)["svg"]) == normal


@needs_dot
def test_render_lays_the_chart_out_on_the_page_it_is_given():
    import pikepdf

    pdf = render.render(chart_dot(CHART), ("pdf",), render.toolchain(), page=Page("A3", landscape=True))["pdf"]
    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        assert [float(v) for v in document.pages[0].MediaBox] == [0, 0, 1191, 842]


def tall_chart(steps: int) -> Chart:
    """Four long risks and measures a step: 8 steps print under 7 pt on one A4 page, not on A3."""
    return Chart(path=Path("01-x.yaml"), id=1, category="行政裁决", title="长图", department="某部门",
                 phones=Phones("8583591", "2032510"),
                 steps=tuple(Step(f"第{s}环节", "中",
                                  tuple(f"第{s}环节风险{i}，未按规定程序办理相关事项，存在优亲厚友、吃拿卡要的可能。"
                                        for i in range(1, 5)),
                                  tuple(f"第{s}环节措施{i}，严格执行相关制度，加强内部监督检查和责任追究。"
                                        for i in range(1, 5)), "经办人")
                             for s in range(1, steps + 1)))


@needs_dot
@pytest.mark.parametrize("page, continues", [(A4_PORTRAIT, True), (Page("A3"), False)])
def test_render_many_continues_a_chart_too_tall_for_the_page_it_is_given(page, continues):
    """render_many (as `riskchart diff` calls it) continues a chart that would print
    under 7 pt on one page, judged on the page it is given: on A3 the same chart fits."""
    import pikepdf

    tall = tall_chart(8)
    (result,) = render.render_many([chart_dot(tall, page=page)], ("pdf",), render.toolchain(), page=page,
                                   continuation=lambda number, count: continuation_dot(tall, count))
    with pikepdf.Pdf.open(io.BytesIO(result["pdf"])) as document:
        assert (len(document.pages) > 1) == continues
        assert {tuple(float(v) for v in sheet.MediaBox) for sheet in document.pages} == {(0, 0, page.width, page.height)}


@needs_dot
def test_render_many_starts_no_dot_once_its_runs_are_stopped(tmp_path, monkeypatch):
    """The runs passed in are the ones used: after Ctrl-C stopped them, no chart is drawn."""
    started = tmp_path / "started"
    fake_dot(tmp_path, monkeypatch, f'echo run >> {started}\nexec $REAL "$@"')
    runs = render.DotRuns()
    runs.stop()
    results = render.render_many([chart_dot(CHART)] * 2, ("svg",), render.toolchain(), runs=runs)
    assert [str(r) for r in results] == ["已中断", "已中断"]
    assert not started.exists()


def fake_mutool(tmp_path, monkeypatch, body: str) -> None:
    """Put a `mutool` on PATH that does `body` (which may call the real one as $REAL)."""
    from riskchart.draw import raster

    script = stand_in(tmp_path / "mutool-bin", "mutool", shutil.which("mutool"), body)
    monkeypatch.setattr(raster, "mutool", lambda: str(script))  # not on PATH: raster.mutool() is cached


@needs_dot
@pytest.mark.needs("mutool")
def test_a_png_alone_is_drawn_at_the_dpi_it_is_given_and_the_pdf_is_not_returned():
    outputs = render.render(chart_dot(CHART), ("png",), render.toolchain(), dpi=36)
    assert set(outputs) == {"png"}  # the PDF it was drawn from is not an output
    width, height = struct.unpack(">II", outputs["png"][16:24])
    assert (width, height) == (math.ceil(595 * 36 / 72), math.ceil(842 * 36 / 72))  # the whole A4 page at 36 dpi


@needs_dot
@pytest.mark.needs("mutool")
def test_mupdf_draws_the_png_in_the_scratch_folder_it_is_given(tmp_path, monkeypatch):
    """So that a later build removes what a killed one left (files.remove_scratch_folder)."""
    seen, scratch = recording_folders(tmp_path, monkeypatch, fake_mutool, ".pdf")
    (outputs,) = render.render_many([chart_dot(CHART)], ("png",), render.toolchain(), scratch=scratch)
    assert outputs["png"].startswith(b"\x89PNG")
    (folder,) = set(seen.read_text().split())
    assert Path(folder).parent == scratch and not Path(folder).exists()


@needs_dot
def test_a_png_that_mupdf_cannot_draw_fails_its_chart_with_mupdfs_reason(tmp_path, monkeypatch):
    fake_mutool(tmp_path, monkeypatch, 'echo "error: cannot open document: simulated" >&2; exit 1')
    (result,) = render.render_many([chart_dot(CHART)], ("png",), render.toolchain())
    assert isinstance(result, render.RenderFailure)
    assert str(result) == "MuPDF 出错（退出码 1）：error: cannot open document: simulated"


@needs_dot
def test_only_the_charts_too_tall_for_the_page_continue_in_a_batch(tmp_path, monkeypatch):
    """A failing and a short chart before a tall one: each keeps its own outcome."""
    from dataclasses import replace

    import pikepdf

    fake_dot(tmp_path, monkeypatch, 'for a in "$@"; do case $a in *.dot) if grep -q 坏图 "$a"; then '
                                    'echo "Error: bad chart" >&2; exit 1; fi;; esac; done; exec $REAL "$@"')
    tall = tall_chart(8)
    charts = [replace(CHART, title="坏图"), CHART, tall]
    results = render.render_many([chart_dot(c) for c in charts], ("pdf",), render.toolchain(),
                                 continuation=lambda number, count: continuation_dot(charts[number], count))
    assert str(results[0]) == "Graphviz 出错（退出码 1）：Error: bad chart"
    counts = []
    for result in results[1:]:
        with pikepdf.Pdf.open(io.BytesIO(result["pdf"])) as document:
            counts.append(len(document.pages))
    assert counts[0] == 1 and counts[1] > 1


@needs_dot
def test_a_chart_drawn_without_pdf_is_not_cut_into_pages(tmp_path, monkeypatch):
    """Pages are a PDF's: an SVG-only drawing of a tall chart draws no page header
    (nor the layout it would be cut by) and stays one picture."""
    drawn_formats = tmp_path / "formats"
    fake_dot(tmp_path, monkeypatch, f'for a in "$@"; do case $a in -T*) echo "$a" >> {drawn_formats};; esac; done\n'
                                    'exec $REAL "$@"')
    tall = tall_chart(8)
    (drawn,) = render.draw_many([chart_dot(tall)], ("svg",), render.toolchain(),
                                continuation=lambda number, count: continuation_dot(tall, count))
    assert isinstance(drawn, render.Drawn) and drawn.windows is None and set(drawn.outputs) == {"svg"}
    assert drawn_formats.read_text().split() == ["-Tsvg"]


@needs_dot
def test_the_dot_text_alone_needs_no_dot_run(tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, 'echo "Error: should not run" >&2; exit 1')
    assert render.render(chart_dot(CHART), ("dot",), render.toolchain()) == {"dot": chart_dot(CHART).encode()}


@needs_dot
def test_a_glyph_that_cannot_be_repaired_fails_its_chart_naming_the_character(monkeypatch):
    """(How a broken outline is found and repaired: test_glyphs.py.)"""
    from riskchart.draw import glyphs

    def unrepairable(document):
        raise glyphs.UndrawableGlyphs(["实"])

    monkeypatch.setattr(glyphs, "repair_fonts", unrepairable)
    (result,) = render.render_many([chart_dot(CHART)], ("pdf",), render.toolchain())
    assert str(result) == "PDF 中的字形无法绘制，查看时会显示为空白：「实」(U+5B9E)"


@needs_dot
def test_a_continued_charts_header_is_drawn_in_the_scratch_folder_too(tmp_path, monkeypatch):
    seen, scratch = recording_folders(tmp_path, monkeypatch, fake_dot, ".dot")
    tall = tall_chart(8)
    render.render_many([chart_dot(tall)], ("pdf",), render.toolchain(), scratch=scratch,
                       continuation=lambda number, count: continuation_dot(tall, count))
    folders = seen.read_text().split()
    assert len(folders) == 2 and all(Path(folder).parent == scratch for folder in folders)  # the chart, its header


@needs_dot
def test_a_log_that_cannot_be_read_back_is_a_render_failure(tmp_path, monkeypatch):
    # dot's log is a file beside its first input: removed while dot writes it
    fake_dot(tmp_path, monkeypatch, 'for a in "$@"; do case $a in *.dot) rm -f "$a.log";; esac; done\nexec $REAL "$@"')
    with pytest.raises(render.RenderFailure) as raised:
        render.render(chart_dot(CHART), ("svg",), render.toolchain())
    assert str(raised.value).startswith("读不到 Graphviz 的日志：[Errno 2]")
