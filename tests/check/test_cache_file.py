"""The lint cache on disk: a whole file, and a journal of the entries
changed since, believed only when signed with the user's key and tied to
that whole file.  Whatever happens to either, lint says what it would say
without a cache."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from riskchart.check import cache_file
from riskchart.check.cache import ResultCache, signing_key
from riskchart.check.cache_file import FILE_NAME, JOURNAL_NAME
from riskchart.config import Settings
from riskchart.lint import discover, lint_paths

EDITED = Path("good") / "draft-with-steps" / "01-a.yaml"


def linted_alike(lint_corpus: Path, folder: Path, checked_files: list[Path] | None = None) -> None:
    """Lint with a fresh cache reading `folder`: the same as without one;
    `checked_files` left with the files the cached lint checked."""
    plain = lint_paths([lint_corpus], Settings(), jobs=1)
    if checked_files is not None:
        checked_files.clear()
    cached = lint_paths([lint_corpus], Settings(), jobs=1, cache=ResultCache(folder))
    assert cached.diagnostics == plain.diagnostics
    assert cached.charts == plain.charts
    assert [dict(c.positions) for c in cached.charts] == [dict(c.positions) for c in plain.charts]


def reword(chart: Path, old: str = "title:", new: str = "title: 改 ") -> None:
    chart.write_text(chart.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def test_a_changed_chart_is_a_journal_line_and_the_whole_file_is_not_written_again(lint_corpus, tmp_path, checked_files):
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    whole = (folder / FILE_NAME).read_bytes()
    assert not (folder / JOURNAL_NAME).exists()
    reword(lint_corpus / EDITED)
    linted_alike(lint_corpus, folder, checked_files)
    assert checked_files == [lint_corpus / EDITED]
    assert (folder / FILE_NAME).read_bytes() == whole
    assert (folder / JOURNAL_NAME).read_bytes().count(b"\n") == 1
    linted_alike(lint_corpus, folder, checked_files)
    assert checked_files == [], "the journal's entry was not used"
    reword(lint_corpus / EDITED, "title: 改 ", "title: 再改 ")  # a later line wins over an earlier one
    linted_alike(lint_corpus, folder, checked_files)
    assert checked_files == [lint_corpus / EDITED]
    linted_alike(lint_corpus, folder, checked_files)
    assert checked_files == []
    assert (folder / JOURNAL_NAME).read_bytes().count(b"\n") == 2


def test_deleted_and_renamed_charts_lint_as_without_a_cache(lint_corpus, tmp_path):
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    charts = sorted(lint_corpus.rglob("*.yaml"))
    charts[3].unlink()
    charts[7].rename(charts[7].with_name("改名-" + charts[7].name))
    linted_alike(lint_corpus, folder)
    linted_alike(lint_corpus, folder)


def test_a_grown_journal_is_folded_into_the_whole_file(lint_corpus, tmp_path, checked_files, monkeypatch):
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    whole = (folder / FILE_NAME).read_bytes()
    monkeypatch.setattr(cache_file, "COMPACT_FLOOR", 0)
    monkeypatch.setattr(cache_file, "COMPACT_SHARE", 16)  # a journal a sixteenth of the whole file is enough
    sizes = []
    for round in range(1, 60):
        reword(lint_corpus / EDITED, "title:", f"title: {round}")
        lint_paths([lint_corpus], Settings(), jobs=1, cache=ResultCache(folder))
        if not (folder / JOURNAL_NAME).exists():
            break
        sizes.append((folder / JOURNAL_NAME).stat().st_size)
    assert len(sizes) > 3 and sizes[-1] > len(whole) // 16 - sizes[0], "no journal, or folded too early"
    assert (folder / FILE_NAME).read_bytes() != whole
    linted_alike(lint_corpus, folder, checked_files)
    assert checked_files == [], "the whole file written again lost entries"


def clean(body: bytes) -> dict:
    """A journal line's body with every entry made clean (a forged verdict)."""
    found = json.loads(body)
    for entry in found["files"].values():
        results = json.loads(entry[1])
        results["d"] = []
        entry[1] = json.dumps(results, ensure_ascii=False)
    return found


def signed(found: dict, secret: bytes) -> bytes:
    body = json.dumps(found, ensure_ascii=False).encode()
    return hmac.new(secret, body, hashlib.sha256).hexdigest().encode() + b" " + body + b"\n"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "forged", "other secret", "other whole file"])
