"""`riskchart build`: incremental, atomic, parallel, and robust to failures."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from riskchart import render
from riskchart.build import MANIFEST, BuildOptions, build
from riskchart.cli import main

ROOT = Path(__file__).resolve().parents[1]
REAL_DOT = shutil.which("dot")
pytestmark = pytest.mark.skipif(REAL_DOT is None, reason="Graphviz (dot) is not installed")
SAMPLE = ("01-劳动人事争议调解仲裁.yaml", "04-失业保险待遇给付.yaml", "15-劳动用工备案.yaml")


@pytest.fixture(autouse=True)
def fresh_toolchain():
    render.toolchain.cache_clear()
    yield
    render.toolchain.cache_clear()


@pytest.fixture
def charts(tmp_path) -> Path:
    folder = tmp_path / "charts"
    folder.mkdir()
    for name in (*SAMPLE, "_defaults.yaml"):
        shutil.copy(ROOT / "charts" / name, folder / name)
    return folder


def snapshot(folder: Path) -> dict:
    """Every file with its content hash, inode and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file()}


def options(out: Path, **more) -> BuildOptions:
    return BuildOptions(out=out, jobs=2, **more)


def test_first_build_writes_every_output(charts, tmp_path):
    out = tmp_path / "out"
    report = build([charts], options(out))
    assert report.ok and report.count("built") == 3
    for name in SAMPLE:
        stem = Path(name).stem
        ET.parse(out / f"{stem}.svg")
        assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    assert {"index.html", "booklet.pdf", "risk-register.csv", MANIFEST} <= {p.name for p in out.iterdir()}


