"""The HTML format in headless Chromium: side by side, highlights visible,
nothing from a chart executed, nothing fetched."""

from __future__ import annotations

import re

import pytest
from conftest import headless_chromium
from formats_fixture import HOSTILE_ITEM, HOSTILE_TITLE, hostile_diff
from scripted import isolate_git, make_repository

from riskchart.config import find_project
from riskchart.diff.as_html import render_html
from riskchart.diff.versions import diff_arguments

pytestmark = [pytest.mark.needs("git", "chromium", "chromedriver"), pytest.mark.slow]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = headless_chromium(tmp_path_factory.mktemp("chromium"), 1200, 1600)
    yield driver
    driver.quit()


def test_old_and_new_side_by_side_with_the_changed_characters_highlighted(tmp_path, monkeypatch, browser):
    from selenium.webdriver.common.by import By

    isolate_git(monkeypatch)
    repository = make_repository(tmp_path / "仓库")
    monkeypatch.chdir(repository)
    page = render_html(diff_arguments(find_project(repository), ["v1", "v2"]))
    assert not re.search(r"(src|href)=", page)  # self-contained: no link, no script, no font fetched
    (tmp_path / "diff.html").write_text(page, encoding="utf-8")
    browser.get((tmp_path / "diff.html").as_uri())
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section.chart h2")]
    assert headings == ["市场监管局 第 1 号 食品经营许可证核发", "测试局 第 2 号 审批", "测试局 第 3 号 确认",
                        "测试局 第 5 号 要删除的图", "测试局 第 6 号 新增的图"]
    rows = browser.find_elements(By.CSS_SELECTOR, "section.chart")[1].find_elements(By.CSS_SELECTOR, "tbody tr")
    reworded = next(row for row in rows if "item_reworded" in row.get_attribute("class"))
    cells = reworded.find_elements(By.TAG_NAME, "td")
    assert [cell.text for cell in cells] == ["受理", "风险点2", "不按规定程序受理。", "不按规定程序和时限受理。", "修改表述"]
    inserted = cells[3].find_element(By.TAG_NAME, "ins")
    assert inserted.text == "和时限" and inserted.is_displayed()
    assert cells[2].find_elements(By.TAG_NAME, "del") == []
    assert inserted.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
    level = next(row for row in rows if "level_changed" in row.get_attribute("class"))
    removed = level.find_element(By.CSS_SELECTOR, "td.before del")
    assert removed.text == "中" and removed.is_displayed()
    assert "line-through" in removed.value_of_css_property("text-decoration")
    assert removed.value_of_css_property("background-color") != inserted.value_of_css_property("background-color")
    # the old column left of the new one, both on screen
    assert cells[2].location["x"] < cells[3].location["x"] < 1200
    summary = browser.find_element(By.CSS_SELECTOR, ".summary").text
    assert summary.startswith("5 张图有修订（新增 1 张，删除 1 张，修改 3 张），1 张未变")
    assert "不变的图" not in browser.find_element(By.TAG_NAME, "body").text


def test_hostile_titles_and_items_show_as_text(tmp_path, browser):
    from selenium.webdriver.common.by import By

    (tmp_path / "hostile.html").write_text(render_html(hostile_diff()), encoding="utf-8")
    browser.get((tmp_path / "hostile.html").as_uri())
    assert browser.title.startswith("修订对照：v1 <b>")
    assert browser.find_elements(By.CSS_SELECTOR, "img, script:not([type]), b, i") == []
    assert HOSTILE_TITLE.split("\x1b")[0] in browser.find_element(By.CSS_SELECTOR, "section.chart h2").text
    after = browser.find_element(By.CSS_SELECTOR, "tr.item_reworded td.after").text
    assert "</td><script>" in after and HOSTILE_ITEM.split("\x1b")[0] in after
    assert browser.find_element(By.CSS_SELECTOR, ".problems li").text.startswith("charts/")