def test_a_damaged_or_foreign_journal_is_not_believed(lint_corpus, tmp_path, damage, checked_files):
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    broken = next(p for p in sorted((lint_corpus / "bad").rglob("*.yaml")) if lint_paths([p], Settings()).diagnostics)
    reword(broken, "\n", "\n# 改\n")  # a file with errors: a forged entry would hide them
    linted_alike(lint_corpus, folder)
    journal = folder / JOURNAL_NAME
    line = journal.read_bytes()
    mac, body = line[:64], line[65:-1]
    secret = signing_key()
    assert secret is not None and hmac.new(secret, body, hashlib.sha256).hexdigest().encode() == mac
    if damage == "garbage":
        journal.write_bytes(b"\x00\xff \n" * 100 + b"0" * 64 + b" {}\n")
    elif damage == "truncated":
        journal.write_bytes(line[:len(line) // 2])
    elif damage == "forged":  # the HMAC left as it was
        journal.write_bytes(mac + b" " + json.dumps(clean(body), ensure_ascii=False).encode() + b"\n")
    elif damage == "other secret":  # another user's key
        journal.write_bytes(signed(clean(body), b"another user's key, not this one"))
    else:  # this user's key, but a line added to another whole file
        journal.write_bytes(signed({**clean(body), "whole": "0" * 64}, secret))
    linted_alike(lint_corpus, folder, checked_files)
    assert broken in checked_files, "a damaged journal was believed"


def test_the_journal_is_never_written_through_a_hard_link(lint_corpus, tmp_path):
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("别人的文件\n", encoding="utf-8")
    (folder / JOURNAL_NAME).unlink(missing_ok=True)
    os.link(elsewhere, folder / JOURNAL_NAME)
    reword(lint_corpus / EDITED)
    linted_alike(lint_corpus, folder)
    assert elsewhere.read_text(encoding="utf-8") == "别人的文件\n"


def test_the_journal_is_never_written_through_a_link(lint_corpus, tmp_path):
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("别人的文件\n", encoding="utf-8")
    os.symlink(elsewhere, folder / JOURNAL_NAME)
    reword(lint_corpus / EDITED)
    linted_alike(lint_corpus, folder)
    assert elsewhere.read_text(encoding="utf-8") == "别人的文件\n"
    linted_alike(lint_corpus, folder)


@pytest.mark.parametrize("kind", ["symbolic link", "hard link"])
def test_the_whole_file_is_never_read_or_written_through_a_link_to_another_file(lint_corpus, tmp_path, kind,
                                                                                  checked_files):
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("别人的文件\n", encoding="utf-8")
    (folder / FILE_NAME).unlink()
    (os.symlink if kind == "symbolic link" else os.link)(elsewhere, folder / FILE_NAME)
    linted_alike(lint_corpus, folder, checked_files)
    assert len(checked_files) == len(discover([lint_corpus]))
    assert elsewhere.read_text(encoding="utf-8") == "别人的文件\n"
    assert not (folder / FILE_NAME).is_symlink() and (folder / FILE_NAME).stat().st_nlink == 1
    linted_alike(lint_corpus, folder, checked_files)
    assert checked_files == [], "the whole file written in the link's place is not used"


def test_a_cache_left_by_the_former_format_is_ignored_and_replaced(lint_corpus, tmp_path, checked_files):
    """Format 1 was one JSON document, `lint-results.json`, its entries' texts
    JSON strings in it; its files, left in place and signed with this user's
    key (here with forged verdicts), are not read, and go when the whole file
    is written."""
    folder = tmp_path / "cache"
    linted_alike(lint_corpus, folder)
    secret = signing_key()
    assert secret is not None
    entries = {name: [stored.key, json.dumps({**json.loads(stored.results), "d": []}, ensure_ascii=False),
                      stored.positions.decode()] for name, stored in cache_file.read(folder, secret).entries.items()}
    body = json.dumps({"format": 1, "files": entries}, ensure_ascii=False).encode()
    mac = hmac.new(secret, body, hashlib.sha256).hexdigest()
    former = folder / "lint-results.json"
    former.write_bytes(b'{"mac":"' + mac.encode() + b'","body":' + body + b"}")
    (folder / JOURNAL_NAME).write_bytes(signed({"format": 1, "whole": mac, "files": entries}, secret))
    (folder / FILE_NAME).unlink()
    linted_alike(lint_corpus, folder, checked_files)
    assert len(checked_files) == len(discover([lint_corpus])), "the former format's entries were believed"
    assert (folder / FILE_NAME).is_file() and not former.exists() and not (folder / JOURNAL_NAME).exists()
    linted_alike(lint_corpus, folder, checked_files)
    assert checked_files == []


def test_a_file_of_the_former_name_that_riskchart_did_not_write_is_kept(lint_corpus, tmp_path):
    """Only a whole file format 1 signed with this user's key is removed; a
    folder where the journal goes does not stop the whole file being written."""
    folder = tmp_path / "cache"
    folder.mkdir()
    stranger = folder / cache_file.FORMER_NAME
    stranger.write_bytes(b'{"mac":"' + b"0" * 64 + b'","body":{"format":1,"files":{}}}')
    (folder / JOURNAL_NAME).mkdir()
    linted_alike(lint_corpus, folder)
    assert (folder / FILE_NAME).is_file() and stranger.is_file() and (folder / JOURNAL_NAME).is_dir()


def test_an_entrys_stamp_key_is_kept_in_the_whole_file_and_in_the_journal(tmp_path):
    """The stamp key a build found a file under (ResultCache.stamp_key) is
    kept with its entry, so the next build finds the entry without reading
    the file; an entry without one keeps none."""
    secret = signing_key()
    assert secret is not None
    folder = tmp_path / "cache"
    folder.mkdir()
    entries = {"a.yaml": cache_file.Stored("k1", b'{"d":[]}', b"", "stamp-a"),
               "b.yaml": cache_file.Stored("k2", b'{"d":[]}', b"")}
    whole = cache_file.write_whole(folder, entries, secret)
    assert cache_file.read(folder, secret).entries == entries
    changed = {"b.yaml": cache_file.Stored("k3", b'{"d":[]}', b"", "stamp-b")}
    assert whole.mac is not None
    cache_file.append(folder, cache_file.journal_line(changed, whole.mac, secret))
    assert cache_file.read(folder, secret).entries == entries | changed
