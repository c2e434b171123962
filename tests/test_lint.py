"""lint_paths: discovery, the whole pipeline over many files, exemptions."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import CHART, HEAD, STEPS, fifo, found, lint_files, write_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskchart.check.diagnostics import Diagnostic
from riskchart.config import Settings
from riskchart.errors import EnvironmentProblem, NoCharts
from riskchart.lint import LintResult, discover, lint_paths


def chart(id, title):
    return f"id: {id}\ncategory: 行政裁决\ntitle: {title}\n" + STEPS


# ---------------------------------------------------------------- discovery

def test_discover_takes_yaml_and_yml_in_name_order(tmp_path):
    write_files(tmp_path, {"02-b.yaml": "", "01-a.yml": "", "10-c.yaml": "", "_defaults.yaml": "", "_x.yaml": "",
                           ".hidden.yaml": "", "readme.txt": "", "01-a.yaml.bak": ""})
    assert [p.name for p in discover([tmp_path])] == ["01-a.yml", "02-b.yaml", "10-c.yaml"]


def test_things_named_like_charts_that_are_not_files_are_reported_not_opened(tmp_path):
    import socket

    write_files(tmp_path, {"01-a.yaml": chart(1, "甲")})
    (tmp_path / "02-folder.yaml").mkdir()
    (tmp_path / "03-link.yaml").symlink_to(tmp_path / "nowhere.yaml")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "04-socket.yaml"))
    try:
        with fifo(tmp_path / "05-fifo.yaml"):
            result = lint_paths([tmp_path], Settings())
    finally:
        server.close()
    assert found(result) == {(f"0{n}-{name}.yaml", 1, 1, "RC001"): 1
                             for n, name in ((2, "folder"), (3, "link"), (4, "socket"), (5, "fifo"))}
    reasons = {Path(d.path).name: d.message for d in result.diagnostics}
    assert "文件夹" in reasons["02-folder.yaml"] and "不存在" in reasons["03-link.yaml"]
    assert "套接字" in reasons["04-socket.yaml"] and "命名管道（FIFO）" in reasons["05-fifo.yaml"]
    assert [c.title for c in result.charts] == ["甲"]


def test_an_explicit_device_or_fifo_is_reported_not_read(tmp_path):
    with fifo(tmp_path / "42-x.yaml") as pipe:
        result = lint_paths([Path("/dev/zero"), pipe], Settings())
    assert found(result) == {("zero", 1, 1, "RC001"): 1, ("42-x.yaml", 1, 1, "RC001"): 1}
    assert "字符设备" in result.diagnostics[0].message


def test_discover_keeps_an_explicit_file_and_drops_repeats(tmp_path):
    write_files(tmp_path, {"01-a.yaml": "", "notes.txt": ""})
    paths = discover([tmp_path / "01-a.yaml", tmp_path, tmp_path / "notes.txt"])
    assert [p.name for p in paths] == ["01-a.yaml", "notes.txt"]


def test_missing_path_is_an_environment_problem(tmp_path):
    with pytest.raises(NoCharts) as raised:
        lint_paths([tmp_path / "nope"], Settings())
    assert raised.value.exit_code == 2
    assert "nope" in raised.value.message


def test_folder_without_charts(tmp_path):
    write_files(tmp_path, {"_defaults.yaml": "department: 部\n", "a.txt": "x"})
    with pytest.raises(NoCharts) as raised:
        lint_paths([tmp_path], Settings())
    assert ".yaml" in raised.value.message


# ---------------------------------------------------------------- the result

def test_clean_folder(tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": chart(1, "甲"), "02-b.yaml": chart(2, "乙")})
    assert isinstance(result, LintResult)
    assert result.diagnostics == ()
    assert [c.id for c in result.charts] == [1, 2]
    assert [p.name for p in result.files] == ["01-a.yaml", "02-b.yaml"]
    assert result.sources[str(tmp_path / "01-a.yaml")] == chart(1, "甲")
    assert result.failed_paths == frozenset()


def test_broken_chart_is_left_out_and_the_others_still_checked(tmp_path):
    result = lint_files(tmp_path, {
        "01-a.yaml": chart(1, "甲"),
        "02-b.yaml": chart(2, "乙").replace("level: 中", "level: 很高"),
        "03-c.yaml": "id: 3\ncategory: 行政裁决\ntitle: '丙\n",
        "04-d.yaml": chart(4, "丁").replace("  - name: 办结\n", "  - name: 办结\n    owner: 办理人\n"),
    })
    assert found(result) == {("02-b.yaml", 7, 12, "RC107"): 1, ("03-c.yaml", 4, 1, "RC006"): 1,
                             ("04-d.yaml", 14, 12, "RC209"): 1}
    assert [c.id for c in result.charts] == [1, 4]          # warnings do not keep a chart out
    assert result.failed_paths == {str(tmp_path / "02-b.yaml"), str(tmp_path / "03-c.yaml")}


def test_chart_with_a_corpus_error_is_not_built(tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": chart(1, "甲"), "01-b.yaml": chart(1, "乙")})
    assert [(Path(d.path).name, d.code) for d in result.diagnostics] == [("01-b.yaml", "RC203")]
    assert [c.path.name for c in result.charts] == ["01-a.yaml"]


def test_diagnostics_are_sorted_and_unique(tmp_path):
    result = lint_files(tmp_path, {"02-b.yaml": "id: x\ntitle: [a]\n", "01-a.yaml": "id: y\n"})
    assert list(result.diagnostics) == sorted(set(result.diagnostics))
    assert all(isinstance(d, Diagnostic) for d in result.diagnostics)
    assert Path(result.diagnostics[0].path).name == "01-a.yaml"


def test_sources_hold_the_text_as_checked(tmp_path):
    result = lint_files(tmp_path, {"01-a.yaml": b"\xef\xbb\xbf" + CHART.replace("\n", "\r\n").encode(),
                                   "02-b.yaml": CHART.encode("gbk")})
    assert result.sources[str(tmp_path / "01-a.yaml")] == CHART
    assert str(tmp_path / "02-b.yaml") not in result.sources


def test_paths_in_diagnostics_are_as_given(tmp_path, monkeypatch):
    write_files(tmp_path / "charts", {"01-a.yaml": HEAD})
    monkeypatch.chdir(tmp_path)
    result = lint_paths([Path("charts")], Settings())
    assert [d.path for d in result.diagnostics] == [str(Path("charts/01-a.yaml"))]


def test_charts_in_several_folders(tmp_path):
    write_files(tmp_path / "a", {"01-a.yaml": chart(1, "甲")})
    write_files(tmp_path / "b", {"01-a.yaml": chart(1, "甲")})
    result = lint_paths([tmp_path / "a", tmp_path / "b"], Settings())
    assert [(Path(d.path).parent.name, d.code) for d in result.diagnostics] == [("b", "RC212"), ("b", "RC203"), ("b", "RC204")]


# ---------------------------------------------------------------- exemptions and settings

def test_exemption_silences_only_its_line_and_codes(tmp_path):
    text = (HEAD + "steps:\n"
            "  - name: 办结  # riskchart: ignore RC304\n    measures:\n      - 归档。\n    owner: 办理人\n"
            "  - name: 归档\n    measures:\n      - 归档。\n    owner: 办理人\n")
    result = lint_files(tmp_path, {"01-a.yaml": text})
    assert found(result) == {("01-a.yaml", 9, 11, "RC304"): 1}


def test_exemption_with_several_codes(tmp_path):
    text = HEAD + 'steps:\n  - name: "办结 "  # riskchart: ignore RC303, RC304\n    measures:\n      - 归档。\n' \
        "    owner: 办理人\n"
    assert lint_files(tmp_path, {"01-a.yaml": text}).diagnostics == ()


def test_exemption_cannot_hide_another_file(tmp_path):
    result = lint_files(tmp_path, {
        "01-a.yaml": HEAD + "steps:\n  - name: 办结  # riskchart: ignore RC304\n    measures: [归档。]\n    owner: 人\n",
        "02-b.yaml": chart(2, "乙").replace("  - name: 办结\n", "  - name: 办结\n    measures: [归档。]\n    owner: 人\n"),
    })
    assert found(result) == {("02-b.yaml", 13, 11, "RC304"): 1}


def test_exemption_cannot_silence_a_protected_code(tmp_path):
    # as in the settings: a chart that cannot be drawn, or would overwrite another's outputs, stays an error
    text = (HEAD + "steps:\n  - name: 申请\n  - name: 受理\n    level: 大大  # riskchart: ignore RC107\n"
            "    risks: [刁难。]\n    measures: [受理单。]\n    owner: 受理人\n")
    result = lint_files(tmp_path, {"01-a.yaml": text})
    assert found(result) == {("01-a.yaml", 7, 12, "RC107"): 1} and result.charts == ()


def test_disabled_codes_are_dropped(tmp_path):
    files = {"01-a.yaml": HEAD + "status: draft\n", "02-b.yaml": "id: x\n"}
    result = lint_files(tmp_path, files, Settings(frozenset({"RC301", "RC104"}), require=frozenset({"category"})))
    assert [d.code for d in result.diagnostics] == ["RC103", "RC103"]  # title; category, which the project requires


def test_settings_come_from_the_nearest_pyproject(tmp_path):
    write_files(tmp_path, {"pyproject.toml": '[tool.riskchart]\ndisable = ["RC301"]\n'})
    write_files(tmp_path / "charts", {"01-a.yaml": HEAD + "status: draft\n"})
    assert lint_paths([tmp_path / "charts"]).diagnostics == ()


def test_bad_settings_stop_the_lint(tmp_path):
    write_files(tmp_path, {"pyproject.toml": '[tool.riskchart]\ndisable = ["RC999"]\n'})
    write_files(tmp_path / "charts", {"01-a.yaml": CHART})
    with pytest.raises(EnvironmentProblem) as raised:
        lint_paths([tmp_path / "charts"])
    assert "RC999" in raised.value.message


# ---------------------------------------------------------------- defaults file

def test_defaults_file_is_checked_but_not_a_chart(tmp_path):
    result = lint_files(tmp_path, {"_defaults.yaml": "department: 组织部\nphones:\n  mobile: 1\n", "01-a.yaml": CHART})
    assert found(result) == {("_defaults.yaml", 3, 3, "RC102"): 1}
    assert [p.name for p in result.files] == ["01-a.yaml"]
    assert result.charts == ()  # an error in _defaults.yaml is an error of every chart under it


def test_empty_defaults_file(tmp_path):
    result = lint_files(tmp_path, {"_defaults.yaml": "", "01-a.yaml": CHART})
    assert found(result) == {("_defaults.yaml", 1, 1, "RC008"): 1}


# ---------------------------------------------------------------- properties

_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(
        ["id: 1\n", "id: ", "category: 行政裁决\n", "category: ", "title: 测试\n", "title: ", "status: draft\n",
         "steps:\n", "  - name: 受理\n", "  - name: ", "    level: 中\n", "    level: ", "    risks:\n",
         "    measures:\n", "      - 故意刁难申请人。\n", "      - ", "    owner: 受理人\n", "phones:\n",
         "  service: 1\n", "department: 部\n", "[", "]", "{", "}", ": ", "- ", "\n", "  ", "'", '"', "&a ", "*a",
         "!!str ", "#", "yes", "1.5", "~", "\t", "\r", "\u3000", "1. ", "---\n", "? ", "|\n", "\\x07", "9" * 5,
         "鶐", "，", ",", "。。", "“"]),
        max_size=60).map("".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(_TEXT)
def test_lint_never_raises_on_any_text(text):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "01-a.yaml").write_text(text, encoding="utf-8")
        result = lint_paths([Path(folder)], Settings())
    assert isinstance(result, LintResult)
    for d in result.diagnostics:
        assert d.line >= 1 and d.column >= 1
    if any(d.is_error for d in result.diagnostics):
        assert result.charts == ()


def test_many_files_are_checked_in_worker_processes_with_the_same_result(tmp_path, monkeypatch):
    from riskchart import lint as lint_module

    monkeypatch.setattr(lint_module, "WORKER_CHUNK", 50)  # each worker sends back several chunks, in order

    base = (Path(__file__).parents[1] / "charts" / "15-劳动用工备案.yaml").read_text(encoding="utf-8")
    count = lint_module.PARALLEL_FROM + 20
    for n in range(1, count + 1):
        text = base.replace("id: 15", f"id: {n}").replace("title: 劳动用工备案", f"title: 劳动用工备案{n}")
        if n == 7:
            text = text.replace("level: 中", "level: 很高", 1)  # a structural error in a worker's file
        if n == count - 3:
            text = text.replace("严格履行服务承诺制度，", "严格限行服务承诺制度，")  # a corpus warning
        (tmp_path / f"{n:04d}-图.yaml").write_text(text, encoding="utf-8")
    serial = lint_paths([tmp_path], jobs=1)
    parallel = lint_paths([tmp_path], jobs=2)
    assert parallel.diagnostics == serial.diagnostics
    assert {d.code for d in serial.diagnostics} == {"RC107", "RC401"}
    assert [c.title for c in parallel.charts] == [c.title for c in serial.charts]
    assert parallel.charts == serial.charts  # positions are not compared
    # the positions came with the charts from the workers: editing a file now does not move them
    late = parallel.charts[-1]
    late.path.write_text("# 新加的一行\n" + late.path.read_text(encoding="utf-8"), encoding="utf-8")
    assert late.where("steps", 1, "risks", 0) == serial.charts[-1].where("steps", 1, "risks", 0) != (1, 1)
    assert [dict(c.positions) for c in parallel.charts] == [dict(c.positions) for c in serial.charts]
    with pytest.raises(TypeError):
        late.positions[("id",)] = (9, 9)  # read-only, like a chart from this process
    warned = next(d for d in parallel.diagnostics if d.code == "RC401")
    assert parallel.sources[warned.path].split("\n")[warned.line - 1].strip().startswith("- 严格限行")


@pytest.mark.parametrize("enabled_before", [True, False])
def test_lint_leaves_the_garbage_collector_as_it_found_it(tmp_path, enabled_before):
    import gc

    write_files(tmp_path, {"01-a.yaml": CHART, "02-b.yaml": "id: ["})
    gc.enable() if enabled_before else gc.disable()
    try:
        lint_paths([tmp_path])
        assert gc.isenabled() == enabled_before
    finally:
        gc.enable()


def test_packed_positions_travel_by_pickle_and_answer_like_the_dict():
    import pickle

    from riskchart.lint import PackedPositions

    positions = {("title",): (3, 8), ("steps", 0, "risks", 1): (9, 9), (): (1, 1)}
    travelled = pickle.loads(pickle.dumps(PackedPositions(positions)))
    assert dict(travelled) == positions and len(travelled) == 3
    assert travelled[("steps", 0, "risks", 1)] == (9, 9)
    assert ("nowhere",) not in travelled
