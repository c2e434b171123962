"""DOT generation: golden files, escaping of user text, generated node ids.

Refresh the golden files after an intended layout change with `make golden`
(RISKCHART_UPDATE_GOLDEN=1) and review `git diff tests/golden/`.
"""

import html
import itertools
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import needs_dot

from riskchart import style
from riskchart.config import Settings
from riskchart.draw import render
from riskchart.draw.layout import chart_dot, chart_sheet, escape_label, header, page_width, rows
from riskchart.draw.page import A4_PORTRAIT, Page
from riskchart.lint import lint_paths
from riskchart.model import Chart, Exit, Phones, Step, TimeLimit

ROOT = Path(__file__).resolve().parents[2]
STRICT = Settings(require=frozenset({"level", "owner", "category"}))
GOLDEN = Path(__file__).parents[1] / "golden"
GOLDEN_CHARTS = ("01-劳动人事争议调解仲裁", "04-失业保险待遇给付", "19-违法约定试用期处理")


@pytest.fixture(scope="module")
def real_charts():
    return {c.stem: c for c in lint_paths([ROOT / "charts"]).charts}


# 07: every key of the format, two exits on one step and exits on consecutive steps; 08: exits on the last step
POWER_LIST = Path(__file__).parents[1] / "fixtures" / "power-list"
GOLDEN_POWER_LIST = ("07-食品经营许可", "08-食品生产许可")


@pytest.fixture(scope="module")
def power_list_charts():
    result = lint_paths([POWER_LIST], Settings())  # the national categories, not this project's six
    assert result.diagnostics == ()
    return {c.stem: c for c in result.charts}


@pytest.mark.parametrize("stem", GOLDEN_CHARTS + GOLDEN_POWER_LIST)
def test_golden_dot(real_charts, power_list_charts, stem):
    # the seed under its riskchart.toml (require = level, owner, category): drawn exactly as before
    # the levels became optional; the power-list fixture grades every risk too
    dot = chart_dot(real_charts.get(stem) or power_list_charts[stem], settings=STRICT)
    golden = GOLDEN / f"{stem}.dot"
    if os.environ.get("RISKCHART_UPDATE_GOLDEN"):
        golden.write_text(dot, encoding="utf-8")
        pytest.skip(f"{golden.name} rewritten: review `git diff tests/golden/`")  # comparing with it proves nothing
    assert golden.is_file(), f"no golden file {golden.name}: run `make golden`"
    assert dot == golden.read_text(encoding="utf-8"), "DOT changed: if intended, run `make golden` and review"


def chart(**changes) -> Chart:
    base = Chart(path=Path("01-x.yaml"), id=1, category="行政裁决", title="调解仲裁",
                 steps=(Step("申请"), Step("受理", "中", ("故意刁难申请人。",), ("建立受理单制度。",), "受理人")),
                 department="某部门", phones=Phones("111", "222"))
    return replace(base, **changes)


def test_escape_label_handles_markup_entities_quotes_and_backslashes():
    assert escape_label('<TABLE>&amp;"x"') == "&lt;TABLE&gt;&amp;amp;&quot;x&quot;"
    assert escape_label("a\\N b\\") == "a\\\\N b\\\\"


@pytest.mark.parametrize("hostile", ['"]; x [label=', "<TABLE>", "&amp;", "\\N", "\\l", "尾部反斜杠\\",
                                     "<script>alert(1)</script>", "{{ s.INK }}", "}\ndigraph {"])
def test_user_text_never_reaches_dot_unescaped(hostile):
    step = Step("受理", "高", (hostile,), (hostile,), hostile, time_limit=hostile, exits=(Exit(hostile, hostile),))
    dot = chart_dot(chart(title=hostile, code=hostile, basis=(hostile,), time_limit=TimeLimit(hostile, hostile),
                          steps=(step,)), page=Page("A3", landscape=True))  # wide columns: no text is wrapped
    escaped = escape_label(hostile)
    assert dot.count(escaped) >= 9
    if escaped != hostile:
        assert hostile not in dot.replace(escaped, "")


