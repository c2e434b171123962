"""`riskchart serve`: the files it serves and refuses, the state pages get,
the process stopping cleanly, and (slow) the pages updating in Chromium."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CHARTS, PROJECT, dot_crashing_on, headless_chromium

from riskchart.build import BuildOptions
from riskchart.check.report import format_text
from riskchart.config import find_project
from riskchart.lint import lint_paths
from riskchart.serve import Live, Session, file_version, output_url, page_url
from riskchart.serve.http import PortInUse, bind, output_file

FIRST = "01-劳动人事争议调解仲裁.yaml"
SECOND = "05-工伤保险待遇给付.yaml"


def make_project(folder: Path, names=(FIRST, SECOND, "06-劳动保障法律法规执行检查.yaml")) -> Path:
    """A project with a few of the real charts and the real settings."""
    charts = folder / "charts"
    charts.mkdir(parents=True)
    for name in (*names, "_defaults.yaml"):
        shutil.copy(CHARTS / name, charts / name)
    shutil.copy(PROJECT / "riskchart.toml", folder / "riskchart.toml")
    return folder


# ---------------------------------------------------------------- which files are served

@pytest.fixture
def out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "01-a.svg").write_text("<svg/>")
    (out / "sub").mkdir()
    (out / "sub" / "02-b.svg").write_text("<svg/>")
    (out / "50%25.svg").write_text("<svg/>")
    (out / ".riskchart-manifest.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("secret")
    return out


@pytest.mark.parametrize("url", ["/01-a.svg", "/sub/02-b.svg", "/%30%31-a.svg", "/50%2525.svg"])
def test_files_inside_the_output_folder_are_served(out, url):
    found = output_file(out.resolve(), url)
    assert found is not None and found.is_relative_to(out.resolve())


@pytest.mark.parametrize("url", [
    "/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/sub/%2e%2e/01-a.svg",
    "/..%2fsecret.txt", "/..%5csecret.txt", "/%2fetc/passwd", "//etc/passwd", "/.riskchart-manifest.json",
    "/%2eriskchart-manifest.json", "/sub/", "/sub", "/", "/01-a.svg%00.png", "/./01-a.svg", "/nothing.svg", "01-a.svg",
])
def test_traversal_hidden_files_and_folders_are_refused(out, url):
    assert output_file(out.resolve(), url) is None


def test_symbolic_links_leading_out_are_refused_and_those_inside_followed(out, tmp_path):
    (out / "leak.svg").symlink_to(tmp_path / "secret.txt")
    (out / "up").symlink_to(tmp_path)
    (out / "same.svg").symlink_to(out / "01-a.svg")
    assert output_file(out.resolve(), "/leak.svg") is None
    assert output_file(out.resolve(), "/up/secret.txt") is None
    assert output_file(out.resolve(), "/same.svg") == (out / "01-a.svg").resolve()


def test_urls_of_outputs_and_pages_cannot_become_schemes_queries_or_folders():
    assert output_url("javascript:alert(1)#?.svg") == "/javascript%3Aalert%281%29%23%3F.svg"
    assert output_url("部门/01-a.svg") == "/%E9%83%A8%E9%97%A8/01-a.svg"
    assert page_url("../01 a") == "/_riskchart/chart/..%2F01%20a"
    assert output_url(os.fsdecode(b"\xff.svg")) == "/%FF.svg"


# ---------------------------------------------------------------- the HTTP server

@pytest.fixture
def server(out):
    live = Live()
    live.update(charts=[], index=None)
    server = bind("127.0.0.1", 0, out, live)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    live.stop()
    server.shutdown()
    server.server_close()


def request(server, method: str, path: str, host: str | None = None) -> tuple[int, dict, bytes]:
    """A request with the path exactly as given (no client-side clean-up)."""
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    connection.putrequest(method, path, skip_host=host is not None)
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), data


def test_a_drawing_is_served_read_only_and_cannot_run_scripts(server):
    status, headers, data = request(server, "GET", "/01-a.svg")
    assert (status, data) == (200, b"<svg/>")
    assert headers["Content-Type"] == "image/svg+xml" and "script-src" not in headers["Content-Security-Policy"]
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, data = request(server, "HEAD", "/01-a.svg")
    assert (status, data, headers["Content-Length"]) == (200, b"", "6")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, headers, _ = request(server, method, "/01-a.svg")
        assert (status, headers.get("Allow")) == (405, "GET, HEAD"), method


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/sub/%2E%2E/%2e%2e/secret.txt",
                                  "/..%2Fsecret.txt", "/.riskchart-manifest.json", "/_riskchart/../../secret.txt"])
def test_traversal_requests_get_404(server, path):
    status, _, data = request(server, "GET", path)
    assert status == 404 and b"secret" not in data


def test_requests_naming_another_host_are_refused(server):
    port = server.server_address[1]
    assert request(server, "GET", "/01-a.svg", host=f"evil.example:{port}")[0] == 403
    assert request(server, "GET", "/01-a.svg", host=f"localhost:{port}")[0] == 200
    assert request(server, "GET", "/01-a.svg", host=f"[::1]:{port}")[0] == 200


def test_a_port_in_use_is_one_clear_error(server, out):
    with pytest.raises(PortInUse, match=f"端口 {server.server_address[1]} 已被占用") as raised:
        bind("127.0.0.1", server.server_address[1], out, Live())
    assert raised.value.exit_code == 2 and "\n" not in raised.value.format_message()


def test_the_index_gets_the_live_script_and_chart_pages_are_escaped(server, out):
    (out / "index.html").write_bytes("<html><body><h1>索引</h1></body></html>".encode())
    server.live.update(index="ignored: the page carries the version of the file it got", charts=[{"key": "01-<b>a", "title": "<script>alert(1)</script>", "source": "c/01.yaml",
                                         "files": [], "svg": "/01-a.svg", "version": 2, "failed": "",
                                         "page": page_url("01-<b>a")}])
    for path in ("/", "/index.html"):
        status, headers, data = request(server, "GET", path)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert data.startswith("<html><body><h1>索引</h1>".encode())
        version = file_version((out / "index.html").stat()).encode()
        assert data.endswith(b'data-page="index" data-value="' + version + b'" data-instance="' + server.live.instance.encode()
                             + b'"></script></body></html>')
    status, headers, data = request(server, "GET", page_url("01-<b>a"))
    assert status == 200 and "script-src 'self';" in headers["Content-Security-Policy"]
    assert b"<script>alert" not in data and b"&lt;script&gt;alert(1)&lt;/script&gt;" in data
    assert b'data-value="01-&lt;b&gt;a"' in data and b'src="/01-a.svg?v=2"' in data
    assert request(server, "GET", page_url("02-b"))[0] == 404
    status, headers, data = request(server, "GET", "/_riskchart/serve.js")
    assert status == 200 and b"EventSource" in data and headers["Content-Type"].startswith("text/javascript")
    assert request(server, "GET", "/_riskchart/../01-a.svg")[0] == 404


def test_the_event_stream_sends_the_state_now_and_after_each_change(server):
    live = server.live
    connection = socket.create_connection(server.server_address[:2], timeout=5)
    connection.sendall(b"GET /_riskchart/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    stream = connection.makefile("rb")

    def next_state():
        for line in stream:
            if line.startswith(b"data: "):
                return json.loads(line[6:])
        raise AssertionError("the stream ended")

    assert next_state()["instance"] == live.instance
    live.update(notes=["设置文件有误"])
    assert next_state()["notes"] == ["设置文件有误"]
    connection.close()


def test_the_live_state_waits_for_a_change_or_gives_up():
    live = Live()
    generation, first = live.next_message(-1, 0.01)
    assert live.next_message(generation, 0.01) is None
    threading.Timer(0.05, lambda: live.update(index=3)).start()
    later = live.next_message(generation, 5)
    assert later is not None and json.loads(later[1])["index"] == 3 and later[1] != first
    live.stop()
    assert live.next_message(later[0], 5) is None


# ---------------------------------------------------------------- builds and the state pages see

@pytest.mark.needs("dot", "cjk-font")
def test_the_state_carries_each_chart_and_the_diagnostics_as_lint_prints_them(tmp_path, monkeypatch):
    monkeypatch.chdir(make_project(tmp_path))
    project = find_project(Path("charts"))
    paths = [Path("charts")]
    options = BuildOptions(out=Path("out"), formats=("svg",), settings=project.settings)
    live = Live()
    printed: list[str] = []
    session = Session(project, paths, options, live, printed.append)
    session.rebuild()
    charts = live.state["charts"]
    assert [c["source"] for c in charts] == [f"charts/{n}" for n in (FIRST, SECOND, "06-劳动保障法律法规执行检查.yaml")]
    assert charts[1]["svg"] == output_url("05-工伤保险待遇给付.svg") and not charts[1]["failed"]
    assert (tmp_path / "out" / "05-工伤保险待遇给付.svg").is_file() and (tmp_path / "out" / "index.html").is_file()
    assert live.state["index"] == file_version((tmp_path / "out" / "index.html").stat())
    # a broken chart: its old drawing stays (marked failed), the error is lint's text
    chart = Path("charts") / SECOND
    chart.write_text(chart.read_text(encoding="utf-8").replace("level: ", "level: 很", 1), encoding="utf-8")
    session.rebuild()
    linted = lint_paths(paths, project.settings)
    errors = [d for d in linted.diagnostics if d.is_error]
    assert [p["text"] for p in live.state["problems"] if p["error"]] == \
        [format_text([d], linted.sources).rstrip("\n") for d in errors]
    error_text = next(p["text"] for p in live.state["problems"] if p["error"])
    assert "RC107" in error_text and error_text.endswith("^") and error_text.startswith(f"charts/{SECOND}:")
    broken = live.state["charts"][1]
    assert broken["failed"].startswith(f"{errors[0].line}:{errors[0].column} RC107") and broken["svg"]
    assert "1 个错误" in printed[-1] and "失败 1 张" in printed[-1]
    # deleted: it drops out, and its outputs go as with build
    chart.unlink()
    session.rebuild()
    assert [c["key"] for c in live.state["charts"]] == ["01-劳动人事争议调解仲裁", "06-劳动保障法律法规执行检查"]
    assert not (tmp_path / "out" / "05-工伤保险待遇给付.svg").exists()


@pytest.mark.needs("dot", "cjk-font")
def test_charts_in_department_folders_get_their_own_pages_sources_and_drawings(tmp_path, monkeypatch):
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "departments", tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    project = find_project(Path("charts"))
    options = BuildOptions(out=Path("out"), formats=("svg",), settings=project.settings)
    live = Live()
    Session(project, [Path("charts")], options, live, lambda _: None).rebuild()
    charts = {c["key"]: c for c in live.state["charts"]}
    inspection = "特设科/检验股/03-特种设备检验费征收"
    assert inspection in charts and "食品科/01-食品经营许可" in charts
    shown = charts[inspection]
    assert shown["source"] == f"charts/{inspection}.yaml"
    assert shown["svg"] == output_url(f"{inspection}.svg") and (Path("out") / f"{inspection}.svg").is_file()
    assert shown["page"] == page_url(inspection) and "%2F" in shown["page"]
    # an error in any _defaults.yaml above the chart belongs to its page
    assert list(shown["files"][1:]) == ["charts/_defaults.yaml", "charts/特设科/_defaults.yaml",
                                  "charts/特设科/检验股/_defaults.yaml"]


@pytest.mark.needs("dot", "cjk-font")
def test_a_chart_that_crashes_dot_shows_why_and_keeps_its_last_drawing(tmp_path, monkeypatch):
    from riskchart.draw import render

    monkeypatch.chdir(make_project(tmp_path))
    project = find_project(Path("charts"))
    live = Live()
    session = Session(project, [Path("charts")], BuildOptions(out=Path("out"), formats=("svg",),
                                                              settings=project.settings), live, lambda text: None)
    session.rebuild()
    dot_crashing_on("工伤保险", tmp_path / "bin", monkeypatch)
    render.toolchain.cache_clear()
    try:
        edit(Path("charts") / SECOND, "title: 工伤保险待遇给付", "title: 工伤保险待遇核定与给付")
        session.rebuild()
    finally:
        render.toolchain.cache_clear()
    chart = live.state["charts"][1]
    assert "simulated crash" in chart["failed"] and chart["svg"] and chart["title"] == "工伤保险待遇给付"


@pytest.mark.needs("dot", "cjk-font")
def test_a_changed_settings_file_applies_and_a_broken_one_is_shown(tmp_path, monkeypatch):
    monkeypatch.chdir(make_project(tmp_path))
    project = find_project(Path("charts"))
    options = BuildOptions(out=Path("out"), formats=("svg",), settings=project.settings)
    live = Live()
    session = Session(project, [Path("charts")], options, live, lambda text: None)
    session.rebuild()
    assert not any(p["error"] for p in live.state["problems"])
    settings = tmp_path / "riskchart.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('"行政裁决", ', ""), encoding="utf-8")
    session.rebuild(settings_changed=True)
    assert [p["path"] for p in live.state["problems"] if p["error"]] == [f"charts/{FIRST}"]  # 行政裁决 no longer allowed
    assert "RC107" in live.state["problems"][0]["text"]
    settings.write_text("categories = [\n", encoding="utf-8")
    session.rebuild(settings_changed=True)
    assert live.state["notes"][0].startswith("设置文件有误，仍按原来的设置生成：") and "riskchart.toml:" in live.state["notes"][0]


# ---------------------------------------------------------------- the process

@contextlib.contextmanager
def serving(project: Path, *extra: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`riskchart serve --port 0` in `project`, with its URL once it serves;
    however the block ends (a failed assertion too), the process is stopped
    and waited for, so no server outlives its test."""
    process = subprocess.Popen([sys.executable, "-m", "riskchart", "serve", "--port", "0", *extra], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    try:
        yield process, _url_once_serving(process)
    finally:
        stopped(process)


def _url_once_serving(process: subprocess.Popen) -> str:
    lines = []
    for line in process.stdout:
        lines.append(line)
        found = re.search(r"正在提供 (http://\S+)", line)
        if found:
            threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
            process.lines = lines
            return found[1]
    process.wait()
    raise AssertionError("serve did not start:\n" + "".join(lines))


def stopped(process: subprocess.Popen, grace: float = 5) -> int:
    """End `process` if it still runs: SIGTERM (serve stops its dot runs and
    cleans up), SIGKILL if that takes longer than `grace` seconds; wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture
def start_serve():
    """start_serve(project, *extra) → (process, URL), as `serving`; each process
    it started is stopped after the test, passed or failed."""
    with contextlib.ExitStack() as started:
        yield lambda project, *extra: started.enter_context(serving(project, *extra))


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font")
def test_a_serve_process_is_stopped_when_its_test_fails(tmp_path):
    with pytest.raises(AssertionError, match="a failing test"), serving(make_project(tmp_path)) as (process, url):
        http.client.HTTPConnection(url.split("/")[2], timeout=5).connect()  # it serves
        raise AssertionError("a failing test")
    assert process.returncode is not None  # stopped and waited for
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def test_a_process_that_ignores_sigterm_is_killed_and_waited_for():
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    ignoring = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert ignoring.stdout.readline() == "ready\n"
        assert stopped(ignoring, grace=0.2) == -signal.SIGKILL
    finally:
        ignoring.kill()
        ignoring.wait()
        ignoring.stdout.close()
    assert stopped(ignoring) == -signal.SIGKILL  # already ended: nothing more to do


def dot_runs_in(folder: Path) -> list[int]:
    """Running dot processes started in `folder` (serve's working folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "dot" and (entry / "cwd").resolve() == folder.resolve():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_within_a_second_with_status_0(tmp_path, stop, start_serve):
    process, url = start_serve(make_project(tmp_path))
    connection = http.client.HTTPConnection(url.split("/")[2], timeout=5)
    connection.request("GET", "/_riskchart/events")  # an open page does not keep it running
    assert connection.getresponse().status == 200
    process.send_signal(stop)
    started = time.monotonic()
    assert process.wait(5) == 0
    assert time.monotonic() - started < 1.0
    connection.close()
    output = "".join(process.lines)
    assert "Traceback" not in output and output.rstrip().endswith("已停止。")


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font")
def test_ctrl_c_during_a_build_leaves_no_dot_process_and_no_partial_file(tmp_path, start_serve):
    project = make_project(tmp_path, names=[p.name for p in sorted(CHARTS.glob("[0-9]*.yaml"))])
    process, _ = start_serve(project)
    for chart in (project / "charts").glob("[0-9]*.yaml"):  # every chart changes: a long build starts
        chart.write_text(chart.read_text(encoding="utf-8").replace("title: ", "title: 新", 1), encoding="utf-8")
    deadline = time.monotonic() + 20
    while not dot_runs_in(project) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dot_runs_in(project), "no dot run was seen"
    process.send_signal(signal.SIGINT)
    assert process.wait(5) == 0
    time.sleep(0.2)
    assert dot_runs_in(project) == []
    assert not [p for p in (project / "out").rglob("*") if ".tmp" in p.name or p.name.startswith(".riskchart-tmp")]
    assert "Traceback" not in "".join(process.lines)


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font")
def test_another_host_is_served_with_a_warning(tmp_path, start_serve):
    process, url = start_serve(make_project(tmp_path), "--host", "0.0.0.0")
    assert "".join(process.lines).startswith("警告：正在 0.0.0.0 上提供服务，网络上的其他人也能看到这些图。")
    port = url.rstrip("/").rsplit(":", 1)[1]
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    connection.request("GET", "/", headers={"Host": f"chart-pc.example:{port}"})
    assert connection.getresponse().status == 200  # asked for: other names may reach it
    connection.close()
    process.send_signal(signal.SIGINT)
    assert process.wait(5) == 0


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font")
def test_a_port_in_use_exits_2_with_one_line(tmp_path):
    project = make_project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "riskchart", "serve", "--port", str(port)], cwd=project,
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"riskchart：错误：端口 {port} 已被占用（也许另一个 riskchart serve 正在运行）：请用 --port 换一个端口，如 --port {port + 1}"]
    assert not (project / "out").exists() or not list((project / "out").glob("*.svg"))  # nothing built


