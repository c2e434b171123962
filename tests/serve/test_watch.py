"""serve/watch.py: which files `riskchart serve` watches, and one save in
several steps settling into one change."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from riskchart.serve.watch import Watcher, is_watched

FIRST = "01-劳动人事争议调解仲裁.yaml"


@pytest.mark.parametrize(("name", "watched"), [
    ("01-a.yaml", True), ("01-a.YML", True), ("_defaults.yaml", True), (".#01-a.yaml", False), ("01-a.yaml~", False),
    (".01-a.yaml.swp", False), ("01-a.yaml.swp", False), ("4913", False), ("01-a.svg", False), ("riskchart.toml", True),
    ("other.toml", False),
])
def test_editor_temporary_files_are_not_watched(tmp_path, name, watched):
    assert is_watched(tmp_path / name, tmp_path / "riskchart.toml") is watched


def test_an_editor_save_in_steps_is_one_change_and_swap_files_none(tmp_path):
    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / FIRST).write_text("id: 1\n", encoding="utf-8")
    watcher = Watcher([charts], None)
    watcher.start()
    try:
        time.sleep(0.3)  # the watch is set up
        (charts / ".01.yaml.swp").write_bytes(b"vim swap")
        (charts / "4913").write_bytes(b"")
        (charts / "01.yaml~").write_bytes(b"backup")
        assert not watcher.changed.wait(1.0)
        # vim/VS Code style: write a temporary file, rename it over the chart, touch a backup
        temporary = charts / f".{FIRST}.tmp"
        temporary.write_text("id: 1\ntitle: 新\n", encoding="utf-8")
        os.replace(temporary, charts / FIRST)
        (charts / "01.yaml~").unlink()
        assert watcher.changed.wait(5)
        watcher.settle()  # as serve does before each build
        watcher.changed.clear()
        assert watcher.take() == (False, {(charts / FIRST).resolve()})
        assert not watcher.changed.wait(0.5)  # the steps of one save settled into one change
    finally:
        watcher.close()


class Clock:
    """time.monotonic and time.sleep for serve/watch.py: sleeping moves the clock
    on, and a file is "saved" (recorded) at the moments given."""

    def __init__(self, watcher: Watcher, saves: list[float]) -> None:
        self.now, self.watcher, self.saves = 0.0, watcher, sorted(saves)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        while self.saves and self.saves[0] <= until:  # a save during the sleep is seen when it happens
            self.now = self.saves.pop(0)
            self.watcher.record({Path("/charts/01.yaml")})
        self.now = until


@pytest.mark.parametrize(("saves", "settled"), [
    ([], 0.1),                          # quiet for SETTLE_MS after the one save
    ([0.05], 0.15),                     # the same file written again: the quiet starts again
    ([0.05, 0.12], 0.22),
    ([i * 0.05 for i in range(1, 40)], 1.0),  # saved without end: built MAX_SETTLE_MS after the first save
])
def test_a_save_settles_after_a_quiet_time_measured_from_its_last_write(monkeypatch, saves, settled):
    from riskchart.serve import watch as serve_watch

    watcher = Watcher([Path("/charts")], None)
    clock = Clock(watcher, saves)
    monkeypatch.setattr(serve_watch, "time", clock)
    watcher.record({Path("/charts/01.yaml")})
    watcher.settle()
    assert clock.now == pytest.approx(settled)
    assert watcher.take() == (False, {Path("/charts/01.yaml")})