def test_heading_keeps_its_angle_brackets_as_text():
    dot = chart_dot(chart())
    assert "权力运行廉政风险防控图&lt;行政裁决类1&gt;" in dot


def test_node_ids_are_generated_not_taken_from_text():
    dot = chart_dot(chart(steps=(Step("受理 -> x"), Step("b"))))
    ids = set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*) \[", dot, re.MULTILINE))
    assert ids <= {"graph", "node", "edge", "header", "footer", "notice", "column_0", "column_1", "column_2",
                   "risk_0", "step_0", "measure_0", "risk_1", "step_1", "measure_1"}


def test_one_band_per_step_and_arrows_between_steps():
    dot = chart_dot(chart())
    assert "{ rank=same; risk_0; step_0; measure_0; }" in dot
    assert "{ rank=same; risk_1; step_1; measure_1; }" in dot
    assert re.search(r"step_0 -> step_1 \[weight=100", dot)
    # the first step has no risks: its side is an invisible placeholder of the column's width
    assert f"risk_0 [shape=box, style=invis, fixedsize=true, width={chart_sheet(chart(), A4_PORTRAIT).SIDE_WIDTH / 72}" in dot
    assert "risk_1 -> step_1 [style=dashed, dir=none]" in dot


@pytest.mark.parametrize("level", style.LEVEL_ORDER)
def test_level_colour_and_owner_line(level):
    # the legend prints every colour, so look at the risk box itself
    dot = chart_dot(chart(steps=(Step("受理", level, ("故意刁难申请人。",), ("建立受理单制度。",), "受理人"),)))
    risk_box = re.search(r"^  risk_0 \[label=<(.*?)>\];?$", dot, re.MULTILINE | re.DOTALL).group(1)
    colours = style.LEVEL_STYLES[level]
    assert f'BGCOLOR="{colours["fill"]}"' in risk_box and f'COLOR="{colours["border"]}"' in risk_box
    assert f'<FONT COLOR="{colours["text"]}"><B>风险等级：{level}</B>' in risk_box
    assert "责任人：受理人" in dot


@needs_dot
@pytest.mark.parametrize("text", ["]", "[", "[]", "a]<b>", "]]>"])
def test_square_brackets_in_any_label_are_drawn(text):
    # Graphviz 2.43 rejects or drops a bare "]" beside a tag; the escape keeps it
    drawn = render.render(chart_dot(chart(title=text, steps=(Step(text, "中", (text,), (text,), text),))),
                          ("svg",), render.toolchain())["svg"].decode()
    shown = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", drawn)]
    assert shown.count(text) >= 3  # step name, risk item, measure item


def test_items_are_numbered_and_wrapped_by_width():
    long_risk = "不严格审查或故意让虚假资料通过，" * 4
    (row,) = [r for r in rows(chart(steps=(Step("受理", "低", ("甲。", long_risk), ("乙。",), "人"),))) if r.risks]
    assert [item.number for item in row.risks] == [1, 2]
    assert len(row.risks[1].lines) > 1
    assert "".join(row.risks[1].lines) == long_risk


def test_draft_prints_notice_instead_of_workflow():
    dot = chart_dot(chart(draft=True, steps=()))
    assert style.DRAFT_NOTICE in dot
    assert "step_0" not in dot and "column_0" not in dot


def test_footer_shows_phones_only_when_known():
    assert "服务电话：111" in chart_dot(chart())
    assert "服务电话" not in chart_dot(chart(phones=Phones("", "")))


BRANCHING = (Step("申请", time_limit="随时"),
             Step("受理", "中", ("故意刁难申请人。",), ("建立受理单制度。",), "受理人", time_limit="当场或五个工作日内",
                  exits=(Exit("材料不齐全或不符合法定形式", "一次性告知需要补正的全部内容"), Exit("不属于本部门职权范围", "不予受理"))),
             Step("决定", exits=(Exit("不符合条件", "不予许可"),)))


def test_a_step_time_limit_is_a_smaller_line_in_its_box():
    (first, second, _) = rows(chart(steps=BRANCHING))
    assert first.time_lines == ("时限：随时",)
    assert second.time_lines == ("时限：当场或五个", "工作日内")  # wrapped to the step box
    dot = chart_dot(chart(steps=BRANCHING))
    assert (f'label=<申请<BR/><FONT POINT-SIZE="{style.STEP_TIME_FONT_SIZE}" COLOR="{style.MUTED}">时限：随时</FONT>>'
            in dot)


def test_exits_hang_off_their_step_each_with_its_own_connector():
    dot = chart_dot(chart(steps=BRANCHING))
    assert "exits_0" not in dot and "exits_1 [" in dot and "exits_2 [" in dot
    assert dot.count("step_1:e -> exits_1:to0:w") == 1 and dot.count("step_1:e -> exits_1:to1:w") == 1
    assert "step_2:e -> exits_2:to0:w" in dot
    # the workflow's line goes on through the exits' band to the next step
    assert "step_1 -> flow_1 [" in dot and "flow_1 -> step_2 [" in dot and "step_1 -> step_2" not in dot
    # after the last step there is no next one: its line and point are invisible, the footer comes below
    assert re.search(r"flow_2 \[[^]]*style=invis", dot) and re.search(r"step_2 -> flow_2 \[[^]]*style=invis", dot)
    assert "exits_2 -> footer [style=invis]" in dot
    # the exits' band has its own rank, ordered left to right: risks' gap, the line, the exits, measures' gap
    assert "{ rank=same; risk_gap_1; flow_1; spacer_1; exits_1; measure_gap_1; }" in dot
    assert "risk_gap_1 -> flow_1 -> spacer_1 -> exits_1 -> measure_gap_1 [style=invis]" in dot
    assert "risk_gap_1 -> risk_2 [style=invis, weight=100]" in dot
    assert "measure_gap_1 -> measure_2 [style=invis, weight=100]" in dot


def test_exit_texts_are_wrapped_to_the_lane():
    long = Exit("当事人提交的申请材料不齐全或者不符合法定形式的情形", "一次性告知申请人需要补正的全部内容并出具补正通知书")
    (row,) = rows(chart(steps=(Step("受理", exits=(long,)),)))
    (lines,) = row.exits
    assert "".join(lines.when_lines) == long.when and len(lines.when_lines) > 1
    assert "".join(lines.to_lines) == long.to and len(lines.to_lines) > 1


def test_the_header_shows_code_time_limits_and_a_numbered_basis():
    c = chart(code="140403-XK-0007", basis=("《中华人民共和国食品安全法》第三十五条", "《行政许可法》第三十二条"),
              time_limit=TimeLimit("二十个工作日", "十个工作日"))
    power = header(c)
    assert (power.code, power.time_limit) == ("140403-XK-0007", "法定二十个工作日，承诺十个工作日")
    assert [(item.number, item.lines) for item in power.basis] == [
        (1, ("《中华人民共和国食品安全法》第三十五条",)), (2, ("《行政许可法》第三十二条",))]
    dot = chart_dot(c)
    assert "职权编码：140403-XK-0007" in dot and "办理时限：法定二十个工作日，承诺十个工作日" in dot
    assert dot.index("职权名称") < dot.index("职权编码") < dot.index("办理时限") < dot.index("法律依据")
    assert ">1.</FONT>" in dot and ">2.</FONT>" in dot


def test_a_chart_without_the_new_keys_says_nothing_of_them():
    dot = chart_dot(chart())
    for absent in ("职权编码", "办理时限", "法律依据", "时限：", "exits_", "flow_"):
        assert absent not in dot


def test_the_exits_lane_narrows_the_side_columns_within_the_page_but_not_in_a_draft():
    plain, branching, draft = (chart_sheet(c, A4_PORTRAIT) for c in
                               (chart(), chart(steps=BRANCHING), chart(steps=BRANCHING, draft=True)))
    assert branching.SIDE_WIDTH < plain.SIDE_WIDTH - style.EXIT_WIDTH / 3
    assert draft.SIDE_WIDTH == plain.SIDE_WIDTH
    # the header is centred over the workflow, so it spans the columns left of the lane only
    assert page_width(chart(steps=BRANCHING)) == round(2 * branching.SIDE_WIDTH + branching.STEP_WIDTH
                                                       + 2 * 72 * style.NODE_SEPARATION_INCH)
    assert page_width(chart()) <= A4_PORTRAIT.printable_width
    assert f'<TD WIDTH="{page_width(chart(steps=BRANCHING))}">' in chart_dot(chart(steps=BRANCHING))


# ---------------------------------------------------------------- every combination of optional parts

def _combinations(prefix: str) -> tuple[Step, ...]:
    """One step per combination of level, own owner, risks, measures, risk type and note present or absent."""
    import itertools

    steps = []
    for n, (level, owner, risks, measures, risk_type, note) in enumerate(itertools.product([None, "高"], repeat=6)):
        steps.append(Step(f"{prefix}{n}", level=level, risks=("风险&<B></B>。",) if risks else (),
                          measures=("措施。",) if measures else (), owner=f"责任人{n}" if owner else None,
                          risk_type="岗位职责" if risk_type else None, note="备注" if note else None))
    return tuple(steps)


@pytest.mark.parametrize("chart_owner", [None, "主管税务机关、县政务大厅各窗口"])
@pytest.mark.parametrize("settings", [Settings(), STRICT, Settings(levels=("一级", "二级"))],
                         ids=["relaxed", "strict", "own-scale"])
def test_no_combination_of_present_and_absent_parts_gives_invalid_dot(chart_owner, settings):
    steps = _combinations("环节")
    if settings.levels != ("高", "中", "低"):
        steps = tuple(replace(s, level="一级" if s.level else None) for s in steps)
    subject = chart(steps=steps, owner=chart_owner, scope="适用于本局" if chart_owner else None,
                    department="", phones=Phones())
    dot = chart_dot(subject, settings=settings)
    assert "<B></B>" not in dot.replace("&lt;B&gt;&lt;/B&gt;", "") and "<TR></TR>" not in dot
    assert ("适用范围：适用于本局" in dot) == bool(chart_owner)  # the header's scope line
    for n, step in enumerate(steps):
        risk_box = dot.split(f"  risk_{n} [")[1].split("];")[0]
        measure_box = dot.split(f"  measure_{n} [")[1].split("];")[0].replace('<BR ALIGN="LEFT"/>', "")
        owner = step.owner or (chart_owner if step.measures else None)
        assert (f"：{owner}</B>" in measure_box) == bool(owner and step.measures), step
        assert ("风险等级" in risk_box) == bool(step.level and step.risks), step
        assert ("岗位职责" in risk_box) == bool(step.risk_type and step.risks), step


@needs_dot
@pytest.mark.parametrize("chart_owner", [None, "主管税务机关"])
@pytest.mark.parametrize("settings", [Settings(), STRICT], ids=["relaxed", "strict"])
def test_graphviz_accepts_every_combination(chart_owner, settings):
    subject = chart(steps=_combinations("环节"), owner=chart_owner, scope="适用于本局" if chart_owner else None,
                    department="", phones=Phones())
    svg = render.render(chart_dot(subject, settings=settings), ("svg",), render.toolchain())["svg"].decode()
    assert svg.count("环节") >= 64


def test_the_legend_lists_the_scale_or_only_the_levels_used():
    used = chart(steps=(Step("受理", "低", ("甲。",), ("乙。",), "人"), Step("办结", None, ("丙。",))))
    relaxed, strict = chart_dot(used), chart_dot(used, settings=STRICT)
    legend = re.compile(r"<B>([^<]+)</B></FONT></TD>\n")
    assert legend.findall(relaxed.split("footer [label")[1]) == ["低", "未评定"]
    assert legend.findall(strict.split("footer [label")[1]) == ["高", "中", "低", "未评定"]
    none = chart(steps=(Step("申请"),), phones=Phones())
    assert "风险等级：" not in chart_dot(none).split("footer [label")[1]


def test_a_scale_takes_palette_colours_by_rank_distinct_in_grey():
    from riskchart.draw.layout import level_styles

    assert level_styles(("高", "中", "低")) == {name: style.LEVEL_STYLES[name] for name in ("高", "中", "低")}
    for size in range(1, len(style.LEVEL_PALETTE) + 1):
        fills = [c["fill"] for c in level_styles(tuple(f"{n}级" for n in range(size))).values()]

        def luma(colour: str) -> float:
            r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
            return 0.299 * r + 0.587 * g + 0.114 * b
        lumas = [luma(f) for f in fills]
        assert all(b - a >= 20 for a, b in itertools.pairwise(lumas)), (size, fills)  # darkest first, each lighter


def test_inherited_owner_is_drawn_as_the_unit_and_in_the_header():
    subject = chart(owner="主管税务机关", steps=(Step("受理", "中", ("甲。",), ("乙。",)),
                                             Step("复核", "高", ("丙。",), ("丁。",), "复核人")))
    dot = chart_dot(subject)
    assert dot.count("责任单位：主管税务机关") == 2  # the header and the step that inherits it
    assert "责任人：复核人" in dot


def test_long_step_names_wrap_inside_the_box():
    name = "纳税人提出复评申请并提交相关资料主管税务机关受理登记并审核材料"
    (row,) = rows(chart(steps=(Step(name),)))
    assert "".join(row.name_lines) == name and len(row.name_lines) >= 3


def test_a_compiled_template_in_the_cache_is_loaded_not_compiled_and_written_again(tmp_path):
    import jinja2

    from riskchart.draw.layout import compiled_template_cache

    def render_with_the_cache() -> str:
        env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"}),
                                 bytecode_cache=compiled_template_cache(tmp_path))
        return env.get_template("t").render()

    assert render_with_the_cache() == "2"
    (entry,) = tmp_path.iterdir()
    written = entry.stat()
    assert render_with_the_cache() == "2"
    assert entry.stat().st_ino == written.st_ino  # a miss would compile and replace the entry


