"""The riskchart benchmark (`make bench`).

    .venv/bin/python tests/bench/bench.py [--quick] [--builds] [--huge] [--json PATH] [--keep]

Every measurement runs the real command line (.venv/bin/riskchart …) as a
child process, timed by wall clock (process start included).  Cheap rows
take the best of three runs; full builds, and yamllint on thousands of
files, run once.

Peak memory and CPU time come from `os.wait4` in a small wrapper process
that starts the command (see WRAPPER): the resource usage of exactly that
command, with nothing to install (no /usr/bin/time).  ru_maxrss is the
largest resident set of the command or of any process it waited for (e.g.
a `dot` run of a build): the biggest single process of the tree, not the
sum of processes running at once; its floor is the wrapper's ~10 MB.

The children compile their bytecode once, untimed, into a private
PYTHONPYCACHEPREFIX in the temporary folder: the numbers are those of a
normal installation even where PYTHONDONTWRITEBYTECODE is set, and nothing
is written into src/.

Full builds are measured against the Graphviz floor of the same charts,
run just before them: the DOT files riskchart writes, drawn to SVG + PDF
by two `dot -Tsvg -Tpdf -O …` processes with half the charts each (at 40,
400 and, with --huge, 4,000 charts; the target is ≤ 1.3 × the floor, and
≤ 300 MB peak memory at 4,000).  With --huge, the 4,000 are then rebuilt
with nothing changed (≤ 0.5 s) and with one risk reworded (≤ 1.5 s).  The older sequential baseline (one dot
per file and format) stays for continuity.

Rows: lint of the 40 real charts and of 1,000 / 4,000 synthetic ones
(tests/bench/generate.py), first with no result cache, then with the one
the first run left; yamllint on the same files when it is installed;
a clean build of the real charts against bare sequential Graphviz on the
same DOT files; the build without publishing; a no-op rebuild; a rebuild
after one chart changed; clean builds of 100 and 400 synthetic charts
(seed 1: the 100 are the first 100 of the 400); `riskchart serve`: save →
new drawing shown in headless Chromium, p95 of 20 saves, on the 40 and
the 400 (tests/bench/serve_latency.py); `riskchart diff` between two
commits of the 400 with 20 charts revised.
The table is printed and written as JSON to tests/bench/results/latest.json
(or --json PATH).  --quick skips the 4,000-chart lint and the 400-chart
build.  Exit status 0 even when a target is missed (the table says so);
1 when a measured command itself failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from generate import generate

VENV_BIN = ROOT / ".venv" / "bin"
REAL_CHARTS = ROOT / "charts"
DEFAULT_JSON = HERE / "results" / "latest.json"
LINT_RUNS = 3          # best of, for the cheap rows
REAL_BUILD_RUNS = 3    # best of, for the 40 real charts' full build and both of its anchors (noisy at ~2 s)
COMMAND_TIMEOUT = 1800  # seconds; a hung child is killed and its row marked as an error
SEED = 1
SERVE_EDITS = 20       # saves per serve row; its target is on their 95th percentile
# The children's environment.  main() points the bytecode cache at the temporary
# folder, so riskchart runs with compiled modules as on a normal installation
# (even where PYTHONDONTWRITEBYTECODE is set) without writing into src/.
CHILD_ENV = dict(os.environ)
WARM_UP = ("import importlib, pkgutil, riskchart\n"
           "for name in [m.name for m in pkgutil.iter_modules(riskchart.__path__)] + ['pypdf', 'jinja2', 'yamllint.cli']:\n"
           "    try:\n"
           "        importlib.import_module(name if '.' in name or name in ('pypdf', 'jinja2') else 'riskchart.' + name)\n"
           "    except Exception:\n"
           "        pass\n")


# ---------------------------------------------------------------- measuring

@dataclass
class Run:
    seconds: float
    cpu_seconds: float | None
    peak_mb: float | None
    returncode: int
    output: str


# A small process that starts the measured command, times it and reads its
# rusage with os.wait4.  It exists because a child's ru_maxrss starts at the
# resident size of the process it was forked from (Linux carries the parent's
# high-water mark across fork and exec): forked straight from this script,
# every command would report at least the benchmark's own size.  Forked from
# this wrapper (python -I -S, about 10 MB) the floor is the wrapper's size.
WRAPPER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
try:
    pid = os.posix_spawnp(argv[0], argv, os.environ)
except OSError as error:
    print(f"cannot start {argv[0]}: {error}", file=sys.stderr)
    sys.exit(127)
if hasattr(os, "wait4"):
    _, status, usage = os.wait4(pid, 0)
    cpu, maxrss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
else:
    _, status = os.waitpid(pid, 0)
    cpu = maxrss = None
seconds = time.perf_counter() - started
with open(report, "w") as stream:
    json.dump({"seconds": seconds, "cpu": cpu, "maxrss": maxrss,
               "returncode": os.waitstatus_to_exitcode(status)}, stream)
"""


