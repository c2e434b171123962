"""compare: pairing charts, steps and items; the character-level diff."""

from __future__ import annotations

from pathlib import Path

from riskchart.diff.compare import char_diff, compare, item_changes, pair_steps, step_changes
from riskchart.model import Chart, Department, Phones, Step


def chart(id=1, title="图", steps=(), folder="", department="局", file=None):
    return Chart(path=Path(file or f"{id:02d}-图.yaml"), id=id, category="行政许可", title=title, steps=tuple(steps),
                 department=department, phones=Phones(), folder=folder, unit=Department(folder, department))


def test_char_diff_marks_only_the_changed_characters():
    assert char_diff("不按规定程序受理", "不按规定程序和时限受理") == [("=", "不按规定程序"), ("+", "和时限"), ("=", "受理")]
    assert char_diff("中", "高") == [("-", "中"), ("+", "高")]
    assert char_diff("", "新") == [("+", "新")]


def test_numbering_is_not_a_change():
    changes = item_changes("受理", "风险点", ["甲。", "乙。"], ["丙丁戊。", "甲。", "乙。"], ("r",), ("r",))
    assert [(c.kind, c.item, c.after) for c in changes] == [("item_added", "风险点1", "丙丁戊。")]
    assert item_changes("受理", "风险点", ["甲。", "乙。"], ["乙。", "甲。"], ("r",), ("r",)) == []


def test_similar_text_is_reworded_and_dissimilar_text_is_removed_and_added():
    reworded = item_changes("", "防控措施", ["严格执行会商机制。"], ["严格执行集体会商机制。"], ("m",), ("m",))
    assert [c.kind for c in reworded] == ["item_reworded"]
    replaced = item_changes("", "防控措施", ["实行一次性告知。"], ["推行网上受理，全程留痕。"], ("m",), ("m",))
    assert [c.kind for c in replaced] == ["item_removed", "item_added"]


def test_steps_pair_by_name_then_by_place_between_kept_steps():
    old = [Step("申请"), Step("审核"), Step("办结")]
    assert pair_steps(old, [Step("申请"), Step("复核"), Step("办结")]) == {0: 0, 1: 1, 2: 2}
    # inserted before: the renamed step still pairs with the one between the same neighbours
    assert pair_steps(old, [Step("咨询"), Step("申请"), Step("复核"), Step("办结")]) == {0: 1, 1: 2, 2: 3}
    assert pair_steps(old, [Step("申请"), Step("办结")]) == {0: 0, 2: 1}


def test_an_insertion_moves_no_step():
    old = [Step("申请"), Step("受理"), Step("办结")]
    changes = step_changes(old, [Step("申请"), Step("咨询"), Step("受理"), Step("办结")])
    assert [(c.kind, c.step) for c in changes] == [("step_added", "咨询")]
    swapped = step_changes(old, [Step("受理"), Step("申请"), Step("办结")])
    assert [(c.kind, c.step, c.before, c.after) for c in swapped] == [("step_moved", "受理", "第 2 个环节", "第 1 个环节")]


def test_charts_pair_by_department_folder_and_id_then_name_then_file():
    old = [chart(1, "甲"), chart(2, "乙"), chart(3, "丙", folder="科", department="科")]
    new = [chart(1, "甲"), chart(2, "乙改", file="02-改名.yaml"), chart(3, "丙", folder="新科", department="科")]
    found, unchanged = compare(old, new)
    assert unchanged == 2  # chart 3 moved folder but kept its department's name and id
    assert [(d.id, d.old_file, d.new_file, [c.item for c in d.changes]) for d in found] == [
        (2, "02-图.yaml", "02-改名.yaml", ["标题"])]


def test_an_added_or_removed_chart_is_one_change():
    found, unchanged = compare([chart(1, "旧")], [chart(2, "新")])
    assert unchanged == 0
    assert [(d.id, [(c.kind, c.item, c.before, c.after) for c in d.changes]) for d in found] == [
        (1, [("chart_removed", "职权", "旧", "")]), (2, [("chart_added", "职权", "", "新")])]
