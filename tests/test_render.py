"""Rendering through Graphviz: the environment check, failures, A4 PDF, SVG text."""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from riskchart import render, style
from riskchart.errors import MissingFont, MissingGraphviz
from riskchart.layout import chart_dot
from riskchart.model import Chart, Phones, Step

REAL_DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(REAL_DOT is None, reason="Graphviz (dot) is not installed")

CHART = Chart(path=Path("01-x.yaml"), id=1, category="行政裁决", title="调解仲裁劳动人事争议",
              steps=(Step("申请"), Step("受理", "高", ("故意刁难申请人。",), ("建立受理单制度。",), "受理人")),
              department="某部门", phones=Phones("8583591", "2032510"))


@pytest.fixture(autouse=True)
def fresh_toolchain():
    render.toolchain.cache_clear()
    yield
    render.toolchain.cache_clear()


def fake_dot(tmp_path, monkeypatch, body: str) -> None:
    """Put a `dot` on PATH that does `body` (which may call the real one as $REAL)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "dot"
    script.write_text(f"#!/bin/sh\nREAL={REAL_DOT}\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


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
    with pytest.raises(MissingGraphviz, match="pango"):
        render.render(chart_dot(CHART), ("svg",), render.toolchain())


@needs_dot
def test_missing_font_is_refused_with_the_install_command():
    font = "No Such Font 12345"
    with pytest.raises(MissingFont) as raised:
        render.render(chart_dot(CHART, font), ("svg",), render.toolchain(font))
    assert font in raised.value.message
    assert "fonts-noto-cjk" in raised.value.message


@needs_dot
@pytest.mark.parametrize("body, reason", [
    ("echo 'Error: syntax error in line 1' >&2; exit 3", "退出码 3"),
    ("kill -SEGV $$", "SIGSEGV"),
])
def test_dot_failures_become_render_failures(tmp_path, monkeypatch, body, reason):
    fake_dot(tmp_path, monkeypatch, body)
    with pytest.raises(render.RenderFailure, match=reason):
        render.render(chart_dot(CHART), ("svg",), render.toolchain())


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
def test_one_layout_gives_every_format():
    outputs = render.render(chart_dot(CHART), ("svg", "pdf", "png", "dot"), render.toolchain())
    assert set(outputs) == {"svg", "pdf", "png", "dot"}
    assert outputs["png"].startswith(b"\x89PNG")
    assert outputs["pdf"].startswith(b"%PDF")
    assert outputs["dot"].decode().startswith("digraph riskchart")
    ET.fromstring(outputs["svg"])  # well-formed


@needs_dot
def test_svg_keeps_text_as_text_with_font_fallbacks():
    svg = render.render(chart_dot(CHART), ("svg",), render.toolchain())["svg"].decode()
    assert "故意刁难申请人。" in svg and "建立受理单制度。" in svg
    assert 'font-family="Noto Sans CJK SC,Source Han Sans SC,Microsoft YaHei' in svg


@needs_dot
def test_pdf_is_one_a4_page_with_embedded_cjk_font(tmp_path):
    import pikepdf

    pdf = render.render(chart_dot(CHART), ("pdf",), render.toolchain())["pdf"]
    with pikepdf.Pdf.open(__import__("io").BytesIO(pdf)) as document:
        assert len(document.pages) == 1
        assert [float(v) for v in document.pages[0].MediaBox] == [0, 0, style.A4_WIDTH, style.A4_HEIGHT]
        assert len(document.pages[0].Resources.Font) >= 1
    if shutil.which("pdffonts"):
        path = tmp_path / "c.pdf"
        path.write_bytes(pdf)
        listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
        assert "NotoSansCJK" in listing
        assert all(line.split()[-5] == "yes" for line in listing.splitlines()[2:])  # emb column


@needs_dot
def test_fit_to_a4_centres_and_scales():
    from io import BytesIO

    import pikepdf

    drawn = subprocess.run([REAL_DOT, "-Tpdf"], input=b'digraph { a [width=14, height=2] }',
                           capture_output=True, check=True).stdout
    with pikepdf.Pdf.open(BytesIO(drawn)) as document:
        _, _, width, height = (float(v) for v in document.pages[0].MediaBox)
    with pikepdf.Pdf.open(BytesIO(render.fit_to_a4(drawn))) as document:
        fitted = document.pages[0]
        assert [float(v) for v in fitted.MediaBox] == [0, 0, 595, 842]
        content = b"".join(s.read_bytes() for s in fitted.Contents).decode("latin-1")
    scale = (595 - 2 * style.A4_MARGIN) / width          # a wide drawing: width decides
    bottom = (842 - height * scale) / 2
    assert content.startswith(f"q {scale:.6f} 0 0 {scale:.6f} {style.A4_MARGIN:.3f} {bottom:.3f} cm")
    assert content.rstrip().endswith("Q")


def test_a_log_saying_the_font_is_unresolved_is_a_missing_font():
    log = 'Activated plugin library: libgvplugin_pango.so.6\ntextlayout\nfontname: unable to resolve "Noto Sans CJK SC"\n'
    with pytest.raises(MissingFont, match="fonts-noto-cjk"):
        render._check_text_layout(log, "Noto Sans CJK SC")


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
