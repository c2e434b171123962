"""The texts a lint result keeps of its files: read again only when a report needs one."""

from __future__ import annotations

from pathlib import Path

from riskchart.check import packed
from riskchart.check.packed import SourceTexts


def test_whether_any_file_was_checked_is_known_without_reading_a_text(tmp_path, monkeypatch):
    # serve asks it after every build: reading thousands of charts again to answer was the cost
    chart = tmp_path / "a.yaml"
    chart.write_text("id: 1\n", encoding="utf-8")
    read: list[Path] = []
    text_of = packed.source_text
    monkeypatch.setattr(packed, "source_text", lambda path: read.append(path) or text_of(path))
    texts = SourceTexts({}, [str(chart)])
    assert texts and read == []
    assert texts[str(chart)] == "id: 1\n" and read == [chart]
    assert not SourceTexts({}, [])
