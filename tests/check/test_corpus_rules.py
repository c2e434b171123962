"""Corpus-wide rules: copies of the real charts with seeded slips are flagged
with the right suggestion; the corrected corpus is not."""

import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskchart.check.corpus_rules import _charts_holding, clauses, edit_distance, is_common_character, near_phrases
from riskchart.lint import lint_paths

ROOT = Path(__file__).resolve().parents[2]
CORPUS_CODES = {"RC401", "RC402", "RC403", "RC404"}


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "charts"
    shutil.copytree(ROOT / "charts", folder)
    return folder


def seed(folder: Path, prefix: str, old: str, new: str) -> int:
    """Replace text in one chart; return the 1-based line it is on."""
    (path,) = folder.glob(f"{prefix}-*.yaml")
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if old in line:
            # drop any comment, so no exemption or 原文 note remains on the line
            lines[number - 1] = line.split("  #")[0].replace(old, new)
            path.write_text("\n".join(lines), encoding="utf-8")
            return number
    raise AssertionError(f"{old} not in {path.name}")


def corpus_warnings(folder: Path) -> list:
    return [d for d in lint_paths([folder]).diagnostics if d.code in CORPUS_CODES]


def test_the_corrected_corpus_has_no_corpus_warnings():
    assert corpus_warnings(ROOT / "charts") == []


@pytest.mark.parametrize("prefix, old, new, meant", [
    ("13", "未按承诺时限办理事项。", "朱按承诺时限办理事项。", "未按承诺时限办理事项"),
    ("34", "加强内部监管，落实责任追究。", "加强内部单簧管，落实责任追究。", "加强内部监管"),
    ("26", "严格履行服务承诺制度，做到首问负责", "严格限行服务承诺制度，做到首问负责", "严格履行服务承诺制度"),
])
def test_near_duplicate_phrases_are_flagged_with_the_intended_phrase(corpus, prefix, old, new, meant):
    line = seed(corpus, prefix, old, new)
    (warning,) = corpus_warnings(corpus)
    assert (warning.code, warning.line, Path(warning.path).name[:2]) == ("RC401", line, prefix)
    assert f"的「{meant}」仅差" in warning.message and f"是否应为「{meant}」" in warning.message


def test_garbled_character_is_flagged(corpus):
    line = seed(corpus, "33", "审核申报等级的上一级证书原件。", "鶐新年快乐报等级的上一级证书原件。")
    (warning,) = corpus_warnings(corpus)
    assert (warning.code, warning.line) == ("RC402", line)
    assert "「鶐」" in warning.message


@pytest.mark.parametrize("old, new, fragment", [
    ("擅自改动内容，制作文书不规范。", "擅自改动内容,制作文书不规范。", "半角“,”，应为全角“，”"),
    ("擅自改动内容，制作文书不规范。", "擅自改动内容，制作文书不规范。。", "标点重复"),
    ("擅自改动内容，制作文书不规范。", "擅自改动内容，制作文书不规范", "末尾缺少“。”"),
    ("擅自改动内容，制作文书不规范。", "擅自改动“内容，制作文书不规范。", "引号不成对"),
])
def test_punctuation_slips_are_flagged(corpus, old, new, fragment):
    line = seed(corpus, "01", old, new)
    (warning,) = corpus_warnings(corpus)
    assert (warning.code, warning.line) == ("RC403", line)
    assert fragment in warning.message


def test_rare_step_spelling_is_flagged(corpus):
    line = seed(corpus, "16", "name: 事后监管", "name: 事后监督")
    (warning,) = corpus_warnings(corpus)
    assert (warning.code, warning.line, warning.column) == ("RC404", line, 11)
    assert "「事后监管」" in warning.message


def test_a_line_exemption_and_a_project_setting_silence_the_rules(corpus):
    line = seed(corpus, "13", "未按承诺时限办理事项。", "朱按承诺时限办理事项。")
    path = next(corpus.glob("13-*.yaml"))
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[line - 1] += "  # riskchart: ignore RC401 测试"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert corpus_warnings(corpus) == []
    lines[line - 1] = lines[line - 1].split("  #")[0]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert len(corpus_warnings(corpus)) == 1
    (corpus.parent / "pyproject.toml").write_text('[tool.riskchart]\ndisable = ["RC401"]\n', encoding="utf-8")
    assert corpus_warnings(corpus) == []


