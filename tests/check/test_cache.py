"""The lint result cache: every diagnostic the same with and without it.

The fixture corpus (every good and bad lint fixture, one project) is
linted without a cache and with one — cold, warm from disk, warm from
memory — and again after each kind of change the key must notice.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from riskchart import lint
from riskchart.check import cache as cache_module
from riskchart.check import rules
from riskchart.check.cache import FILE_NAME, ResultCache, decode_positions, encode_positions, signing_key
from riskchart.check.diagnostics import make
from riskchart.check.report import format_text
from riskchart.config import Settings
from riskchart.entrybatch import sealed_batch
from riskchart.lint import LintResult, lint_paths

DEFAULT_SETTINGS = Settings()


def assert_same(cached: LintResult, plain: LintResult) -> None:
    assert cached.diagnostics == plain.diagnostics
    assert format_text(list(cached.diagnostics), cached.sources) == format_text(list(plain.diagnostics), plain.sources)
    assert cached.charts == plain.charts
    assert [dict(c.positions) for c in cached.charts] == [dict(c.positions) for c in plain.charts]
    assert cached.files == plain.files


def compare(lint_corpus: Path, folder: Path, settings: Settings = DEFAULT_SETTINGS, memory: ResultCache | None = None,
            jobs: int = 1) -> ResultCache:
    """Lint with the cache (a fresh one reading `folder`, or `memory`) and without; both must agree."""
    cache = memory or ResultCache(folder)
    assert_same(lint_paths([lint_corpus], settings, jobs=jobs, cache=cache), lint_paths([lint_corpus], settings, jobs=jobs))
    return cache


def test_cold_warm_from_disk_and_from_memory_give_the_same_diagnostics(lint_corpus, tmp_path, checked_files):
    folder = tmp_path / "cache"
    compare(lint_corpus, folder)
    assert (folder / FILE_NAME).is_file()
    checked_files.clear()
    cached = lint_paths([lint_corpus], Settings(), jobs=1, cache=ResultCache(folder))
    assert checked_files == [], "a warm cache re-checked files"
    assert any(d.is_error for d in cached.diagnostics) and cached.charts
    memory = compare(lint_corpus, folder)
    checked_files.clear()
    assert_same(lint_paths([lint_corpus], Settings(), jobs=1, cache=memory), lint_paths([lint_corpus], Settings(), jobs=1))
    assert len(checked_files) == len(lint.discover([lint_corpus])), "only the uncached lint checked files"


def test_an_edited_chart_is_checked_again_and_only_it(lint_corpus, tmp_path, checked_files):
    folder = tmp_path / "cache"
    memory = compare(lint_corpus, folder)
    edited = lint_corpus / "good" / "draft-with-steps" / "01-a.yaml"
    assert edited.is_file()
    edited.write_text(edited.read_text(encoding="utf-8").replace("title:", "title: 重复 ", 1) + "oops: 1\n",
                      encoding="utf-8")
    checked_files.clear()
    cached = lint_paths([lint_corpus], Settings(), jobs=1, cache=ResultCache(folder))
    assert checked_files == [edited]
    assert any(d.path == str(edited) and d.code == "RC102" for d in cached.diagnostics)
    compare(lint_corpus, folder)
    compare(lint_corpus, folder, memory=memory)


def test_an_edited_defaults_file_changes_the_charts_below_it(lint_corpus, tmp_path, monkeypatch):
    def department_is(chart):  # a chart rule that reads what the chart inherits
        yield make(chart.path, 1, 1, "RC301", f"部门：{chart.department}")

    monkeypatch.setitem(rules.RULES, "RC301", rules.Rule("RC301", department_is))
    folder = tmp_path / "cache"
    memory = compare(lint_corpus, folder)
    before = lint_paths([lint_corpus], Settings(), jobs=1)
    (lint_corpus / "good" / "draft-with-steps" / "_defaults.yaml").write_text("department: 新的部门\n", encoding="utf-8")
    for path in sorted(lint_corpus.rglob("_defaults.yaml")):
        path.write_text(path.read_text(encoding="utf-8").replace("department:", "department: 改过的", 1),
                        encoding="utf-8")
    compare(lint_corpus, folder)
    compare(lint_corpus, folder, memory=memory)
    after = lint_paths([lint_corpus], Settings(), jobs=1, cache=memory)
    assert after.diagnostics != before.diagnostics  # the defaults file did matter


@pytest.mark.parametrize("settings", [
    Settings(disabled=frozenset({"RC304", "RC302"})),
    Settings(categories=("行政许可",)),
    Settings(require=frozenset({"level", "owner"})),
    Settings(levels=("一级", "二级")),
    Settings(risk_types=("岗位职责",)),
])
def test_changed_settings_are_part_of_the_key(lint_corpus, tmp_path, settings):
    folder = tmp_path / "cache"
    memory = compare(lint_corpus, folder)
    compare(lint_corpus, folder, settings)
    compare(lint_corpus, folder, settings, memory=memory)
    compare(lint_corpus, folder)  # and back
    compare(lint_corpus, folder, memory=memory)


def test_upgraded_rules_are_part_of_the_key(lint_corpus, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    memory = compare(lint_corpus, folder)

    def everything_is_a_draft(chart):
        yield make(chart.path, 1, 1, "RC301", "新规则：全部是草稿")

    # a new riskchart: a rule that says something else, and code with other bytes
    monkeypatch.setitem(rules.RULES, "RC301", rules.Rule("RC301", everything_is_a_draft))
    monkeypatch.setattr(cache_module, "_code_fingerprint", lambda: "a later version of riskchart")
    compare(lint_corpus, folder)
    compare(lint_corpus, folder, memory=memory)
    assert any(d.message == "新规则：全部是草稿" for d in lint_paths([lint_corpus], Settings(), cache=memory).diagnostics)


def test_the_code_fingerprint_covers_every_module(tmp_path):
    package = Path(cache_module.__file__).resolve().parent.parent
    copy = tmp_path / "riskchart"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache_module.code_fingerprint(copy)
    assert cache_module.code_fingerprint(copy) == before
    rules_file = copy / "check" / "rules.py"
    rules_file.write_bytes(rules_file.read_bytes() + b"\n# changed\n")
    assert cache_module.code_fingerprint(copy) != before


def test_the_font_file_is_part_of_the_key():
    cache = ResultCache(None)
    assert cache.context(Settings(), "/fonts/a.ttc|0|100|1") != cache.context(Settings(), "/fonts/a.ttc|0|100|2")
    assert cache.context(Settings(), "k") != cache.context(Settings(font="Noto Serif CJK SC"), "k")


def test_many_files_checked_in_worker_processes_give_the_same_entries(lint_corpus, tmp_path, monkeypatch, checked_files):
    monkeypatch.setattr(lint, "PARALLEL_FROM", 2)
    folder = tmp_path / "cache"
    compare(lint_corpus, folder, jobs=2)
    checked_files.clear()
    compare(lint_corpus, folder, jobs=1)
    assert len(checked_files) == len(lint.discover([lint_corpus])), "the worker-made entries were not used"


def cleared(data: bytes, magic: bytes | None = None, secret: bytes | None = None) -> bytes:
    """The whole lint cache file `data` with every entry's diagnostics taken
    out (a forged verdict: every file clean), the MAC left as it was or
    sealed again under `secret`, with `magic` in place of the file's own."""
    own, head, rest = data.split(b"\n", 2)
    mac, index_length, _ = head.split(b" ")
    index, blob, at = json.loads(rest[:int(index_length)]), rest[int(index_length):], 0
    entries = {}
    for name, (key, (results_length, positions_length)) in index.items():
        results = json.loads(blob[at:at + results_length])
        results["d"] = []
        at += results_length
        entries[name] = (key, [json.dumps(results, ensure_ascii=False).encode(), blob[at:at + positions_length]])
        at += positions_length
    magic = magic or own + b"\n"
    batch = b"".join(sealed_batch(secret or b"no one's key", magic, entries))
    return magic + (batch if secret else mac + batch[len(mac):])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "byte flipped", "entry edited", "other format",
                                    "other secret", "empty"])
