"""The index page's cards kept between builds: the page laid out from them is
byte for byte the page rendered from scratch, whatever changed in between;
what is not a card of the user's own riskchart is rendered again."""

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import tamper_set_cache, write_files

from riskchart.build import BuildOptions
from riskchart.build.freshness import _fingerprint
from riskchart.check.cache import ResultCache
from riskchart.check.schema import UNGRADED
from riskchart.config import Settings
from riskchart.lint import lint_paths
from riskchart.publish import cardcache
from riskchart.publish.cardcache import FILE_NAME, CardCache
from riskchart.publish.indexpage import index_html, index_page
from riskchart.publish.setcache import EntryFile

DEFAULTS = {"食品科/_defaults.yaml": "department: 食品科\nphones:\n  service: '1234567'\n",
            "药品科/_defaults.yaml": "department: 药品科\n"}
CHARTS = {
    "食品科/01-a.yaml": "id: 1\ncategory: 行政许可\ntitle: 甲<许可>\nsteps:\n"
                       "  - {name: 受理, level: 高, risks: [刁难。, 拖延。], measures: [公开。], owner: 受理人,"
                       " risk_type: 岗位职责}\n"
                       "  - {name: 审核, level: 低, risks: [徇私。], measures: [复核。], owner: 科长}\n",
    "食品科/02-b.yaml": "id: 2\ncategory: 行政确认\ntitle: 乙 & 丙\nsteps:\n"
                       "  - {name: 办结, level: 中, risks: [不告知。, 超时。], measures: [限时。], owner: 经办人}\n",
    "药品科/01-c.yaml": "id: 1\ncategory: 行政确认\ntitle: 丁\nstatus: draft\nsteps:\n"
                       "  - {name: 送达, level: 低, risks: [丢失。], measures: [签收。], owner: 送达人}\n",
}


class Project:
    """A charts folder with departments, and the page built from it with and without the cache."""

    def __init__(self, root: Path, settings: Settings | None = None):
        self.charts = root / "charts"
        self.cache = root / "cache"
        self.settings = settings or Settings(charts=self.charts)
        write_files(self.charts, {**DEFAULTS, **CHARTS})

    def page(self, formats=("svg", "pdf"), settings=None, by_model=False):
        """The page laid out from the cache, its cache, and the page rendered
        from scratch.  `by_model`: the charts' fingerprints not given (cards found by their models)."""
        settings = settings or self.settings
        charts = list(lint_paths([self.charts], settings, cache=ResultCache(None)).charts)
        options = BuildOptions(out=self.charts.parent / "out", formats=formats, settings=settings)
        fingerprints = {} if by_model else {chart.path: _fingerprint(chart.path, options) for chart in charts}
        cache = CardCache(self.cache, fingerprints, formats)
        arguments = {"booklet": False, "register": True, "categories": settings.categories,
                     "levels": settings.levels}
        cached = index_page(charts, options.out, formats, date(2026, 11, 28), cache=cache, **arguments)
        return cached.decode("utf-8"), cache, index_html(charts, options.out, formats, date(2026, 11, 28), **arguments)


def test_unchanged_cards_come_from_the_cache_and_give_the_same_page(tmp_path):
    project = Project(tmp_path)
    page, made, scratch = project.page()
    assert made.made == 3 and page == scratch
    assert page.count('<li class="card') == 3 and 'id="chart-d2-1"' in page  # 药品科's chart 1: its prefix put in
    again, found, scratch = project.page()
    assert found.made == 0
    assert again == page == scratch


