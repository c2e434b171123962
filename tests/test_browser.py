"""The index page in a real browser: headless Chromium types into the search
box and we check which charts remain.  Skips only when Chromium or its driver
is missing, and fails instead when CI is set."""

import shutil
from pathlib import Path

import pytest
from selenium import webdriver  # a test dependency: missing, the module fails to load

from riskchart import render
from riskchart.build import BuildOptions, build

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.needs("chromium", "chromedriver", "dot", "cjk-font"), pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    render.toolchain.cache_clear()
    out = tmp_path_factory.mktemp("site")
    assert build([ROOT / "charts"], BuildOptions(out=out, formats=("svg", "pdf"))).ok
    return out / "index.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1200,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
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