def test_deliberate_variants_are_not_slips():
    counts = {"严格执行回避制度": 5, "不执行回避制度": 1, "擅自降低审查标准": 6, "擅自降低检查标准": 1,
              "徇私谋利": 3, "徇私谋利等": 1}
    text = "\n".join(k for k, n in counts.items() for _ in range(n)) + "\n检查\n检查\n不执行\n不执行"
    assert near_phrases(__import__("collections").Counter(counts), text) == {}


def test_helpers():
    assert clauses("擅自改动内容，制作文书不规范。办结") == ["擅自改动内容", "制作文书不规范"]
    assert edit_distance("加强内部单簧管", "加强内部监管", 2) == 2
    assert edit_distance("abcdef", "uvwxyz", 2) == 3  # stops early past the limit
    assert is_common_character("审") and not is_common_character("鶐")


# ---------------------------------------------------------------- thresholds, on small made-up sets

def made_up(*steps_per_chart, category="行政检查") -> list:
    """One chart per argument, each a list of (step name, risks)."""
    from riskchart.model import Chart, Phones, Step

    return [Chart(path=Path(f"{n:02d}-x.yaml"), id=n, category=category, title=f"图{n}",
                  steps=tuple(Step(name, "中", tuple(risks), ("落实责任。",), "人") for name, risks in steps),
                  department="", phones=Phones())
            for n, steps in enumerate(steps_per_chart, 1)]


def codes_found(charts, code) -> list[str]:
    from riskchart.check.rules import run_corpus_rules

    return [d.message for d in run_corpus_rules(charts, lambda c: True) if d.code == code]


@pytest.mark.parametrize("usual_charts, flagged", [(2, False), (3, True), (5, True)])
def test_step_spelling_is_compared_with_names_used_in_three_or_more_charts(usual_charts, flagged):
    charts = made_up(*[[("事后监管", ["甲。"])]] * usual_charts, [("事后监督", ["甲。"])])
    assert bool(codes_found(charts, "RC404")) == flagged


@pytest.mark.parametrize("usual, rare, flagged", [("审查", "审核", False), ("再审查", "再审核", True)])
def test_step_spelling_is_compared_from_three_characters_on(usual, rare, flagged):
    """Two-character names differ by design (审查 / 审核, 管理 / 受理); three are compared."""
    charts = made_up(*[[(usual, ["甲。"])]] * 3, [(rare, ["甲。"])])
    assert bool(codes_found(charts, "RC404")) == flagged


def test_a_step_spelling_used_twice_is_not_a_slip():
    charts = made_up(*[[("事后监管", ["甲。"])]] * 5, [("事后监督", ["甲。"])], [("事后监督", ["甲。"])])
    assert codes_found(charts, "RC404") == []


@pytest.mark.parametrize("uses, flagged", [(1, True), (2, True), (3, False)])
def test_a_character_outside_gb2312_is_odd_when_used_at_most_twice(uses, flagged):
    charts = made_up(*[[("受理", ["鶐申报等级的证书。"])]] * uses, [("受理", ["审核申报等级的证书。"])])
    found = codes_found(charts, "RC402")
    assert bool(found) == flagged
    assert all(f"仅出现 {uses} 次" in message for message in found) and len(found) == (uses if flagged else 0)


@pytest.mark.parametrize("common, slips, flagged", [
    (5, 1, True), (5, 2, True), (5, 3, False),   # a slip is rare: at most twice
    (2, 1, True),                                # the intended phrase is common: twice or more
    (1, 1, False), (2, 2, False),                # and more common than the slip
])
def test_a_near_phrase_is_a_slip_only_when_rare_beside_a_common_one(common, slips, flagged):
    charts = made_up(*[[("受理", ["未按承诺时限办理事项。"])]] * common,
                     *[[("受理", ["朱按承诺时限办理事项。"])]] * slips)
    found = codes_found(charts, "RC401")
    assert bool(found) == flagged
    if flagged:
        assert len(found) == slips and all(f"与 {common} 处的「未按承诺时限办理事项」仅差 1 字" in m for m in found)


