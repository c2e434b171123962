"""serve/preview.py: a saved chart's SVG drawn before the build; and the order in
which the pages see a save (serve/session.py's Session): the preview first, then the
build, which ends with the page naming the chart's file in out/ and the
index and registers current."""

from __future__ import annotations

import http.client
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import CHARTS, PROJECT

from riskchart.build import BuildOptions
from riskchart.config import find_project
from riskchart.lint import discover
from riskchart.publish import index as publish
from riskchart.serve import Live, Session, output_url, preview_url
from riskchart.serve import session as serve_session
from riskchart.serve.http import SVG_POLICY, bind
from riskchart.serve.preview import saved_charts

FIRST = "01-劳动人事争议调解仲裁.yaml"
SECOND = "05-工伤保险待遇给付.yaml"
KEY = Path(SECOND).stem


def make_project(folder: Path) -> Path:
    charts = folder / "charts"
    charts.mkdir(parents=True)
    for name in (FIRST, SECOND, "_defaults.yaml"):
        shutil.copy(CHARTS / name, charts / name)
    shutil.copy(PROJECT / "riskchart.toml", folder / "riskchart.toml")
    return folder


def edit(chart: Path, old: str, new: str) -> None:
    text = chart.read_text(encoding="utf-8")
    assert old in text
    chart.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_saved_charts_are_spelled_as_the_session_has_them_and_only_charts_saved_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(make_project(tmp_path))
    charts = discover([Path("charts")])
    second = (tmp_path / "charts" / SECOND).resolve()
    assert saved_charts({second}, charts) == [Path("charts") / SECOND]
    # a _defaults.yaml changes every chart under it; a new or deleted chart changes the set: the build's
    assert saved_charts({second, (tmp_path / "charts" / "_defaults.yaml").resolve()}, charts) == []
    assert saved_charts({second, tmp_path / "charts" / "09-新.yaml"}, charts) == []
    assert saved_charts({(tmp_path / "riskchart.toml").resolve()}, charts) == []


class Watched(Session):
    seen: dict[str, Any]  # the chart's page state and its SVG in out/ when the last build started


@pytest.fixture
def session(tmp_path, monkeypatch) -> Watched:
    """A session of the project, built once."""
    monkeypatch.chdir(make_project(tmp_path))
    project = find_project(Path("charts"))
    live = Live()
    session = Watched(project, [Path("charts")], BuildOptions(out=Path("out"), settings=project.settings), live,
                      lambda text: None)
    session.rebuild()
    seen: dict[str, Any] = {}
    real_build = serve_session.build

    def build_watched(*args: Any, **kwargs: Any) -> Any:
        seen["chart"] = chart_state(live)
        seen["svg"] = (Path("out") / f"{KEY}.svg").read_bytes()
        return real_build(*args, **kwargs)

    monkeypatch.setattr(serve_session, "build", build_watched)
    session.seen = seen
    return session


def chart_state(live: Live) -> dict[str, Any]:
    return next(c for c in live.state["charts"] if c["key"] == KEY)


def save(session: Session, old: str, new: str) -> None:
    chart = Path("charts") / SECOND
    edit(chart, old, new)
    session.rebuild(changed={chart.resolve()})


@pytest.mark.needs("dot", "cjk-font")
def test_a_saved_chart_shows_before_the_build_which_then_writes_the_same_drawing_and_the_set(session):
    before = chart_state(session.live)
    old_svg = (Path("out") / f"{KEY}.svg").read_bytes()
    save(session, "title: 工伤保险待遇给付", "title: 工伤保险待遇核定与给付")
    shown = session.seen["chart"]  # when the build started
    assert shown["svg"] == preview_url(KEY) and shown["title"] == "工伤保险待遇核定与给付" and not shown["failed"]
    assert shown["version"] == before["version"] + 1
    assert session.seen["svg"] == old_svg  # nothing was written to out/ for it
    preview = session.live.preview(KEY)
    assert preview is not None and "工伤保险待遇核定与给付".encode() in preview
    # the build's last update names the file in out/: the very bytes the page was shown
    after = chart_state(session.live)
    assert after["svg"] == output_url(f"{KEY}.svg") and after["version"] == shown["version"]
    assert (Path("out") / f"{KEY}.svg").read_bytes() == preview
    # and once the save's work is done, the set is current too
    assert "工伤保险待遇核定与给付" in (Path("out") / publish.INDEX).read_text(encoding="utf-8")
    assert "工伤保险待遇核定与给付" in (Path("out") / publish.REGISTER).read_text(encoding="utf-8-sig")


