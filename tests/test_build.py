"""`riskchart build`: incremental, atomic, parallel, and robust to failures."""

import contextlib
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

from riskchart import build as build_module, files, render, style
from riskchart.build import MANIFEST, BuildOptions, build
from riskchart.cli import main
from riskchart.lint import lint_paths

from conftest import pdf_text, squeeze

ROOT = Path(__file__).resolve().parents[1]
REAL_DOT = shutil.which("dot")
pytestmark = pytest.mark.needs("dot", "cjk-font")
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


@pytest.mark.needs("pdftotext")
def test_first_build_writes_every_output(charts, tmp_path):
    out = tmp_path / "out"
    report = build([charts], options(out))
    assert report.ok and report.count("built") == 3
    for chart in lint_paths([charts]).charts:
        svg_text = squeeze("".join(ET.parse(out / f"{chart.stem}.svg").getroot().itertext()))
        for text in (svg_text, pdf_text(out / f"{chart.stem}.pdf")):
            assert squeeze(chart.title) in text
            if chart.draft:
                assert style.DRAFT_NOTICE in text
            else:
                assert squeeze(chart.steps[-1].name) in text
                assert squeeze(next(r for s in chart.steps for r in s.risks)) in text
    assert {"index.html", "booklet.pdf", "risk-register.csv", MANIFEST} <= {p.name for p in out.iterdir()}