# ---------------------------------------------------------------- in Chromium

SCREENSHOT = PROJECT / "docs" / "serve.png"  # README's picture: RISKCHART_UPDATE_SCREENSHOT=1 retakes it


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = headless_chromium(tmp_path_factory.mktemp("chromium"), 1100, 900)
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path):
    project = make_project(tmp_path)
    with serving(project) as (process, url):
        yield project, url
        process.send_signal(signal.SIGINT)
        assert process.wait(5) == 0


def wait_until(driver, condition, seconds: float = 15):
    """The condition's first true value; an element gone with a reload the page did itself counts as not yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, seconds, poll_frequency=0.05, ignored_exceptions=ignored).until(condition)


def edit(chart: Path, old: str, new: str) -> None:
    text = chart.read_text(encoding="utf-8")
    assert old in text
    chart.write_text(text.replace(old, new, 1), encoding="utf-8")


def connected(driver) -> None:
    wait_until(driver, lambda d: d.execute_script("return window.riskchartState !== undefined"))


@pytest.mark.slow
@pytest.mark.needs("chromium", "chromedriver", "dot", "cjk-font")
def test_the_chart_page_follows_the_file_as_it_is_saved(served, browser):
    from selenium.webdriver.common.by import By

    project, url = served
    chart = project / "charts" / SECOND
    browser.get(url.rstrip("/") + page_url(Path(SECOND).stem))
    connected(browser)
    browser.execute_script("window.notReloaded = true")
    drawing = browser.find_element(By.ID, "riskchart-drawing")
    before = drawing.get_attribute("src")
    assert browser.find_element(By.ID, "riskchart-title").text == "工伤保险待遇给付"
    assert browser.find_element(By.ID, "riskchart-source").text == f"charts/{SECOND}"
    assert browser.find_element(By.ID, "riskchart-before").text.startswith("← ")

    edit(chart, "title: 工伤保险待遇给付", "title: 工伤保险待遇核定与给付")
    wait_until(browser, lambda d: d.find_element(By.ID, "riskchart-title").text == "工伤保险待遇核定与给付")
    wait_until(browser, lambda d: drawing.get_attribute("src") != before)
    # shown first from serve's preview, the drawing ends as the file the build wrote
    in_out = output_url(f"{Path(SECOND).stem}.svg") + "?v="
    wait_until(browser, lambda d: in_out in drawing.get_attribute("src"), 60)
    assert browser.execute_script("return window.notReloaded") is True
    assert browser.execute_script("return arguments[0].naturalWidth", drawing) > 100

    # a syntax error: the overlay says what lint says; the last good drawing stays, dimmed
    edit(chart, "steps:", "steps: [")
    overlay = wait_until(browser, lambda d: d.find_element(By.ID, "riskchart-errors").is_displayed()
                         and d.find_element(By.ID, "riskchart-errors"))
    assert re.search(rf"charts/{re.escape(SECOND)}:\d+:\d+: error RC006 ", overlay.text), overlay.text
    assert "^" in overlay.text
    assert "riskchart-stale" in drawing.get_attribute("class")
    assert browser.find_element(By.ID, "riskchart-failed").is_displayed()
    browser.set_window_size(960, 640)  # README's picture: small
    shot = browser.get_screenshot_as_png()
    browser.set_window_size(1100, 900)
    assert len(shot) > 10_000
    if os.environ.get("RISKCHART_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot)

    edit(chart, "steps: [", "steps:")
    wait_until(browser, lambda d: not d.find_element(By.ID, "riskchart-errors").is_displayed())
    wait_until(browser, lambda d: "riskchart-stale" not in drawing.get_attribute("class"))
    assert browser.execute_script("return window.notReloaded") is True

    # deleted: the page says so
    chart.unlink()
    wait_until(browser, lambda d: d.find_element(By.ID, "riskchart-gone").is_displayed())


@pytest.mark.slow
@pytest.mark.needs("chromium", "chromedriver", "dot", "cjk-font")
def test_the_index_page_updates_itself_and_links_to_the_chart_pages(served, browser):
    from selenium.webdriver.common.by import By

    project, url = served
    browser.get(url)
    connected(browser)
    assert "工伤保险待遇给付" in browser.find_element(By.TAG_NAME, "main").text
    edit(project / "charts" / SECOND, "title: 工伤保险待遇给付", "title: 工伤保险待遇核定与给付")
    wait_until(browser, lambda d: "工伤保险待遇核定与给付" in d.find_element(By.TAG_NAME, "main").text)
    connected(browser)
    title = "//h3/a[text()='工伤保险待遇核定与给付']"
    wait_until(browser, lambda d: "/_riskchart/chart/" in d.find_element(By.XPATH, title).get_attribute("href"))
    wait_until(browser, lambda d: d.find_element(By.XPATH, title).click() or True)
    wait_until(browser, lambda d: d.find_element(By.ID, "riskchart-title").text == "工伤保险待遇核定与给付")
    connected(browser)
    # a broken _defaults.yaml is this chart's problem too, and the index's
    edit(project / "charts" / "_defaults.yaml", "department:", "department: [")
    overlay = wait_until(browser, lambda d: d.find_element(By.ID, "riskchart-errors").is_displayed()
                         and d.find_element(By.ID, "riskchart-errors"))
    shown = overlay.text
    assert re.search(r"charts/_defaults\.yaml:\d+:\d+: error RC", shown), shown
    browser.get(url)
    connected(browser)
    assert browser.find_element(By.ID, "riskchart-errors").text == shown


@pytest.mark.slow
@pytest.mark.needs("chromium", "chromedriver", "dot", "cjk-font")
def test_pages_reconnect_after_the_server_restarts(tmp_path, browser, start_serve):
    from selenium.webdriver.common.by import By

    project = make_project(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process, url = start_serve(project, "--port", str(port))
    browser.get(url.rstrip("/") + page_url(Path(SECOND).stem))
    connected(browser)
    process.send_signal(signal.SIGINT)
    assert process.wait(5) == 0
    wait_until(browser, lambda d: d.find_element(By.ID, "riskchart-offline").is_displayed())
    edit(project / "charts" / SECOND, "title: 工伤保险待遇给付", "title: 工伤保险待遇核定与给付")
    process, _ = start_serve(project, "--port", str(port))
    wait_until(browser, lambda d: d.find_element(By.ID, "riskchart-title").text == "工伤保险待遇核定与给付")
    assert not browser.find_element(By.ID, "riskchart-offline").is_displayed()
    process.send_signal(signal.SIGINT)
    assert process.wait(5) == 0


def test_lint_and_build_never_import_the_watcher_or_the_server(tmp_path):
    make_project(tmp_path)
    for command in ("lint", "build --format dot --no-publish"):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "riskchart", *command.split()],
                              cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
        assert "riskchart.lint" in imported
        assert not {"watchfiles", "riskchart.serve", "http.server"} & imported, command