def test_no_op_build_touches_nothing(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    before = snapshot(out)
    report = build([charts], options(out))
    assert report.count("fresh") == 3 and report.count("built") == 0
    assert report.published == ()
    assert snapshot(out) == before


def test_changing_one_chart_rebuilds_only_that_chart(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    before = snapshot(out)
    target = charts / SAMPLE[2]
    target.write_text(target.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工备案登记", 1), encoding="utf-8")
    report = build([charts], options(out))
    assert [o.stem for o in report.outcomes if o.status == "built"] == ["15-劳动用工备案"]
    after = snapshot(out)
    unchanged = "01-劳动人事争议调解仲裁.svg"
    assert after[unchanged] == before[unchanged]
    assert after["15-劳动用工备案.svg"][0] != before["15-劳动用工备案.svg"][0]
    assert "劳动用工备案登记" in (out / "15-劳动用工备案.svg").read_text(encoding="utf-8")
    assert set(report.published) == {"index.html", "booklet.pdf", "risk-register.csv"}


def test_defaults_change_rebuilds_every_chart_and_force_rebuilds_all(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    defaults = charts / "_defaults.yaml"
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("8583591", "8583592"), encoding="utf-8")
    assert build([charts], options(out)).count("built") == 3
    assert "8583592" in (out / "01-劳动人事争议调解仲裁.svg").read_text(encoding="utf-8")
    assert build([charts], options(out, force=True)).count("built") == 3


def test_a_chart_with_errors_fails_alone_and_keeps_its_old_outputs(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    old_svg = (out / "15-劳动用工备案.svg").read_bytes()
    broken = charts / SAMPLE[2]
    broken.write_text(broken.read_text(encoding="utf-8").replace("level: 中", "level: 很高", 1), encoding="utf-8")
    report = build([charts], options(out))
    failed = {o.stem: o.reason for o in report.outcomes if o.status == "failed"}
    assert list(failed) == ["15-劳动用工备案"] and "RC107" in failed["15-劳动用工备案"]
    assert not report.ok
    assert (out / "15-劳动用工备案.svg").read_bytes() == old_svg


def test_failing_dot_leaves_previous_outputs_and_other_charts_build(charts, tmp_path, monkeypatch):
    out = tmp_path / "out"
    build([charts], options(out))
    before = snapshot(out)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text(
        f'#!/bin/sh\nfor a in "$@"; do case $a in *.dot) if grep -q "劳动用工备案" "$a"; then '
        f'echo "Error: simulated crash" >&2; exit 1; fi;; esac; done\nexec {REAL_DOT} "$@"\n')
    (fake / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    render.toolchain.cache_clear()  # the first build found the real dot
    report = build([charts], options(out, force=True, publish=False))
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert [o.stem for o in failed] == ["15-劳动用工备案"] and "simulated crash" in failed[0].reason
    assert snapshot(out)["15-劳动用工备案.svg"] == before["15-劳动用工备案.svg"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_deleted_chart_outputs_are_removed_and_unlisted(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    (out / "notes.txt").write_text("not ours")
    (charts / SAMPLE[0]).rename(charts / "01-劳动争议仲裁.yaml")
    report = build([charts], options(out))
    names = {p.name for p in out.iterdir()}
    assert "01-劳动人事争议调解仲裁.svg" not in names and "01-劳动人事争议调解仲裁.pdf" not in names
    assert {"01-劳动争议仲裁.svg", "notes.txt"} <= names
    assert set(report.removed) == {"01-劳动人事争议调解仲裁.svg", "01-劳动人事争议调解仲裁.pdf"}
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert "01-劳动人事争议调解仲裁" not in manifest["charts"]
    assert "01-劳动人事争议调解仲裁.svg" not in (out / "index.html").read_text(encoding="utf-8")


def run_cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "riskchart", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def test_two_builds_at_once_leave_complete_files(charts, tmp_path):
    out = tmp_path / "out"
    first = run_cli("build", str(charts), "-o", str(out), "--force")
    second = run_cli("build", str(charts), "-o", str(out), "--force")
    assert first.wait(120) == 0 and second.wait(120) == 0
    for svg in out.glob("*.svg"):
        ET.parse(svg)
    for pdf in out.glob("*.pdf"):
        assert pdf.read_bytes().rstrip().endswith(b"%%EOF")
    assert not list(out.glob(".*.tmp"))
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest["charts"]) == {Path(n).stem for n in SAMPLE}


def test_ctrl_c_leaves_no_partial_file_and_the_next_build_finishes(charts, tmp_path):
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "dot").write_text(f'#!/bin/sh\nsleep 0.7\nexec {REAL_DOT} "$@"\n')
    (slow / "dot").chmod(0o755)
    for n in range(5):  # more charts than workers, so some are still queued
        text = (charts / SAMPLE[2]).read_text(encoding="utf-8")
        (charts / f"{20 + n}-副本{n}.yaml").write_text(
            text.replace("id: 15", f"id: {20 + n}").replace("title: 劳动用工备案", f"title: 劳动用工备案{n}"),
            encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "PATH": f"{slow}:{os.environ['PATH']}"}
    process = run_cli("build", str(charts), "-o", str(out), "-j", "1", env=env)
    deadline = time.time() + 60
    while not list(out.glob("*.svg")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130
    assert "已中断" in process.stderr.read().decode()
    assert not list(out.glob(".*.tmp"))
    for svg in out.glob("*.svg"):
        ET.parse(svg)
    built_before = len(list(out.glob("*.svg")))
    assert 0 < built_before < 8
    finish = run_cli("build", str(charts), "-o", str(out), env=env)
    assert finish.wait(120) == 0
    assert len(list(out.glob("*.svg"))) == 8


def test_cli_build_reports_and_exit_codes(charts, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["build", str(charts), "-o", str(out), "--format", "svg,png"])
    assert result.exit_code == 0, result.output
    assert "生成 3 张，最新 0 张，失败 0 张" in result.output
    assert (out / "01-劳动人事争议调解仲裁.png").read_bytes().startswith(b"\x89PNG")
    assert not (out / "booklet.pdf").exists()  # no PDFs asked for: no booklet
    assert runner.invoke(main, ["build", str(charts), "-o", str(out), "--format", "svg,gif"]).exit_code == 2
    (charts / SAMPLE[0]).write_text("id: [", encoding="utf-8")
    result = runner.invoke(main, ["build", str(charts), "-o", str(out), "--format", "svg,png"])
    assert result.exit_code == 1
    assert "RC006" in result.output and "失败 1 张" in result.output


def test_missing_dot_stops_the_build_with_exit_2_and_writes_nothing(charts, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(charts), "-o", str(out)])
    assert result.exit_code == 2
    assert "找不到 Graphviz 的 dot 命令" in result.output
    assert not out.exists()


def test_a_chart_failing_a_cross_file_rule_is_drawn_but_not_written(charts, tmp_path):
    # valid on its own, so it goes to dot at once; the set then finds its title twice
    text = (charts / SAMPLE[2]).read_text(encoding="utf-8").replace("id: 15", "id: 16")
    (charts / "16-同名.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    report = build([charts], options(out))
    failed = {o.stem: o.reason for o in report.outcomes if o.status == "failed"}
    assert list(failed) == ["16-同名"] and "RC204" in failed["16-同名"]
    assert not list(out.glob("16-同名.*"))
    assert (out / "15-劳动用工备案.svg").is_file()


EMPTY_FONTCONFIG = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                    "<fontconfig></fontconfig>\n")


def test_no_cjk_font_exits_2_and_writes_nothing(charts, tmp_path, monkeypatch):
    from riskchart import build as build_module

    config = tmp_path / "fonts.conf"
    config.write_text(EMPTY_FONTCONFIG, encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    build_module._static_inputs.cache_clear()
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "riskchart", "build", str(charts), "-o", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "找不到字体「Noto Sans CJK SC」" in result.stderr and "fonts-noto-cjk" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir())
    build_module._static_inputs.cache_clear()


def test_changing_the_installed_font_file_rebuilds(charts, tmp_path, monkeypatch):
    from dataclasses import replace

    from riskchart import build as build_module, fonts

    fonts.resolve.cache_clear()
    out = tmp_path / "out"
    build_module._static_inputs.cache_clear()
    assert build([charts], options(out)).count("built") == 3
    assert build([charts], options(out)).count("fresh") == 3
    real = fonts.resolve
    monkeypatch.setattr(fonts, "resolve", lambda font: replace(real(font), mtime_ns=real(font).mtime_ns + 1))
    build_module._static_inputs.cache_clear()
    assert build([charts], options(out)).count("built") == 3
    build_module._static_inputs.cache_clear()