def test_no_op_build_touches_nothing(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    before = snapshot(out)
    shown = []
    started = time.perf_counter()
    report = build([charts], options(out), progress=shown.append)
    assert 0 <= report.seconds <= time.perf_counter() - started
    assert [(o.stem, o.status) for o in shown] == [(Path(n).stem, "fresh") for n in sorted(SAMPLE)]
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
    assert [(o.stem, o.status) for o in report.outcomes] == [
        ("01-劳动人事争议调解仲裁", "fresh"), ("04-失业保险待遇给付", "fresh"), ("15-劳动用工备案", "built")]
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
    # a second broken chart fails with its own first error, not the other's
    other = charts / SAMPLE[0]
    other.write_text(other.read_text(encoding="utf-8").replace("category: 行政裁决", "category: 行政审批", 1),
                     encoding="utf-8")
    failed = {o.stem: o.reason for o in build([charts], options(out)).outcomes if o.status == "failed"}
    assert "「很高」" in failed["15-劳动用工备案"] and "「行政审批」" in failed["01-劳动人事争议调解仲裁"]
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


@pytest.mark.slow  # two riskchart processes
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


@pytest.mark.slow  # two riskchart processes
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
    later = text.replace("id: 16", "id: 17").replace("title: 劳动用工备案", "title: 劳动用工备案（续）")
    (charts / "17-后面.yaml").write_text(later, encoding="utf-8")  # drawn after the failing one
    out = tmp_path / "out"
    report = build([charts], BuildOptions(out=out, jobs=1))
    failed = {o.stem: o.reason for o in report.outcomes if o.status == "failed"}
    assert list(failed) == ["16-同名"] and "RC204" in failed["16-同名"]
    assert not list(out.glob("16-同名.*"))
    assert (out / "15-劳动用工备案.svg").is_file() and (out / "17-后面.svg").is_file()
    assert "16-同名" not in (out / "index.html").read_text(encoding="utf-8")
    (error,) = [d for d in report.diagnostics if d.is_error]  # with the warnings, for the report after the build
    assert error.code == "RC204" and "id: 16" in report.sources[error.path]


def built_stems(report) -> set[str]:
    return {o.stem for o in report.outcomes if o.status == "built"}


def test_a_missing_output_is_made_again(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    (out / "04-失业保险待遇给付.pdf").unlink()
    report = build([charts], options(out))
    assert built_stems(report) == {"04-失业保险待遇给付"}
    assert (out / "04-失业保险待遇给付.pdf").is_file()


def test_the_same_chart_from_another_folder_is_built_again(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    other = tmp_path / "other"
    shutil.copytree(charts, other)
    assert built_stems(build([other], options(out))) == {Path(n).stem for n in SAMPLE}
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert {entry["source"] for entry in manifest["charts"].values()} == {str((other / n).resolve()) for n in SAMPLE}


def test_building_one_chart_keeps_the_other_charts_outputs(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    before = snapshot(out)
    report = build([charts / SAMPLE[0]], options(out, force=True))
    assert built_stems(report) == {Path(SAMPLE[0]).stem} and report.removed == ()
    after = snapshot(out)
    for name in SAMPLE[1:]:
        for fmt in ("svg", "pdf"):
            assert after[f"{Path(name).stem}.{fmt}"] == before[f"{Path(name).stem}.{fmt}"]
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest["charts"]) == {Path(n).stem for n in SAMPLE}


def test_changing_the_font_rebuilds_every_chart(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    report = build([charts], options(out, publish=False, font="Noto Sans CJK TC"))
    assert built_stems(report) == {Path(n).stem for n in SAMPLE}
    assert 'font-family="Noto Sans CJK TC' in (out / "01-劳动人事争议调解仲裁.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize("changed", ["chart.dot.j2", "layout.py", "render.py", "style.py", "wrap.py", "model.py"])
def test_a_change_in_the_drawing_code_or_template_rebuilds_every_chart(charts, tmp_path, monkeypatch, changed):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    real_read_bytes = Path.read_bytes
    package = Path(render.__file__).resolve().parent

    def edited(path: Path) -> bytes:  # as if this one file had been edited since the last build
        data = real_read_bytes(path)
        resolved = path.resolve()
        if resolved.name == changed and (resolved.parent == package or resolved.suffix == ".j2"):
            data += b"\n# edited\n"
        return data

    monkeypatch.setattr(Path, "read_bytes", edited)
    monkeypatch.setattr(Path, "read_text", lambda path, *a, **k: edited(path).decode(*a, **k))
    fingerprint_caches = [f for f in vars(build_module).values() if hasattr(f, "cache_clear")]
    for cached in fingerprint_caches:
        cached.cache_clear()
    try:
        assert built_stems(build([charts], options(out, publish=False))) == {Path(n).stem for n in SAMPLE}
    finally:
        for cached in fingerprint_caches:
            cached.cache_clear()


def test_a_build_that_waited_for_the_lock_finds_the_work_done(charts, tmp_path, monkeypatch):
    # another build holds the folder and does all the work while this one waits
    out = tmp_path / "out"
    real_locked = files.locked

    @contextlib.contextmanager
    def other_build_first(folder):
        monkeypatch.setattr(files, "locked", real_locked)
        build([charts], options(out))
        monkeypatch.setattr(build_module, "lint_paths", lambda *a, **k: pytest.fail("linted the charts again"))
        with real_locked(folder):
            yield

    monkeypatch.setattr(files, "locked", other_build_first)
    report = build([charts], options(out))
    assert report.count("fresh") == 3 and report.count("built") == 0 and report.published == ()


def test_compiled_templates_are_kept_in_the_output_folder(charts, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)  # nothing may land in the working folder
    from riskchart import layout, publish

    for environment in (layout.environment(), publish.html_environment()):
        environment.cache.clear()  # compile the templates as a fresh process would
    build([charts], options(out))
    cached = list((out / ".riskchart-cache" / "templates").iterdir())
    assert len(cached) >= 2  # the chart template and the index page's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["charts", "out"]


def test_a_build_without_the_set_still_records_what_it_built(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    target = charts / SAMPLE[2]
    target.write_text(target.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工备案登记", 1), encoding="utf-8")
    assert built_stems(build([charts], options(out, publish=False))) == {"15-劳动用工备案"}
    assert built_stems(build([charts], options(out, publish=False))) == set()