def _maxrss_mb(value: int | None) -> float | None:
    if value is None:
        return None
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def run_once(argv: list[str], cwd: Path = ROOT, timeout: float = COMMAND_TIMEOUT) -> Run:
    """Run argv under the wrapper: wall time, CPU time and peak RSS of exactly that command."""
    with tempfile.TemporaryDirectory(prefix="riskchart-bench-run-") as scratch:
        report, log = Path(scratch) / "report.json", Path(scratch) / "output.txt"
        with log.open("wb") as stream:
            wrapper = subprocess.Popen([sys.executable, "-I", "-S", "-c", WRAPPER, str(report), *argv],
                                       cwd=cwd, stdin=subprocess.DEVNULL, stdout=stream,
                                       stderr=subprocess.STDOUT, env=CHILD_ENV, start_new_session=True)
            try:
                wrapper.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(wrapper.pid, signal.SIGKILL)      # the wrapper and the command
                wrapper.wait()
        output = log.read_bytes().decode("utf-8", "replace")
        try:
            measured = json.loads(report.read_text())
        except (OSError, ValueError):
            why = f"killed after {timeout:g} s" if wrapper.returncode == -signal.SIGKILL else "no report"
            return Run(float("nan"), None, None, wrapper.returncode or 1, f"{output}\n[bench: {why}]")
    return Run(measured["seconds"], measured["cpu"], _maxrss_mb(measured["maxrss"]),
               measured["returncode"], output)


def measure(argv: list[str], runs: int = 1, ok=(0,), before=None, cwd: Path = ROOT) -> Run:
    """Best (shortest wall time) of `runs`; `before(i)` runs untimed before each."""
    best = None
    for index in range(runs):
        if before:
            before(index)
        run = run_once(argv, cwd)
        if run.returncode not in ok:
            return run
        if best is None or run.seconds < best.seconds:
            best = run
    return best


# ---------------------------------------------------------------- the table

@dataclass
class Row:
    what: str
    seconds: float | None = None
    cpu_seconds: float | None = None
    peak_mb: float | None = None
    runs: int = 0
    value: str = ""            # the figure the target is about, when not the wall time
    target: str = ""
    status: str = ""           # pass, FAIL, skip, error, or empty (no target)
    note: str = ""
    extra: dict = field(default_factory=dict)


class Table:
    def __init__(self):
        self.rows: list[Row] = []

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(_format_row(row), flush=True)
        return row


COLUMNS = ("what", "wall s", "cpu s", "peak MB", "value", "target", "result")
WIDTHS = (44, 8, 8, 8, 12, 28, 6)


def _cell(value, width, right=True):
    text = "" if value is None else str(value)
    return text.rjust(width) if right else text.ljust(width)


def _format_row(row: Row) -> str:
    cells = (
        _cell(row.what, WIDTHS[0], right=False),
        _cell(f"{row.seconds:.3f}" if row.seconds is not None else "", WIDTHS[1]),
        _cell(f"{row.cpu_seconds:.2f}" if row.cpu_seconds is not None else "", WIDTHS[2]),
        _cell(f"{row.peak_mb:.1f}" if row.peak_mb is not None else "", WIDTHS[3]),
        _cell(row.value, WIDTHS[4]),
        "  " + _cell(row.target, WIDTHS[5], right=False),
        _cell(row.status, WIDTHS[6], right=False),
    )
    line = " ".join(cells).rstrip()
    return line + (f"\n{'':{WIDTHS[0]}}   └ {row.note}" if row.note else "")


def _header() -> str:
    cells = [_cell(COLUMNS[0], WIDTHS[0], right=False)]
    cells += [_cell(c, w) for c, w in zip(COLUMNS[1:5], WIDTHS[1:5], strict=True)]
    cells += ["  " + _cell(COLUMNS[5], WIDTHS[5], right=False), COLUMNS[6]]
    return " ".join(cells) + "\n" + "-" * (sum(WIDTHS) + len(WIDTHS) + 2)


