"""`riskchart build`: incremental, atomic, parallel, and robust to failures."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEED_SAMPLE, copy_seed_charts, dot_crashing_on, pdf_text, squeeze
from hypothesis import given, settings
from hypothesis import strategies as st

from riskchart import files, style
from riskchart.build import MANIFEST, BuildOptions, build, freshness, stamps
from riskchart.build import drawing as build_drawing
from riskchart.build import options as build_options
from riskchart.cli import main
from riskchart.draw import render
from riskchart.lint import lint_paths
from riskchart.publish.index import href

ROOT = Path(__file__).resolve().parents[1]
REAL_DOT = shutil.which("dot")
pytestmark = pytest.mark.needs("dot", "cjk-font")
SAMPLE = SEED_SAMPLE


@pytest.fixture(autouse=True)
def fresh_toolchain():
    render.toolchain.cache_clear()
    yield
    render.toolchain.cache_clear()


@pytest.fixture
def charts(tmp_path) -> Path:
    return copy_seed_charts(tmp_path / "charts")


def snapshot(folder: Path) -> dict:
    """Every file with its content hash, inode and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file()}


def copies(charts: Path, count: int, start: int = 20) -> None:
    """`count` more valid charts, copies of one sample with their own id and title."""
    text = (charts / SAMPLE[2]).read_text(encoding="utf-8")
    for n in range(count):
        (charts / f"{start + n}-副本{n}.yaml").write_text(
            text.replace("id: 15", f"id: {start + n}").replace("title: 劳动用工备案", f"title: 劳动用工备案{n}"),
            encoding="utf-8")


def options(out: Path, **more) -> BuildOptions:
    return BuildOptions(out=out, **{"jobs": 2, **more})


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
    assert not (out / ".riskchart-tmp").exists()  # dot's working files are gone with the build


def test_no_op_build_touches_nothing(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)  # else the charts' stamps may be recorded by the no-op (stamps.py)
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


def _stamp_of(out: Path, name: str) -> str | None:
    return json.loads((out / MANIFEST).read_text(encoding="utf-8"))["charts"][name].get("stamp")


def _same_size_edit(chart: Path) -> None:
    """Change a chart's bytes in place (same file, same size): 备案 → 登记 in its title."""
    data = chart.read_bytes()
    edited = data.replace("劳动用工备案".encode(), "劳动用工登记".encode(), 1)
    assert edited != data and len(edited) == len(data)
    with chart.open("r+b") as stream:
        stream.write(edited)


def test_a_no_op_build_reads_no_chart_and_opens_no_output_once_stamped(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)  # files written before a build count as settled
    out = tmp_path / "out"
    build([charts], options(out))
    read, opened = [], []
    contents, looks_complete = freshness._contents, files.looks_complete
    monkeypatch.setattr(freshness, "_contents", lambda path: read.append(path) or contents(path))
    monkeypatch.setattr(files, "looks_complete", lambda path: opened.append(path) or looks_complete(path))
    report = build([charts], options(out))
    assert report.count("fresh") == 3 and report.published == ()
    assert read == [] and opened == []
    (out / "04-失业保险待遇给付.pdf").write_bytes(b"")  # a damaged output is still seen
    assert [o.stem for o in build([charts], options(out)).outcomes if o.status == "built"] == ["04-失业保险待遇给付"]


