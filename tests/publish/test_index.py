"""The publication set: index page, register, statistics and booklet agree."""

import csv
import html
import io
import json
import re
import shutil
import subprocess
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import HOSTILE_STEMS, needs_dot

from riskchart.build import BuildOptions, build
from riskchart.cli import main
from riskchart.config import find_settings
from riskchart.draw import render
from riskchart.lint import lint_paths
from riskchart.publish import tables
from riskchart.publish.index import href, index_html, search_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def charts():
    return list(lint_paths([ROOT / "charts"]).charts)


def test_register_has_one_row_per_risk_and_round_trips(charts):
    data = tables.register_csv(charts)
    assert data.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == list(tables.REGISTER_COLUMNS)
    assert len(rows) == sum(c.risk_count() for c in charts)
    assert len({r["编号"] for r in rows}) == len(rows)
    first = rows[0]
    assert first["编号"] == "1-2-1" and first["环节"] == "受理" and first["风险等级"] == "中"
    assert first["风险点"] == "故意刁难申请人。" and first["责任人"] == "受理人"
    assert first["防控措施"].splitlines()[0] == "1. 建立受理单制度。"


def test_statistics_agree_with_the_register_and_the_charts(charts):
    stats = tables.statistics(charts, find_settings(ROOT).categories)
    rows = tables.register(charts)
    assert stats.total.charts == 40 and stats.total.drafts == 2
    assert stats.total.risk_total == len(rows)
    assert dict(Counter(r.风险等级 for r in rows)) == {k: v for k, v in stats.total.risks.items() if v}
    for category, counts in stats.by_category.items():
        assert counts.risk_total == sum(1 for r in rows if r.类别 == category)
        assert counts.steps == sum(len(c.steps) for c in charts if c.category == category)
    assert [c for c in stats.by_category] == ["行政裁决", "行政给付", "行政检查", "行政强制", "行政确认", "其他权力"]


def test_stats_and_export_commands_agree(charts):
    runner = CliRunner()
    result = runner.invoke(main, ["stats", str(ROOT / "charts"), "--format", "json"])
    assert result.exit_code == 0
    numbers = json.loads(result.output)
    assert numbers == tables.statistics(charts).as_json()
    text = runner.invoke(main, ["stats", str(ROOT / "charts")]).output
    assert re.search(rf"合计\s+40\s+{numbers['total']['steps']}\s+{numbers['total']['risk_total']}\s", text)
    exported = runner.invoke(main, ["export", str(ROOT / "charts"), "--format", "json"])
    assert exported.exit_code == 0
    assert len(json.loads(exported.output)) == numbers["total"]["risk_total"]


def test_export_writes_a_file(tmp_path):
    target = tmp_path / "台账.csv"
    result = CliRunner().invoke(main, ["export", str(ROOT / "charts"), "-o", str(target)])
    assert result.exit_code == 0
    assert target.read_bytes().startswith("\ufeff部门,编号,".encode())  # BOM, then the department column


class _Checker(HTMLParser):
    """Enough of a validator for our own page: nesting, ids, required attributes."""
    VOID = frozenset({"meta", "link", "img", "br", "input", "hr"})

    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.problems = [], Counter(), []

    def handle_starttag(self, tag, attrs):
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.problems.append(f"duplicate attribute in <{tag}>")
        values = dict(attrs)
        if "id" in values:
            self.ids[values["id"]] += 1
        if tag == "img" and "alt" not in values:
            self.problems.append("img without alt")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"misnested </{tag}>")


def test_index_page_is_well_formed_and_counts_agree(charts, tmp_path):
    page = index_html(charts, tmp_path, ("svg", "pdf"), date(2026, 11, 27), booklet=True, register=True)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    checker = _Checker()
    checker.feed(page)
    assert checker.problems == [] and checker.stack == []
    assert [i for i, n in checker.ids.items() if n > 1] == []
    assert page.count("<li class=\"card") == 40
    stats = tables.statistics(charts, find_settings(ROOT).categories)
    footer = re.search(r"<tfoot>(.*?)</tfoot>", page, re.DOTALL).group(1)
    assert re.findall(r"<td>(\d+)</td>", footer) == [str(n) for n in (
        stats.total.charts, stats.total.steps, stats.total.risk_total, *stats.total.risks.values())]
    assert "http://" not in page and "https://" not in page  # works offline
    assert 'href="booklet.pdf"' in page and 'href="risk-register.csv"' in page