@pytest.mark.needs("dot", "cjk-font")
def test_a_chart_failing_its_own_checks_gets_no_preview(session):
    before = chart_state(session.live)
    save(session, "steps:", "steps: [")
    assert session.seen["chart"] == before
    after = chart_state(session.live)
    assert "RC006" in after["failed"] and after["svg"] == output_url(f"{KEY}.svg")


@pytest.mark.needs("dot", "cjk-font")
def test_a_chart_failing_a_cross_file_rule_goes_back_to_its_last_good_drawing(session):
    old_svg = (Path("out") / f"{KEY}.svg").read_bytes()
    first_title = next(line for line in (Path("charts") / FIRST).read_text(encoding="utf-8").splitlines()
                       if line.startswith("title: "))
    save(session, "title: 工伤保险待遇给付", first_title)  # a title the other chart has: RC204, the whole set's rule
    assert session.seen["chart"]["svg"] == preview_url(KEY)  # its own checks passed
    after = chart_state(session.live)
    assert after["svg"] == output_url(f"{KEY}.svg") and "RC204" in after["failed"]
    assert after["title"] == "工伤保险待遇给付"
    assert (Path("out") / f"{KEY}.svg").read_bytes() == old_svg


def test_a_preview_is_served_as_a_drawing_that_runs_no_script(tmp_path):
    live = Live()
    live.update(charts=[{"key": "01-甲", "svg": None, "version": 0}])
    live.change_charts({"01-甲": {"svg": preview_url("01-甲"), "version": 1}}, {"01-甲": b"<svg>1</svg>"})
    server = bind("127.0.0.1", 0, tmp_path, live)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        def get(path: str) -> tuple[int, dict[str, str], bytes]:
            connection = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
            connection.request("GET", path)
            response = connection.getresponse()
            answer = response.status, dict(response.getheaders()), response.read()
            connection.close()
            return answer

        status, headers, body = get(preview_url("01-甲"))
        assert (status, body) == (200, b"<svg>1</svg>")
        assert headers["Content-Type"] == "image/svg+xml" and headers["Content-Security-Policy"] == SVG_POLICY
        assert get("/_riskchart/preview/" + quote("02-乙"))[0] == 404
        assert get("/_riskchart/preview/..%2F" + quote("01-甲"))[0] == 404
    finally:
        live.stop()
        server.shutdown()
        server.server_close()


def preview_runs_in(folder: Path) -> list[int]:
    """dot processes started in `folder` that draw only an SVG: previews."""
    from test_serve import dot_runs_in

    found = []
    for pid in dot_runs_in(folder):
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-Tsvg" in arguments and b"-Tpdf" not in arguments:
            found.append(pid)
    return found


@pytest.mark.slow
@pytest.mark.needs("dot", "cjk-font")
def test_stopping_serve_while_a_saved_chart_is_drawn_first_leaves_no_dot_and_exits_0(tmp_path, monkeypatch):
    from test_serve import dot_runs_in, serving

    fake = tmp_path / "bin"
    fake.mkdir()  # a dot that hangs when asked for an SVG alone (the preview), and is the real one otherwise
    (fake / "dot").write_text('#!/bin/sh\ncase " $* " in *" -Tsvg -O "*) sleep 60;; esac\n'
                              f'exec {shutil.which("dot")} "$@"\n')
    (fake / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    project = make_project(tmp_path / "project")
    with serving(project) as (process, _):
        try:
            edit(project / "charts" / SECOND, "title: 工伤保险待遇给付", "title: 工伤保险待遇核定与给付")
            deadline = time.monotonic() + 20
            while not preview_runs_in(project) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert preview_runs_in(project), "no preview was seen"
        finally:
            process.send_signal(signal.SIGINT)
        assert process.wait(5) == 0
    time.sleep(0.2)
    assert dot_runs_in(project) == []
    assert "Traceback" not in "".join(process.lines)
