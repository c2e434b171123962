"""What `riskchart serve` watches, and when a group of saves has settled.

Chart files, `_defaults.yaml` files and the settings file, never an
editor's temporary or swap file; watchfiles (imported only here, so that
lint and build never load it) reports the events.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ..lint import CHART_SUFFIXES

SETTLE_MS = 100       # editors save in steps (temp file, rename, swap file): wait this long for quiet
MAX_SETTLE_MS = 1000  # but build at the latest this long after the first change
WATCH_STEP_MS = 20    # how often watchfiles looks for events: quiet is measured to within this


def is_watched(path: Path, settings_file: Path | None) -> bool:
    """Chart files and _defaults.yaml, never an editor's temporary or swap
    file (`.#a.yaml`, `a.yaml~`, `a.yaml.swp`, `4913`), and the settings file."""
    if settings_file is not None and path == settings_file:
        return True
    return path.suffix.lower() in CHART_SUFFIXES and not path.name.startswith(".")


def watch_roots(paths: list[Path]) -> list[Path]:
    """The folders to watch for these chart paths (a file's own folder)."""
    folders = [(p if p.is_dir() else p.parent).resolve() for p in paths]
    return list(dict.fromkeys(folders))


class Watcher:
    """Threads that set `changed` after each group of file events and
    remember the files changed; `settle` waits for them to be quiet and
    `take` hands them over.

    watchfiles reports a group once a step passed without a file it had not
    seen yet: a file written again within its group does not prolong it.
    So the quiet time is measured here, from the last group reported."""

    def __init__(self, paths: list[Path], settings_file: Path | None) -> None:
        self.changed = threading.Event()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._settings_changed = False
        self._paths: set[Path] = set()
        self._first = self._last = 0.0  # time.monotonic() of the first and last group since `take`
        self._settings_file = settings_file.resolve() if settings_file else None
        self._threads = [threading.Thread(target=self._watch, args=(watch_roots(paths), True), daemon=True)]
        if self._settings_file is not None:  # its folder alone, not the project's tree below it
            self._threads.append(threading.Thread(target=self._watch, args=([self._settings_file.parent], False),
                                                  daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _watch(self, roots: list[Path], recursive: bool) -> None:
        import watchfiles  # here, so that lint and build never import it

        def wanted(change: watchfiles.Change, path: str) -> bool:
            return is_watched(Path(path), self._settings_file)

        for changes in watchfiles.watch(*roots, watch_filter=wanted, debounce=MAX_SETTLE_MS, step=WATCH_STEP_MS,
                                        stop_event=self.stop, recursive=recursive, raise_interrupt=False,
                                        rust_timeout=500, yield_on_timeout=False):
            self.record({Path(path) for _, path in changes})

    def record(self, paths: set[Path]) -> None:
        """A group of changed files, as watchfiles reports it."""
        with self._lock:
            self._last = time.monotonic()
            self._first = self._first if self._paths else self._last
            self._paths |= paths
            self._settings_changed |= self._settings_file in paths
        self.changed.set()

    def settle(self) -> None:
        """Wait until no file changed for SETTLE_MS, or MAX_SETTLE_MS passed
        since the first change not yet taken."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = min(self._last + SETTLE_MS / 1000, self._first + MAX_SETTLE_MS / 1000) - now
            if wait <= 0:
                return
            time.sleep(wait)

    def take(self) -> tuple[bool, set[Path]]:
        """Whether the settings file changed, and the files changed (absolute
        paths), since the last call."""
        with self._lock:
            settings_changed, self._settings_changed = self._settings_changed, False
            paths, self._paths = self._paths, set()
        return settings_changed, paths

    def close(self) -> None:
        self.stop.set()