def test_every_link_is_a_relative_path_to_its_file(charts, tmp_path):
    from dataclasses import replace
    from urllib.parse import unquote, urlsplit

    named = [replace(chart, path=chart.path.with_name(stem + ".yaml")) for chart, stem in zip(charts, HOSTILE_STEMS, strict=False)]
    page = index_html(named, tmp_path, ("svg", "pdf"), date(2026, 1, 1), booklet=True, register=True)
    links = re.findall(r'(?:href|src)="([^"]*)"', page)
    targets = {unquote(link, errors="surrogateescape") for link in links}
    wanted = {f"{stem}.{fmt}" for stem in HOSTILE_STEMS for fmt in ("svg", "pdf")} 
    wanted |= {"booklet.pdf", "risk-register.csv", "risk-register.xlsx"}
    assert targets == wanted
    for link in links:
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("", "", "", ""), link
        assert "/" not in link and ":" not in link and "&" not in link, link


def test_index_escapes_chart_text(charts, tmp_path):
    from dataclasses import replace

    hostile = replace(charts[0], title='<script>alert("x")</script>')
    page = index_html([hostile], tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


@pytest.mark.needs("dot", "cjk-font", "pdftotext")
def test_booklet_has_cover_contents_and_one_page_per_chart(tmp_path):
    import pikepdf

    render.toolchain.cache_clear()
    charts_dir = tmp_path / "charts"
    charts_dir.mkdir()
    names = ["01-劳动人事争议调解仲裁.yaml", "02-企业退休人员养老金给付.yaml", "04-失业保险待遇给付.yaml",
             "15-劳动用工备案.yaml", "_defaults.yaml"]
    for name in names:
        shutil.copy(ROOT / "charts" / name, charts_dir / name)
    out = tmp_path / "out"
    assert build([charts_dir], BuildOptions(out=out, settings=find_settings(ROOT))).ok
    text = subprocess.run(["pdftotext", "-layout", str(out / "booklet.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout.split("\f")
    cover, contents = text[0], text[1]
    assert "长治高新区组织和人力资源部" in cover and "汇" in cover and str(date.today().year) in cover
    assert "目" in contents and "劳动用工备案" in contents
    with pikepdf.Pdf.open(out / "booklet.pdf") as booklet:
        assert len(booklet.pages) == 1 + 1 + 4
        for page in booklet.pages:
            assert [float(v) for v in page.MediaBox] == [0, 0, 595, 842]
        page_numbers = {page.objgen: number for number, page in enumerate(booklet.pages)}
        with booklet.open_outline() as outline:
            found = {item.title: [(child.title, page_numbers[child.destination[0].objgen]) for child in item.children]
                     for item in outline.root}
    assert found == {
        "行政裁决类": [("1. 调解仲裁用人单位与劳动者发生的劳动人事争议", 2)],
        "行政给付类": [("2. 企业退休人员基本养老金待遇给付", 3), ("4. 失业保险待遇给付", 4)],
        "其他权力类": [("15. 劳动用工备案", 5)],
    }
    # the contents page numbers point at the right pages (1-based)
    assert re.search(r"劳动用工备案\s*6", contents)


@needs_dot
def test_a_front_matter_page_cached_by_older_finishing_code_is_drawn_anew(tmp_path, monkeypatch):
    """A cover cached before the glyph repair existed must not reach a new booklet."""
    from riskchart.publish import booklet

    render.toolchain.cache_clear()
    tools = render.toolchain()
    page = 'digraph { node [fontname="Noto Sans CJK SC"]; a [label="如实"] }'
    cache = tmp_path / "cache"
    booklet.front_matter([page], tools, cache)
    (first,) = cache.glob("*.pdf")
    monkeypatch.setattr(booklet, "_drawing_code", lambda: "older code")
    booklet.front_matter([page], tools, cache)
    (second,) = cache.glob("*.pdf")
    assert first.name != second.name


@pytest.fixture
def three_charts(tmp_path) -> Path:
    folder = tmp_path / "charts"
    folder.mkdir()
    for name in ("01-劳动人事争议调解仲裁.yaml", "04-失业保险待遇给付.yaml", "15-劳动用工备案.yaml", "_defaults.yaml"):
        shutil.copy(ROOT / "charts" / name, folder / name)
    render.toolchain.cache_clear()
    yield folder
    render.toolchain.cache_clear()


def test_search_text_holds_everything_a_user_may_type(charts):
    chart = next(c for c in charts if any(s.owner for s in c.steps))
    text = search_text(chart)
    for step in chart.steps:
        for part in (step.name, step.level, *step.risks, *step.measures, step.owner):
            assert not part or part in text
    assert chart.title in text and chart.category in text and str(chart.id) in text


@pytest.mark.needs("dot", "cjk-font")
def test_a_deleted_index_page_is_made_again(three_charts, tmp_path):
    out = tmp_path / "out"
    build([three_charts], BuildOptions(out=out))
    (out / "index.html").unlink()
    report = build([three_charts], BuildOptions(out=out))
    assert "index.html" in report.published
    assert href("15-劳动用工备案.svg") in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.needs("dot", "cjk-font")
def test_a_booklet_that_failed_is_tried_again_by_the_next_build(three_charts, tmp_path, monkeypatch):
    # a dot that cannot draw the booklet's cover
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text(f'#!/bin/sh\nfor a in "$@"; do case $a in *.dot) if grep -q "digraph cover" "$a"; then '
                              f'echo "Error: no cover" >&2; exit 1; fi;; esac; done\nexec {shutil.which("dot")} "$@"\n')
    (fake / "dot").chmod(0o755)
    out = tmp_path / "out"
    with monkeypatch.context() as patched:
        patched.setenv("PATH", f"{fake}:/usr/bin:/bin")
        render.toolchain.cache_clear()
        failed = build([three_charts], BuildOptions(out=out))
    assert not failed.ok and "booklet.pdf" in failed.publish_failures[0]
    assert not (out / "booklet.pdf").exists()
    assert 'href="booklet.pdf"' not in (out / "index.html").read_text(encoding="utf-8")
    render.toolchain.cache_clear()
    again = build([three_charts], BuildOptions(out=out))
    assert again.ok and "booklet.pdf" in again.published and (out / "booklet.pdf").is_file()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="booklet.pdf"' in page and 'href="risk-register.csv"' in page


def test_index_page_names_the_department_version_date_and_the_set(charts, tmp_path):
    from riskchart import __version__

    page = index_html(charts, tmp_path, ("svg", "pdf"), date(2026, 11, 27), booklet=True, register=True)
    assert "<title>长治高新区组织和人力资源部权力运行廉政风险防控图</title>" in page
    assert f'<meta name="generator" content="riskchart {__version__}">' in page
    assert "生成于 2026-11-27" in page
    assert 'href="booklet.pdf"' in page and 'href="risk-register.csv"' in page
    bare = index_html(charts, tmp_path, ("svg",), date(2026, 11, 27), booklet=False, register=False)
    assert 'href="booklet.pdf"' not in bare and 'href="risk-register.csv"' not in bare


def test_index_page_without_a_department_or_phones_prints_nothing_for_them(charts, tmp_path):
    from dataclasses import replace

    from riskchart.model import Phones

    plain = [replace(c, department="", phones=Phones()) for c in charts]
    page = index_html(plain, tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False)
    assert "<title>权力运行廉政风险防控图</title>" in page and '<p class="department"></p>' in page
    assert "服务电话" not in page and "监管电话" not in page
    # one chart knowing only its service number is enough for the footer
    plain[5] = replace(plain[5], phones=Phones(service="8583591"))
    page = index_html(plain, tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False)
    assert "服务电话：8583591" in page and "监管电话" not in page


def test_a_category_with_one_risk_fills_its_bar(charts, tmp_path):
    from dataclasses import replace

    from riskchart.model import Step

    one = replace(charts[0], steps=(Step("受理", "中", ("一个风险。",), ("一项措施。",), "人"),))
    page = index_html([one], tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False)
    assert 'style="width: 100.0%"' in page


def test_an_unchanged_set_is_not_written_again_and_an_empty_set_has_no_booklet(charts, tmp_path):
    from riskchart.publish.index import publish_set

    out = tmp_path / "out"
    options = BuildOptions(out=out, formats=("svg",))
    fingerprints = {c.path: "f" for c in charts}
    manifest = {"version": 1, "charts": {}, "set": {}}
    tools = render.Toolchain("dot", "Noto Sans CJK SC")  # no booklet without PDFs: dot is not run
    first = publish_set(charts, fingerprints, manifest, options, tools)
    assert set(first.written) == {"index.html", "risk-register.csv", "risk-register.xlsx"}
    assert publish_set(charts, fingerprints, manifest, options, tools).written == ()
    empty = publish_set([], {}, {"version": 1, "charts": {}, "set": {}}, BuildOptions(out=tmp_path / "empty"), tools)
    assert "booklet.pdf" not in empty.written and not (tmp_path / "empty" / "booklet.pdf").exists()


def card_of(page: str, chart_id: int) -> str:
    return re.search(rf'<li class="card[^"]*" id="chart-{chart_id}".*?</li>', page, re.DOTALL).group(0)


@pytest.mark.parametrize("formats, preview, link, files", [
    (("svg", "pdf"), True, "svg", ["svg", "pdf"]),
    (("pdf", "png"), False, "pdf", ["pdf", "png"]),
    (("png",), False, "png", ["png"]),
    (("dot",), False, None, []),
])
def test_each_card_previews_and_links_the_formats_that_were_built(charts, tmp_path, formats, preview, link, files):
    chart = next(c for c in charts if c.id == 1)
    card = card_of(index_html(charts, tmp_path, formats, date(2026, 1, 1), booklet=False, register=False), 1)
    # links are percent-encoded (href), so a file name can never become a scheme or a query
    assert (f'<img src="{href(chart.stem + ".svg")}"' in card) == preview
    assert ('<span class="no-preview">无预览</span>' in card) != preview
    target = href(f"{chart.stem}.{link}") if link else "#"
    assert card.count(f'href="{target}"') == 2 + (link is not None)  # preview, title, and its own file link
    assert re.findall(r'<p class="links">(.*?)</p>', card)[0].count("<a ") == len(files)
    for fmt in files:
        assert f'<a href="{href(f"{chart.stem}.{fmt}")}">{fmt.upper()}</a>' in card


def test_each_card_carries_its_search_text_and_levels(charts, tmp_path):
    page = index_html(charts, tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False)
    for chart in charts:
        card = card_of(page, chart.id)
        assert f'data-search="{html.escape(search_text(chart))}"' in card
        levels = "\n".join(level for level in ("高", "中", "低") if chart.risk_count(level))
        assert f'data-levels="{levels}"' in card


def test_search_text_is_the_chart_s_words_separated_by_single_spaces():
    from riskchart.model import Chart, Phones, Step

    chart = Chart(path=Path("03-x.yaml"), id=3, category="行政检查", title="检查",
                  steps=(Step("申请"), Step("受理", "高", ("甲。",), ("乙。",), "科长")), department="", phones=Phones())
    assert search_text(chart) == "3 行政检查 检查 申请 受理 高 甲。 乙。 科长"


def test_search_text_finds_code_basis_time_limits_and_exits():
    from riskchart.model import Chart, Exit, Phones, Step, TimeLimit

    chart = Chart(path=Path("07-x.yaml"), id=7, category="行政许可", title="食品经营许可",
                  steps=(Step("受理", time_limit="当场", exits=(Exit("材料不齐全", "一次性告知补正"),)),),
                  department="", phones=Phones(), code="140403-XK-0007", basis=("《食品安全法》第三十五条",),
                  time_limit=TimeLimit("二十个工作日", "十个工作日"))
    assert search_text(chart) == ("7 行政许可 140403-XK-0007 食品经营许可 《食品安全法》第三十五条 "
                                  "法定二十个工作日，承诺十个工作日 受理 当场 材料不齐全 一次性告知补正")


@pytest.mark.needs("dot", "cjk-font", "pdftotext")
def test_the_booklet_cover_and_contents_are_drawn_beside_the_charts(three_charts, tmp_path, monkeypatch):
    """The build draws the booklet's front pages in its pool while the charts
    are drawn: publishing then joins pages and starts no dot of its own."""
    from riskchart.publish import index as publish

    runs_while_publishing: list[object] = []
    real_publish_set, real_draw_many = publish.publish_set, render.draw_many

    def publish_set(*args, **kwargs):
        monkeypatch.setattr(render, "draw_many", lambda *a, **k: runs_while_publishing.append(a)
                            or real_draw_many(*a, **k))
        return real_publish_set(*args, **kwargs)

    monkeypatch.setattr(publish, "publish_set", publish_set)
    out = tmp_path / "out"
    assert build([three_charts], BuildOptions(out=out, settings=find_settings(ROOT))).ok
    assert runs_while_publishing == []
    text = subprocess.run(["pdftotext", "-layout", str(out / "booklet.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout.split("\f")
    assert str(date.today().year) in text[0] and "劳动用工备案" in text[1]


def test_each_card_carries_its_risk_types_and_the_page_filters_by_them(tmp_path):
    """A chart's risk type (or a step's own) marks its card, and the page
    offers each type found as a filter; a page of charts without types has no filter."""
    from conftest import FIXTURES, lint_files

    typed = (FIXTURES / "lint" / "good" / "chart-owner-list-scope-note-risk-type" / "01-a.yaml").read_text(encoding="utf-8")
    untyped = "id: 2\ncategory: 行政确认\ntitle: 乙\nsteps:\n  - {name: 受理, level: 中, risks: [甲。], measures: [乙。], owner: 丙}\n"
    charts = list(lint_files(tmp_path / "charts", {"01-a.yaml": typed, "02-b.yaml": untyped}).charts)
    page = index_html(charts, tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False)
    assert 'data-types="业务流程\n岗位职责"' in card_of(page, 1) and 'data-types=""' in card_of(page, 2)
    assert re.findall(r'<option value="([^"]+)">', re.search(r'<select id="risk-type">(.*?)</select>', page,
                                                           re.DOTALL).group(1)) == ["业务流程", "岗位职责"]
    alone = index_html(charts[1:], tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False)
    assert '<select id="risk-type">' not in alone


FOUR_LEVELS = ("一级", "二级", "三级", "四级")
FOUR_LEVEL_CHART = ("id: 1\ncategory: 行政裁决\ntitle: 甲\nsteps:\n"
                    + "".join(f"  - {{name: 环节{n}, level: {n}级, risks: [甲{n}。], measures: [乙。], owner: 丙}}\n"
                              for n in "一二三四")
                    + "  - {name: 归档, risks: [丁。, 戊。], measures: [己。], owner: 丙}\n")


def test_the_index_counts_and_colours_a_projects_own_level_scale(tmp_path):
    """`levels = ["一级", "二级", "三级", "四级"]`: the statistics, the cards and the
    level filter have those levels (and 未评定), in the charts' colours."""
    from conftest import lint_files

    from riskchart.config import Settings
    from riskchart.draw.layout import level_styles

    scale = FOUR_LEVELS
    charts = list(lint_files(tmp_path / "charts", {"01-a.yaml": FOUR_LEVEL_CHART}, Settings(levels=scale)).charts)
    page = index_html(charts, tmp_path, ("svg",), date(2026, 1, 1), booklet=False, register=False, levels=scale)
    checker = _Checker()
    checker.feed(page)
    assert checker.problems == [] and checker.stack == []
    head = re.search(r"<table class=\"counts\">.*?<thead>(.*?)</thead>", page, re.DOTALL).group(1)
    columns = re.findall(r'<span class="level level-([\w-]+)">([^<]*)</span>', head)
    assert [name for _, name in columns] == [*scale, "未评定"]
    footer = re.search(r"<tfoot>(.*?)</tfoot>", page, re.DOTALL).group(1)
    assert re.findall(r"<td>(\d+)</td>", footer) == ["1", "5", "6", "1", "1", "1", "1", "2"]
    # each level's class is coloured as the charts colour that level, by the stylesheet in the page
    styles = re.search(r"<style>(.*?)</style>", page, re.DOTALL).group(1)
    rules = dict(re.findall(r"\.level-([\w-]+) \{ background: (#[0-9a-f]{6});", styles))
    colours = level_styles(scale)
    assert {name: rules[css] for css, name in columns if name in scale} == {n: colours[n]["fill"] for n in scale}
    assert len({rules[css] for css, _ in columns}) == 5
    card = card_of(page, 1)
    assert re.findall(r'title="([^"]*)风险点">\1 (\d+)<', card) == [(n, "1") for n in scale] + [("未评定", "2")]
    assert 'data-levels="一级\n二级\n三级\n四级\n未评定"' in card
    assert re.findall(r'<option value="([^"]+)">含', page) == [*scale, "未评定"]


def test_the_set_s_index_page_has_the_project_s_level_scale(tmp_path):
    from conftest import lint_files

    from riskchart.config import Settings
    from riskchart.publish.index import publish_set

    charts = list(lint_files(tmp_path / "charts", {"01-a.yaml": FOUR_LEVEL_CHART}, Settings(levels=FOUR_LEVELS)).charts)
    options = BuildOptions(out=tmp_path / "out", formats=("svg",), settings=Settings(levels=FOUR_LEVELS))
    publish_set(charts, {c.path: "f" for c in charts}, {"version": 1, "charts": {}, "set": {}}, options,
                render.Toolchain("dot", "Noto Sans CJK SC"))  # no booklet without PDFs: dot is not run
    written = (options.out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<option value="([^"]+)">含', written) == [*FOUR_LEVELS, "未评定"]


@pytest.mark.needs("dot", "cjk-font")
def test_a_booklet_over_the_page_limit_is_not_made_and_an_old_one_is_removed(three_charts, tmp_path, monkeypatch):
    from riskchart import style
    from riskchart.publish.booklets import booklet_pages

    out = tmp_path / "out"
    assert build([three_charts], BuildOptions(out=out)).ok
    assert 'href="booklet.pdf"' in (out / "index.html").read_text(encoding="utf-8")
    monkeypatch.setattr(style, "BOOKLET_MAX_PAGES", 4)  # cover, contents and three charts: 5 pages
    report = build([three_charts], BuildOptions(out=out, force=True))
    assert report.ok and "booklet.pdf" not in report.published
    assert any("booklet.pdf 将有 5 页，超过 4 页" in warning for warning in report.warnings)
    assert not (out / "booklet.pdf").exists()
    assert 'href="booklet.pdf"' not in (out / "index.html").read_text(encoding="utf-8")
    assert {"index.html", "risk-register.csv", "risk-register.xlsx"} <= set(report.published)
    # a chart continued over pages counts all its pages, as the manifest recorded them
    charts = lint_paths([three_charts]).charts
    manifest = {"charts": {charts[0].out_name: {"pages": 3}, charts[1].out_name: {"pages": "many"}}}
    assert booklet_pages(charts, manifest) == 1 + 1 + 3 + 1 + 1


@pytest.mark.parametrize("name, written_by_the_set", [
    ("index.html", True), ("booklet.pdf", True), ("risk-register.xlsx", True), ("booklet.docx", True),
    ("食品科/booklet.pdf", True), ("特设科/检验股/booklet.pdf", True),  # a department inside a department
    ("booklet.svg", False), ("食品科/index.html", False), ("/booklet.pdf", False), ("../booklet.pdf", False),
    ("特设科/检 验股/booklet.pdf", False), ("特设科/../booklet.pdf", False), (["index.html"], False),
])
def test_only_names_the_set_writes_are_set_outputs(name, written_by_the_set):
    """What a manifest read from out/ may name as the set's, to be trusted and later deleted."""
    from riskchart.publish.names import is_set_output

    assert is_set_output(name) is written_by_the_set


@needs_dot
def test_a_renamed_department_folder_takes_its_old_booklet_with_it(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "departments", project)
    options = BuildOptions(out=tmp_path / "out", formats=("pdf",), settings=find_settings(project))
    assert build([project / "charts"], options).ok
    assert (options.out / "食品科" / "booklet.pdf").is_file()
    (project / "charts" / "食品科").rename(project / "charts" / "食品安全科")
    assert build([project / "charts"], options).ok
    assert (options.out / "食品安全科" / "booklet.pdf").is_file()
    assert not (options.out / "食品科" / "booklet.pdf").exists()
    assert (options.out / "特设科" / "booklet.pdf").is_file()  # the departments still there keep theirs


def test_a_failing_chart_is_listed_with_its_last_title_and_the_files_it_kept(tmp_path):
    from riskchart.publish.index import _missing_card

    (tmp_path / "15-a.svg").write_text("<svg/>")
    manifest = {"charts": {"15-a": {"title": "劳动用工备案", "outputs": ["15-a.svg", "15-a.pdf"]}}}
    card = _missing_card("15-a", manifest, ("svg", "pdf"), tmp_path)
    assert (card.stem, card.title, card.files) == ("15-a", "劳动用工备案", (("svg", "15-a.svg"),))
    assert _missing_card("16-b", manifest, ("svg",), tmp_path).title == "16-b"  # no record: its name


@pytest.mark.needs("dot", "cjk-font", "mutool")
def test_a_build_with_nothing_to_do_at_its_resolution_and_with_the_word_booklet_does_not_wait_for_another(
        tmp_path, monkeypatch):
    """The set is seen to be done as publish_set recorded it (its fingerprint
    covers the resolution and the Word booklet's fonts): nothing is drawn
    and a build running on the folder is not waited for."""
    import time
    import types

    from conftest import SEED_SAMPLE, copy_seed_charts

    from riskchart import files
    from riskchart.build import stamps
    from riskchart.config import Settings

    monkeypatch.setattr(stamps, "RACY_NS", 0)  # the charts' stamps are recorded by the first build
    charts = copy_seed_charts(tmp_path / "charts", SEED_SAMPLE[:1])
    options = BuildOptions(out=tmp_path / "out", formats=("svg", "png"), dpi=60, settings=Settings(word_booklet=True))
    assert build([charts], options).ok

    def refuse(seconds: float) -> None:
        raise AssertionError("a build with nothing to do waited for the lock")

    with monkeypatch.context() as patched, files.locked(options.out):  # another build holds the folder
        patched.setattr(files, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=refuse))
        report = build([charts], options)
    assert report.ok and report.count("fresh") == 1 and report.published == ()


@pytest.mark.needs("dot", "cjk-font")
def test_the_set_s_dot_runs_work_in_the_output_folder_not_in_the_system_s_temporary_one(tmp_path, monkeypatch):
    """Graphviz's working files for the booklet's cover and contents go into
    the build's scratch folder in out/ (README: never /tmp; a build killed
    outright leaves them where the next one clears them away)."""
    import tempfile

    from conftest import SEED_SAMPLE, copy_seed_charts

    from riskchart import files
    from riskchart.publish.index import publish_set

    charts = copy_seed_charts(tmp_path / "charts", SEED_SAMPLE[:1])
    out = tmp_path / "out"
    render.toolchain.cache_clear()
    assert build([charts], BuildOptions(out=out, formats=("pdf",), publish=False)).ok  # no cover or contents yet
    models = list(lint_paths([charts]).charts)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))  # nothing may go to the system's
    published = publish_set(models, {c.path: "f" for c in models}, {"version": 1, "charts": {}, "set": {}},
                            BuildOptions(out=out, formats=("pdf",)), render.toolchain(),
                            scratch=files.scratch_folder(out))
    assert published.failures == () and "booklet.pdf" in published.written
