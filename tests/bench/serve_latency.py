"""How long `riskchart serve` takes from a save to the new drawing on screen.

    .venv/bin/python tests/bench/serve_latency.py CHARTS_FOLDER [-n 20]

A copy of the charts (with the repository's riskchart.toml) is served by a
real `riskchart serve` process; headless Chromium shows one chart's page;
the chart's title is changed on disk `n` times.  Each latency runs from
just before the file is written to the moment the page's new SVG has
loaded (serve.js sets window.riskchartShown then), on the same clock.
After each edit the next waits for serve's summary line: one save at a
time, as a person edits.  Used by bench.py for its serve rows.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def missing() -> str | None:
    """Why the measurement cannot run here, or None."""
    if not (CHROMIUM and DRIVER):
        return "Chromium or chromedriver is not installed (Debian packages chromium, chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


class Serving:
    """A `riskchart serve --port 0` process and the summary lines it prints."""

    def __init__(self, project: Path) -> None:
        self.process = subprocess.Popen([str(VENV_BIN / "riskchart"), "serve", "--port", "0"], cwd=project,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        encoding="utf-8", start_new_session=True)
        self.summaries = 0
        self.summarised_at = 0.0  # time.time() of the last summary line: that save's build, set included, done
        self.url = ""
        self.output: list[str] = []
        started = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.output.append(line)
                if line.startswith("生成 "):
                    self.summarised_at = time.time()
                    self.summaries += 1
                found = re.search(r"正在提供 (http://\S+)", line)
                if found:
                    self.url = found[1]
                    started.set()
            started.set()

        threading.Thread(target=read, daemon=True).start()
        started.wait(1800)
        if not self.url:
            raise RuntimeError("riskchart serve did not start:\n" + "".join(self.output[-20:]))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1200,1600", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(what)


def measure(charts: Path, edits: int = 20, built: list[float] | None = None) -> list[float]:
    """Seconds from each save to the new drawing shown, one per edit; with
    `built`, the seconds from each save to its build done (out/ current,
    the set included) are added to it."""
    with tempfile.TemporaryDirectory(prefix="riskchart-serve-bench-") as scratch:
        project = Path(scratch)
        shutil.copytree(charts, project / "charts")
        shutil.copy(ROOT / "riskchart.toml", project / "riskchart.toml")
        chart = sorted(p for p in (project / "charts").glob("*.yaml") if not p.name.startswith("_"))[1]
        original = chart.read_text(encoding="utf-8")
        title = re.search(r"^title: (.*)$", original, re.MULTILINE)
        assert title, chart
        serving = Serving(project)
        driver = browser(project / "profile")
        try:
            driver.get(serving.url.rstrip("/") + "/_riskchart/chart/" + quote(chart.stem, safe=""))
            _wait(lambda: driver.execute_script("return window.riskchartState !== undefined"), 30, "page connected")
            latencies = []
            for index in range(edits):
                shown = driver.execute_script("return window.riskchartShown ? window.riskchartShown.version : -1")
                summaries = serving.summaries
                saved = time.time()
                chart.write_text(original.replace(title[0], f"title: {title[1]}（第{index + 1}稿）"), encoding="utf-8")
                drawn = _wait(lambda shown=shown: driver.execute_script(
                    "var s = window.riskchartShown; return s && s.version !== arguments[0] && s.at;", shown),
                    60, f"edit {index + 1} shown")
                latencies.append(drawn / 1000 - saved)
                _wait(lambda summaries=summaries: serving.summaries > summaries, 60, f"edit {index + 1} built")
                if built is not None:
                    built.append(serving.summarised_at - saved)
            return latencies
        finally:
            driver.quit()
            serving.stop()


def failures() -> tuple[type[BaseException], ...]:
    """What a measurement may fail with: the browser, the process, a timeout."""
    from selenium.common.exceptions import WebDriverException

    return (WebDriverException, OSError, RuntimeError, subprocess.SubprocessError)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("charts", type=Path)
    parser.add_argument("-n", "--edits", type=int, default=20)
    args = parser.parse_args()
    why = missing()
    if why:
        print(why, file=sys.stderr)
        return 2
    built: list[float] = []
    latencies = measure(args.charts, args.edits, built)
    print(" ".join(f"{s:.3f}" for s in latencies))
    print(f"p95 {p95(latencies):.3f} s, median {sorted(latencies)[len(latencies) // 2]:.3f} s")
    print(f"out/ current (build done, set included): median {sorted(built)[len(built) // 2]:.3f} s after the save")
    return 0


if __name__ == "__main__":
    sys.exit(main())
