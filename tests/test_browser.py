"""The index page in a real browser: headless Chromium types into the search
box and we check which charts remain.  Skips only when Chromium or its driver
is missing, and fails instead when CI is set."""

import os
from pathlib import Path

import pytest
import selenium  # noqa: F401 - a test dependency: missing, the module fails to load
from conftest import headless_chromium

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.needs("chromium", "chromedriver", "dot", "cjk-font"), pytest.mark.slow]


@pytest.fixture(scope="module")
def site(built_set):
    return built_set / "index.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = headless_chromium(tmp_path_factory.mktemp("chromium"), 1200, 1600)
    yield driver
    driver.quit()


def visible_charts(driver) -> list[int]:
    from selenium.webdriver.common.by import By

    return [int(card.get_attribute("id").split("-")[1])
            for card in driver.find_elements(By.CSS_SELECTOR, ".card") if card.is_displayed()]


def test_search_filters_as_the_user_types(site, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(site.as_uri())
    assert visible_charts(browser) == list(range(1, 41))
    search = browser.find_element(By.ID, "search")
    search.send_keys("养老")
    expected = [2, 3, 12, 13, 14, 23, 38]
    assert visible_charts(browser) == expected
    assert browser.find_element(By.ID, "shown").text == f"显示 {len(expected)} / 40 张"
    # a word from a measure, not a title, also finds its chart
    search.clear()
    search.send_keys("单簧管")
    assert visible_charts(browser) == []
    assert browser.find_element(By.ID, "nothing").is_displayed()
    search.clear()
    search.send_keys("加强内部监管 送达")
    found = visible_charts(browser)
    assert 34 in found and 1 in found
    # the level filter combines with the search
    search.clear()
    search.send_keys(" ")  # fire an input event on an empty query
    Select(browser.find_element(By.ID, "level")).select_by_value("高")
    high = visible_charts(browser)
    assert 1 in high and 2 not in high  # chart 2 has only 低 and 中 risks
    hidden_sections = [s.get_attribute("data-category") for s in browser.find_elements(By.CSS_SELECTOR, ".category")
                       if not s.is_displayed()]
    assert hidden_sections == ["行政给付"]  # the only category without a 高 risk
    shot = tmp_path / "index.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_previews_load_from_the_file_system(site, browser):
    from selenium.webdriver.common.by import By

    browser.get(site.as_uri())
    image = browser.find_element(By.CSS_SELECTOR, "#chart-1 img")
    browser.execute_script("arguments[0].scrollIntoView()", image)
    loaded = browser.execute_script(
        "const i = arguments[0]; return new Promise(r => i.complete ? r(i.naturalWidth) : i.onload = () => r(i.naturalWidth));",
        image)
    assert loaded > 0


def test_links_named_after_hostile_file_names_open_their_files(browser, tmp_path):
    """A file name like `javascript:alert(document.domain).yaml`, or one with
    # % ? or a space, is linked as a relative path: the browser resolves
    every link and preview to the real file and never runs a script."""
    from dataclasses import replace
    from datetime import date
    from urllib.parse import unquote, urlsplit

    from conftest import HOSTILE_STEMS
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    from riskchart.lint import lint_paths
    from riskchart.publish.index import index_html

    charts = lint_paths([ROOT / "charts"]).charts
    named = [replace(chart, path=chart.path.with_name(stem + ".yaml")) for chart, stem in zip(charts, HOSTILE_STEMS, strict=False)]
    out = tmp_path / "site"
    out.mkdir()
    for chart in named:
        (out / f"{chart.stem}.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" width="90" height="120">'
            f'<title>chart {chart.id}</title><rect width="90" height="120" fill="#c00"/></svg>', encoding="utf-8")
        (out / f"{chart.stem}.pdf").write_bytes(b"%PDF-1.4\n")
    (out / "index.html").write_text(index_html(named, out, ("svg", "pdf"), date(2026, 1, 1), booklet=False,
                                               register=False), encoding="utf-8")
    browser.get((out / "index.html").as_uri())
    anchors = browser.find_elements(By.CSS_SELECTOR, ".card a")
    assert len(anchors) == 4 * len(named)  # preview, title, SVG and PDF of each card
    on_disk = {os.fsencode(out / name) for name in os.listdir(out)}
    for anchor in anchors:
        resolved = urlsplit(anchor.get_property("href"))
        assert resolved.scheme == "file" and not resolved.query and not resolved.fragment, resolved
        assert os.fsencode(unquote(resolved.path, errors="surrogateescape")) in on_disk, resolved
    for image in browser.find_elements(By.CSS_SELECTOR, ".card img"):
        browser.execute_script("arguments[0].scrollIntoView()", image)
        width = browser.execute_script(
            "const i = arguments[0]; return new Promise(r => i.complete ? r(i.naturalWidth)"
            " : (i.onload = () => r(i.naturalWidth), i.onerror = () => r(0)));", image)
        assert width == 90, image.get_attribute("src")
    title_link = browser.find_element(By.CSS_SELECTOR, f"#chart-{named[0].id} h3 a")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", title_link)
    title_link.click()
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text
    assert unquote(urlsplit(browser.current_url).path) == str(out / "javascript:alert(document.domain).svg")
    assert browser.title == f"chart {named[0].id}"


def test_search_finds_a_chart_by_its_legal_basis_code_and_exit(browser, tmp_path):
    from selenium.webdriver.common.by import By

    from riskchart.build import BuildOptions, build
    from riskchart.config import Settings

    out = tmp_path / "out"
    report = build([ROOT / "tests" / "fixtures" / "power-list"], BuildOptions(out=out, settings=Settings()))
    assert report.ok
    browser.get((out / "index.html").as_uri())
    assert visible_charts(browser) == [7, 8]
    codes = [p.text for p in browser.find_elements(By.CSS_SELECTOR, ".card .code")]
    assert codes == ["职权编码：140403-XK-0007", "职权编码：1404030008"]
    search = browser.find_element(By.ID, "search")
    for words, expected in (("行政许可法", [7]), ("食品安全法", [7, 8]), ("1404030008", [8]),
                            ("告知向有关部门申请", [7]), ("承诺十五个工作日", [8])):
        search.clear()
        search.send_keys(words)
        assert visible_charts(browser) == expected, words