# ---------------------------------------------------------------- the chart's font measures every text
# (written against survivors of the mutation run, issue 19: a text wrapped in the default font)

MONO = "Noto Sans Mono CJK SC"  # Latin letters half an em each; in the default font a W is wider


def _latin(label: str) -> str:
    return label + "W" * 60


@pytest.mark.needs("cjk-font")
def test_every_wrapped_text_is_measured_in_the_chart_s_font():
    from riskchart.draw.wrap import wrap

    step = Step(_latin("名"), "高", (_latin("险"),), (_latin("措"),), _latin("人"), time_limit=_latin("时"),
                exits=(Exit(_latin("当"), _latin("至")),), note=_latin("注"))
    inherited = Step("受理", "中", ("风险。",), ("措施。",))
    c = chart(steps=(step, inherited), owner=_latin("单位"), scope=_latin("范围"), basis=(_latin("依据"),),
              title=_latin("调解"))
    s = chart_sheet(c, A4_PORTRAIT)

    def lines(text: str, columns: float) -> tuple[str, ...]:
        wrapped = tuple(wrap(text, columns, MONO))
        assert wrapped != tuple(wrap(text, columns)), "the two fonts must wrap the text differently"
        return wrapped

    first, second = rows(c, MONO, s)
    assert first.name_lines == lines(_latin("名"), s.STEP_COLUMNS)
    assert first.risks[0].lines == lines(_latin("险"), s.SIDE_COLUMNS)
    assert first.measures[0].lines == lines(_latin("措"), s.SIDE_COLUMNS)
    assert first.owner_lines == lines("责任人：" + _latin("人"), s.SIDE_COLUMNS)
    assert second.owner_lines == lines("责任单位：" + _latin("单位"), s.SIDE_COLUMNS)
    assert first.time_lines == lines("时限：" + _latin("时"), s.STEP_TIME_COLUMNS)
    assert first.note_lines == lines(_latin("注"), s.STEP_TIME_COLUMNS)
    assert first.exits[0].when_lines == lines(_latin("当"), s.EXIT_WHEN_COLUMNS)
    assert first.exits[0].to_lines == lines(_latin("至"), s.EXIT_COLUMNS)
    power = header(c, MONO, s)
    assert power.scope_lines == lines("适用范围：" + _latin("范围"), s.HEADER_COLUMNS)
    assert power.owner_lines == lines("责任单位：" + _latin("单位"), s.HEADER_COLUMNS)
    basis_columns = 2 * (s.HEADER_WIDTH - style.BASIS_LABEL_WIDTH - style.NUMBER_WIDTH - 8) / style.BASIS_FONT_SIZE
    assert power.basis[0].lines == lines(_latin("依据"), basis_columns)
    dot = chart_dot(c, MONO)
    assert all(line in dot for line in lines("职权名称：" + c.title, s.HEADER_COLUMNS))


