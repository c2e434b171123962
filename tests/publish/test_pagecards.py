"""The index page's unchanged cards copied out of the last page: the page is
byte for byte the page rendered from scratch; a last page that is not
provably the last build's is not copied from."""

import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from conftest import write_files
from test_cardcache import CHARTS, DEFAULTS

from riskchart import files
from riskchart.build import BuildOptions
from riskchart.build.freshness import _fingerprint
from riskchart.check.cache import ResultCache
from riskchart.config import Settings
from riskchart.lint import lint_paths
from riskchart.publish import index, indexpage, pagecards
from riskchart.publish.indexpage import index_page
from riskchart.publish.names import INDEX
from riskchart.publish.pagecards import FILE_NAME, PageCards, write_layout

DAY = date(2026, 11, 28)


class Project:
    """A charts folder with departments; its page put in place as a build does."""

    def __init__(self, root: Path):
        self.charts = root / "charts"
        self.out = root / "out"
        self.settings = Settings(charts=self.charts)
        write_files(self.charts, {**DEFAULTS, **CHARTS})

    def publish(self, monkeypatch, formats=("svg", "pdf")):
        """The page (and how many cards were rendered for it), and the page rendered from scratch."""
        charts = list(lint_paths([self.charts], self.settings, cache=ResultCache(None)).charts)
        options = BuildOptions(out=self.out, formats=formats, settings=self.settings)
        cards = PageCards(self.out, {chart.path: _fingerprint(chart.path, options) for chart in charts}, formats)
        arguments = {"booklet": False, "register": True, "categories": self.settings.categories,
                     "levels": self.settings.levels}
        rendered = []
        with monkeypatch.context() as patched:
            patched.setattr(indexpage, "card", lambda *args, card=indexpage.card: rendered.append(1) or card(*args))
            page = index_page(charts, self.out, formats, DAY, cache=cards, **arguments)
        write_layout(cards, index._write_placed(self.out / INDEX, page))
        return page, len(rendered), index_page(charts, self.out, formats, DAY, **arguments)

    def change(self, name, text):
        (self.charts / name).write_text(text, encoding="utf-8")


CHANGES = {
    "a risk reworded": lambda p: p.change("食品科/02-b.yaml", CHARTS["食品科/02-b.yaml"].replace("不告知。", "不告知当事人。")),
    "a chart deleted": lambda p: (p.charts / "食品科/02-b.yaml").unlink(),
    "a chart added": lambda p: p.change("药品科/02-d.yaml", CHARTS["药品科/01-c.yaml"].replace("id: 1", "id: 2").replace("丁", "戊")),
    "a chart moved to another department": lambda p: (p.charts / "食品科/02-b.yaml").rename(p.charts / "药品科/02-b.yaml"),
    "a department renamed": lambda p: p.change("药品科/_defaults.yaml", "department: 药品监管科\n"),
    "a category changed": lambda p: p.change("食品科/01-a.yaml", CHARTS["食品科/01-a.yaml"].replace("行政许可", "行政确认")),
}


@pytest.mark.parametrize("what", CHANGES)
def test_the_page_from_the_last_one_is_the_page_from_scratch(tmp_path, monkeypatch, what):
    project = Project(tmp_path)
    page, rendered, scratch = project.publish(monkeypatch)
    assert page == scratch and rendered == 3
    assert pagecards._read_cards(project.out) is not None
    CHANGES[what](project)
    page, rendered, scratch = project.publish(monkeypatch)
    assert page == scratch
    assert rendered == (0 if what == "a chart deleted" else 1)
    page, rendered, scratch = project.publish(monkeypatch)  # from a page made from the last one
    assert page == scratch and rendered == 0


def test_other_level_columns_render_every_card_again(tmp_path, monkeypatch):
    project = Project(tmp_path)
    project.publish(monkeypatch)
    project.change("药品科/01-c.yaml", CHARTS["药品科/01-c.yaml"].replace("level: 低, ", ""))  # a first ungraded risk
    page, rendered, scratch = project.publish(monkeypatch)
    assert page == scratch and rendered == 3


def _edited_in_place(path):
    data = bytearray(path.read_bytes())
    data[data.index(b"<li class=\"card") + 5] ^= 1
    with path.open("r+b") as stream:
        stream.write(bytes(data))


def _replaced_by_a_copy(path):
    shutil.copy2(path, path.with_suffix(".copy"))
    os.replace(path.with_suffix(".copy"), path)


def _replaced_by_a_fifo(path):
    path.unlink()
    os.mkfifo(path)


def _layout_flipped(path):
    layout = path.parent / files.OUTPUT_CACHE / FILE_NAME
    data = layout.read_bytes()
    layout.write_bytes(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])


@pytest.mark.parametrize("tamper", [_edited_in_place, _replaced_by_a_copy, _replaced_by_a_fifo, _layout_flipped])
def test_a_page_not_provably_the_last_builds_is_not_copied_from(tmp_path, monkeypatch, tamper):
    project = Project(tmp_path)
    project.publish(monkeypatch)
    tamper(project.out / INDEX)
    assert pagecards._read_cards(project.out) is None
    if tamper is not _replaced_by_a_fifo:
        CHANGES["a risk reworded"](project)
        page, rendered, scratch = project.publish(monkeypatch)
        assert page == scratch and rendered == 1  # the others from the card cache


def test_another_users_layout_is_not_believed(tmp_path, monkeypatch):
    project = Project(tmp_path)
    project.publish(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another user"))
    assert pagecards._read_cards(project.out) is None