def change(project, name, text):
    (project.charts / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("what, made", [
    ("a risk reworded", 1),
    ("a chart deleted", 0),
    ("a chart renamed", 1),            # its path, so its links and its key
    ("a chart moved to another department", 1),
    ("a department renamed", 1),       # its _defaults.yaml: the fingerprints of the charts below it
    ("a chart gained the first ungraded risk", 3),  # a level column more: every card shows it
])
def test_the_page_after_a_change_is_the_page_from_scratch(tmp_path, what, made):
    project = Project(tmp_path)
    project.page()
    if what == "a risk reworded":
        change(project, "食品科/02-b.yaml", CHARTS["食品科/02-b.yaml"].replace("不告知。", "不告知当事人。"))
    elif what == "a chart deleted":
        (project.charts / "食品科/02-b.yaml").unlink()
    elif what == "a chart renamed":
        (project.charts / "食品科/02-b.yaml").rename(project.charts / "食品科/02-乙.yaml")
    elif what == "a chart moved to another department":
        (project.charts / "食品科/02-b.yaml").rename(project.charts / "药品科/02-b.yaml")
    elif what == "a department renamed":
        change(project, "药品科/_defaults.yaml", "department: 药品监管科\n")
    else:
        change(project, "食品科/02-b.yaml", CHARTS["食品科/02-b.yaml"].replace("level: 中, ", ""))
    page, cache, scratch = project.page()
    assert page == scratch
    assert page.count('<li class="card') == (2 if what == "a chart deleted" else 3)
    assert cache.made == made


def test_a_settings_change_renders_the_cards_it_changes(tmp_path):
    project = Project(tmp_path)
    project.page()
    page, cache, scratch = project.page(formats=("svg",))  # no PDF links on the cards
    assert page == scratch and cache.made == 3 and "PDF</a>" not in page
    scale = replace(project.settings, levels=("重大", "高", "中", "低"))
    page, cache, scratch = project.page(formats=("svg",), settings=scale)
    assert page == scratch and cache.made == 3 and "rank-1" in page


def test_cards_found_by_their_models_are_the_cards_from_scratch(tmp_path):
    project = Project(tmp_path)
    assert project.page(by_model=True)[1].made == 3
    page, cache, scratch = project.page(by_model=True)
    assert page == scratch and cache.made == 0
    page, cache, scratch = project.page(formats=("svg",), by_model=True)
    assert page == scratch and cache.made == 3
    change(project, "食品科/02-b.yaml", CHARTS["食品科/02-b.yaml"].replace("不告知。", "不告知当事人。"))
    page, cache, scratch = project.page(formats=("svg",), by_model=True)
    assert page == scratch and cache.made == 1


def test_a_card_kept_for_other_level_columns_is_rendered_again(tmp_path):
    """The page's level columns come from the whole set: a card kept when
    no chart had an ungraded risk does not show the 未评定 column."""
    project = Project(tmp_path)
    project.page()
    change(project, "药品科/01-c.yaml", CHARTS["药品科/01-c.yaml"].replace("level: 低, ", ""))
    page, _, scratch = project.page()
    assert page == scratch and page.count(f'title="{UNGRADED}风险点"') == 3


@pytest.mark.parametrize("damage", ["key changed", "byte flipped", "another user's key", "truncated",
                                    "a batch of another key appended"])
def test_a_tampered_cache_is_not_believed(tmp_path, monkeypatch, damage):
    project = Project(tmp_path)
    first, _, _ = project.page()
    path = project.cache / FILE_NAME
    data = path.read_bytes()
    if damage != "a batch of another key appended":
        tamper_set_cache(path, damage, monkeypatch, tmp_path / "another-user")
    else:  # a batch of cards that say something else, sealed under another user's key
        entries = EntryFile(path, cardcache._MAGIC).read()
        forged = {key: (fields, [bytes(piece).replace("甲".encode(), "假".encode()) for piece in pieces])
                  for key, (fields, pieces) in entries.items()}
        own = os.environ["XDG_CACHE_HOME"]
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-user"))
        EntryFile(tmp_path / "forged.bin", cardcache._MAGIC).save(forged, forged)
        monkeypatch.setenv("XDG_CACHE_HOME", own)
        path.write_bytes(data + (tmp_path / "forged.bin").read_bytes()[len(cardcache._MAGIC):])
    page, cache, scratch = project.page()
    assert page == scratch == first
    assert cache.made == (0 if damage == "a batch of another key appended" else 3)


def test_an_entry_of_ours_that_is_not_a_card_is_rendered_again(tmp_path):
    """Signed with the user's key but not what this riskchart writes: that card is rendered, not read."""
    project = Project(tmp_path)
    first, _, _ = project.page()
    entries = EntryFile(project.cache / FILE_NAME, cardcache._MAGIC).read()
    key = next(iter(entries))
    fields, pieces = entries[key]
    for bad in (fields[:-1], ["高", *fields[1:]], [fields[0], fields[1], 1, *fields[3:]],
                [*fields[:3], -1, *fields[4:]], [*fields[:6], [["高", "3"]]], [*fields[:6], [["高"]]]):
        file = EntryFile(project.cache / FILE_NAME, cardcache._MAGIC)
        file.read()
        file.save({**entries, key: (bad, pieces)}, {key})
        page, cache, _ = project.page()
        assert page == first and cache.made == 1, bad


def test_a_page_that_changed_one_card_appends_it_and_one_that_changed_none_writes_nothing(tmp_path):
    project = Project(tmp_path)
    project.page()
    path = project.cache / FILE_NAME
    before = path.read_bytes()
    stamp = path.stat()
    project.page()
    assert path.stat().st_mtime_ns == stamp.st_mtime_ns and path.read_bytes() == before
    change(project, "食品科/02-b.yaml", CHARTS["食品科/02-b.yaml"].replace("不告知。", "不告知当事人。"))
    project.page()
    after = path.read_bytes()
    assert after.startswith(before) and len(after) - len(before) < len(before) // 2
    assert path.stat().st_ino == stamp.st_ino