def test_a_damaged_or_foreign_cache_is_ignored(lint_corpus, tmp_path, damage, checked_files, monkeypatch):
    folder = tmp_path / "cache"
    compare(lint_corpus, folder)
    path = folder / FILE_NAME
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00\xff{" * 1000)
    elif damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "byte flipped":  # in the last entry's positions: a diagnostic would point elsewhere
        path.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "entry edited":  # the MAC left as it was
        path.write_bytes(cleared(data))
    elif damage == "other format":  # this user's key, but another kind or version of file
        path.write_bytes(cleared(data, b"riskchart lint results 9\n", signing_key()))
    else:  # written under another user's key: this user's is another
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-user"))
    checked_files.clear()
    compare(lint_corpus, folder)
    assert len(checked_files) == 2 * len(lint.discover([lint_corpus])), "a damaged cache was believed"


def test_the_forged_files_above_are_believed_when_sealed_right(lint_corpus, tmp_path, checked_files):
    """What makes the forgeries above fail is the seal, not the forging."""
    folder = tmp_path / "cache"
    compare(lint_corpus, folder)
    path = folder / FILE_NAME
    path.write_bytes(cleared(path.read_bytes(), secret=signing_key()))
    plain = lint_paths([lint_corpus], Settings(), jobs=1)
    checked_files.clear()
    forged = lint_paths([lint_corpus], Settings(), jobs=1, cache=ResultCache(folder))
    assert checked_files == [] and sum(d.is_error for d in forged.diagnostics) < sum(d.is_error for d in plain.diagnostics)


def test_positions_survive_the_cache_text():
    positions = {(): (1, 1), ("id",): (2, 5), ("steps", 0, "risks", 12): (40, 9), ("time_limit", "statutory"): (3, 3)}
    text = encode_positions(positions)
    assert text is not None and decode_positions(text) == positions
    assert encode_positions({("a;b",): (1, 1)}) is None
    assert encode_positions({("0",): (1, 1)}) is None, "a key of digits would come back as an index"
