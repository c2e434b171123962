"""Stage 1 — load: bytes → YAML node tree, or located diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import CHART, HEAD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskchart import limits
from riskchart.check.diagnostics import Diagnostic, Severity
from riskchart.check.load import LoadedFile, load_bytes, load_file, position, read_chart_bytes

X = Path("x.yaml")
ONE_STEP = "steps:\n  - name: 申请\n"


def load(text: str | bytes) -> LoadedFile:
    return load_bytes(X, text if isinstance(text, bytes) else text.encode("utf-8"))


def where(loaded: LoadedFile) -> list[tuple[int, int, str]]:
    return [(d.line, d.column, d.code) for d in loaded.diagnostics]


def the(loaded: LoadedFile) -> Diagnostic:
    assert len(loaded.diagnostics) == 1, loaded.diagnostics
    return loaded.diagnostics[0]


# ---------------------------------------------------------------- positions

@pytest.mark.parametrize("text, offset, expected", [
    ("abc", 0, (1, 1)),
    ("abc", 2, (1, 3)),
    ("ab\ncd", 3, (2, 1)),
    ("ab\ncd", 4, (2, 2)),
    ("标题\n中文x", 0, (1, 1)),
    ("标题\n中文x", 1, (1, 2)),
    ("标题\n中文x", 5, (2, 3)),       # characters, not bytes: 中文 are two
    ("\n\n\n", 3, (4, 1)),
])
def test_position_is_one_based_in_characters(text, offset, expected):
    assert position(text, offset) == expected


def test_node_marks_count_characters_after_cjk():
    loaded = load("id: 1\ncategory: 行政裁决\ntitle: 中文中文\nsteps:\n  - name: 申请\n")
    assert loaded.diagnostics == ()
    _, title_value = loaded.root.value[2]
    assert title_value.value == "中文中文"
    assert (title_value.start_mark.line, title_value.start_mark.column) == (2, 7)
    assert loaded.text[title_value.start_mark.index:].startswith("中文中文")


def test_syntax_error_column_counts_characters():
    d = the(load("id: 1\ncategory: 行政裁决\ntitle: 中文中文: x\n" + ONE_STEP))
    assert (d.line, d.column, d.code) == (3, 12, "RC006")
    assert d.severity is Severity.ERROR
    assert d.message.startswith("YAML 语法错误：")


# ---------------------------------------------------------------- a good file

def test_valid_chart_loads_with_root_and_text():
    loaded = load(CHART)
    assert loaded.diagnostics == ()
    assert isinstance(loaded.root, yaml.MappingNode)
    assert [k.value for k, _ in loaded.root.value] == ["id", "category", "title", "steps"]
    assert loaded.text == CHART
    assert loaded.path == X


def test_bom_is_accepted_and_not_part_of_the_text():
    loaded = load(b"\xef\xbb\xbf" + CHART.encode())
    assert loaded.diagnostics == ()
    assert loaded.text == CHART
    assert isinstance(loaded.root, yaml.MappingNode)


def test_bom_does_not_shift_columns():
    d = the(load(b"\xef\xbb\xbf" + "id: 1\ncategory: 行政裁决\ntitle: 测\x07试\n".encode()))
    assert (d.line, d.column, d.code) == (3, 9, "RC004")


def test_crlf_is_accepted_with_the_same_positions():
    plain = load(CHART)
    crlf = load(CHART.replace("\n", "\r\n"))
    assert crlf.diagnostics == ()
    assert crlf.text == CHART
    marks = lambda root: [(k.start_mark.line, k.start_mark.column, v.start_mark.line, v.start_mark.column)
                          for k, v in root.value]
    assert marks(crlf.root) == marks(plain.root)


# ---------------------------------------------------------------- encodings

def test_gbk_gets_rc002_saying_utf8():
    d = the(load((HEAD + ONE_STEP).encode("gbk")))
    assert (d.line, d.column, d.code) == (2, 11, "RC002")
    assert "UTF-8" in d.message
    assert "GBK" in d.message


def test_non_utf8_position_counts_characters_before_the_bad_byte():
    d = the(load("title: 中文".encode() + b"\xff"))
    assert (d.line, d.column, d.code) == (1, 10, "RC002")
    assert "UTF-8" in d.message


def test_utf16_gets_rc002_at_the_start():
    d = the(load(CHART.encode("utf-16")))
    assert (d.line, d.column, d.code) == (1, 1, "RC002")


def test_undecodable_file_has_no_text():
    loaded = load(CHART.encode("gbk"))
    assert loaded.text is None and loaded.root is None


# ---------------------------------------------------------------- empty

@pytest.mark.parametrize("data", [b"", b"   ", b"\n\n", b" \n \r\n", b"\xef\xbb\xbf"])
def test_empty_file(data):
    d = the(load(data))
    assert (d.line, d.column, d.code) == (1, 1, "RC008")
    assert "为空" in d.message


def test_comments_only_file():
    loaded = load("# 第一行\n# 第二行\n")
    d = the(loaded)
    assert (d.line, d.column, d.code) == (1, 1, "RC008")
    assert "注释" in d.message
    assert loaded.root is None


def test_document_marker_only_is_empty(lint_text):
    result = lint_text("# 尚未录入\n---\n")
    assert [(d.line, d.column, d.code) for d in result.diagnostics] == [(1, 1, "RC008")]


# ---------------------------------------------------------------- size

def test_over_size_limit_in_memory():
    d = the(load(b"#" * (limits.MAX_FILE_BYTES + 1)))
    assert (d.line, d.column, d.code) == (1, 1, "RC003")
    assert f"{limits.MAX_FILE_BYTES + 1:,}" in d.message


def test_over_size_limit_on_disk_is_not_read(tmp_path):
    path = tmp_path / "01-big.yaml"
    with path.open("wb") as big:
        big.truncate(50 * limits.MAX_FILE_BYTES)  # sparse: costs no disk
    assert len(read_chart_bytes(path)) == limits.MAX_FILE_BYTES + 1
    d = the(load_file(path))
    assert (d.line, d.column, d.code) == (1, 1, "RC003")
    assert f"{50 * limits.MAX_FILE_BYTES:,}" in d.message and "10 KB" in d.message


def test_at_size_limit_is_loaded():
    data = (CHART + "#" * (limits.MAX_FILE_BYTES - len(CHART.encode()))).encode()
    assert len(data) == limits.MAX_FILE_BYTES
    assert load(data).diagnostics == ()


# ---------------------------------------------------------------- unreadable

def test_unreadable_path_is_rc001(tmp_path):
    folder = tmp_path / "01-a.yaml"
    folder.mkdir()
    d = the(load_file(folder))
    assert (d.line, d.column, d.code) == (1, 1, "RC001")
    assert d.message.startswith("无法读取文件")


def test_missing_file_is_rc001(tmp_path):
    d = the(load_file(tmp_path / "nope.yaml"))
    assert d.code == "RC001"


# ---------------------------------------------------------------- characters

@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f",
                                  "\x7f", "\x80", "\x85", "\x9f", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff"])
def test_control_characters_are_rc004_at_their_position(char):
    d = the(load(f"id: 1\ncategory: 行政裁决\ntitle: 测{char}试\n" + ONE_STEP))
    assert (d.line, d.column, d.code) == (3, 9, "RC004")
    assert f"U+{ord(char):04X}" in d.message


@pytest.mark.parametrize("char", ["\u200b", "\u00a0", "\u3000", "\U00020bb7"])
def test_other_invisible_or_unusual_characters_load(char):
    loaded = load(f"id: 1\ncategory: 行政裁决\ntitle: 测{char}试\n" + ONE_STEP)
    assert loaded.diagnostics == ()
    assert loaded.root.value[2][1].value == f"测{char}试"


@pytest.mark.parametrize("char", ["\ue000", "\U000f0001", "\U0001f600", "\U0001fa90", "\ufe0f"])
def test_characters_the_font_lacks_are_rc016_at_their_position(char):
    loaded = load(f"id: 1\ncategory: 行政裁决\ntitle: 测{char}试\n" + ONE_STEP)
    d = the(loaded)
    assert (d.line, d.column, d.code) == (3, 9, "RC016")
    assert f"U+{ord(char):04X}" in d.message
    assert loaded.root is not None  # the rest of the file is still checked


def test_a_character_lacking_only_in_a_comment_line_is_fine():
    assert load("# 👍 好\nid: 1\ncategory: 行政裁决\ntitle: 测试\n" + ONE_STEP).diagnostics == ()


def test_lone_cr_is_rc004():
    d = the(load("id: 1\rcategory: 行政裁决\n"))
    assert (d.line, d.column, d.code) == (1, 6, "RC004")
    assert "CR" in d.message


def test_lone_cr_among_crlf():
    d = the(load("id: 1\r\ncategory: 行政裁决\rtitle: 测试\r\n"))
    assert (d.line, d.column, d.code) == (2, 15, "RC004")


@pytest.mark.parametrize("text, expected", [
    ("id: 1\ncategory: 行政裁决\ntitle: 测试\nsteps:\n\t- name: 申请\n", (5, 1)),
    ("id: 1\ncategory: 行政裁决\ntitle: 测\t试\n", (3, 9)),
    ("id:\t1\n", (1, 4)),
])
def test_tab_is_rc005(text, expected):
    d = the(load(text))
    assert (d.line, d.column, d.code) == (*expected, "RC005")
    assert "Tab" in d.message


# ---------------------------------------------------------------- nesting

def test_flow_nesting_at_the_limit_loads():
    loaded = load(HEAD + "steps: " + "[" * limits.MAX_FLOW_DEPTH + "]" * limits.MAX_FLOW_DEPTH + "\n")
    assert loaded.diagnostics == ()


@pytest.mark.parametrize("depth", [limits.MAX_FLOW_DEPTH + 1, 5000, 200_000])
def test_flow_nesting_over_the_limit(depth):
    d = the(load(HEAD + "steps: " + "[" * depth + "]" * depth + "\n"))
    assert (d.line, d.column, d.code) == (4, 8 + limits.MAX_FLOW_DEPTH, "RC010")
    assert str(limits.MAX_FLOW_DEPTH) in d.message


def test_mixed_braces_and_brackets_count_together():
    d = the(load("a: " + "{b: [" * 11 + "1" + "]}" * 11 + "\n"))
    assert (d.line, d.column, d.code) == (1, 4 + 5 * 10, "RC010")


def test_closing_brackets_before_opening_do_not_go_negative():
    loaded = load('title: "' + "]" * 50 + "[" * 20 + '"\n')
    assert loaded.diagnostics == ()


@pytest.mark.parametrize("lead", ["- " * 3000, " " * 5000 + "a: 1", "? " * 200 + "a", ": " * 150])
def test_block_nesting_over_the_limit(lead):
    d = the(load(HEAD + "x:\n" + lead + "\n"))
    assert (d.line, d.column, d.code) == (5, limits.MAX_INDENT + 1, "RC010")


def test_indentation_at_the_limit_is_not_rc010():
    loaded = load("x:\n" + " " * limits.MAX_INDENT + "y: 1\n")
    assert "RC010" not in [d.code for d in loaded.diagnostics]


# ---------------------------------------------------------------- documents, tags, anchors

def test_two_documents_are_rc007_at_the_second_marker():
    d = the(load(CHART + "---\n" + CHART))
    assert (d.line, d.column, d.code) == (14, 1, "RC007")
    assert "---" in d.message


def test_one_marked_document_is_fine():
    assert load("---\n" + CHART + "...\n").diagnostics == ()


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/name:os.system", "!foo", "!!str",
                                 "!", "!<tag:yaml.org,2002:str>", "!!binary"])
def test_tags_are_rc011_naming_the_tag(tag):
    d = the(load(f"id: 1\ncategory: 行政裁决\ntitle: {tag} 测试\n"))
    assert (d.line, d.column, d.code) == (3, 8, "RC011")
    assert tag in d.message


def test_python_object_apply_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    loaded = load(f"id: 1\ncategory: 行政裁决\ntitle: !!python/object/apply:os.system [\"touch {marker}\"]\n")
    assert [d.code for d in loaded.diagnostics] == ["RC011"]
    assert not marker.exists()


def test_every_tag_is_reported():
    loaded = load("a: !!str x\nb: !foo y\nc:\n  - !!int 3\n")
    assert sorted(where(loaded)) == [(1, 4, "RC011"), (2, 4, "RC011"), (4, 5, "RC011")]


def test_anchor_and_alias_are_rc009():
    d = the(load("a: &x 受理人\nb: *x\n"))
    assert (d.line, d.column, d.code) == (1, 4, "RC009")
    assert "&" in d.message and "*" in d.message


def test_alias_bomb_is_refused_without_expansion():
    bomb = 'a: &a ["哈", "哈", "哈", "哈", "哈", "哈", "哈", "哈", "哈"]\n' + "".join(
        f"b{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 9)}]\n" for i in range(12))
    loaded = load(bomb)
    assert [d.code for d in loaded.diagnostics] == ["RC009"]


def test_rc009_points_at_the_first_anchor_in_the_file():
    d = the(load("a: &a 甲\nb: &b 乙\nc: [*a, *b]\n"))
    assert (d.line, d.column) == (1, 4)


def test_undefined_alias_is_a_syntax_error():
    d = the(load("a: *nothing\n"))
    assert (d.line, d.column, d.code) == (1, 4, "RC006")


# ---------------------------------------------------------------- syntax explanations

@pytest.mark.parametrize("text, expected, words", [
    ('title: "测试\nid: 1\n', (3, 1, "RC006"), "引号"),
    ("title: @测试\n", (1, 8, "RC006"), "双引号"),
    ('title: "C:\\测试"\n', (1, 11, "RC006"), "反斜杠"),
    ("steps:\n  - name: 申请\n - name: 受理\n", (3, 2, "RC006"), "缩进"),
    ("steps:\n  - name: 申请\n   - name: 受理\n", (3, 4, "RC006"), "“- ”"),
    ("a:\n  b: 1\n  c\nd: 2\n", (4, 1, "RC006"), "“: ”"),
])
def test_syntax_errors_are_explained_in_chinese(text, expected, words):
    d = the(load(text))
    assert (d.line, d.column, d.code) == expected
    assert words in d.message


def test_colon_space_in_plain_text_is_explained():
    d = the(load("title: 注意: 这里\n"))
    assert (d.line, d.column, d.code) == (1, 10, "RC006")
    assert "双引号" in d.message


# ---------------------------------------------------------------- properties

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_load_without_raising(data):
    loaded = load_bytes(X, data)
    assert isinstance(loaded, LoadedFile)
    _check_invariants(loaded)


_YAMLISH = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(
        [*"abc: -[]{}&*!|>'\"#\n \t\r,?%@`~1.0中", "\u3000", "\ufeff", "\u2028", "\ufffe", "\x85", "\x00",
         "id: ", "steps:", "\n  - ", "name: ", "\n    ", "---\n", "...\n", "!!python/object:x ", "&a ", "*a",
         "level: 高", "risks:", "measures:", "owner: ", "\\", '\\"', "\\x07"]), max_size=80).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_YAMLISH)
def test_any_text_loads_without_raising(text):
    loaded = load_bytes(X, text.encode("utf-8", "surrogatepass"))
    assert isinstance(loaded, LoadedFile)
    _check_invariants(loaded)


def _check_invariants(loaded: LoadedFile) -> None:
    for d in loaded.diagnostics:
        assert isinstance(d, Diagnostic)
        assert d.line >= 1 and d.column >= 1
        assert d.code.startswith("RC0")
        if loaded.text is not None:
            assert d.line <= loaded.text.count("\n") + 2
    if loaded.root is None:
        assert loaded.diagnostics, "no root and no reason"


def test_a_file_of_too_many_lines_is_refused_before_parsing():
    text = "id: 1\n" + "".join(f"k{n}: v\n" for n in range(limits.MAX_LINES))
    assert where(load(text)) == [(limits.MAX_LINES + 1, 1, "RC003")]
    assert where(load("id: 1\n" * (limits.MAX_LINES - 1))) != [(limits.MAX_LINES + 1, 1, "RC003")]