@pytest.mark.parametrize("risk, message", [
    ("甲乙，，丙。", "标点重复（“。。”或“，，”），请删去一个"),
    ("甲乙。。", "标点重复（“。。”或“，，”），请删去一个"),
    ("甲“乙。", "引号不成对：可能多打或漏打了一个引号"),
    ("甲‘乙。", "引号不成对：可能多打或漏打了一个引号"),
    ("甲’乙。", "引号不成对：可能多打或漏打了一个引号"),
    ('甲"乙。', "引号不成对：可能多打或漏打了一个引号"),
    ("甲乙,丙。", "中文里用了半角“,”，应为全角“，”"),
    ("甲“乙”‘丙’\"丁\"。", None),
])
def test_each_punctuation_slip_has_its_own_message(risk, message):
    from riskchart.check.rules import run_rules

    found = [d.message for d in run_rules(made_up([("受理", [risk])])) if d.code == "RC403"]
    assert found == ([message] if message else [])


def test_disabled_corpus_rules_are_not_run():
    from riskchart.check.rules import run_rules

    charts = made_up(*[[("受理", ["未按承诺时限办理事项。"])]] * 5, [("受理", ["朱按承诺时限办理事项。"])])
    assert any(d.code == "RC401" for d in run_rules(charts))
    assert not any(d.code == "RC401" for d in run_rules(charts, lambda code: code != "RC401"))


@pytest.mark.parametrize("common, slip, elsewhere", [
    ("受理材料。", "受里材料。", []),                                  # a clause of the shortest length compared
    ("未按承诺时限办理事项。", "未按承诺时限办理事理。", []),            # the last character slipped into a common one
    ("未按承诺时限办理事项。", "朱按承诺时限办理事项。", ["朱按钮。"]),  # its new pair once elsewhere: still a slip
])
def test_slips_at_the_edges_are_flagged(common, slip, elsewhere):
    charts = made_up(*[[("受理", [common])]] * 5, [("受理", [slip, *elsewhere])])
    (message,) = codes_found(charts, "RC401")
    assert f"是否应为「{common.rstrip('。')}」" in message


def test_a_new_pair_used_often_elsewhere_is_a_word_not_a_slip():
    charts = made_up(*[[("受理", ["未按承诺时限办理事项。"])]] * 5,
                     [("受理", ["朱按承诺时限办理事项。", "朱按钮。", "朱按键。"])])
    assert codes_found(charts, "RC401") == []


# ---------------------------------------------------------------- the power-list texts

def with_power_list(charts, basis=(), exits=(), time_limit=None):
    """The charts, the last one given legal bases, exits on its first step and a step time limit."""
    from dataclasses import replace

    from riskchart.model import Exit

    last = charts[-1]
    first = replace(last.steps[0], exits=tuple(Exit(w, t) for w, t in exits), time_limit=time_limit)
    return [*charts[:-1], replace(last, basis=tuple(basis), steps=(first, *last.steps[1:]))]


def test_near_duplicate_phrases_are_found_in_legal_bases_and_exits():
    common = [[("受理", ["未按承诺时限办理事项。"])]] * 4
    basis = with_power_list(made_up(*common, [("受理", ["甲。"])]),
                            basis=["朱按承诺时限办理事项"])
    assert codes_found(basis, "RC401") == ["「朱按承诺时限办理事项」与 4 处的「未按承诺时限办理事项」仅差 1 字，是否应为「未按承诺时限办理事项」？"]
    exits = with_power_list(made_up(*common, [("受理", ["甲。"])]), exits=[("朱按承诺时限办理事项", "不予受理")])
    assert len(codes_found(exits, "RC401")) == 1


def test_time_limits_are_not_compared_as_phrases():
    charts = with_power_list(made_up(*[[("受理", ["甲。"])]] * 4), time_limit="两个工作日")
    charts = [charts[0]] + [with_power_list([c], time_limit="十个工作日")[0] for c in charts[1:-1]] + [charts[-1]]
    assert codes_found(charts, "RC401") == []


def test_an_odd_character_in_a_legal_basis_or_an_exit_is_flagged():
    charts = with_power_list(made_up([("受理", ["甲。"])]), basis=["《鶐法》第一条"], exits=[("情形", "去向鶑")])
    assert len(codes_found(charts, "RC402")) == 2


