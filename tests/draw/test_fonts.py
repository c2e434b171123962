"""The installed font: which file, which characters, how wide — and the cache."""

import json
import stat

import pytest

from riskchart import style
from riskchart.draw import fonts

pytestmark = pytest.mark.skipif(fonts.resolve(style.DEFAULT_FONT) is None,
                                reason="Noto Sans CJK SC (fonts-noto-cjk) is not installed")


def test_resolve_names_the_file_fontconfig_draws_with():
    found = fonts.resolve(style.DEFAULT_FONT)
    assert found.family == style.DEFAULT_FONT and found.size > 1_000_000
    assert fonts.resolve("No Such Font 12345") is None


def test_what_the_font_has_and_how_wide_it_is():
    found = fonts.metrics_of(fonts.resolve(style.DEFAULT_FONT))
    assert found.has("如") and found.has("→") and not found.has("👍") and not found.has("\ue000")
    assert found.columns("如") == found.columns("→") == found.columns("※") == 2
    assert 1 < found.columns("W") < 2 and 0.5 < found.columns("1") < 1.5 and found.columns(" ") < 1


def test_lacks():
    assert not fonts.lacks(style.DEFAULT_FONT, "如")
    assert fonts.lacks(style.DEFAULT_FONT, "👍") and fonts.lacks(style.DEFAULT_FONT, "\ue000")
    assert not fonts.lacks(style.DEFAULT_FONT, "\u200b")  # draws nothing in any font


def test_metrics_are_cached_per_user_as_json_and_a_bad_entry_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    font_file = fonts.resolve(style.DEFAULT_FONT)
    fresh = fonts.metrics_of(font_file)
    folder = tmp_path / "riskchart"
    (entry,) = folder.glob("font-*.json")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert json.loads(entry.read_text(encoding="utf-8"))["font"] == font_file.key
    assert fonts.metrics_of(font_file) == fresh
    for bad in ("{", "[]", '{"version": 1}', json.dumps({"version": 1, "font": font_file.key,
                                                          "units_per_em": 1000, "runs": [[5, 1, 3]]})):
        entry.write_text(bad, encoding="utf-8")
        assert fonts.metrics_of(font_file) == fresh
    entry.write_text("{", encoding="utf-8")
    other = fonts.FontFile(font_file.path, font_file.index, font_file.family, font_file.size + 1, 0)
    assert fonts._cache_file(other) != entry  # a changed font file is a different entry


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert fonts.metrics_of(fonts.resolve(style.DEFAULT_FONT)).has("如")


def test_resolve_soon_asks_fontconfig_once_ahead_and_resolve_takes_its_answer(monkeypatch):
    real_run = fonts.subprocess.run
    asked = []

    def counted(argv, **kwargs):
        asked.append(argv[-1])
        return real_run(argv, **kwargs)

    monkeypatch.setattr(fonts.subprocess, "run", counted)
    fonts.resolve.cache_clear()
    try:
        fonts.resolve_soon(style.DEFAULT_FONT)
        fonts.resolve_soon(style.DEFAULT_FONT)  # asked once however often it is started
        found = fonts.resolve(style.DEFAULT_FONT)
        assert asked == [style.DEFAULT_FONT]
        assert found == fonts._ask_fontconfig(style.DEFAULT_FONT) and found.family == style.DEFAULT_FONT
        assert fonts.resolve(style.DEFAULT_FONT) is found
    finally:
        fonts.resolve.cache_clear()


def test_an_answer_asked_ahead_under_another_environment_is_not_taken(monkeypatch):
    """A command that started fc-match ahead and ended before it needed the
    answer (no fc-match on PATH: None) must not leave it to a later resolve."""
    fonts.resolve.cache_clear()
    try:
        with monkeypatch.context() as hidden:
            hidden.setenv("PATH", "")
            fonts.resolve_soon(style.DEFAULT_FONT)
        found = fonts.resolve(style.DEFAULT_FONT)
        assert found is not None and found.family == style.DEFAULT_FONT
    finally:
        fonts.resolve.cache_clear()
