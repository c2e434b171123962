"""Every registered rule: one chart set that passes it and one that fails it,
with the exact place each failure is reported."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import HEAD, PROJECT, STEPS, lint_files

import riskchart.lint  # noqa: F401 - importing lint registers every rule module
from riskchart.check import diagnostics, rules
from riskchart.check.characters import file_name_problem
from riskchart.check.diagnostics import CODES, Severity
from riskchart.config import Settings
from riskchart.lint import lint_paths


def head(id=1, category="行政裁决", title="测试"):
    return f"id: {id}\ncategory: {category}\ntitle: {title}\n"


def step(name="受理", level="中", risks=("故意刁难申请人。",), measures=("建立受理单制度。",), owner="受理人"):
    out = f"  - name: {name}\n"
    if level:
        out += f"    level: {level}\n"
    if risks:
        out += "    risks:\n" + "".join(f"      - {r}\n" for r in risks)
    if measures:
        out += "    measures:\n" + "".join(f"      - {m}\n" for m in measures)
    if owner:
        out += f"    owner: {owner}\n"
    return out


def standard(i, category, title, name, risk):
    return head(i, category, title) + "steps:\n" + step(name=name, risks=(risk,))


# code → (passing files, failing files, where the code must be reported in the failing set)
RULE_CASES = {
    "RC201": ({"07-带薪年休假.yaml": head(7) + STEPS},
              {"07-带薪年休假.yaml": head(8) + STEPS},
              {("07-带薪年休假.yaml", 1, 5)}),
    "RC202": ({"07-带薪年休假.yaml": head(7) + STEPS},
              {"带薪年休假.yaml": head(7) + STEPS},
              {("带薪年休假.yaml", 1, 1)}),
    "RC203": ({"01-a.yaml": head(1, title="甲") + STEPS, "02-b.yaml": head(2, title="乙") + STEPS},
              {"01-a.yaml": head(1, title="甲") + STEPS, "01-b.yaml": head(1, title="乙") + STEPS},
              {("01-b.yaml", 1, 5)}),
    "RC204": ({"01-a.yaml": head(1, title="劳动用工备案") + STEPS, "02-b.yaml": head(2, title="集体合同审查") + STEPS},
              {"01-a.yaml": head(1, title="劳动用工备案") + STEPS, "02-b.yaml": head(2, title="劳动用工备案") + STEPS},
              {("02-b.yaml", 3, 8)}),
    "RC205": ({"01-a.yaml": HEAD + "steps:\n  - name: 申请\n  - name: 受理\n  - name: 审查\n"},
              {"01-a.yaml": HEAD + "steps:\n  - name: 申请\n  - name: 受理\n  - name: 受理\n"},
              {("01-a.yaml", 7, 11)}),
    "RC206": ({"01-a.yaml": HEAD + "steps:\n" + step()},
              {"01-a.yaml": HEAD + "steps:\n  - name: 申请\n" + step(level=None)},
              {("01-a.yaml", 6, 5)}),
    "RC207": ({"01-a.yaml": HEAD + "steps:\n" + step()},
              {"01-a.yaml": HEAD + "steps:\n  - name: 申请\n" + step(owner=None)},
              {("01-a.yaml", 6, 5)}),
    "RC208": ({"01-a.yaml": HEAD + "steps:\n" + step()},
              {"01-a.yaml": HEAD + "steps:\n" + step(risks=(), measures=(), owner=None)},
              {("01-a.yaml", 6, 12)}),
    "RC209": ({"01-a.yaml": HEAD + "steps:\n" + step()},
              {"01-a.yaml": HEAD + "steps:\n" + step(level=None, risks=(), measures=())},
              {("01-a.yaml", 6, 12)}),
    "RC210": ({"01-a.yaml": HEAD + "status: draft\n"},
              {"01-a.yaml": HEAD + "department: 组织部\n"},
              {("01-a.yaml", 1, 1)}),
    "RC211": ({"07-带薪年休假（试行）.yaml": head(7) + STEPS},
              {"07-javascript:alert(document.domain).yaml": head(7) + STEPS},
              {("07-javascript:alert(document.domain).yaml", 1, 1)}),
    "RC212": ({"01-a.yaml": head(1, title="甲") + STEPS, "02-b.yaml": head(2, title="乙") + STEPS},
              {"01-a.yaml": head(1, title="甲") + STEPS, "Booklet.yaml": head(2, title="乙") + STEPS},
              {("Booklet.yaml", 1, 1)}),
    "RC213": ({"01-a.yaml": head(1, title="甲") + "code: 140403-XK-0007\n" + STEPS,
               "02-b.yaml": head(2, title="乙") + "code: 140403-XK-0008\n" + STEPS,
               # the same code in another department (a folder naming one) is another power
               "市场监管局/_defaults.yaml": "department: 市场监管局\n",
               "市场监管局/01-c.yaml": head(1, title="丙") + "code: 140403-XK-0007\n" + STEPS},
              {"01-a.yaml": head(1, title="甲") + "code: 140403-XK-0007\n" + STEPS,
               "02-b.yaml": head(2, title="乙") + "code: 140403-XK-0007\n" + STEPS},
              {("02-b.yaml", 4, 7)}),
    "RC301": ({"01-a.yaml": HEAD + STEPS},
              {"01-a.yaml": HEAD + "status: draft\n"},
              {("01-a.yaml", 4, 9)}),
    "RC302": ({"01-a.yaml": HEAD + "steps:\n" + step(risks=("故意刁难申请人。", "2020年以后未办理。", "3日内未告知。"))},
              {"01-a.yaml": HEAD + "steps:\n" + step(risks=("1. 故意刁难申请人。", "2、不按程序受理。", "（3）超时办理。"),
                                                      measures=("１．建立受理单制度。",))},
              {("01-a.yaml", 8, 9), ("01-a.yaml", 9, 9), ("01-a.yaml", 10, 9), ("01-a.yaml", 12, 9)}),
    "RC303": ({"01-a.yaml": 'id: 1\ncategory: 行政裁决\ntitle: "劳动用工 备案"\n' + STEPS},
              {"01-a.yaml": 'id: 1\ncategory: 行政裁决\ntitle: "劳动用工备案 "\nsteps:\n  - name: "\u3000受理"\n'},
              {("01-a.yaml", 3, 8), ("01-a.yaml", 5, 11)}),
    "RC304": ({"01-a.yaml": HEAD + "steps:\n  - name: 申请\n" + step()},
              {"01-a.yaml": HEAD + "steps:\n" + step(measures=(), owner=None) + step(name="办结", level=None, risks=())},
              {("01-a.yaml", 5, 11), ("01-a.yaml", 9, 11)}),
    "RC306": ({"01-a.yaml": HEAD + "steps:\n" + step()},
              {"01-a.yaml": HEAD + "steps:\n  - name: 申请\n" + step(level=None)},
              {("01-a.yaml", 6, 5)}),
    "RC307": ({"01-a.yaml": HEAD + "owner: 主管税务机关\nsteps:\n" + step(owner=None)},
              {"01-a.yaml": HEAD + "steps:\n  - name: 申请\n" + step(owner=None)},
              {("01-a.yaml", 6, 5)}),
    "RC308": ({"01-a.yaml": HEAD + STEPS},
              {"01-a.yaml": "id: 1\ntitle: 测试\n" + STEPS},
              {("01-a.yaml", 1, 1)}),
    "RC309": ({"01-a.yaml": HEAD + "steps:\n" + step(risks=tuple(f"第{i}条风险，" + "未按规定办理。" * 4 for i in range(12)))},
              {"01-a.yaml": HEAD + "steps:\n" + step(risks=tuple(f"第{i}条风险，" + "未按规定办理。" * 40 for i in range(30)))},
              {("01-a.yaml", 8, 7)}),
    "RC401": ({f"0{i}-a.yaml": standard(i, "行政给付", f"标题{i}", "受理", "未按承诺时限办理事项。") for i in range(1, 5)},
              {f"0{i}-a.yaml": standard(i, "行政给付", f"标题{i}", "受理",
                                        "朱按承诺时限办理事项。" if i == 4 else "未按承诺时限办理事项。")
               for i in range(1, 5)},
              {("04-a.yaml", 8, 9)}),
    "RC402": ({"01-a.yaml": HEAD + "steps:\n" + step(risks=("审核申报等级的上一级证书原件。",))},
              {"01-a.yaml": HEAD + "steps:\n" + step(risks=("鶐新年快乐报等级的上一级证书原件。",))},
              {("01-a.yaml", 8, 9)}),
    "RC403": ({"01-a.yaml": HEAD + "steps:\n" + step(risks=("擅自改动内容，制作文书不规范。", "未及时送达。"))},
              {"01-a.yaml": HEAD + "steps:\n" + step(risks=("擅自改动内容,制作文书不规范。", "不及时办结。。",
                                                             "未“及时送达。", "没有句号"))},
              {("01-a.yaml", 8, 9), ("01-a.yaml", 9, 9), ("01-a.yaml", 10, 9), ("01-a.yaml", 11, 9)}),
    "RC404": ({f"0{i}-a.yaml": standard(i, "行政给付", f"标题{i}", "事后监管", "监管不严格。") for i in range(1, 5)},
              {f"0{i}-a.yaml": standard(i, "行政给付", f"标题{i}", "事后监督" if i == 4 else "事后监管", "监管不严格。")
               for i in range(1, 5)},
              {("04-a.yaml", 5, 11)}),
}


# Codes that report only where the project's riskchart.toml requires the key.
REQUIRING = {"RC206": frozenset({"level"}), "RC207": frozenset({"owner"})}


def places(result, code):
    return {(Path(d.path).name, d.line, d.column) for d in result.diagnostics if d.code == code}


def test_every_registered_rule_has_a_case():
    assert set(rules.RULES) == set(RULE_CASES)


def test_every_rule_code_is_in_the_registry():
    for code, rule in rules.RULES.items():
        assert rule.code == code
        assert code in CODES


@pytest.mark.parametrize("code", sorted(RULE_CASES))
def test_rule_passes(code, tmp_path):
    passing, _, _ = RULE_CASES[code]
    # the charts folder: sub-folders are departments
    result = lint_files(tmp_path, passing, Settings(charts=tmp_path, require=REQUIRING.get(code, frozenset())))
    assert places(result, code) == set()
    assert [d for d in result.diagnostics if d.is_error] == []


@pytest.mark.parametrize("code", sorted(RULE_CASES))
def test_rule_fails(code, tmp_path):
    _, failing, expected = RULE_CASES[code]
    result = lint_files(tmp_path, failing, Settings(charts=tmp_path, require=REQUIRING.get(code, frozenset())))
    assert places(result, code) == expected
    found = [d for d in result.diagnostics if d.code == code]
    assert all(d.severity is CODES[code].severity for d in found)
    assert len(found) == len(expected) or code == "RC403"   # RC403 may say two things about one item


@pytest.mark.parametrize("code", sorted(RULE_CASES))
def test_rule_can_be_switched_off(code, tmp_path):
    _, failing, _ = RULE_CASES[code]
    result = lint_files(tmp_path, failing, Settings(frozenset({code})))
    assert places(result, code) == set()


@pytest.mark.parametrize(("warning", "error", "key"), [("RC306", "RC206", "level"), ("RC307", "RC207", "owner")])
def test_require_turns_the_warning_into_an_error(warning, error, key, tmp_path):
    _, failing, expected = RULE_CASES[warning]
    relaxed = lint_files(tmp_path / "relaxed", failing, Settings())
    strict = lint_files(tmp_path / "strict", failing, Settings(require=frozenset({key})))
    assert places(relaxed, warning) == expected and places(relaxed, error) == set()
    assert places(strict, error) == expected and places(strict, warning) == set()
    assert not relaxed.failed_paths and strict.failed_paths


def test_require_category_makes_a_missing_category_an_error(tmp_path):
    _, failing, _ = RULE_CASES["RC308"]
    strict = lint_files(tmp_path, failing, Settings(require=frozenset({"category"})))
    assert {d.code for d in strict.diagnostics} == {"RC103"}


def test_run_rules_skips_disabled_rules_entirely(tmp_path):
    calls = []

    def spy(chart):
        calls.append(chart)
        return iter(())

    result = lint_files(tmp_path, {"01-a.yaml": HEAD + STEPS})
    original = rules.RULES["RC201"]
    rules.RULES["RC201"] = rules.Rule("RC201", spy)
    try:
        rules.run_rules(list(result.charts), lambda code: code != "RC201")
        assert calls == []
        rules.run_rules(list(result.charts))
        assert len(calls) == 1
    finally:
        rules.RULES["RC201"] = original


# ---------------------------------------------------------------- messages and details

def test_messages_name_what_is_wrong(tmp_path):
    _, failing, _ = RULE_CASES["RC203"]
    result = lint_files(tmp_path, failing)
    (d,) = [d for d in result.diagnostics if d.code == "RC203"]
    assert d.message == "id 1 已在 01-a.yaml 第 1 行使用"
    _, failing, _ = RULE_CASES["RC205"]
    result = lint_files(tmp_path / "b", failing)
    (d,) = [d for d in result.diagnostics if d.code == "RC205"]
    assert "「受理」与第 2 个环节重名" in d.message
    _, failing, _ = RULE_CASES["RC201"]
    result = lint_files(tmp_path / "c", failing)
    assert "文件名编号为 07" in only_code(result, "RC201").message
    _, failing, _ = RULE_CASES["RC202"]
    result = lint_files(tmp_path / "d", failing)
    assert "07-测试.yaml" in only_code(result, "RC202").message


def only_code(result, code):
    (d,) = [d for d in result.diagnostics if d.code == code]
    return d


@pytest.mark.parametrize("item, number", [
    ("1. 故意刁难。", "1."), ("2、故意刁难。", "2、"), ("（3）故意刁难。", "（3）"), ("(4)故意刁难。", "(4)"),
    ("５．故意刁难。", "５．"), ("12) 故意刁难。", "12)"), ("6，故意刁难。", "6，"), ("7：故意刁难。", "7："),
    ("①故意刁难。", "①"), ("⑵ 故意刁难。", "⑵"), ("⒊故意刁难。", "⒊"), ("❹故意刁难。", "❹"),
    ("一、故意刁难。", "一、"), ("十二、故意刁难。", "十二、"), ("（三）故意刁难。", "（三）"), ("(四)故意刁难。", "(四)"),
])
def test_rc302_item_numbers(item, number, tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": HEAD + "steps:\n" + step(risks=(item,))})
    assert f"序号「{number}」" in only_code(result, "RC302").message


@pytest.mark.parametrize("item", ["2020年以后未办理。", "12345热线投诉未处理。", "3日内未告知。", "《条例》第3条。",
                                  "1000元以下罚款。", "一次性告知补正内容。", "十分重要的事项未报告。",
                                  "三是未公开。", "二〇二〇年以后未办理。"])
def test_rc302_numbers_that_are_not_item_numbers(item, tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": HEAD + "steps:\n" + step(risks=(item,))})
    assert places(result, "RC302") == set()


def test_rc302_checks_legal_bases_and_only_items(tmp_path):
    # a legal basis is numbered by the renderer like a risk; a step name, a
    # title or a time limit is no list item, whatever it starts with
    text = ("id: 1\ncategory: 行政裁决\ntitle: 一、测试\n"
            "basis:\n  - 《某某条例》第一条\n  - （二）《某某办法》第三条\n"
            "time_limit:\n  statutory: 1、五个工作日\n" + STEPS.replace("name: 申请", "name: 2. 申请"))
    result = lint_files(tmp_path, {"01-a.yaml": text})
    assert places(result, "RC302") == {("01-a.yaml", 6, 5)}
    assert "序号「（二）」" in only_code(result, "RC302").message


@pytest.mark.parametrize("item", ["1.5倍以上罚款。", "10，000元以下罚款。", "3：30前到岗。"])
def test_rc302_decimal_numbers_are_not_item_numbers(item, tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": HEAD + "steps:\n" + step(risks=(item,))})
    assert places(result, "RC302") == set()


def test_rc303_checks_owner_and_items(tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": HEAD + "steps:\n" + step(risks=('" 故意刁难申请人。"',),
                                                                          measures=('"建立受理单制度。 "',),
                                                                          owner='"受理人\u3000"')})
    assert places(result, "RC303") == {("01-a.yaml", 8, 9), ("01-a.yaml", 10, 9), ("01-a.yaml", 11, 12)}


EVERY_TEXT = """id: 1
category: 行政许可
title: "测试 "
code: "X-1 "
scope: "本局 "
owner: "某科 "
basis:
  - "《条例》第一条 "