def test_punctuation_of_the_new_texts_is_checked():
    charts = with_power_list(made_up([("受理", ["甲。"])]), basis=["《某法》第一条,第二款"],
                             exits=[("材料不齐全。。", "不予受理")], time_limit="“当场")
    from riskchart.check.rules import run_chart_rules

    found = [d.message for d in run_chart_rules(charts[0]) if d.code == "RC403"]
    assert sorted(found) == sorted(["中文里用了半角“,”，应为全角“，”",
                                                           "标点重复（“。。”或“，，”），请删去一个",
                                                           "引号不成对：可能多打或漏打了一个引号"])


@pytest.mark.parametrize("usual_charts, flagged", [(2, False), (3, True)])
def test_a_rare_spelling_of_an_exit_destination_is_flagged(usual_charts, flagged):
    charts = [with_power_list([c], exits=[("不符合条件", "不予受理")])[0]
              for c in made_up(*[[("受理", ["甲。"])]] * usual_charts)]
    charts += with_power_list(made_up([("受理", ["甲。"])]), exits=[("不符合条件", "不予受里")])
    charts = [dataclasses_replace_id(c, n) for n, c in enumerate(charts, 1)]
    found = codes_found(charts, "RC404")
    assert bool(found) == flagged
    if flagged:
        assert found == [f"去向「不予受里」在行政检查类中仅此一处，其他 {usual_charts} 张图作「不予受理」，是否应统一？"]


def dataclasses_replace_id(chart, number):
    from dataclasses import replace

    return replace(chart, id=number, path=Path(f"{number:02d}-x.yaml"), title=f"图{number}")


def test_uncommon_characters_are_those_outside_gb2312_and_ascii_counted():
    """The encoder's shortcut agrees with asking character by character."""
    from collections import Counter

    from riskchart.check.corpus_rules import uncommon_characters

    text = "审核鶐申报𠀀等级A1•，。“”\n鶐ｘ😀\u3000丟\ue000" * 3
    assert uncommon_characters(text) == Counter(c for c in text if not is_common_character(c))
    assert uncommon_characters("审核申报。") == Counter()


def _levenshtein(a: str, b: str) -> int:
    """The textbook table, with no early exit: the oracle for edit_distance."""
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return table[len(a)][len(b)]


@given(st.text(alphabet="审查核定批准", max_size=8), st.text(alphabet="审查核定批准", max_size=8), st.integers(0, 3))
def test_edit_distance_is_the_distance_within_the_limit_and_past_it_beyond(a, b, limit):
    distance, found = _levenshtein(a, b), edit_distance(a, b, limit)
    assert found == distance if distance <= limit else found > limit


def test_edit_distance_says_limit_plus_one_when_the_lengths_alone_exceed_it():
    assert edit_distance("ab", "abcdef", 2) == 3
    assert edit_distance("审查核定批准", "", 1) == 2


def test_a_long_clause_is_near_within_two_edits_not_three():
    meant = "严格执行回避制度"  # LONG_CLAUSE or longer: two slips of the keyboard still count as near
    for slip, expected in (("严格朱行回簧制度", {"严格朱行回簧制度": (meant, 2)}), ("严格朱行回簧制格", {})):
        text = "\n".join([meant] * 5 + [slip])
        assert near_phrases(Counter({meant: 5, slip: 1}), text) == expected


# ---------------------------------------------------------------- the search window, at its edges
#
# 严格执行回避制度规定 (10 characters) is cut into 严格执 | 行回避 | 制度规定; a
# clause of six or more characters is near within two edits.  Each slip below
# leaves whole only pieces that stand exactly at one edge of the search: the
# farthest shift (two places), the last possible place, the longest or
# shortest length compared.

MEANT = "严格执行回避制度规定"


@pytest.mark.parametrize("slip, distance", [
    ("严行回避制度规定", 2),        # two characters dropped early: the whole pieces stand two places left, 2 shorter
    ("严朱格簧执行回避制度规定", 2),  # two slipped in early: two places right, 2 longer
    ("严朱执行簧避制度规定", 2),     # the first two pieces broken: only the last stands whole, at the slip's very end
    ("严格执行回簧制度规簧", 2),     # the last two pieces broken: only the first, at the slip's start
])
def test_a_slip_whose_only_whole_pieces_stand_at_the_edge_of_the_search_is_found(slip, distance):
    charts = made_up(*[[("受理", [MEANT + "。"])]] * 4, [("受理", [slip + "。"])])
    assert codes_found(charts, "RC401") == [f"「{slip}」与 4 处的「{MEANT}」仅差 {distance} 字，是否应为「{MEANT}」？"]