def test_a_chart_changed_to_the_same_size_and_time_is_rebuilt(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out))
    target = charts / SAMPLE[2]
    before = target.stat()
    _same_size_edit(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `touch -r` or a restoring copy would
    assert (target.stat().st_size, target.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    report = build([charts], options(out))
    assert [o.stem for o in report.outcomes if o.status == "built"] == ["15-劳动用工备案"]  # its change time differs
    assert "劳动用工登记" in (out / "15-劳动用工备案.svg").read_text(encoding="utf-8")


def test_a_chart_changed_within_the_clock_tick_of_the_last_build_is_read_again(charts, tmp_path, monkeypatch):
    # A file-system clock too coarse to tell the build's look from the edit
    # after it: same size, same inode, every time equal to the build's.
    tick = time.time_ns()
    real = stamps.file_stamp
    monkeypatch.setattr(stamps, "now_ns", lambda: tick)
    monkeypatch.setattr(stamps, "file_stamp", lambda path: (found := real(path)) and (found[0], tick, found[2], tick))
    out = tmp_path / "out"
    build([charts], options(out))
    assert _stamp_of(out, "15-劳动用工备案") is None  # racy: not recorded
    _same_size_edit(charts / SAMPLE[2])
    report = build([charts], options(out))
    assert [o.stem for o in report.outcomes if o.status == "built"] == ["15-劳动用工备案"]
    # Once the file has settled, a build with nothing to do records its stamp.
    monkeypatch.setattr(stamps, "now_ns", lambda: tick + 2 * stamps.RACY_NS)
    assert build([charts], options(out)).count("fresh") == 3
    assert _stamp_of(out, "15-劳动用工备案") is not None


def test_a_touched_but_unchanged_chart_is_not_rebuilt_and_its_new_stamp_is_kept(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out))
    stamped = _stamp_of(out, "15-劳动用工备案")
    os.utime(charts / SAMPLE[2])  # `touch`, a checkout, an editor saving unchanged text
    charts_before = snapshot(out)
    report = build([charts], options(out))
    assert report.count("fresh") == 3 and report.published == ()
    assert stamped is not None and _stamp_of(out, "15-劳动用工备案") not in (None, stamped)
    after = snapshot(out)
    assert {name: after[name] for name in after if name not in (MANIFEST, files.LOCK)} == \
        {name: charts_before[name] for name in charts_before if name not in (MANIFEST, files.LOCK)}
    read: list[Path] = []
    contents = freshness._contents
    monkeypatch.setattr(freshness, "_contents", lambda path: read.append(path) or contents(path))
    assert build([charts], options(out)).count("fresh") == 3 and read == []


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
    assert set(report.published) == {"index.html", "booklet.pdf", "risk-register.csv", "risk-register.xlsx"}


def test_the_sets_lint_reads_only_the_charts_changed_since_their_stamps_were_recorded(charts, tmp_path, monkeypatch):
    # A chart whose settled stamp is the one its lint entry was recorded under has the same
    # bytes: its results are used unread.  The edited chart, and one whose stamp is new but
    # not its bytes (touched), are read.
    from riskchart import lint

    monkeypatch.setattr(stamps, "RACY_NS", 0)  # files written before a build count as settled
    out = tmp_path / "out"
    build([charts], options(out))
    target, touched = charts / SAMPLE[2], charts / SAMPLE[0]
    target.write_text(target.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工备案登记", 1), encoding="utf-8")
    os.utime(touched)
    read: list[str] = []
    readable = lint._readable
    monkeypatch.setattr(lint, "_readable", lambda path: read.append(path.name) or readable(path))
    report = build([charts], options(out))
    assert [o.stem for o in report.outcomes if o.status == "built"] == ["15-劳动用工备案"]
    assert sorted(set(read)) == sorted([target.name, touched.name])
    assert "劳动用工备案登记" in (out / "index.html").read_text(encoding="utf-8")
    read.clear()
    target.write_text(target.read_text(encoding="utf-8").replace("劳动用工备案登记", "劳动用工登记", 1), encoding="utf-8")
    build([charts], options(out))
    assert sorted(set(read)) == [target.name]  # the touched chart's new stamp was recorded with its entry
    assert "劳动用工登记" in (out / "index.html").read_text(encoding="utf-8")


def test_a_chart_written_between_the_builds_look_and_its_lint_is_not_recorded_under_the_stamp_looked_at(
        charts, tmp_path, monkeypatch):
    # Another chart is edited, so the set is linted.  Lint reads this one (touched: a new
    # stamp), but an editor saved it after the build looked: the
    # results are of the saved bytes, the stamp key of the bytes before.  Recorded together, a
    # stamp that came back (a restored snapshot of the charts) would find results of other bytes.
    from riskchart import lint
    from riskchart.check import cache_file
    from riskchart.check.cache import signing_key

    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out))
    chart, edited = charts / SAMPLE[0], charts / SAMPLE[2]
    edited.write_text(edited.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工登记", 1), encoding="utf-8")
    os.utime(chart)
    text, lint_paths_before = chart.read_text(encoding="utf-8"), lint.lint_paths

    def saved_meanwhile(*args, **kwargs):
        chart.write_text(text.replace("title: ", "title: 改", 1), encoding="utf-8")
        return lint_paths_before(*args, **kwargs)

    monkeypatch.setattr(lint, "lint_paths", saved_meanwhile)
    build([charts], options(out))
    entries = cache_file.read(out / files.OUTPUT_CACHE, signing_key()).entries
    assert entries[str(chart)].stamped == ""
    assert entries[str(charts / SAMPLE[1])].stamped != ""  # the others were found by theirs


def test_memory_is_given_back_after_the_sets_lint_only_when_it_checked_many_files(charts, tmp_path, monkeypatch):
    # After an upgrade every file is checked again and glibc keeps what that freed (60 MB at
    # 4,000 charts, on top of which the set's tables went over 300 MB); after a few, it is not
    # worth malloc_trim's time.
    from riskchart.build import run

    monkeypatch.setattr(stamps, "RACY_NS", 0)
    relinted: list[int] = []
    after_lint = run._give_back_memory_after_lint
    monkeypatch.setattr(run, "_give_back_memory_after_lint", lambda count: relinted.append(count) or after_lint(count))
    trimmed: list[int] = []
    monkeypatch.setattr(build_drawing, "_give_back_freed_memory", lambda: trimmed.append(1))
    out = tmp_path / "out"
    build([charts], options(out))
    edited = charts / SAMPLE[2]
    edited.write_text(edited.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工登记", 1), encoding="utf-8")
    build([charts], options(out))
    assert relinted == [3, 1]  # no cache: every file checked; then the edited one only
    trimmed.clear()
    monkeypatch.setattr(run, "RELINTED_MANY", 3)
    assert run._give_back_memory_after_lint(3) and trimmed == [1]
    assert not run._give_back_memory_after_lint(2) and trimmed == [1]


def test_a_chart_found_by_its_stamp_is_checked_again_after_lints_own_code_changed(charts, tmp_path, monkeypatch):
    # A new rule (riskchart upgraded) leaves the drawing code, and so the build's stamp keys,
    # as they were: lint's own context in the key makes every file read and checked again.
    from riskchart import lint
    from riskchart.check import cache as lint_cache

    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out))
    edited = charts / SAMPLE[2]
    edited.write_text(edited.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工登记", 1), encoding="utf-8")
    read: list[str] = []
    readable = lint._readable
    monkeypatch.setattr(lint, "_readable", lambda path: read.append(path.name) or readable(path))
    monkeypatch.setattr(lint_cache, "_code_fingerprint", lambda: "a riskchart with one more rule")
    build([charts], options(out))
    assert sorted(set(read)) == sorted(SAMPLE)


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
    dot_crashing_on("劳动用工备案", tmp_path / "bin", monkeypatch)
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
    page = (out / "index.html").read_text(encoding="utf-8")
    assert href("01-劳动人事争议调解仲裁.svg") not in page and href("01-劳动争议仲裁.svg") in page


def run_cli(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "riskchart", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


@pytest.mark.parametrize("name", [MANIFEST, ".riskchart-cache/lint-results.bin", ".riskchart-cache/lint-results.journal",
                                  ".riskchart-cache/lint-corpus.json", ".riskchart-cache/index-cards.bin",
                                  ".riskchart-cache/register-rows.bin", "01-劳动人事争议调解仲裁.pdf"])
def test_a_fifo_where_a_build_reads_out_back_is_not_waited_for(charts, tmp_path, name):
    """out/ is anyone's (a CI artifact): a FIFO in place of the manifest, a
    cache or an output would make a plain open wait for a writer for ever."""
    out = tmp_path / "out"
    assert build([charts], options(out)).ok
    (out / name).unlink(missing_ok=True)
    os.mkfifo(out / name)
    (charts / SAMPLE[0]).write_text((charts / SAMPLE[0]).read_text(encoding="utf-8") + "# 改动\n", encoding="utf-8")
    process = run_cli("build", str(charts), "-o", str(out))
    try:
        assert process.wait(60) == 0, process.stderr.read().decode() if process.stderr else ""
    finally:
        process.kill()
        process.wait()
    assert (out / "01-劳动人事争议调解仲裁.pdf").is_file()


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
    copies(charts, 5)  # more charts than workers, so some are still queued
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


def test_a_file_name_that_would_be_a_script_link_is_not_built(charts, tmp_path):
    hostile = charts / "javascript:alert(document.domain).yaml"
    (charts / SAMPLE[2]).rename(hostile)
    out = tmp_path / "out"
    report = build([charts], options(out))
    assert [(o.stem, o.status) for o in report.outcomes if o.status == "failed"] == [(hostile.stem, "failed")]
    assert [d.code for d in report.diagnostics if d.is_error] == ["RC211"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert not [link for link in re.findall(r'(?:href|src)="([^"]*)"', page) if ":" in link]
    assert not list(out.glob("javascript*"))


def test_a_fifo_named_like_a_chart_fails_without_being_opened(charts, tmp_path):
    from conftest import fifo

    with fifo(charts / "42-x.yaml"):
        report = build([charts], options(tmp_path / "out"))
    assert [(o.stem, o.status) for o in report.outcomes if o.status != "built"] == [("42-x", "failed")]
    (failure,) = [d for d in report.diagnostics if d.is_error]
    assert failure.code == "RC001" and "命名管道（FIFO）" in failure.message


# ------------------------------------------------ out/ is not trusted: it never runs code or deletes

def touch_payload(marker: Path) -> bytes:
    """What Jinja2's bytecode cache would unpickle: creating `marker` when loaded."""
    import pickle

    from jinja2.bccache import bc_magic

    class Payload:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    return bc_magic + pickle.dumps(Payload())


def test_compiled_templates_planted_in_out_never_run(charts, tmp_path):
    import jinja2.bccache

    from riskchart.draw.templatefiles import template_folder

    out = tmp_path / "out"
    assert run_cli("build", str(charts), "-o", str(out)).wait(120) == 0
    marker = tmp_path / "ran"
    planted = out / ".riskchart-cache" / "templates"
    planted.mkdir(parents=True, exist_ok=True)
    for name in ("chart.dot.j2", "cover.dot.j2", "contents.dot.j2", "index.html.j2"):
        key = jinja2.bccache.BytecodeCache().get_cache_key(name, str(template_folder() / name))
        (planted / f"__jinja2_{key}.cache").write_bytes(touch_payload(marker))
    build_again = run_cli("build", str(charts), "-o", str(out), "--force")
    assert build_again.wait(120) == 0, build_again.stderr.read().decode()
    assert not marker.exists()


def test_compiled_templates_are_kept_per_user_and_damage_is_a_miss(charts, tmp_path, monkeypatch):
    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    out = tmp_path / "out"
    assert run_cli("build", str(charts), "-o", str(out)).wait(120) == 0
    folder = cache / "riskchart" / "templates"
    assert (folder.stat().st_mode & 0o777) == 0o700 and (folder.parent.stat().st_mode & 0o777) == 0o700
    entries = list(folder.iterdir())
    assert entries
    marker = tmp_path / "ran"
    for number, entry in enumerate(entries):
        entry.write_bytes([b"", b"riskchart", entry.read_bytes()[:40], touch_payload(marker)][number % 4])
    again = run_cli("build", str(charts), "-o", str(out), "--force")
    assert again.wait(120) == 0, again.stderr.read().decode()
    assert not marker.exists()
    assert not (out / ".riskchart-cache" / "templates").exists()


def test_the_manifest_deletes_nothing_it_could_not_have_written(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    victims = [tmp_path / "victim.txt", out / "notes.txt", out / "index.html"]
    for victim in victims[:2]:
        victim.write_text("keep me")
    (out / "99-旧图.svg").write_text("<svg/>")
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    gone = {"source": str(tmp_path / "gone.yaml"), "fingerprint": "x"}
    manifest["charts"].update({
        "99-旧图": {**gone, "outputs": ["99-旧图.svg"]},  # really stale: removed
        "98-a": {**gone, "outputs": [str(victims[0])]},
        "97-b": {**gone, "outputs": ["../victim.txt"]},
        "96-c": {**gone, "outputs": ["notes.txt"]},
        "index": {**gone, "outputs": ["index.svg", "index.html"]},
        "../victim": {**gone, "outputs": ["../victim.txt"]},
        "../charts/_defaults": {**gone, "outputs": ["../charts/_defaults.yaml"]},
    })
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    report = build([charts], options(out))
    assert report.ok and report.removed == ("99-旧图.svg",)
    assert all(victim.exists() for victim in victims) and (charts / "_defaults.yaml").exists()
    assert len(report.warnings) == 6 and all("已忽略" in w for w in report.warnings)


@pytest.mark.parametrize("content", [
    "[]", "null", '"manifest"', '{"version": 1}', '{"version": 1, "charts": [], "set": []}',
    '{"version": 1, "charts": {"01-劳动人事争议调解仲裁": []}}',
    '{"version": 1, "charts": {"01-劳动人事争议调解仲裁": {"source": 1, "fingerprint": null, "outputs": "x"}}}',
    '{"version": 1, "charts": {}, "set": {"fingerprint": 5, "outputs": ["/etc/passwd"]}}',
    '{"version": 1, "charts": {}, "set": {"fingerprint": "x", "outputs": [1]}}',
    "{", "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
])
def test_a_manifest_of_the_wrong_shape_counts_as_absent(charts, tmp_path, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text(content, encoding="utf-8")
    report = build([charts], options(out))
    assert report.ok and report.count("built") == 3
    assert build([charts], options(out)).count("fresh") == 3


def test_damaged_pdfs_in_out_and_in_the_booklet_cache_are_drawn_again(charts, tmp_path):
    import pikepdf

    out = tmp_path / "out"
    build([charts], options(out))
    (out / "04-失业保险待遇给付.pdf").write_bytes(b"")   # `: > out/04-….pdf`
    (out / "15-劳动用工备案.pdf").write_bytes((out / "15-劳动用工备案.pdf").read_bytes()[:5000])
    cached = list((out / ".riskchart-cache").glob("*.pdf"))
    assert cached
    for page in cached:
        page.write_bytes(b"%PDF-1.4 garbage %%EOF")
    (out / "booklet.pdf").unlink()  # the booklet is made again, from the damaged cache
    report = build([charts], options(out))
    assert report.ok, report.publish_failures
    assert sorted(o.stem for o in report.outcomes if o.status == "built") == ["04-失业保险待遇给付", "15-劳动用工备案"]
    with pikepdf.Pdf.open(out / "booklet.pdf") as booklet:
        assert len(booklet.pages) == 2 + 3


def test_hidden_tmp_files_riskchart_did_not_make_are_kept(charts, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    theirs = [out / ".draft.yaml.tmp", out / ".x.tmp"]
    for path in theirs:
        path.write_text("someone's work")
    (out / ".riskchart-index.html.abc123.tmp").write_text("left by a killed build")
    build([charts], options(out))
    assert all(path.read_text() == "someone's work" for path in theirs)
    assert not (out / ".riskchart-index.html.abc123.tmp").exists()


# ------------------------------------------------------------------ waits, hangs and signals

def hold_lock(out: Path) -> subprocess.Popen:
    """Another build's process holding out/'s lock until killed."""
    out.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pathlib import Path\nfrom riskchart.files import locked\n"
        f"with locked(Path({str(out)!r})):\n    print('held', flush=True)\n    time.sleep(600)\n")],
        stdout=subprocess.PIPE)
    assert holder.stdout.readline() == b"held\n"
    return holder


@pytest.mark.parametrize("stopped", [False, True])
def test_a_build_says_who_holds_the_lock_and_gives_up_after_lock_timeout(charts, tmp_path, stopped):
    out = tmp_path / "out"
    holder = hold_lock(out)
    try:
        if stopped:
            holder.send_signal(signal.SIGSTOP)
        waiting = run_cli("build", str(charts), "-o", str(out), "--lock-timeout", "1")
        assert waiting.wait(60) == 2
        message = waiting.stderr.read().decode()
        assert f"进程 {holder.pid}" in message and "等待" in message
        assert message.strip().splitlines()[-1].startswith("riskchart：错误：")
        assert "--lock-timeout" in message and "Traceback" not in message
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("build", str(charts), "-o", str(out)).wait(120) == 0


def test_a_chart_renamed_while_the_build_waits_for_the_lock(charts, tmp_path):
    out = tmp_path / "out"
    holder = hold_lock(out)
    log = tmp_path / "log"
    with open(log, "wb") as stderr:
        waiting = subprocess.Popen([sys.executable, "-m", "riskchart", "build", str(charts), "-o", str(out)],
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + 20
    while "等待" not in log.read_text(encoding="utf-8") and time.time() < deadline:
        time.sleep(0.05)
    (charts / SAMPLE[0]).rename(charts / "01-劳动争议仲裁.yaml")
    holder.kill()
    holder.wait()
    assert waiting.wait(120) == 0, log.read_text(encoding="utf-8")
    assert (out / "01-劳动争议仲裁.svg").is_file() and not (out / "01-劳动人事争议调解仲裁.svg").exists()


def hanging_dot(tmp_path: Path, title: str) -> Path:
    """A `dot` that hangs whenever the chart titled `title` is among its inputs."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    (folder / "dot").write_text(
        f'#!/bin/sh\necho $$ >> {tmp_path}/dot-pids\nfor a in "$@"; do case $a in *.dot) '
        f'if grep -q "{title}" "$a"; then sleep 600; fi;; esac; done\nexec {REAL_DOT} "$@"\n')
    (folder / "dot").chmod(0o755)
    return folder


def test_the_timeout_holds_per_chart_not_per_batch(charts, tmp_path, monkeypatch):
    copies(charts, 13)  # 16 charts: batches of 8 with one worker
    monkeypatch.setenv("PATH", f"{hanging_dot(tmp_path, '劳动用工备案7')}:/usr/bin:/bin")
    render.toolchain.cache_clear()
    began = time.monotonic()
    report = build([charts], options(tmp_path / "out", jobs=1, timeout=3, publish=False))
    took = time.monotonic() - began
    failed = {o.stem: o.reason for o in report.outcomes if o.status == "failed"}
    assert list(failed) == ["27-副本7"] and "超时" in failed["27-副本7"]
    assert report.count("built") == 15
    assert all(outcome.seconds > 0 for outcome in report.outcomes)  # the failed one's time too
    # A limit per batch lets the hanging chart hold its batch for 8 × 3 s, then 3 s more
    # alone: at least 27 s of waiting whatever the load.  Drawing the 15 others took
    # 3–12 s on a loaded 2-core machine, so 24 s separates the two without flaking.
    assert took < 24, took


def test_sigterm_stops_dot_and_leaves_no_temporaries_anywhere(charts, tmp_path):
    copies(charts, 3)
    temp = tmp_path / "system-tmp"
    temp.mkdir()
    out = tmp_path / "out"
    env = {**os.environ, "PATH": f"{hanging_dot(tmp_path, '劳动用工备案')}:{os.environ['PATH']}", "TMPDIR": str(temp)}
    process = run_cli("build", str(charts), "-o", str(out), "-j", "2", env=env)
    deadline = time.time() + 30
    while not (tmp_path / "dot-pids").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 128 + signal.SIGTERM
    assert "已中断" in process.stderr.read().decode()
    for pid in map(int, (tmp_path / "dot-pids").read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.suffix == ".dot"]
    assert not list(temp.iterdir())


# ------------------------------------------------------------- crashes and silent wrong output

def test_an_error_in_defaults_fails_every_chart_under_it_and_keeps_their_outputs(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    before = snapshot(out)
    defaults = charts / "_defaults.yaml"
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("department", "departmnet"), encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(charts), "-o", str(out)])
    assert result.exit_code == 1
    assert "失败 3 张" in result.output and "_defaults.yaml 有错误" in result.output
    after = snapshot(out)
    for name in SAMPLE:
        for fmt in ("svg", "pdf"):
            assert after[f"{Path(name).stem}.{fmt}"] == before[f"{Path(name).stem}.{fmt}"]


def test_a_chart_named_like_a_set_output_or_like_another_chart_fails_with_rc212(charts, tmp_path):
    import pikepdf

    text = (charts / SAMPLE[1]).read_text(encoding="utf-8")
    other = charts.parent / "more"
    other.mkdir()
    (other / SAMPLE[1]).write_text(text.replace("id: 4", "id: 44").replace("title: ", "title: 另一", 1),
                                   encoding="utf-8")
    (charts / "booklet.yaml").write_text(
        (charts / SAMPLE[2]).read_text(encoding="utf-8").replace("id: 15", "id: 16").replace(
            "title: 劳动用工备案", "title: 另一备案"), encoding="utf-8")
    out = tmp_path / "out"
    for _ in range(2):
        report = build([charts, other], options(out))
        failed = {o.stem: o.reason for o in report.outcomes if o.status == "failed"}
        assert set(failed) == {"booklet", "04-失业保险待遇给付"} and all("RC212" in r for r in failed.values())
        with pikepdf.Pdf.open(out / "booklet.pdf") as booklet:
            assert len(booklet.pages) == 2 + 3  # never the old booklet nested inside


def test_an_unreadable_chart_fails_alone(charts, tmp_path, monkeypatch):
    from riskchart.check import load

    unreadable = charts / SAMPLE[1]
    real = load.read_chart_bytes

    def read_chart_bytes(path, *args):
        if Path(path).name == unreadable.name:
            raise PermissionError(13, "Permission denied")  # as root, chmod 000 would not stop a read
        return real(path, *args)

    monkeypatch.setattr(load, "read_chart_bytes", read_chart_bytes)  # the fingerprint's reads too
    report = build([charts], options(tmp_path / "out"))
    failed = {o.stem: o.reason for o in report.outcomes if o.status == "failed"}
    assert list(failed) == [unreadable.stem] and "RC001" in failed[unreadable.stem]
    assert report.count("built") == 2


def test_the_build_starts_no_daemon_thread(charts, tmp_path, monkeypatch):
    """A process that exits while a daemon thread imports pikepdf aborts with SIGABRT.

    A build that fails fast (exit 1) used to die that way now and then under load.
    """
    import threading

    started: list[threading.Thread] = []
    real_start = threading.Thread.start

    def record(thread):
        started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", record)
    build([charts], options(tmp_path / "out"))
    assert started and not [t.name for t in started if t.daemon]


def test_a_file_name_that_is_not_utf8_fails_with_a_message(charts, tmp_path):
    odd = os.fsencode(charts) + b"/16-\xff\xfe.yaml"
    with open(odd, "wb") as stream:
        stream.write((charts / SAMPLE[2]).read_bytes().replace(b"id: 15", b"id: 16").replace(
            "劳动用工备案".encode(), "另一备案".encode()))
    out = tmp_path / "out"
    for _ in range(2):
        process = run_cli("build", str(charts), "-o", str(out))
        assert process.wait(120) == 1
        message = process.stderr.read().decode("utf-8", "replace")
        assert "Traceback" not in message and "不是有效的 UTF-8" in message
    assert len(list(out.glob("*.svg"))) == 3


def test_an_output_folder_under_a_file_is_a_one_line_error(charts, tmp_path):
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(main, ["build", str(charts), "-o", str(tmp_path / "file" / "sub")])
    assert result.exit_code == 2
    assert result.output.startswith("riskchart：错误：") and len(result.output.strip().splitlines()) == 1


def test_export_with_stdout_closed_is_a_one_line_error(charts):
    process = subprocess.run(f'"{sys.executable}" -m riskchart export "{charts}" >&-', shell=True,
                             capture_output=False, stderr=subprocess.PIPE)
    assert process.returncode == 2
    message = process.stderr.decode()
    assert message.startswith("riskchart：错误：") and "Traceback" not in message


def test_a_chart_with_errors_stays_in_the_index_marked_but_leaves_register_and_booklet(charts, tmp_path):
    import pikepdf

    out = tmp_path / "out"
    build([charts], options(out))
    broken = charts / SAMPLE[2]
    good = broken.read_text(encoding="utf-8")
    broken.write_text(good.replace("level: 中", "level: 很高", 1), encoding="utf-8")
    for _ in range(2):  # the second build finds the same failure and the same index
        assert not build([charts], options(out)).ok
        index = (out / "index.html").read_text(encoding="utf-8")
        assert "本图有错误，未更新" in index and f'href="{href("15-劳动用工备案.svg")}"' in index
        assert "劳动用工备案" in index
        assert "15" not in {row.split(",")[0] for row in (out / "risk-register.csv").read_text(
            encoding="utf-8-sig").splitlines()[1:]}
        with pikepdf.Pdf.open(out / "booklet.pdf") as booklet:
            assert len(booklet.pages) == 2 + 2
    broken.write_text(good, encoding="utf-8")
    assert build([charts], options(out)).ok
    assert "本图有错误" not in (out / "index.html").read_text(encoding="utf-8")


def test_an_svg_only_build_does_not_link_the_old_booklet(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    assert 'href="booklet.pdf"' in (out / "index.html").read_text(encoding="utf-8")
    assert build([charts], options(out, formats=("svg",))).ok
    assert "booklet.pdf" not in (out / "index.html").read_text(encoding="utf-8")


# ------------------------------------------------------- property: no content of out/ is trusted

_NAMES = st.sampled_from(["01-a", "01-a.svg", "01-a.pdf", "notes.txt", "index.html", "index", "booklet.pdf",
                          "../outside/victim.txt", "../outside/victim", "/tmp", ".", "..", "", "a/b.svg",
                          ".riskchart-manifest.json", "01-a.svg\x00", "victim.txt",
                          # folders of out/: a real one, one linked outside, one climbing out
                          "科/01-a", "科/01-a.svg", "link/victim", "link/victim.svg", "科/../../outside/victim",
                          "科/../../outside/victim.svg", "科/booklet.pdf", "link/booklet.pdf"])
_TEXT = st.one_of(_NAMES, st.text(max_size=12))
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | _TEXT,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                     max_leaves=12)
_ENTRY = st.fixed_dictionaries({"source": _TEXT, "fingerprint": _TEXT, "outputs": st.lists(_TEXT, max_size=4)})
_MANIFEST = st.one_of(
    _JSON,
    st.fixed_dictionaries({"version": st.just(1), "charts": st.dictionaries(_TEXT, _ENTRY | _JSON, max_size=4),
                           "set": st.fixed_dictionaries({"fingerprint": _TEXT, "outputs": st.lists(_TEXT)}) | _JSON}),
)


@settings(max_examples=150, deadline=None)
@given(content=_MANIFEST | st.binary(max_size=64))
def test_no_manifest_makes_the_clean_up_touch_what_riskchart_did_not_write(content):
    from riskchart.build.freshness import _stale_entries
    from riskchart.build.manifest import _read_manifest, _write_manifest
    from riskchart.build.outputs import _remove_stale

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        outside, out = root / "outside", root / "out"
        for folder in (outside, out):
            folder.mkdir()
        kept = [outside / "victim.txt", outside / "victim", outside / "victim.svg", outside / "booklet.pdf",
                out / "notes.txt",
                out / "index.html", out / "booklet.pdf", out / "index.svg"]
        (out / "科").mkdir()
        (out / "link").symlink_to(outside)
        for path in [*kept, out / "01-a.svg", out / "科" / "01-a.svg"]:
            path.write_text("x")
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        (out / MANIFEST).write_bytes(data)
        manifest = _read_manifest(out, [])
        _remove_stale(manifest, _stale_entries(manifest, [], BuildOptions(out=out)), out)
        _write_manifest(out, manifest)
        assert all(path.read_text() == "x" for path in kept)
        assert {p.name for p in outside.iterdir()} == {"victim.txt", "victim", "victim.svg", "booklet.pdf"}


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=200) | st.builds(lambda tail: touch_payload(Path("/nonexistent/ran")) + tail,
                                                  st.binary(max_size=8)))
def test_no_cache_content_runs_code_or_stops_a_build(garbage):
    import jinja2

    from riskchart.draw.layout import compiled_template_cache
    from riskchart.publish.booklet import _readable_pdf

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        marker = folder / "ran"
        env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"}),
                                 bytecode_cache=compiled_template_cache(folder))
        key = jinja2.bccache.BytecodeCache().get_cache_key("t", None)
        payload = garbage.replace(b"/nonexistent/ran", str(marker).encode())
        (folder / f"{key}.code").write_bytes(payload)
        (folder / f"__jinja2_{key}.cache").write_bytes(payload)
        assert env.get_template("t").render() == "2"
        (folder / "page.pdf").write_bytes(payload)
        assert _readable_pdf(folder / "page.pdf") is None
        assert not marker.exists()


EMPTY_FONTCONFIG = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                    "<fontconfig></fontconfig>\n")


def test_no_cjk_font_exits_2_and_writes_nothing(charts, tmp_path, monkeypatch):
    config = tmp_path / "fonts.conf"
    config.write_text(EMPTY_FONTCONFIG, encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    freshness._static_inputs.cache_clear()
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "riskchart", "build", str(charts), "-o", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "找不到字体「Noto Sans CJK SC」" in result.stderr and "fonts-noto-cjk" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir())
    freshness._static_inputs.cache_clear()


def test_changing_the_installed_font_file_rebuilds(charts, tmp_path, monkeypatch):
    from dataclasses import replace

    from riskchart.draw import fonts

    fonts.resolve.cache_clear()
    out = tmp_path / "out"
    freshness._static_inputs.cache_clear()
    assert build([charts], options(out)).count("built") == 3
    assert build([charts], options(out)).count("fresh") == 3
    real = fonts.resolve
    monkeypatch.setattr(fonts, "resolve", lambda font: replace(real(font), mtime_ns=real(font).mtime_ns + 1))
    freshness._static_inputs.cache_clear()
    assert build([charts], options(out)).count("built") == 3
    freshness._static_inputs.cache_clear()


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
    package = Path(render.__file__).resolve().parents[1]  # riskchart/

    def edited(path: Path) -> bytes:  # as if this one file had been edited since the last build
        data = real_read_bytes(path)
        resolved = path.resolve()
        if resolved.name == changed and (package in resolved.parents or resolved.suffix == ".j2"):
            data += b"\n# edited\n"
        return data

    monkeypatch.setattr(Path, "read_bytes", edited)
    monkeypatch.setattr(Path, "read_text", lambda path, *a, **k: edited(path).decode(*a, **k))
    fingerprint_caches = [f for module in (build_options, freshness, build_drawing) for f in vars(module).values()
                          if hasattr(f, "cache_clear")]
    for cached in fingerprint_caches:
        cached.cache_clear()
    try:
        assert built_stems(build([charts], options(out, publish=False))) == {Path(n).stem for n in SAMPLE}
    finally:
        for cached in fingerprint_caches:
            cached.cache_clear()


def test_a_build_that_waited_for_the_lock_finds_the_work_done(charts, tmp_path, monkeypatch):
    from riskchart import lint

    # another build holds the folder and does all the work while this one waits
    out = tmp_path / "out"
    real_locked = files.locked

    @contextlib.contextmanager
    def other_build_first(folder, *waiting):  # (folder, timeout, waiting) as the build passes them
        monkeypatch.setattr(files, "locked", real_locked)
        build([charts], options(out))
        monkeypatch.setattr(lint, "lint_paths", lambda *a, **k: pytest.fail("linted the charts again"))
        with real_locked(folder, *waiting):
            yield

    monkeypatch.setattr(files, "locked", other_build_first)
    report = build([charts], options(out))
    assert report.count("fresh") == 3 and report.count("built") == 0 and report.published == ()


def test_a_build_that_took_the_lock_at_once_looks_at_the_charts_once(charts, tmp_path, monkeypatch):
    """No other build came between its first look and the lock (the manifest's
    file is the one it read): fingerprinting 4,000 charts again would cost a
    quarter of a second."""
    from riskchart.build import run

    out = tmp_path / "out"
    build([charts], options(out))
    (charts / SAMPLE[0]).write_text((charts / SAMPLE[0]).read_text(encoding="utf-8") + "# 改过\n", encoding="utf-8")
    looked = []
    real_fingerprints = run._fingerprints
    monkeypatch.setattr(run, "_fingerprints", lambda *a: looked.append(a) or real_fingerprints(*a))
    report = build([charts], options(out))
    assert report.count("built") == 1 and len(looked) == 1


def test_compiled_templates_are_kept_in_the_user_cache_folder_and_nowhere_else(charts, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)  # nothing may land in the working folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    from riskchart.draw import layout
    from riskchart.publish import index as publish

    for environment in (layout.environment(), publish.html_environment()):
        environment.cache.clear()  # compile the templates as a fresh process would
    build([charts], options(out))
    cached = list((tmp_path / "xdg" / "riskchart" / "templates").iterdir())
    assert len(cached) >= 2  # the chart template and the index page's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["charts", "out", "xdg"]
    assert not (out / ".riskchart-cache" / "templates").exists()  # compiled code never in out/


def test_a_build_without_the_set_still_records_what_it_built(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    target = charts / SAMPLE[2]
    target.write_text(target.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工备案登记", 1), encoding="utf-8")
    assert built_stems(build([charts], options(out, publish=False))) == {"15-劳动用工备案"}
    assert built_stems(build([charts], options(out, publish=False))) == set()


def test_changed_settings_lint_and_build_again(charts, tmp_path):
    """A category dropped from riskchart.toml fails the charts of that
    category at once (their drawings and the index are not left as they were)."""
    from dataclasses import replace

    from riskchart.check.schema import CATEGORIES
    from riskchart.config import Settings

    out = tmp_path / "out"
    assert build([charts], options(out)).ok
    category = lint_paths([charts / SAMPLE[0]]).charts[0].category
    narrower = Settings(categories=tuple(c for c in CATEGORIES if c != category))
    report = build([charts], options(out, settings=narrower))
    assert [o.stem for o in report.outcomes if o.status == "failed"] == [Path(SAMPLE[0]).stem]
    assert any(d.code == "RC107" for d in report.diagnostics)
    again = build([charts], options(out, settings=replace(narrower, categories=CATEGORIES)))
    assert again.ok and [o.status for o in again.outcomes] == ["fresh", "built", "built"]  # as first drawn


def test_a_risk_type_dropped_from_the_settings_fails_the_chart_that_uses_it(charts, tmp_path):
    from riskchart.check.schema import RISK_TYPES
    from riskchart.config import Settings

    target = charts / SAMPLE[2]
    target.write_text(target.read_text(encoding="utf-8").replace("steps:", f"risk_type: {RISK_TYPES[0]}\nsteps:", 1),
                      encoding="utf-8")
    out = tmp_path / "out"
    assert build([charts], options(out)).ok
    report = build([charts], options(out, settings=Settings(risk_types=RISK_TYPES[1:])))
    assert [o.stem for o in report.outcomes if o.status == "failed"] == [Path(SAMPLE[2]).stem]


def test_other_word_booklet_fonts_make_the_set_anew(charts, tmp_path):
    from riskchart.config import Settings

    out = tmp_path / "out"
    assert build([charts], options(out, settings=Settings(word_booklet=True))).ok
    report = build([charts], options(out, settings=Settings(word_booklet=True, docx_fonts=("宋体", "黑体"))))
    assert "booklet.docx" in report.published


def test_a_build_in_which_every_chart_fails_exits_1_and_publishes_nothing(charts, tmp_path):
    out = tmp_path / "out"
    for name in SAMPLE:
        (charts / name).write_text("id: [", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(charts), "-o", str(out), "--format", "svg"])
    assert result.exit_code == 1, result.output
    assert "失败 3 张" in result.output and "没有一张图生成成功" in result.output
    assert not (out / "index.html").exists() and not (out / "risk-register.csv").exists()


def test_work_queued_ahead_runs_even_if_it_has_not_started_when_the_drawing_ends(tmp_path):
    """On a loaded machine the booklet's early drawing may still wait in the
    pool's queue when the last chart is done: ending normally must run it,
    not cancel it (a CancelledError then failed the whole build)."""
    import threading

    release, ran = threading.Event(), []
    drawing = build_drawing._Drawing([], render.Toolchain("dot", "Noto Sans CJK SC"),
                                     options(tmp_path / "out", jobs=1, publish=False, formats=("svg",)), tmp_path)
    with drawing:
        drawing.ahead(release.wait, 30)  # holds the only worker
        drawing.ahead(ran.append, "queued")  # not started before the drawing ends
        shutdown = drawing._beside.shutdown

        def shutdown_then_release(**arguments):
            threading.Timer(0.1, release.set).start()
            shutdown(**arguments)

        drawing._beside.shutdown = shutdown_then_release
    assert ran == ["queued"]


# ------------------------------------------------------------- scale: batches, staging, the register ahead

def test_batches_are_balanced_by_size_and_a_multiple_of_the_workers():
    from riskchart.build import MAX_BATCH, balanced_batches, drawing_cost

    linted = lint_paths([ROOT / "charts"]).charts
    charts = [*linted] * 3  # 120 charts of the real sizes
    for jobs in (1, 2, 3):
        batches = balanced_batches(charts, jobs)
        assert sorted(map(id, (c for b in batches for c in b))) == sorted(map(id, charts))  # each chart once
        assert len(batches) % jobs == 0 and len(batches) >= 2 * jobs
        assert max(map(len, batches)) <= MAX_BATCH
        costs = [sum(map(drawing_cost, b)) for b in batches]
        assert costs == sorted(costs, reverse=True)  # the costliest first
        assert max(costs) - min(costs) <= max(map(drawing_cost, charts))  # within one chart of each other
    assert [len(b) for b in balanced_batches(linted[:3], 2)] == [1, 1, 1]
    assert balanced_batches([], 2) == []
    many = balanced_batches([*linted] * 100, 2)  # 4,000 charts: few dot processes, still balanced
    assert len(many) == 84 and max(map(len, many)) <= MAX_BATCH


def test_every_chart_gets_the_same_svg_whichever_batch_drew_it(charts, tmp_path):
    out = tmp_path / "out"
    assert build([charts], options(out, jobs=1, publish=False)).ok  # one dot run draws all three
    for name in SAMPLE:
        svg = (out / name.replace(".yaml", ".svg")).read_text(encoding="utf-8")
        assert '<g id="graph0" class="graph"' in svg and "page0,1_" not in svg


def test_outputs_are_staged_on_disk_and_moved_into_place(charts, tmp_path, monkeypatch):
    moved = []
    real_move = files.move_into_place

    def move(staged: Path, path: Path) -> None:
        assert staged.is_file() and files.SCRATCH in staged.parts  # the bytes wait on disk, not in memory
        moved.append(path.name)
        real_move(staged, path)

    monkeypatch.setattr(files, "move_into_place", move)
    out = tmp_path / "out"
    assert build([charts], options(out)).ok
    assert sorted(moved) == sorted([f"{Path(n).stem}.{fmt}" for n in SAMPLE for fmt in ("pdf", "svg")]
                                   + ["risk-register.csv", "risk-register.xlsx"])  # made while dot drew
    assert not (out / files.SCRATCH).exists()


def test_the_register_is_made_while_dot_draws_and_made_again_when_the_set_differs(charts, tmp_path, monkeypatch):
    from riskchart.publish import index as publish

    made: list[int] = []
    real_registers = publish.registers_ahead

    def registers(charts, options, folder, fingerprints=None):
        assert fingerprints is not None and set(fingerprints) >= {c.path for c in charts}  # rows found by them
        made.append(len(charts))
        return real_registers(charts, options, folder, fingerprints)

    monkeypatch.setattr(publish, "registers_ahead", registers)
    out = tmp_path / "out"
    assert build([charts], options(out)).ok
    assert made == [3]  # once, beside the dot runs; publish_set used it
    csv_text = (out / "risk-register.csv").read_text(encoding="utf-8-sig")
    assert "劳动用工备案" in csv_text
    made.clear()
    (charts / SAMPLE[2]).write_text((charts / SAMPLE[2]).read_text(encoding="utf-8") + "# 改动\n", encoding="utf-8")
    dot_crashing_on("劳动用工备案", tmp_path / "bin", monkeypatch)
    render.toolchain.cache_clear()
    report = build([charts], options(out))
    assert [o.status for o in report.outcomes].count("failed") == 1
    assert made == [3]  # made ahead for the three charts; the set lost the one that failed:
    assert "劳动用工备案" not in (out / "risk-register.csv").read_text(encoding="utf-8-sig")  # made again without it
    assert not (out / files.SCRATCH).exists()  # and the one made ahead is gone


def test_many_continued_charts_are_listed_ten_and_counted_after(charts, tmp_path, monkeypatch):
    from riskchart.build import run as building

    monkeypatch.setattr(building, "CONTINUED_LISTED", 1)
    long_text = (charts / SAMPLE[2]).read_text(encoding="utf-8")
    steps = long_text.index("steps:")
    body = long_text[steps + len("steps:"):]
    for n in (2, 3):  # the same steps over and over: too tall for one page
        (charts / f"2{n}-长图{n}.yaml").write_text(
            long_text[:steps].replace("id: 15", f"id: 2{n}").replace("title: 劳动用工备案", f"title: 长图{n}")
            + "steps:" + "".join(re.sub(r"name: (\S+)", rf"name: \g<1>{k}", body) for k in range(4)),
            encoding="utf-8")
    report = build([charts], options(tmp_path / "out", publish=False))
    continued = [w for w in report.warnings if "续排" in w]
    assert report.ok and len(continued) == 2
    assert "一页排不下" in continued[0] and continued[1] == "另有 1 张图一页排不下，续排为多页"


def test_batches_not_yet_drawn_draw_the_whole_sets_models_not_a_second_copy(charts, tmp_path, monkeypatch):
    from riskchart import lint
    from riskchart.draw import layout

    linted, drawn = [], []
    real_lint, real_dot = lint.lint_paths, layout.chart_dot
    monkeypatch.setattr(lint, "lint_paths", lambda *a, **k: linted.append(real_lint(*a, **k)) or linted[-1])
    monkeypatch.setattr(layout, "chart_dot", lambda chart, *a, **k: drawn.append(chart) or real_dot(chart, *a, **k))
    copies(charts, 20)  # two batches on one worker: the second starts once dot drew the first, long after lint
    assert build([charts], options(tmp_path / "out", jobs=1, publish=False)).ok
    whole_set = {id(c) for c in linted[0].charts}
    assert id(drawn[-1]) in whole_set


def test_an_output_that_cannot_be_written_fails_its_chart_with_the_reason(charts, tmp_path):
    out = tmp_path / "out"
    (out / "15-劳动用工备案.svg").mkdir(parents=True)  # a folder where the chart's SVG goes
    report = build([charts], options(out, publish=False))
    failed = {o.stem: o.reason for o in report.outcomes if o.status == "failed"}
    assert list(failed) == ["15-劳动用工备案"] and failed["15-劳动用工备案"].startswith(f"无法写入 {out}：")
    assert report.count("built") == 2


def test_errors_in_the_project_s_files_not_given_are_counted_in_a_warning(charts, tmp_path):
    from riskchart.config import Settings

    other = charts / SAMPLE[1]
    other.write_text(other.read_text(encoding="utf-8").replace("id: 4", "id: 5"), encoding="utf-8")  # RC201
    report = build([charts / SAMPLE[0]], options(tmp_path / "out", settings=Settings(charts=charts), publish=False))
    assert report.ok and report.count("built") == 1
    assert "本次未指定的 1 个文件有错误，这些图不编入索引页、汇编和台账；运行 riskchart lint 查看" in report.warnings


# Tests written against the survivors of a full mutation run (issue 19); each
# was checked by applying the mutant to the source and watching it fail.


def test_a_no_op_build_neither_waits_for_nor_fails_on_a_held_lock_when_it_only_refreshes_stamps(
        charts, tmp_path, monkeypatch):
    import types

    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    stamped = _stamp_of(out, "15-劳动用工备案")
    os.utime(charts / SAMPLE[2])  # touched: the no-op build has a new stamp to record

    def refuse(seconds: float) -> None:
        raise AssertionError("a build with nothing to do waited for the lock")

    with monkeypatch.context() as patched, files.locked(out):  # another build holds the folder
        patched.setattr(files, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=refuse))
        report = build([charts], options(out, publish=False))
        assert report.ok and report.count("fresh") == 3
        assert _stamp_of(out, "15-劳动用工备案") == stamped  # left for a later build
    assert build([charts], options(out, publish=False)).count("fresh") == 3
    assert _stamp_of(out, "15-劳动用工备案") not in (None, stamped)


def test_a_no_op_build_with_a_link_for_a_lock_file_still_succeeds(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    (out / files.LOCK).unlink()
    (out / files.LOCK).symlink_to(tmp_path / "elsewhere")  # never opened through a link
    os.utime(charts / SAMPLE[2])
    report = build([charts], options(out, publish=False))
    assert report.ok and report.count("fresh") == 3
    assert not (tmp_path / "elsewhere").exists()


def test_a_no_op_build_whose_stamps_cannot_be_written_still_succeeds(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    os.utime(charts / SAMPLE[2])

    def full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "write_if_changed", full)
    report = build([charts], options(out, publish=False))
    assert report.ok and report.count("fresh") == 3


def test_a_missing_output_of_an_entry_without_sizes_is_made_again(charts, tmp_path):
    # A manifest from an older riskchart records no output sizes ("written").
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["charts"].values():
        entry.pop("written", None)
        entry.pop("stamp", None)
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    (out / "04-失业保险待遇给付.svg").unlink()
    report = build([charts], options(out, publish=False))
    assert built_stems(report) == {"04-失业保险待遇给付"}
    assert (out / "04-失业保险待遇给付.svg").is_file()


def _department_project(tmp_path: Path) -> tuple[Path, BuildOptions]:
    """One chart in the department folder 科/ of a project: its outputs go to out/科/."""
    from riskchart.config import Settings

    root = copy_seed_charts(tmp_path / "project", ())
    copy_seed_charts(root / "科", (SAMPLE[2],)).joinpath("_defaults.yaml").unlink()
    return root, options(tmp_path / "out", settings=Settings(charts=root), publish=False)


def test_a_department_output_folder_replaced_by_a_link_is_not_taken_as_up_to_date(tmp_path):
    root, settings = _department_project(tmp_path)
    out = settings.out
    assert build([root], settings).count("built") == 1
    assert (out / "科" / "15-劳动用工备案.svg").is_file()
    (out / "科").rename(tmp_path / "moved")  # same files, same sizes and times, reached through a link
    (out / "科").symlink_to(tmp_path / "moved")
    report = build([root], settings)
    assert report.count("fresh") == 0
    [outcome] = report.outcomes
    assert outcome.status == "failed" and "是链接或文件" in outcome.reason


def test_outputs_behind_a_link_or_with_a_bad_name_are_not_a_chart_s_outputs(tmp_path):
    from riskchart.build import outputs as build_outputs

    out, real = tmp_path / "out", tmp_path / "real"
    real.mkdir()
    (real / "a.svg").write_text("<svg/>", encoding="utf-8")
    out.mkdir()
    (out / "科").symlink_to(real)
    (out / "b.svg").write_text("<svg/>", encoding="utf-8")
    manifest = {"version": 1, "set": {}, "charts": {
        "科/a": {"outputs": ["科/a.svg"]}, "b": {"outputs": ["b.svg"]}, "c": {"outputs": ["../b.svg"]}}}
    assert not build_outputs._has_outputs(manifest, "科/a", out)
    assert not build_outputs._has_outputs(manifest, "c", out)
    assert build_outputs._has_outputs(manifest, "b", out)
    assert not build_outputs._has_outputs(manifest, "d", out)


def test_the_recorded_outputs_are_what_the_manifest_says_each_chart_left(charts, tmp_path):
    from riskchart.build import manifest as build_manifest

    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    found = build_manifest.recorded(out)
    assert set(found) == {Path(n).stem for n in SAMPLE}
    first = found["01-劳动人事争议调解仲裁"]
    assert first.stem == "01-劳动人事争议调解仲裁" and first.source == (charts / SAMPLE[0]).resolve()
    assert first.title == "调解仲裁用人单位与劳动者发生的劳动人事争议"
    assert first.outputs == ("01-劳动人事争议调解仲裁.pdf", "01-劳动人事争议调解仲裁.svg")
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    del manifest["charts"]["01-劳动人事争议调解仲裁"]["title"]  # written by an older riskchart
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert build_manifest.recorded(out)["01-劳动人事争议调解仲裁"].title == "01-劳动人事争议调解仲裁"


def test_a_manifest_entry_with_a_hidden_or_backslashed_name_deletes_nothing(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    planted = [out / "a\\b.svg", out / ".hidden.svg"]
    for victim in planted:
        victim.write_text("<svg/>", encoding="utf-8")
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    gone = {"source": str(tmp_path / "gone.yaml"), "fingerprint": "x"}
    manifest["charts"].update({"a\\b": {**gone, "outputs": ["a\\b.svg"]}, ".hidden": {**gone, "outputs": [".hidden.svg"]}})
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    report = build([charts], options(out, publish=False))
    assert report.ok and report.removed == ()
    assert all(victim.is_file() for victim in planted)


def test_a_chart_file_that_is_a_link_is_up_to_date_after_its_build(charts, tmp_path):
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "15-劳动用工备案.yaml").symlink_to(charts / SAMPLE[2])
    out = tmp_path / "out"
    assert build([linked], options(out, publish=False)).count("built") == 1
    assert build([linked], options(out, publish=False)).count("fresh") == 1


def test_a_chart_named_without_a_folder_is_up_to_date_after_its_build(charts, tmp_path, monkeypatch):
    monkeypatch.chdir(charts)
    out = tmp_path / "out"
    assert build([Path(SAMPLE[2])], options(out, publish=False)).count("built") == 1
    assert build([Path(SAMPLE[2])], options(out, publish=False)).count("fresh") == 1


def test_a_whole_output_only_touched_is_not_drawn_again(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    os.utime(out / "04-失业保险待遇给付.svg", ns=(0, 10**18))  # another time: the build cannot vouch for it
    report = build([charts], options(out, publish=False))
    assert report.count("fresh") == 3  # but it is whole (files.looks_complete)


def test_outputs_are_looked_for_in_the_output_folder_not_the_current_one(charts, tmp_path, monkeypatch):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    here = tmp_path / "here"
    here.mkdir()
    shutil.copy2(out / "04-失业保险待遇给付.svg", here)  # same size and time, in the current folder
    (out / "04-失业保险待遇给付.svg").unlink()
    monkeypatch.chdir(here)
    assert built_stems(build([charts], options(out, publish=False))) == {"04-失业保险待遇给付"}
    assert (out / "04-失业保险待遇给付.svg").is_file()


def test_a_department_chart_is_up_to_date_after_its_build(tmp_path):
    root, settings = _department_project(tmp_path)
    assert build([root], settings).count("built") == 1
    manifest = json.loads((settings.out / MANIFEST).read_text(encoding="utf-8"))
    assert list(manifest["charts"]) == ["科/15-劳动用工备案"]
    assert build([root], settings).count("fresh") == 1


def test_manifest_entries_named_like_a_set_output_in_a_department_folder_delete_nothing(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    planted = [out / "科" / "booklet.pdf", out / "甲" / "乙" / "booklet.pdf", out / "科" / "INDEX.svg"]
    for victim in planted:
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_bytes(b"%PDF-1.7 keep me")
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    gone = {"source": str(tmp_path / "gone.yaml"), "fingerprint": "x"}
    manifest["charts"].update({"科/booklet": {**gone, "outputs": ["科/booklet.pdf"]},
                               "甲/乙/booklet": {**gone, "outputs": ["甲/乙/booklet.pdf"]},
                               "科/INDEX": {**gone, "outputs": ["科/INDEX.svg"]}})
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    report = build([charts], options(out, publish=False))
    assert report.ok and report.removed == ()
    assert all(victim.is_file() for victim in planted)


@pytest.mark.parametrize("written", [{"04-失业保险待遇给付.svg": "1 2"}, {"04-失业保险待遇给付.svg": [1]},
                                     {"04-失业保险待遇给付.svg": [1, 2.5]}, {"01-x.svg": [1, 2]}])
def test_a_manifest_entry_with_damaged_sizes_is_ignored_and_its_chart_drawn_again(charts, tmp_path, written):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["charts"]["04-失业保险待遇给付"]["written"] = written
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert built_stems(build([charts], options(out, publish=False))) == {"04-失业保险待遇给付"}


def test_a_chart_whose_output_cannot_be_written_still_reports_its_drawing_time(charts, tmp_path):
    out = tmp_path / "out"
    (out / "15-劳动用工备案.svg").mkdir(parents=True)
    report = build([charts], options(out, publish=False))
    seconds = {o.stem: (o.status, o.seconds) for o in report.outcomes}
    assert seconds["15-劳动用工备案"][0] == "failed" and seconds["15-劳动用工备案"][1] > 0
    assert all(spent > 0 for _, spent in seconds.values())
    assert [o.reason for o in report.outcomes if o.status == "built"] == ["", ""]  # nothing to say of a built chart


def test_without_a_project_charts_folder_outputs_are_named_by_the_file_alone(tmp_path, monkeypatch):
    # even in a folder that happens to be called "None" (the text of a missing setting)
    copy_seed_charts(tmp_path / "None" / "科", (SAMPLE[2],))
    monkeypatch.chdir(tmp_path)
    report = build([Path("None")], options(tmp_path / "out", publish=False))
    assert report.count("built") == 1 and [o.stem for o in report.outcomes] == ["15-劳动用工备案"]
    assert (tmp_path / "out" / "15-劳动用工备案.svg").is_file()
    assert build([Path("None")], options(tmp_path / "out", publish=False)).count("fresh") == 1


def test_ctrl_c_while_the_drawing_starts_stops_what_it_started(tmp_path, monkeypatch):
    """A Ctrl-C that lands while the batches and the imports start (a thread's
    start waits for it to run) must stop the drawing there: dot threads left
    behind kept the process from exiting (a `serve` stopped during a build hung)."""

    class InterruptedThread:
        def __init__(self, **_arguments):
            pass

        def start(self):
            raise KeyboardInterrupt

    charts = list(lint_paths([copy_seed_charts(tmp_path / "charts")]).charts)
    drawing = build_drawing._Drawing(charts, render.toolchain(), options(tmp_path / "out", jobs=1), tmp_path)
    monkeypatch.setattr(build_drawing.threading, "Thread", InterruptedThread)
    with pytest.raises(KeyboardInterrupt), drawing:
        pytest.fail("the drawing started")
    assert drawing.runs.stopped and drawing._pool._shutdown and drawing._beside._shutdown


def test_waiting_for_dot_to_start_takes_no_lock_the_dot_threads_need():
    import threading

    runs = render.DotRuns()
    with runs._lock:  # as a dot thread would hold it: the wait still ends, after its timeout
        waiting = threading.Thread(target=runs.wait_started, args=(1, 0.05), daemon=True)
        waiting.start()
        waiting.join(10)
        assert not waiting.is_alive()


# ------------------------------------------ survivors of the second full mutation run (issue 19)

def test_a_no_op_build_reports_the_time_it_took(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    report = build([charts], options(out, publish=False))
    assert report.count("fresh") == 3 and report.seconds > 0


def test_a_chart_under_a_broken_outer_defaults_file_names_that_file(tmp_path):
    # The department folder's own _defaults.yaml (absent here) is looked at
    # first and has no error; the project's, one level up, has one.
    root, settings = _department_project(tmp_path)
    defaults = root / "_defaults.yaml"
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("department", "departmnet"), encoding="utf-8")
    [outcome] = build([root], settings).outcomes
    assert outcome.status == "failed"
    assert outcome.reason.startswith(f"{defaults} 有错误，本图不能生成：")
    assert not (settings.out / "科" / "15-劳动用工备案.svg").exists()


def test_a_chart_deleted_while_the_build_runs_fails_alone_with_that_reason(charts, tmp_path):
    out = tmp_path / "out"
    deleted = charts / SAMPLE[0]
    report = build([charts], options(out, publish=False), planned=lambda count: deleted.unlink())  # found, then gone
    assert [(o.stem, o.status, o.reason) for o in report.outcomes] == [
        ("01-劳动人事争议调解仲裁", "failed", "构建期间文件被改名或删除"),
        ("04-失业保险待遇给付", "built", ""), ("15-劳动用工备案", "built", "")]
    assert not (out / "01-劳动人事争议调解仲裁.svg").exists() and (out / "15-劳动用工备案.svg").is_file()


def _tall_chart(folder: Path, steps: int) -> Path:
    """A chart of `steps` steps of two long risks and measures each: 12 continue on A4 and fit one A3 page."""
    lines = ["id: 1", "category: 行政裁决", "title: 测试职权", "department: 测试局", "steps:"]
    for s in range(1, steps + 1):
        lines += [f"  - name: 第{s}环节", "    level: 中", "    risks:"]
        lines += [f"      - 第{s}环节风险{i}，未按规定程序办理相关事项，存在优亲厚友、吃拿卡要的可能。" for i in (1, 2)]
        lines += ["    measures:"]
        lines += [f"      - 第{s}环节措施{i}，严格执行相关制度，加强内部监督检查和责任追究。" for i in (1, 2)]
        lines += ["    owner: 经办人"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "01-测试.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.needs("pdftotext")
def test_a_chart_built_for_a3_is_laid_out_across_that_page_and_printed_on_it(tmp_path):
    import pikepdf

    from riskchart.draw.page import Page

    page, out = Page("A3"), tmp_path / "out"
    report = build([_tall_chart(tmp_path / "charts", 12)], options(out, publish=False, page=page))
    assert report.count("built") == 1 and report.warnings == ()  # on A4 it continues on a second page
    width = float(ET.parse(out / "01-测试.svg").getroot().attrib["width"].removesuffix("pt"))
    assert abs(width - page.printable_width) <= 2  # the columns as wide as the page allows (A4: 538 pt)
    with pikepdf.open(out / "01-测试.pdf") as pdf:
        assert [[float(v) for v in p.mediabox] for p in pdf.pages] == [[0, 0, page.width, page.height]]
    assert "共1页" not in pdf_text(out / "01-测试.pdf")  # one page, not numbered as continued pages are


@pytest.mark.needs("mutool")
def test_a_build_raises_nothing_in_its_threads(tmp_path, monkeypatch):
    # An exception in a thread of its own does not stop the build: it only prints
    # a traceback (threading.excepthook), which the user sees as a crash.
    import threading

    from riskchart.config import Settings

    raised: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: raised.append(f"{hook.exc_type.__name__}: {hook.exc_value}"))
    charts = copy_seed_charts(tmp_path / "charts", (SAMPLE[2],))
    report = build([charts], options(tmp_path / "out", jobs=1, settings=Settings(word_booklet=True)))
    assert report.ok and "booklet.docx" in report.published
    assert raised == []


def test_a_chart_whose_further_pages_cannot_be_drawn_is_shrunk_onto_one_page_and_the_build_says_so(
        tmp_path, monkeypatch):
    import pikepdf

    dot_crashing_on("（续）", tmp_path / "bin", monkeypatch)  # only the further pages' header says （续）
    out = tmp_path / "out"
    charts = copy_seed_charts(tmp_path / "charts", (SAMPLE[2],))  # and one that fits its page
    report = build([_tall_chart(charts, 12)], options(out, publish=False))
    assert report.count("built") == 2
    [warning] = report.warnings
    assert warning.startswith("01-测试 续页的「（续）」标题和页码画不出") and "改为整张图缩小排在一页上" in warning
    with pikepdf.open(out / "01-测试.pdf") as pdf:
        assert len(pdf.pages) == 1


def test_each_chart_s_drawing_time_is_part_of_the_build_s(charts, tmp_path):
    copies(charts, 5)  # eight charts, in two batches of four with one job: each chart gets a quarter of its batch's
    started = time.perf_counter()
    report = build([charts], options(tmp_path / "out", publish=False, jobs=1))
    assert report.count("built") == 8 and 0 < report.seconds <= time.perf_counter() - started
    assert all(0 < outcome.seconds <= report.seconds for outcome in report.outcomes)


def test_stamps_are_recorded_for_every_touched_chart_even_after_a_changed_one(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    first = charts / SAMPLE[0]
    first.write_text(first.read_text(encoding="utf-8").replace("title: 调解仲裁", "title: 调解、仲裁", 1),
                     encoding="utf-8")  # changed, and first in the project
    os.utime(charts / SAMPLE[2])  # touched only: its new stamp is recorded by this build
    assert built_stems(build([charts], options(out, publish=False))) == {"01-劳动人事争议调解仲裁"}
    read: list[Path] = []
    contents = freshness._contents
    monkeypatch.setattr(freshness, "_contents", lambda path: read.append(path) or contents(path))
    assert build([charts], options(out, publish=False)).count("fresh") == 3 and read == []


@pytest.fixture
def without_mutool(tmp_path, monkeypatch):
    """A PATH with Graphviz and fontconfig and no MuPDF."""
    from riskchart.draw import raster

    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("dot", "fc-match", "fc-list"):
        (tools / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(tools))
    raster.mutool.cache_clear()
    yield
    raster.mutool.cache_clear()


def test_a_default_build_needs_no_mutool(charts, tmp_path, without_mutool):
    # MuPDF draws PNGs and booklet.docx's pictures only: neither is asked for here
    report = build([charts], options(tmp_path / "out"))
    assert report.ok and "booklet.pdf" in report.published


@pytest.mark.parametrize("asked", [{"formats": ("svg", "png"), "publish": False},
                                   {"settings": "word_booklet"}])  # booklet.docx's pictures
def test_a_build_needing_mutool_without_it_stops_before_writing_anything(charts, tmp_path, without_mutool, asked):
    from riskchart.config import Settings
    from riskchart.errors import MissingRasteriser

    if asked.get("settings"):
        asked = {"settings": Settings(word_booklet=True)}
    with pytest.raises(MissingRasteriser):
        build([charts], options(tmp_path / "out", **asked))
    assert not (tmp_path / "out").exists()


def test_a_partial_build_names_the_first_chart_of_the_project_not_yet_built(tmp_path):
    from riskchart.config import Settings

    root = copy_seed_charts(tmp_path / "charts")
    report = build([root / SAMPLE[0]], options(tmp_path / "out", settings=Settings(charts=root)))
    assert report.count("built") == 1 and report.published == ()
    [warning] = report.warnings
    assert f"另有 2 张图尚未生成或已过时（如 {root / SAMPLE[1]}）" in warning


def test_a_build_that_only_removes_a_deleted_chart_s_outputs_unlists_it(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)  # the first build records every stamp: the second has none to add
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    (charts / SAMPLE[0]).unlink()
    report = build([charts], options(out, publish=False))
    assert report.count("fresh") == 2 and set(report.removed) == {"01-劳动人事争议调解仲裁.svg", "01-劳动人事争议调解仲裁.pdf"}
    assert "01-劳动人事争议调解仲裁" not in json.loads((out / MANIFEST).read_text(encoding="utf-8"))["charts"]


def test_a_mistake_in_the_set_s_work_done_ahead_does_not_pass_unseen(charts, tmp_path, monkeypatch):
    # The booklets' cover and contents are drawn ahead as a best effort (a failure to draw
    # them is left to publish_set), but a mistake in that code must still stop the build.
    from riskchart.publish import booklets

    def mistaken(*arguments):
        raise ZeroDivisionError("drawn ahead")

    monkeypatch.setattr(booklets, "draw_front_matter_ahead", mistaken)
    with pytest.raises(ZeroDivisionError, match="drawn ahead"):
        build([charts], options(tmp_path / "out"))


def test_one_job_runs_one_dot_at_a_time(charts, tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    (folder / "running").mkdir(parents=True)
    (folder / "dot").write_text(  # counts the dot processes running as each starts
        f'#!/bin/sh\ntouch "{folder}/running/$$"\nls "{folder}/running" | wc -l >> "{folder}/counts"\n'
        f'{shutil.which("dot")} "$@"\nstatus=$?\nrm -f "{folder}/running/$$"\nexit $status\n')
    (folder / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    copies(charts, 3)  # six charts: two batches
    report = build([charts], options(tmp_path / "out", jobs=1, publish=False))
    assert report.count("built") == 6
    counts = [int(line) for line in (folder / "counts").read_text().split()]
    assert len(counts) >= 2 and max(counts) == 1


def test_a_build_keeps_its_working_files_in_the_output_folder_not_the_system_s(charts, tmp_path, monkeypatch):
    # out/ may be on another file system than /tmp (outputs are moved into place by rename),
    # and a build killed there would leave its files where no later build looks
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    report = build([charts], options(tmp_path / "out"))
    assert report.ok and report.count("built") == 3 and "booklet.pdf" in report.published


def test_a_partial_build_names_the_project_s_charts_as_relative_to_the_current_folder(tmp_path, monkeypatch):
    from riskchart.config import Settings

    root = copy_seed_charts(tmp_path / "charts")
    monkeypatch.chdir(tmp_path)
    report = build([Path("charts") / SAMPLE[0]], options(tmp_path / "out", settings=Settings(charts=root)))
    [warning] = report.warnings
    assert f"（如 {Path('charts') / SAMPLE[1]}）" in warning


def test_a_chart_from_outside_the_project_s_charts_folder_is_a_set_of_its_own(tmp_path):
    from riskchart.config import Settings

    root = copy_seed_charts(tmp_path / "charts")
    elsewhere = copy_seed_charts(tmp_path / "elsewhere", (SAMPLE[2],))
    out = tmp_path / "out"
    report = build([elsewhere / SAMPLE[2]], options(out, settings=Settings(charts=root)))
    assert report.ok and report.warnings == () and "index.html" in report.published
    page = (out / "index.html").read_text(encoding="utf-8")
    assert href("15-劳动用工备案.svg") in page and href("01-劳动人事争议调解仲裁.svg") not in page


def test_a_chart_with_errors_is_shown_by_its_title_while_it_has_outputs(charts, tmp_path):
    out = tmp_path / "out"
    build([charts], options(out))
    broken = charts / SAMPLE[0]
    broken.write_text(broken.read_text(encoding="utf-8").replace("level: 中", "level: 很高", 1), encoding="utf-8")
    title = "调解仲裁用人单位与劳动者发生的劳动人事争议"  # not its file name
    assert not build([charts], options(out)).ok
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "本图有错误，未更新" in index and title in index
    for output in out.glob("01-*"):
        output.unlink()
    assert not build([charts], options(out)).ok
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "本图有错误" not in index and title not in index  # nothing of it left to show


def test_an_output_that_cannot_be_written_is_reported_with_the_system_s_reason(charts, tmp_path):
    import errno

    out = tmp_path / "out"
    (out / "15-劳动用工备案.svg").mkdir(parents=True)
    [failed] = [o for o in build([charts], options(out, publish=False)).outcomes if o.status == "failed"]
    assert failed.reason == f"无法写入 {out}：{os.strerror(errno.EISDIR)}"


def test_a_published_build_lists_exactly_as_many_continued_charts_as_it_may(tmp_path, monkeypatch):
    from riskchart.build import run as building

    monkeypatch.setattr(building, "CONTINUED_LISTED", 1)  # one continued chart: listed, and no count after it
    report = build([_tall_chart(tmp_path / "charts", 12)], options(tmp_path / "out"))
    assert report.ok and "booklet.pdf" in report.published
    assert [w for w in report.warnings if "续排" in w] == ["01-测试 一页排不下（正文会小于 7 磅），续排为 2 页"]


def test_a_chart_s_errors_are_reported_as_diagnostics_not_as_errors_of_other_files(charts, tmp_path):
    broken = charts / SAMPLE[2]
    broken.write_text(broken.read_text(encoding="utf-8").replace("level: 中", "level: 很高", 1), encoding="utf-8")
    report = build([charts], options(tmp_path / "out", publish=False))
    assert [(Path(d.path).name, d.code) for d in report.diagnostics if d.is_error] == [(SAMPLE[2], "RC107")]
    assert "level: 很高" in report.sources[str(broken)]  # the text the diagnostics quote
    assert report.warnings == ()



def test_a_manifest_without_page_counts_still_publishes_after_a_change(charts, tmp_path):
    # an older riskchart recorded no pages: each chart it drew counts as one page
    out = tmp_path / "out"
    build([charts], options(out))
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["charts"].values():
        entry.pop("pages")
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    _same_size_edit(charts / SAMPLE[2])
    report = build([charts], options(out))
    assert report.ok and built_stems(report) == {"15-劳动用工备案"} and "booklet.pdf" in report.published


@pytest.mark.needs("mutool")
def test_another_dpi_draws_the_pngs_again_and_leaves_other_formats_fresh(tmp_path):
    import struct

    charts = copy_seed_charts(tmp_path / "charts", (SAMPLE[2],))
    out, png = tmp_path / "out", tmp_path / "out" / "15-劳动用工备案.png"

    def png_width() -> int:
        return struct.unpack(">I", png.read_bytes()[16:20])[0]

    build([charts], options(out, formats=("svg", "png"), publish=False, dpi=100))
    narrow = png_width()
    assert build([charts], options(out, formats=("svg", "png"), publish=False, dpi=150)).count("built") == 1
    assert png_width() == round(narrow * 1.5)
    build([charts], options(out, formats=("svg",), publish=False, dpi=100))
    assert build([charts], options(out, formats=("svg",), publish=False, dpi=150)).count("fresh") == 1


def test_a_change_in_the_project_s_defaults_rebuilds_a_department_chart_under_it(tmp_path):
    root, settings = _department_project(tmp_path)
    assert build([root], settings).count("built") == 1
    defaults = root / "_defaults.yaml"
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("长治高新区组织和人力资源部", "长治高新区人事部"),
                        encoding="utf-8")
    assert build([root], settings).count("built") == 1
    assert "长治高新区人事部" in (settings.out / "科" / "15-劳动用工备案.svg").read_text(encoding="utf-8")


def test_another_level_scale_draws_every_chart_again_in_its_colours(charts, tmp_path):
    from riskchart.config import Settings

    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    before = (out / "15-劳动用工备案.svg").read_bytes()
    report = build([charts], options(out, publish=False, settings=Settings(levels=("高", "中", "低", "无"))))
    assert report.count("built") == 3 and (out / "15-劳动用工备案.svg").read_bytes() != before


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> tuple[Path, Path]:
    """Three seed charts built once (no set): each test copies out/ and changes its manifest."""
    folder = tmp_path_factory.mktemp("built-once")
    charts = copy_seed_charts(folder / "charts")
    render.toolchain.cache_clear()
    assert build([charts], options(folder / "out", publish=False)).ok
    return charts, folder / "out"


@pytest.mark.parametrize("damage", [
    {"source": 1}, {"fingerprint": 1}, {"title": 1}, {"pages": "1"}, {"stamp": 1}, {"outputs": "04-失业保险待遇给付.svg"},
    {"outputs": ["04-失业保险待遇给付.svg", "01-劳动人事争议调解仲裁.svg"]}, {"outputs": [["04-失业保险待遇给付.svg"]]},
    {"outputs": ["04-失业保险待遇给付.svg.svg"]}, {"outputs": ["04-失业保险待遇给付svg"]}, {"written": []},
    {"written": {"04-失业保险待遇给付.png": [1, 2]}}, {"written": {"04-失业保险待遇给付.svg": [1, 2, 3]}},
])
def test_a_manifest_entry_wrong_in_one_field_is_ignored_with_a_warning(built_once, tmp_path, damage):
    charts, built = built_once
    out = tmp_path / "out"
    shutil.copytree(built, out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["charts"]["04-失业保险待遇给付"].update(damage)
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    report = build([charts], options(out, publish=False))
    assert built_stems(report) == {"04-失业保险待遇给付"}
    assert report.warnings == (f"{out / MANIFEST} 中「'04-失业保险待遇给付'」的记录不是 riskchart 写的，已忽略（不删除任何文件）",)
    assert (out / "01-劳动人事争议调解仲裁.svg").is_file()


def test_temporaries_in_the_cache_folder_are_removed_when_a_build_starts_and_when_it_is_stopped(charts, tmp_path):
    out = tmp_path / "out"
    (out / files.OUTPUT_CACHE).mkdir(parents=True)
    left = out / files.OUTPUT_CACHE / f"{files.TEMP_PREFIX}lint-results.bin.abc123{files.TEMP_SUFFIX}"
    left.write_text("left by a killed build")
    build([charts], options(out, publish=False))
    assert not left.exists()

    def stopped(outcome) -> None:  # Ctrl-C while a cache file is being written
        left.write_text("being written")
        raise KeyboardInterrupt

    _same_size_edit(charts / SAMPLE[2])
    with pytest.raises(KeyboardInterrupt):
        build([charts], options(out, publish=False), progress=stopped)
    assert not left.exists()


def test_folders_without_charts_are_all_named_in_the_message(tmp_path):
    from riskchart.errors import NoCharts

    empty = [tmp_path / "a", tmp_path / "b"]
    for folder in empty:
        folder.mkdir()
    with pytest.raises(NoCharts, match=f"^{re.escape(f'{empty[0]}、{empty[1]} 中没有 .yaml 防控图文件')}$"):
        build(empty, options(tmp_path / "out"))


def test_ctrl_c_in_a_build_stops_the_dot_it_is_waiting_for(charts, tmp_path, monkeypatch):
    from riskchart import lint

    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "dot").write_text(  # hangs on the chart titled 劳动用工备案, its pid in a file
        f'#!/bin/sh\nfor a in "$@"; do case $a in *.dot) if grep -q "劳动用工备案" "$a"; then '
        f'echo $$ > {tmp_path}/hanging; exec sleep 600; fi;; esac; done\nexec {REAL_DOT} "$@"\n')
    (folder / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")

    def written(pid_file):  # the shell creates the file before it writes the pid and its newline
        return pid_file.exists() and pid_file.read_text().endswith("\n")

    def interrupted(*arguments, **keywords):  # Ctrl-C while dot hangs
        deadline = time.monotonic() + 60
        while not written(tmp_path / "hanging") and time.monotonic() < deadline:
            time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(lint, "lint_paths", interrupted)
    with pytest.raises(KeyboardInterrupt):  # at once: a dot left running would hold the build for its timeout
        build([charts], options(tmp_path / "out", publish=False, timeout=600))
    with pytest.raises(ProcessLookupError):
        os.kill(int((tmp_path / "hanging").read_text()), 0)


def test_a_booklet_that_cannot_be_written_fails_the_build_and_says_so(charts, tmp_path):
    out = tmp_path / "out"
    (out / "booklet.pdf").mkdir(parents=True)  # a folder where the booklet goes
    report = build([charts], options(out))
    assert report.count("built") == 3 and not report.ok
    assert [failure.split("：")[0] for failure in report.publish_failures] == ["booklet.pdf"]
    assert "index.html" in report.published


def test_a_build_in_which_every_chart_fails_says_the_set_is_left_as_it_was(charts, tmp_path):
    for name in SAMPLE:
        (charts / name).write_text("id: [", encoding="utf-8")
    report = build([charts], options(tmp_path / "out"))
    assert report.count("failed") == 3 and report.published == ()
    assert report.warnings == ("没有一张图生成成功：索引页、汇编和台账未发布（保持原样），请先改正上面的错误",)


def test_a_no_op_build_records_the_output_sizes_an_older_manifest_lacks(charts, tmp_path, monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", 0)
    out = tmp_path / "out"
    build([charts], options(out, publish=False))
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["charts"].values():
        del entry["written"], entry["stamp"]  # as an older riskchart wrote it
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    opened: list[Path] = []
    looks_complete = files.looks_complete
    monkeypatch.setattr(files, "looks_complete", lambda path: opened.append(path) or looks_complete(path))
    assert build([charts], options(out, publish=False)).count("fresh") == 3 and len(set(opened)) == 6  # looked at
    opened.clear()
    assert build([charts], options(out, publish=False)).count("fresh") == 3 and opened == []


def test_a_chart_written_while_the_build_reads_it_is_drawn_again_by_the_next(charts, tmp_path, monkeypatch):
    """An editor saves twice while a build runs, then the edit is undone:
    the build drew the middle version, and the fingerprint it took first
    matches the undone file.  The next build must not keep that drawing."""
    from riskchart import lint

    out = tmp_path / "out"
    build([charts], options(out))
    target = charts / SAMPLE[2]
    first = target.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工备案登记", 1)
    target.write_text(first, encoding="utf-8")
    real_check = lint.charts_valid_alone

    def saved_again_meanwhile(*args, **kwargs):  # after the build fingerprinted the file, before lint reads it
        target.write_text(first.replace("劳动用工备案登记", "劳动用工备案变更", 1), encoding="utf-8")
        return real_check(*args, **kwargs)

    monkeypatch.setattr(lint, "charts_valid_alone", saved_again_meanwhile)
    assert built_stems(build([charts], options(out))) == {"15-劳动用工备案"}
    assert "劳动用工备案变更" in (out / "15-劳动用工备案.svg").read_text(encoding="utf-8")
    monkeypatch.setattr(lint, "charts_valid_alone", real_check)
    target.write_text(first, encoding="utf-8")  # undone: the bytes the first fingerprint was taken of
    assert built_stems(build([charts], options(out))) == {"15-劳动用工备案"}
    svg = (out / "15-劳动用工备案.svg").read_text(encoding="utf-8")
    assert "劳动用工备案登记" in svg and "劳动用工备案变更" not in svg
    assert "劳动用工备案登记" in (out / "index.html").read_text(encoding="utf-8")
    assert built_stems(build([charts], options(out))) == set()


def test_a_chart_rewritten_within_the_clock_tick_the_build_looked_in_is_drawn_again(charts, tmp_path, monkeypatch):
    """On a coarse clock (FAT: 2 s; older kernels: a few ms) a save of the
    same size within the tick the build looked in leaves the file's stamp as
    it was: the bytes of a file that had just changed tell instead."""
    from riskchart import lint
    from riskchart.build import stamps

    out = tmp_path / "out"
    build([charts], options(out))
    target = charts / SAMPLE[2]
    first = target.read_text(encoding="utf-8").replace("劳动用工备案", "劳动用工备案登记", 1)
    target.write_text(first, encoding="utf-8")
    real_stamp, real_check, frozen = stamps.file_stamp, lint.charts_valid_alone, {}

    def never_ticking(path):  # each file's stamp as it was first asked for
        return frozen.setdefault(str(path), real_stamp(path))

    def saved_again_meanwhile(*args, **kwargs):  # as many bytes: the stamp would not change either
        target.write_text(first.replace("劳动用工备案登记", "劳动用工备案变更", 1), encoding="utf-8")
        return real_check(*args, **kwargs)

    monkeypatch.setattr(stamps, "file_stamp", never_ticking)
    monkeypatch.setattr(lint, "charts_valid_alone", saved_again_meanwhile)
    assert built_stems(build([charts], options(out))) == {"15-劳动用工备案"}
    monkeypatch.undo()
    target.write_text(first, encoding="utf-8")  # undone
    assert built_stems(build([charts], options(out))) == {"15-劳动用工备案"}
    assert "劳动用工备案变更" not in (out / "15-劳动用工备案.svg").read_text(encoding="utf-8")


def test_a_build_killed_while_it_makes_the_set_has_recorded_the_charts_it_wrote(charts, tmp_path):
    """SIGKILL (or the OOM killer, or a power cut) while the index, register
    and booklets are made: the charts already moved into out/ are in the
    manifest, so undoing the edit later draws the chart again."""
    out = tmp_path / "out"
    build([charts], options(out))
    target = charts / SAMPLE[2]
    first = target.read_text(encoding="utf-8")
    target.write_text(first.replace("劳动用工备案", "劳动用工备案登记", 1), encoding="utf-8")
    killed = subprocess.run(
        [sys.executable, "-c", ("import os, signal, sys; from riskchart.publish import index; "
                                "index.publish_set = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL); "
                                "from riskchart.cli import main; sys.argv[0] = 'riskchart'; main()"),
         "build", str(charts), "-o", str(out), "-q"], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert "劳动用工备案登记" in (out / "15-劳动用工备案.svg").read_text(encoding="utf-8")
    target.write_text(first, encoding="utf-8")  # undone
    assert built_stems(build([charts], options(out))) == {"15-劳动用工备案"}
    assert "劳动用工备案登记" not in (out / "15-劳动用工备案.svg").read_text(encoding="utf-8")