def _verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


# ---------------------------------------------------------------- the machine

def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    dot = shutil.which("dot")
    dot_version = ""
    if dot:
        probe = subprocess.run([dot, "-V"], capture_output=True, text=True)
        dot_version = (probe.stderr or probe.stdout).strip()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cores": os.cpu_count(),
        "usable_cores": affinity,
        "cpu_model": model or platform.machine(),
        "dot": dot_version or "dot not found",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# ---------------------------------------------------------------- the benchmark

def riskchart(*args) -> list[str]:
    return [str(VENV_BIN / "riskchart"), *map(str, args)]


def yamllint_command() -> list[str] | None:
    """yamllint from the venv, from PATH, or importable by the venv's Python."""
    for candidate in (VENV_BIN / "yamllint", shutil.which("yamllint")):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    python = VENV_BIN / "python"
    if python.is_file() and subprocess.run([str(python), "-c", "import yamllint"],
                                           capture_output=True).returncode == 0:
        return [str(python), "-m", "yamllint"]
    return None


def _error_row(table: Table, what: str, run: Run) -> Row:
    tail = " ".join(run.output.strip().splitlines()[-3:])[:300]
    seconds = None if run.seconds != run.seconds else run.seconds     # NaN: never finished
    return table.add(Row(what, seconds, run.cpu_seconds, run.peak_mb, status="error",
                         note=f"exit {run.returncode}: {tail}"))


def _row_from(table: Table, what: str, run: Run, runs: int, target: str = "", passed=None,
              value: str = "", note: str = "", **extra) -> Row:
    status = "" if passed is None else _verdict(passed)
    return table.add(Row(what, run.seconds, run.cpu_seconds, run.peak_mb, runs, value, target,
                         status, note, extra))


def _lint_cache(project_out: Path) -> Path:
    """Where `riskchart lint` keeps each file's results (check/cache.py)."""
    return project_out / ".riskchart-cache" / "lint-results.bin"


def bench_lint(table: Table, synthetic: dict[int, Path], failures: list) -> dict[str, Run]:
    """Each set linted once with no result cache (every file checked), then
    best of LINT_RUNS with the cache the first run left (files unchanged)."""
    timed: dict[str, Run] = {}
    sets = [("real", "40 real charts", Path("charts"), ROOT / "out")]
    sets += [(count, f"{count:,} synthetic charts", folder, folder / "out") for count, folder in sorted(synthetic.items())]
    for key, label, folder, out in sets:
        _lint_cache(out).unlink(missing_ok=True)
        cold = run_once(riskchart("lint", "-q", folder))
        run = measure(riskchart("lint", "-q", folder), LINT_RUNS)
        if cold.returncode or run.returncode:
            failures.append(_error_row(table, f"lint, {label}", cold if cold.returncode else run))
            continue
        timed[key] = run
        count = 40 if key == "real" else key
        per_file = f"{cold.seconds / count * 1000:.2f} ms/file"
        _row_from(table, f"lint, {label}, no cache (first run)", cold, 1, value=per_file)
        if key == "real":
            target, passed = "≤ 0.25 s wall", run.seconds <= 0.25
        elif key == 4000:
            target = "≤ 2.5 s, ≤ 300 MB"
            passed = run.seconds <= 2.5 and run.peak_mb is not None and run.peak_mb <= 300
        else:
            target, passed = "", None
        _row_from(table, f"lint, {label}, result cache", run, LINT_RUNS, target, passed,
                  value=f"{run.seconds / count * 1000:.2f} ms/file")
    return timed


def bench_yamllint(table: Table, synthetic: dict[int, Path], linted: dict) -> None:
    command = yamllint_command()
    if command is None:
        table.add(Row("yamllint (comparison)", status="skip",
                      note="yamllint is not installed (.venv/bin/yamllint, PATH or importable); "
                           "`.venv/bin/pip install yamllint` to compare"))
        return
    largest = max(synthetic) if synthetic else None
    sets = [("40 real charts", REAL_CHARTS, "real")]
    if largest:
        sets.append((f"{largest:,} synthetic charts", synthetic[largest], largest))
    for label, folder, key in sets:
        # yamllint exits 1 when its default rules complain (line length, document start …):
        # only its time matters here.  It is slow on thousands of files: one run there.
        runs = LINT_RUNS if key == "real" else 1
        run = measure([*command, "-f", "parsable", str(folder)], runs, ok=(0, 1))
        what = f"yamllint, {label}"
        if run.returncode not in (0, 1):
            _error_row(table, what, run)
            continue
        ours = linted.get(key)
        ratio = ours.seconds / run.seconds if ours else None
        _row_from(table, what, run, runs, value=f"ratio {ratio:.2f}" if ratio is not None else "",
                  note="ratio = riskchart lint wall time / yamllint wall time" if ratio is not None else "",
                  riskchart_over_yamllint=ratio)