@pytest.mark.parametrize("slip", ["严簧执行回避制度规定", "严格执行回避制度规簧", "严格执行簧避制度规定"])
def test_one_changed_character_is_found_wherever_it_is(slip):
    charts = made_up(*[[("受理", [MEANT + "。"])]] * 2, [("受理", [slip + "。"])])
    assert codes_found(charts, "RC401") == [f"「{slip}」与 2 处的「{MEANT}」仅差 1 字，是否应为「{MEANT}」？"]


# ---------------------------------------------------------------- which of several near phrases is meant

OTHER = "严格执行回避制度规则"  # one character from MEANT


def suggestion(slip: str, uses: dict[str, int]) -> str:
    """The one RC401 message for `slip` among charts using each phrase of `uses`
    as often as given, in the order given."""
    charts = made_up(*[[("受理", [phrase + "。"])] for phrase, n in uses.items() for _ in range(n)],
                     [("受理", [slip + "。"])])
    (message,) = codes_found(charts, "RC401")
    return message


@pytest.mark.parametrize("uses", [{MEANT: 5, OTHER: 3}, {OTHER: 3, MEANT: 5}])
def test_of_two_near_phrases_the_more_used_is_meant(uses):
    assert suggestion("严格执行回避制度规簧", uses).endswith(f"是否应为「{MEANT}」？")  # one character from each
    flipped = {OTHER: uses[MEANT], MEANT: uses[OTHER]}
    assert suggestion("严格执行回避制度规簧", flipped).endswith(f"是否应为「{OTHER}」？")


@pytest.mark.parametrize("first", [MEANT, OTHER])
def test_of_two_phrases_used_as_often_the_nearer_is_meant(first):
    second = OTHER if first == MEANT else MEANT
    uses = {first: 4, second: 4}
    # one character from MEANT and two from OTHER, then the other way round; the slipped
    # character is next to the last, so every pair it makes is new beside either phrase
    assert suggestion("严格执行回避制度簧定", uses) == (
        f"「严格执行回避制度簧定」与 4 处的「{MEANT}」仅差 1 字，是否应为「{MEANT}」？")
    assert suggestion("严格执行回避制度簧则", uses) == (
        f"「严格执行回避制度簧则」与 4 处的「{OTHER}」仅差 1 字，是否应为「{OTHER}」？")


@pytest.mark.parametrize("first", [MEANT, OTHER])
def test_of_two_phrases_as_used_and_as_near_the_one_the_charts_use_first_is_meant(first):
    second = OTHER if first == MEANT else MEANT
    assert suggestion("严格执行回避制度规簧", {first: 4, second: 4}).endswith(f"是否应为「{first}」？")


# ---------------------------------------------------------------- step names

def test_a_step_name_one_character_longer_is_another_step_not_a_slip():
    """Only a changed character is a slip: 再审核 beside 审核 is a second review."""
    charts = made_up(*[[("审核", ["甲。"])]] * 3, [("再审核", ["甲。"])])
    assert codes_found(charts, "RC404") == []


@pytest.mark.parametrize("meant, slip, flagged", [
    ("严格回避制度", "严朱回避簧度", True),   # six characters (LONG_CLAUSE): two slips are still near
    ("严格回避制", "严朱回避簧", False),     # five: only one
    ("严格回避制", "严朱回避制", True),
])
def test_two_slips_count_as_near_from_six_characters_on(meant, slip, flagged):
    charts = made_up(*[[("受理", [meant + "。"])]] * 3, [("受理", [slip + "。"])])
    assert bool(codes_found(charts, "RC401")) == flagged


@given(st.lists(st.text(alphabet="甲乙丙\n", max_size=8), max_size=6), st.sets(st.text(alphabet="甲乙丙", min_size=1,
                                                                                         max_size=3), max_size=3))
def test_the_charts_holding_a_slip_are_found_in_the_joined_corpus_as_in_each_text(texts, needles):
    """Where a slip or an odd character is reported, only these charts are read again."""
    assert _charts_holding(needles, texts, "\n".join(texts)) == {
        n for n, text in enumerate(texts) if any(needle in text for needle in needles)}