time_limit:
  statutory: "五日 "
  promised: "三日 "
steps:
  - name: "受理 "
    time_limit: "当场 "
    note: "备注 "
    level: 中
    risks:
      - 故意刁难申请人。
    measures:
      - 建立受理单制度。
    owner: 受理人
    exits:
      - when: "材料不全 "
        to: "告知补正 "
"""


def test_rc303_is_reported_at_each_kind_of_text(tmp_path):
    """Every text the rules read (chart_texts) is located at its own value, not at the chart or the step."""
    expected = {("01-a.yaml", number, line.index('"') + 1)
                for number, line in enumerate(EVERY_TEXT.splitlines(), 1) if '"' in line}
    assert len(expected) == 12
    assert places(lint_files(tmp_path, {"01-a.yaml": EVERY_TEXT}), "RC303") == expected


def test_a_duplicate_in_another_folder_is_named_by_its_path_one_in_the_same_folder_by_its_name(tmp_path):
    def chart(id, title):
        return head(id, title=title) + STEPS

    result = lint_files(tmp_path, {"a/01-a.yaml": chart(1, "甲"), "b/02-b.yaml": chart(2, "甲"),
                                   "b/03-c.yaml": chart(3, "乙"), "b/04-d.yaml": chart(4, "乙")})
    messages = {Path(d.path).name: d.message for d in result.diagnostics if d.code == "RC204"}
    assert set(messages) == {"02-b.yaml", "04-d.yaml"}
    assert messages["02-b.yaml"] == f"职权名称「甲」 已在 {tmp_path / 'a' / '01-a.yaml'} 第 3 行使用"
    assert messages["04-d.yaml"] == "职权名称「乙」 已在 03-c.yaml 第 3 行使用"


def test_the_chart_first_by_path_holds_a_duplicated_value_whatever_the_order_given(tmp_path):
    from dataclasses import replace

    first, second = lint_files(tmp_path, {"01-a.yaml": head(1, title="甲") + STEPS,
                                          "02-b.yaml": head(2, title="乙") + STEPS}).charts
    charts = [first, replace(second, title="甲")]
    for given in (charts, charts[::-1]):
        (found,) = rules.unique_titles(given)
        assert Path(found.path).name == "02-b.yaml" and found.message == "职权名称「甲」 已在 01-a.yaml 第 3 行使用"


def test_rc304_exemption_on_the_name_line(tmp_path):
    text = HEAD + "steps:\n" + step() + "  - name: 办结  # riskchart: ignore RC304 只有归档措施\n" \
        "    measures:\n      - 归档。\n    owner: 办理人\n"
    result = lint_files(tmp_path, {"01-a.yaml": text})
    assert result.diagnostics == ()


@pytest.mark.parametrize("name", [
    "01-劳动人事争议调解仲裁.yaml", "07-带薪年休假（试行）.yaml", "08-《条例》执行检查、备案.yaml", "09-a_b.c-D.yml",
    "10-工伤认定——复核.yaml", "11-①号·办法.yaml", "12-是否按时？办结！.yaml",
])
def test_rc211_chinese_names_and_punctuation_pass(name, tmp_path):
    result = lint_files(tmp_path, {name: head(int(name[:2])) + STEPS})
    assert places(result, "RC211") == set()


@pytest.mark.parametrize("name, shown", [
    ("01-javascript:alert(document.domain).yaml", "「:」"), ("01-a#b.yaml", "「#」"), ("01-a%20b.yaml", "「%」"),
    ("01-a?b.yaml", "「?」"), ("01-a b.yaml", "U+0020"), ("01-a\u3000b.yaml", "U+3000"), ("01-a\\b.yaml", "「\\」"),
    ("01-a\x1b]0;PWNED\x07.yaml", "U+001B"), ("01-a\u202eb.yaml", "U+202E"), ("01-a\u200bb.yaml", "U+200B"),
    ("01-a'b.yaml", "「'」"), ("01-a;b.yaml", "「;」"), ("01-a$b.yaml", "「$」"), ("01-a(b).yaml", "「(」"),
    ("-01-a.yaml", "以「-」开头"),
])
def test_rc211_unsafe_names_are_errors_with_a_new_name(name, shown, tmp_path):
    result = lint_files(tmp_path, {name: head(1) + STEPS})
    d = only_code(result, "RC211")
    assert d.is_error and (d.line, d.column) == (1, 1)
    assert shown in d.message
    suggested = d.message.rsplit("请改名，如 ", 1)[1]
    assert suggested.startswith("01-") and file_name_problem(suggested) is None
    assert result.charts == ()


def test_rc211_names_that_are_not_utf8(tmp_path):
    folder = tmp_path / "charts"
    folder.mkdir()
    (folder / os.fsdecode(b"01-\xff.yaml")).write_text(head(1) + STEPS, encoding="utf-8")
    d = only_code(lint_paths([folder], Settings()), "RC211")
    assert "U+DCFF" in d.message


def test_corpus_rules_compare_only_valid_charts(tmp_path):
    files = dict(RULE_CASES["RC203"][1])
    files["01-b.yaml"] = files["01-b.yaml"].replace("title: 乙", "title: [乙]")
    result = lint_files(tmp_path, files)
    assert [(Path(d.path).name, d.code) for d in result.diagnostics] == [("01-b.yaml", "RC104")]


def test_duplicates_report_every_later_file(tmp_path):
    files = {f"01-{c}.yaml": head(1, title=c) + STEPS for c in "abcd"}
    result = lint_files(tmp_path, files)
    assert places(result, "RC203") == {("01-b.yaml", 1, 5), ("01-c.yaml", 1, 5), ("01-d.yaml", 1, 5)}


# ---------------------------------------------------------------- README

def test_every_code_is_documented_in_readme():
    text = (PROJECT / "README.md").read_text(encoding="utf-8")  # no README is a failure too
    documented = set(re.findall(r"RC[0-9]{3}", text))
    missing = (set(rules.RULES) | set(diagnostics.CODES)) - documented
    assert not missing, f"README.md does not mention {sorted(missing)}"


def test_registry_severities():
    assert {c.severity for c in CODES.values()} == {Severity.ERROR, Severity.WARNING}
    for code, entry in CODES.items():
        assert re.fullmatch(r"RC[0-9]{3}", code) and entry.code == code and entry.summary
    assert all(CODES[c].severity is Severity.WARNING for c in CODES if c.startswith(("RC3", "RC4")))
    assert all(CODES[c].severity is Severity.ERROR for c in CODES if c.startswith(("RC0", "RC1")))