def _dot_baseline_script(dot_folder: Path, out: Path) -> tuple[Path, int]:
    dot = shutil.which("dot")
    files = sorted(dot_folder.glob("*.dot"))
    lines = ["set -e"]
    for path in files:
        svg, pdf = out / (path.stem + ".svg"), out / (path.stem + ".pdf")
        lines.append(f"{shlex.quote(dot)} -Tsvg {shlex.quote(str(path))} -o {shlex.quote(str(svg))}")
        lines.append(f"{shlex.quote(dot)} -Tpdf {shlex.quote(str(path))} -o {shlex.quote(str(pdf))}")
    script = out.parent / "baseline.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return script, len(files)


FLOOR_TARGET = 1.3  # a full build's wall time over the two-process Graphviz floor


def _floor_script(dot_folder: Path) -> tuple[Path, int]:
    """The Graphviz floor of a set of charts: the DOT files riskchart writes,
    drawn to SVG + PDF by two `dot -Tsvg -Tpdf -O a.dot b.dot …` processes at
    once with half the charts each (fonts load once per process) — what two
    cores of Graphviz cost with nothing else around them."""
    dot = shutil.which("dot")
    files = sorted(str(p) for p in dot_folder.rglob("*.dot"))
    half = (len(files) + 1) // 2
    lines = ["set -e"]
    for number, part in enumerate((files[:half], files[half:])):
        lines.append(f"{shlex.quote(dot)} -Tsvg -Tpdf -O {' '.join(map(shlex.quote, part))} & p{number}=$!")
    lines += ["wait $p0", "wait $p1"]  # either one's failure fails the script
    script = dot_folder.parent / f"{dot_folder.name}-floor.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return script, len(files)


def bench_floor(table: Table, label: str, charts: Path, work: Path, failures: list,
                runs: int = 1) -> tuple[Run | None, Run | None]:
    """The floor rows of one set of charts (riskchart writes the DOT files
    first, untimed), best of `runs`: Graphviz with the font as installed —
    the floor of the issue's target — and, shown beside it, Graphviz with
    the trimmed copy of the font riskchart's own dot runs use (trimfont.py)."""
    dot_folder = work / f"floor-{label.replace(' ', '-').replace(',', '')}"
    made = run_once(riskchart("build", charts, "-o", dot_folder, "--format", "dot", "--no-publish", "--force"))
    if made.returncode or shutil.which("dot") is None:
        failures.append(_error_row(table, f"floor: DOT files of the {label}", made))
        return None, None
    script, count = _floor_script(dot_folder)
    run = measure(["sh", str(script)], runs)
    trimmed = None
    config = _trimmed_font_config()
    if config:
        with_copy = script.with_name(f"{script.stem}-trimmed.sh")
        with_copy.write_text(f"export FONTCONFIG_FILE={shlex.quote(config)}\n{script.read_text(encoding='utf-8')}",
                             encoding="utf-8")
        trimmed = measure(["sh", str(with_copy)], runs)
    if count >= 4000:
        shutil.rmtree(dot_folder, ignore_errors=True)  # gigabytes of drawings
    if run.returncode:
        failures.append(_error_row(table, f"floor: two dot processes, {label}", run))
        return None, None
    _row_from(table, f"floor: 2 × dot -Tsvg -Tpdf -O, {label}", run, runs,
              value=f"{run.seconds / count * 1000:.0f} ms/chart",
              note=f"{count} DOT files riskchart wrote, half to each of two dot processes at once; "
                   f"load {os.getloadavg()[0]:.1f}")
    if trimmed is not None and not trimmed.returncode:
        _row_from(table, f"  the same with riskchart's trimmed font, {label}", trimmed, runs,
                  value=f"{trimmed.seconds / count * 1000:.0f} ms/chart",
                  note=f"FONTCONFIG_FILE of the font's trimmed copy, as riskchart's dot runs; {run.seconds / trimmed.seconds:.2f}× faster")
    else:
        trimmed = None
    return run, trimmed