# (written against survivors of the second full mutation run, issue 19)

@pytest.mark.needs("cjk-font")
def test_a_basis_as_wide_as_its_column_stays_on_one_line():
    # A4 landscape with the exits' lane: the basis column holds exactly 61 Chinese characters
    c = chart(steps=(Step("受理", "中", ("风险。",), ("措施。",), exits=(Exit("不符合条件的", "退回"),)),),
              basis=("法" * 61, "法" * 62))
    fitting, longer = header(c, sheet=chart_sheet(c, Page("A4", landscape=True))).basis
    assert fitting.lines == ("法" * 61,)
    assert longer.lines == ("法" * 61, "法")


def test_the_ungraded_legend_entry_is_white_with_the_ungraded_border_and_muted_text():
    footer = chart_dot(chart(steps=(Step("办结", None, ("丙。",)),))).split("footer [label")[1]
    cell = re.search(rf'<TD BGCOLOR="([^"]*)" BORDER="1" COLOR="([^"]*)" WIDTH="30"><FONT POINT-SIZE="[^"]*" '
                     rf'COLOR="([^"]*)"><B>{style.UNGRADED_LEGEND}</B>', footer)
    assert cell is not None and cell.groups() == ("white", style.UNGRADED_BORDER, style.MUTED)


@pytest.mark.needs("cjk-font")
def test_every_text_is_wrapped_for_the_page_the_chart_is_laid_out_for():
    wide_page = Page("A3", landscape=True)
    wide = chart_sheet(chart(), wide_page)
    basis_columns = 2 * (wide.HEADER_WIDTH - style.BASIS_LABEL_WIDTH - style.NUMBER_WIDTH - 8) / style.BASIS_FONT_SIZE
    risk, basis = "险" * int(wide.SIDE_COLUMNS // 2), "法" * int(basis_columns // 2)  # one line each on this page
    c = chart(steps=(Step("受理", "中", (risk,), ("措施。",), "受理人"),), basis=(basis,))
    assert len(header(c).basis[0].lines) > 1 and len(rows(c)[0].risks[0].lines) > 1  # on A4 both wrap
    dot = chart_dot(c, page=wide_page)
    assert risk in dot and basis in dot


def test_every_scale_of_two_levels_or_more_spans_the_palette_from_end_to_end():
    from riskchart.draw.layout import level_styles

    for size in range(2, len(style.LEVEL_PALETTE) + 1):
        colours = list(level_styles(tuple(f"{n}级" for n in range(size))).values())
        assert (colours[0], colours[-1]) == (style.LEVEL_PALETTE[0], style.LEVEL_PALETTE[-1]), size


def test_a_step_whose_measures_were_all_removed_shows_them_struck_through_without_an_owner_line():
    from riskchart.draw.marks import Marks, Removed

    c = chart(steps=(Step("受理", "中", ("风险。",), (), "受理人"),))
    dot = chart_dot(c, marks=Marks(removed=(Removed(("steps", 0, "measures"), "旧的措施。"),)))
    assert "旧的措施。" in dot and "受理人" not in dot  # the owner answers for measures, and there are none