def _trimmed_font_config() -> str:
    """The fontconfig file of the chart font's trimmed copy (made if need be), or ""."""
    code = "from riskchart.draw import trimfont; t = trimfont.for_font('Noto Sans CJK SC'); print(t.config if t else '')"
    done = subprocess.run([str(VENV_BIN / "python"), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _over_floor(table: Table, what: str, run: Run, floors: tuple[Run | None, Run | None], runs: int = 1,
                **extra) -> Row:
    """A full build's row (best of `runs`), with its wall time (and CPU time)
    as a ratio to its floor, and its wall time over the trimmed-font floor."""
    floor, trimmed = floors
    if floor is None:
        return _row_from(table, what, run, runs, **extra)
    ratio = run.seconds / floor.seconds
    cpu = (run.cpu_seconds / floor.cpu_seconds) if run.cpu_seconds and floor.cpu_seconds else None
    over_trimmed = run.seconds / trimmed.seconds if trimmed else None
    note = f"CPU {cpu:.2f}× the floor's; " if cpu else ""
    note += f"{over_trimmed:.2f}× the trimmed-font floor; " if over_trimmed else ""
    return _row_from(table, what, run, runs, f"≤ {FLOOR_TARGET:g} × floor", ratio <= FLOOR_TARGET,
                     value=f"{ratio:.2f}× floor", note=note + f"load {os.getloadavg()[0]:.1f}",
                     build_over_floor=ratio, cpu_over_floor=cpu, build_over_trimmed_floor=over_trimmed, **extra)


def bench_real_builds(table: Table, work: Path, failures: list) -> None:
    build40 = work / "build-real"
    floor = bench_floor(table, "40 real charts", REAL_CHARTS, work, failures, REAL_BUILD_RUNS)
    run = measure(riskchart("build", "charts", "-o", build40, "--force"), REAL_BUILD_RUNS)
    if run.returncode:
        failures.append(_error_row(table, "build, 40 real charts, clean (svg+pdf)", run))
        return
    full = run

    # Baseline: bare Graphviz, sequential, on the DOT files riskchart writes.
    dot_folder = work / "dot-real"
    made = run_once(riskchart("build", "charts", "-o", dot_folder, "--format", "dot", "--no-publish"))
    baseline = None
    if made.returncode or shutil.which("dot") is None:
        failures.append(_error_row(table, "baseline: DOT files for bare Graphviz", made))
    else:
        baseline_out = work / "baseline-out"
        baseline_out.mkdir()
        script, count = _dot_baseline_script(dot_folder, baseline_out)
        baseline = measure(["sh", str(script)], REAL_BUILD_RUNS)
        if baseline.returncode:
            failures.append(_error_row(table, "baseline: bare dot -Tsvg, -Tpdf", baseline))
            baseline = None
        else:
            _row_from(table, f"baseline: bare dot -Tsvg + -Tpdf, {count} DOT", baseline, REAL_BUILD_RUNS,
                      value=f"{baseline.seconds / count * 1000:.0f} ms/chart",
                      note="sequential, one dot run per format, no riskchart")

    ratio = full.seconds / baseline.seconds if baseline else None
    _over_floor(table, "build, 40 real charts, clean (svg+pdf)", full, floor, REAL_BUILD_RUNS)
    _row_from(table, "  the same build over the sequential baseline", full, REAL_BUILD_RUNS,
              "≤ 0.35 × baseline", None if ratio is None else ratio <= 0.35,
              value=f"{ratio:.2f}× base" if ratio is not None else "",
              build_over_baseline=ratio)

    run = measure(riskchart("build", "charts", "-o", work / "build-real-nopub", "--force", "--no-publish"),
                  REAL_BUILD_RUNS)
    if run.returncode:
        failures.append(_error_row(table, "build, 40 real, clean, --no-publish", run))
    else:
        publish = full.seconds - run.seconds
        publish_cpu = (full.cpu_seconds - run.cpu_seconds) if full.cpu_seconds is not None else None
        cpu = f", {publish_cpu:.2f} s CPU" if publish_cpu is not None else ""
        cost = (f"index + booklet + register ≈ {publish:.2f} s wall{cpu} of the full build" if publish > 0 else
                f"index + booklet + register: wall lost in the noise ({publish:+.2f} s){cpu}")
        _row_from(table, "build, 40 real, clean, --no-publish", run, REAL_BUILD_RUNS,
                  value=f"{run.seconds / baseline.seconds:.2f}× base" if baseline else "",
                  note=cost, publish_cpu_seconds=publish_cpu,
                  publish_seconds=publish)

    # No-op: the same build again into the same (complete) folder.
    run = measure(riskchart("build", "charts", "-o", build40), LINT_RUNS)
    if run.returncode:
        failures.append(_error_row(table, "no-op rebuild, 40 real charts", run))
    else:
        _row_from(table, "no-op rebuild, 40 real charts", run, LINT_RUNS, "≤ 0.3 s", run.seconds <= 0.3)

    # One chart changed: a copy of the charts, built once, then one risk reworded per run.
    copy = work / "charts-copy"
    shutil.copytree(REAL_CHARTS, copy)
    changed_out = work / "build-changed"
    first = run_once(riskchart("build", copy, "-o", changed_out))
    victim = min(p for p in copy.glob("*.yaml") if not p.name.startswith("_"))
    if first.returncode:
        failures.append(_error_row(table, "rebuild after one chart changed", first))
        return
    _one_chart_row(table, "rebuild after one chart changed", copy, changed_out, victim, _reword, failures,
                   "≤ 0.5 s", "a risk of {name} reworded (two characters swapped: no character new to the set)")
    _one_chart_row(table, "  the same, a character new to the set", copy, changed_out, victim, _new_character,
                   failures, "", "a character no chart had added to a risk of {name}: the booklet is made whole")


# a risk item: "- " and its text on one line (the first one found is the one edited)
_RISK_LINE = re.compile(r"(?m)^(\s+- )([\u4e00-\u9fff]{2})(\S*)$")
# characters of GB 2312 no seed chart has: one per run, so each is new to the set
_NEW_CHARACTERS = "鑫淼犇骉焱垚燚"


def _reword(chart: Path, index: int) -> None:
    """Swap the first two characters of the first risk: a real change, every character already in the set."""
    source = chart.read_text(encoding="utf-8")
    chart.write_text(_RISK_LINE.sub(lambda m: m[1] + m[2][::-1] + m[3], source, count=1), encoding="utf-8")


def _new_character(chart: Path, index: int) -> None:
    """Put a character into the first risk that neither it nor any other chart had."""
    source = chart.read_text(encoding="utf-8")
    added = _NEW_CHARACTERS[index % len(_NEW_CHARACTERS)]
    chart.write_text(_RISK_LINE.sub(lambda m: m[1] + m[2] + added + m[3].lstrip(_NEW_CHARACTERS), source, count=1),
                     encoding="utf-8")


def _one_chart_row(table: Table, what: str, charts: Path, out: Path, victim: Path, edit, failures: list,
                   target: str, note: str, limit: float = 0.5) -> None:
    run = measure(riskchart("build", charts, "-o", out), LINT_RUNS, before=lambda index: edit(victim, index))
    if run.returncode:
        failures.append(_error_row(table, what, run))
        return
    rendered = sum(line.lstrip().startswith("生成  ") for line in run.output.splitlines())
    published = sum(line.lstrip().startswith("发布  ") for line in run.output.splitlines())
    _row_from(table, what, run, LINT_RUNS, target, run.seconds <= limit if target else None,
              note=note.format(name=victim.name) + f": {rendered} chart re-rendered, {published} set files republished")


def bench_synthetic_builds(table: Table, folders: dict[int, Path], work: Path, failures: list) -> None:
    timed: dict[int, Run] = {}
    for count, folder in sorted(folders.items()):
        what = f"build, {count:,} synthetic charts, clean (svg+pdf)"
        floor = bench_floor(table, f"{count:,} synthetic charts", folder, work, failures) if count >= 400 else (None, None)
        run = measure(riskchart("build", folder, "-o", work / f"build-syn{count}", "--force"))
        if run.returncode:
            failures.append(_error_row(table, what, run))
            continue
        timed[count] = run
        if floor[0] is None:
            _row_from(table, what, run, 1, value=f"{run.seconds / count * 1000:.0f} ms/chart",
                      seconds_per_chart=run.seconds / count)
        else:
            _over_floor(table, what, run, floor, seconds_per_chart=run.seconds / count)
        if count == 4000:
            table.add(Row(f"peak memory, build of {count:,}", value=f"{run.peak_mb:.0f} MB", target="≤ 300 MB",
                          status=_verdict(run.peak_mb is not None and run.peak_mb <= 300),
                          note="ru_maxrss of the largest process of the build's tree"))
            _rebuild_rows(table, folder, work / f"build-syn{count}", count, failures)
        shutil.rmtree(work / f"build-syn{count}", ignore_errors=True)  # 4,000 charts' outputs take gigabytes
    if 100 in timed and 400 in timed:
        ratio = timed[400].seconds / timed[100].seconds
        table.add(Row("build time ratio, 400 / 100 synthetic", value=f"{ratio:.2f}",
                      target="≤ 4.4", status=_verdict(ratio <= 4.4), extra={"ratio": ratio}))


def _rebuild_rows(table: Table, charts: Path, out: Path, count: int, failures: list) -> None:
    """The no-op and one-change rows of a large set, built into `out` just before."""
    what = f"no-op rebuild, {count:,} synthetic charts"
    run = measure(riskchart("build", charts, "-o", out), LINT_RUNS)
    if run.returncode:
        failures.append(_error_row(table, what, run))
        return
    _row_from(table, what, run, LINT_RUNS, "≤ 0.5 s", run.seconds <= 0.5)
    victim = min(p for p in charts.glob("*.yaml") if not p.name.startswith("_"))
    _one_chart_row(table, f"rebuild after one chart changed, {count:,} synthetic", charts, out, victim, _reword,
                   failures, "≤ 1.5 s", "a risk of {name} reworded (two characters swapped)", limit=1.5)


DIFF_CHANGED = 20  # charts revised between the two commits of the diff row


def _git(repository: Path, *arguments: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", "-C", str(repository),
                    *arguments], check=True, capture_output=True, timeout=COMMAND_TIMEOUT,
                   env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})


def _revise(chart: Path) -> None:
    """A level raised and a risk reworded, as a real revision would."""
    text = chart.read_text(encoding="utf-8")
    text = text.replace("level: 中", "level: 高", 1) if "level: 中" in text else text.replace("level: 低", "level: 中", 1)
    lines = text.split("\n")
    first_item = next(i for i, line in enumerate(lines) if line.startswith("      - "))
    lines[first_item] = lines[first_item][:-1] + "和时限。"
    chart.write_text("\n".join(lines), encoding="utf-8")


def bench_diff(table: Table, work: Path, failures: list) -> None:
    """riskchart diff between two commits of 400 synthetic charts, 20 of them revised."""
    what = f"diff, 400 synthetic charts, {DIFF_CHANGED} changed (two revisions)"
    if shutil.which("git") is None:
        table.add(Row(what, status="skip", note="git is not installed"))
        return
    repository = work / "diff-repo"
    charts = generate(repository / "charts", 400, SEED)
    (repository / "riskchart.toml").write_text('charts = "charts"\n', encoding="utf-8")
    _git(repository, "init", "-q")
    _git(repository, "add", "-A")
    _git(repository, "commit", "-q", "-m", "before")
    for chart in charts[::len(charts) // DIFF_CHANGED][:DIFF_CHANGED]:
        _revise(chart)
    _git(repository, "commit", "-q", "-am", "after")
    run = measure(riskchart("diff", "HEAD~1", "HEAD"), LINT_RUNS, cwd=repository)
    if run.returncode or f"{DIFF_CHANGED} 张图有修订" not in run.output:
        failures.append(_error_row(table, what, run))
        return
    _row_from(table, what, run, LINT_RUNS, "≤ 1.5 s wall", run.seconds <= 1.5)


def bench_serve(table: Table, synthetic: dict[int, Path]) -> None:
    """Save → new drawing shown in Chromium under `riskchart serve` (serve_latency.py)."""
    import serve_latency

    sets = [("40 real charts", REAL_CHARTS, 0.5)]
    if 400 in synthetic:
        sets.append(("400 synthetic charts", synthetic[400], 1.0))
    for label, folder, target in sets:
        what = f"serve: save → drawing shown, {label}"
        why = serve_latency.missing()
        if why:
            table.add(Row(what, status="skip", note=why))
            continue
        try:
            latencies = serve_latency.measure(folder, SERVE_EDITS)
        except serve_latency.failures() as error:  # the row says so, the bench goes on
            table.add(Row(what, status="error", note=f"{type(error).__name__}: {error}"[:300]))
            continue
        p95 = serve_latency.p95(latencies)
        median = sorted(latencies)[len(latencies) // 2]
        table.add(Row(what, runs=len(latencies), value=f"p95 {p95:.3f} s", target=f"p95 ≤ {target:g} s",
                      status=_verdict(p95 <= target), note=f"median {median:.3f} s over {len(latencies)} edits",
                      extra={"latencies": latencies, "p95": p95}))


LONG_EVERY = 10  # one synthetic chart in ten is long (14–20 steps of 4 risks and measures)


def bench_long_builds(table: Table, folder: Path, work: Path, failures: list) -> None:
    """400 synthetic charts of which one in ten continues over pages (PDF windows and their
    headings drawn in a second, small dot run per batch that has such charts)."""
    what = f"build, 400 synthetic charts, 1 in {LONG_EVERY} long (continued pages), clean (svg+pdf)"
    run = measure(riskchart("build", folder, "-o", work / "build-syn400-long", "--force"))
    if run.returncode:
        failures.append(_error_row(table, what, run))
        return
    _row_from(table, what, run, 1, value=f"{run.seconds / 400 * 1000:.0f} ms/chart", seconds_per_chart=run.seconds / 400)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 4,000-chart lint and the 400-chart build")
    parser.add_argument("--builds", action="store_true",
                        help="only the build rows (no lint, yamllint or serve rows): for comparing builds back to back")
    parser.add_argument("--huge", action="store_true",
                        help="also build 4,000 synthetic charts beside their floor (about ten minutes on 2 cores)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results (default {DEFAULT_JSON.relative_to(ROOT)})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (printed) for inspection")
    args = parser.parse_args(argv)

    if not (VENV_BIN / "riskchart").is_file():
        print(f"{VENV_BIN / 'riskchart'} not found: run `make setup` first", file=sys.stderr)
        return 2
    info = machine()
    print(f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['cpu_model']}")
    print(f"         {info['dot']}; Python {info['python']}; load average {info['load_average']}")
    if info["cores"] != 2:
        print(f"         note: the targets are for 2 cores; this machine has {info['cores']}")

    work = Path(tempfile.mkdtemp(prefix="riskchart-bench-"))
    CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    run_once([str(VENV_BIN / "python"), "-c", WARM_UP])   # compile once, untimed
    lint_sizes = () if args.builds else (1000,) if args.quick else (1000, 4000)
    build_sizes = (100,) if args.quick else (100, 400, 4000) if args.huge else (100, 400)
    table = Table()
    failures: list[Row] = []
    started = time.perf_counter()
    try:
        began = time.perf_counter()
        synthetic = {n: work / f"syn{n}" for n in sorted(set(lint_sizes + build_sizes))}
        for n, folder in synthetic.items():
            generate(folder, n, SEED)
        print(f"generated {', '.join(f'{n:,}' for n in synthetic)} synthetic charts (seed {SEED}) "
              f"in {time.perf_counter() - began:.1f} s under {work}\n")
        print(_header())
        if not args.builds:
            linted = bench_lint(table, {n: synthetic[n] for n in lint_sizes}, failures)
            bench_yamllint(table, {n: synthetic[n] for n in lint_sizes}, linted)
        bench_real_builds(table, work, failures)
        bench_synthetic_builds(table, {n: synthetic[n] for n in build_sizes}, work, failures)
        if not args.quick and not args.builds:
            generate(work / "syn400-long", 400, SEED, long_every=LONG_EVERY)
            bench_long_builds(table, work / "syn400-long", work, failures)
        if not args.builds:
            bench_diff(table, work, failures)
            bench_serve(table, {n: synthetic[n] for n in build_sizes})
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    missed = [r.what for r in table.rows if r.status == "FAIL"]
    print(f"\n{sum(r.status == 'pass' for r in table.rows)} targets met, {len(missed)} missed"
          f"{', '.join(['', *missed]) if missed else ''}; {len(failures)} commands failed; "
          f"bench took {time.perf_counter() - started:.0f} s")
    result = {
        "when": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": args.quick,
        "seed": SEED,
        "machine": info,
        "bytecode": "warm: children use a private PYTHONPYCACHEPREFIX, filled by an untimed import of every module",
        "memory_note": "peak_mb is ru_maxrss from os.wait4: the largest single process of the command's tree",
        "rows": [asdict(r) for r in table.rows],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
