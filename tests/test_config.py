"""[tool.riskchart] in the nearest pyproject.toml."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import CHART, HEAD, write_files

from riskchart.cli import main
from riskchart.config import Settings, find_project, find_settings, read_settings
from riskchart.errors import EnvironmentProblem
from riskchart.lint import lint_paths

WARNS_RC304 = HEAD + "steps:\n  - name: 办结\n    measures:\n      - 归档。\n    owner: 办理人\n"


def project(tmp_path, toml: str | None, chart: str = WARNS_RC304):
    if toml is not None:
        write_files(tmp_path, {"pyproject.toml": toml})
    write_files(tmp_path / "charts", {"01-a.yaml": chart})
    return tmp_path / "charts"


def test_disable_switches_a_code_off(tmp_path):
    charts = project(tmp_path, '[tool.riskchart]\ndisable = ["RC304"]\n')
    settings = find_settings(charts)
    assert settings.disabled == {"RC304"}
    assert settings.source == tmp_path / "pyproject.toml"
    assert not settings.enabled("RC304") and settings.enabled("RC303")
    assert lint_paths([charts]).diagnostics == ()


def test_without_disable_the_code_is_reported(tmp_path):
    charts = project(tmp_path, "[tool.riskchart]\n")
    assert [d.code for d in lint_paths([charts]).diagnostics] == ["RC304"]


def test_pyproject_without_the_table(tmp_path):
    """Like ruff, a pyproject.toml without [tool.riskchart] is not a riskchart project."""
    charts = project(tmp_path, '[project]\nname = "x"\n')
    assert find_settings(charts) == Settings(charts=charts / "charts")  # the folder itself, with the defaults


def test_nearest_pyproject_wins(tmp_path):
    write_files(tmp_path, {"pyproject.toml": '[tool.riskchart]\ndisable = ["RC304"]\n'})
    charts = project(tmp_path / "inner", '[tool.riskchart]\ndisable = ["RC301"]\n')
    assert find_settings(charts).disabled == {"RC301"}
    assert find_settings(charts / "01-a.yaml").disabled == {"RC301"}


def test_settings_found_from_a_file_path(tmp_path):
    charts = project(tmp_path, '[tool.riskchart]\ndisable = ["RC304"]\n')
    assert lint_paths([charts / "01-a.yaml"]).diagnostics == ()


def test_disabling_an_error_code_lets_the_chart_through(tmp_path):
    charts = project(tmp_path, '[tool.riskchart]\ndisable = ["RC201"]\n', CHART.replace("id: 1", "id: 2"))
    result = lint_paths([charts])
    assert result.diagnostics == ()
    assert [c.id for c in result.charts] == [2]


def test_unknown_code_is_a_clear_error(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.riskchart]\ndisable = ["RC304", "RC999"]\n', encoding="utf-8")
    with pytest.raises(EnvironmentProblem) as raised:
        read_settings(path)
    assert raised.value.exit_code == 2
    assert "RC999" in raised.value.message and str(path) in raised.value.message
    assert "RC304" not in raised.value.message.split("未知代码")[-1]


def test_invalid_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.riskchart\n", encoding="utf-8")
    with pytest.raises(EnvironmentProblem) as raised:
        read_settings(path)
    assert str(path) in raised.value.message


def test_disable_as_a_string_is_refused(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.riskchart]\ndisable = "RC304"\n', encoding="utf-8")
    with pytest.raises(EnvironmentProblem):
        read_settings(path)


@pytest.mark.parametrize("toml", [
    '[tool.riskchart]\ndisable = ["RC304", 3]\n',
    '[tool.riskchart]\ndisable = "RC304"\n',
    pytest.param('[tool.riskchart]\ndisable = [["RC304"]]\n', id="list-in-list"),
    pytest.param('[tool.riskchart]\ndisable = [{code = "RC304"}]\n', id="table-in-list"),
    pytest.param("[tool]\nriskchart = 1\n", id="riskchart-not-a-table"),
])
def test_malformed_settings_are_a_clear_error(tmp_path, toml):
    charts = project(tmp_path, toml)
    result = CliRunner().invoke(main, ["lint", str(charts)])
    assert result.exit_code == 2, result.exception
    assert "[tool.riskchart]" in result.stderr


def test_unknown_code_exits_2_in_the_cli(tmp_path):
    charts = project(tmp_path, '[tool.riskchart]\ndisable = ["RC999"]\n')
    result = CliRunner().invoke(main, ["lint", str(charts)])
    assert result.exit_code == 2
    assert "RC999" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("codes", [["RC107"], ["RC206"], ["RC304", "RC102", "RC207"]])
def test_checks_that_keep_the_model_whole_cannot_be_disabled(tmp_path, codes):
    charts = project(tmp_path, f"[tool.riskchart]\ndisable = {codes!r}\n".replace("'", '"'))
    result = CliRunner().invoke(main, ["lint", str(charts)])
    assert result.exit_code == 2
    refused = [c for c in codes if c != "RC304"]
    assert f"{'、'.join(refused)} 不能关闭" in result.stderr
    assert "可以关闭的代码：" in result.stderr and "RC304" in result.stderr.split("可以关闭的代码：")[1]
    assert "RC107" not in result.stderr.split("可以关闭的代码：")[1]


def test_every_code_that_can_be_disabled_leaves_each_clean_file_a_chart():
    """Switching off every allowed code over the whole bad-input corpus: a file
    that then lints without error is a chart the later stages receive, never
    one dropped silently (stats and export would show it missing)."""
    from pathlib import Path

    from riskchart.check.diagnostics import CODES
    from riskchart.config import PROTECTED

    settings = Settings(frozenset(CODES) - PROTECTED)
    corpus = Path(__file__).parent / "fixtures" / "lint" / "bad"
    for case in sorted(p for p in corpus.iterdir() if p.is_dir()):
        result = lint_paths([case], settings)
        failed = result.failed_paths
        # a chart under a broken _defaults.yaml fails with it (reported on that file)
        clean = [f for f in result.files if str(f) not in failed and str(f.parent / "_defaults.yaml") not in failed]
        assert sorted(str(c.path) for c in result.charts) == sorted(map(str, clean)), case.name


# ---------------------------------------------------------------- riskchart.toml: the project file

def test_project_file_is_found_from_any_sub_folder(tmp_path, monkeypatch):
    write_files(tmp_path, {"riskchart.toml": 'charts = "图"\nout = "输出"\n'})
    write_files(tmp_path / "图", {"01-a.yaml": CHART})
    (tmp_path / "图" / "食品科").mkdir()
    monkeypatch.chdir(tmp_path / "图" / "食品科")
    project = find_project(Path.cwd())
    assert project.root == tmp_path.resolve()
    assert project.charts == tmp_path.resolve() / "图" and project.out == tmp_path.resolve() / "输出"
    result = CliRunner().invoke(main, ["lint"])
    assert result.exit_code == 0, result.output
    assert "检查了 1 个文件" in result.stderr


def test_commands_without_paths_use_the_project_folders(tmp_path, monkeypatch):
    write_files(tmp_path, {"riskchart.toml": 'charts = "图"\nformats = ["svg"]\n'})
    write_files(tmp_path / "图", {"01-a.yaml": CHART.replace("  - name: 申请\n", "  - name: 申请\n    # 开始\n")})
    (tmp_path / "图" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "图" / "sub")
    bad = CliRunner().invoke(main, ["lint", "--format", "json"])
    assert bad.exit_code == 0 and json.loads(bad.stdout) == []
    stats = CliRunner().invoke(main, ["stats", "--format", "json"])
    assert json.loads(stats.stdout)["total"]["charts"] == 1


def test_settings_keys_are_read_from_riskchart_toml(tmp_path):
    write_files(tmp_path, {"riskchart.toml": (
        'font = "WenQuanYi Zen Hei"\nformats = ["pdf", "svg", "pdf"]\ndisable = ["RC304"]\n'
        'extra_categories = ["行政审批"]\n')})
    project = find_project(tmp_path)
    assert project.font == "WenQuanYi Zen Hei" and project.formats == ("pdf", "svg")
    assert project.settings.disabled == {"RC304"}
    assert project.settings.categories[-1] == "行政审批" and "行政许可" in project.settings.categories
    assert project.settings.docx_fonts == ("仿宋", "黑体")  # the defaults


def test_word_booklet_fonts_are_read_from_riskchart_toml(tmp_path):
    write_files(tmp_path, {"riskchart.toml": 'docx_font = "宋体"\ndocx_heading_font = "方正小标宋简体"\n'})
    assert find_project(tmp_path).settings.docx_fonts == ("宋体", "方正小标宋简体")


def test_the_word_booklet_is_asked_for_with_a_boolean(tmp_path):
    assert find_project(tmp_path).settings.word_booklet is False
    write_files(tmp_path, {"riskchart.toml": "word_booklet = true\n"})
    assert find_project(tmp_path).settings.word_booklet is True
    write_files(tmp_path, {"riskchart.toml": 'font = "黑体"\nword_booklet = "是"\n'})
    with pytest.raises(click.ClickException) as raised:
        find_project(tmp_path)
    assert "riskchart.toml:2:1: word_booklet 应为 true 或 false" in raised.value.format_message()


def test_categories_replace_the_default_list_and_lint_follows_it(tmp_path):
    write_files(tmp_path, {"riskchart.toml": 'categories = ["公共服务", "行政审批"]\n'})
    charts = write_files(tmp_path / "charts", {"01-a.yaml": CHART.replace("行政裁决", "行政审批"),
                                               "02-b.yaml": CHART.replace("id: 1", "id: 2").replace("测试", "另一")})
    result = lint_paths([charts], find_project(charts).settings)
    assert [(Path(d.path).name, d.code) for d in result.diagnostics] == [("02-b.yaml", "RC107")]
    assert "须为 公共服务、行政审批 之一" in result.diagnostics[0].message


def test_the_json_schema_follows_the_project_categories(tmp_path, monkeypatch):
    write_files(tmp_path, {"riskchart.toml": 'extra_categories = ["行政审批"]\n'})
    monkeypatch.chdir(tmp_path)
    schema = json.loads(CliRunner().invoke(main, ["schema"]).stdout)
    assert schema["properties"]["category"]["enum"][-1] == "行政审批"


def test_pyproject_tool_table_takes_the_same_keys(tmp_path):
    write_files(tmp_path, {"pyproject.toml": '[tool.riskchart]\nout = "网站"\ncategories = ["公共服务"]\n'})
    project = find_project(tmp_path)
    assert project.out == tmp_path.resolve() / "网站" and project.settings.categories == ("公共服务",)


@pytest.mark.parametrize("toml, where, words", [
    ('charts = "charts"\nfont_name = "黑体"\n', "riskchart.toml:2:1:", "未知的设置项 font_name，是否为 font？"),
    ('"类别" = ["行政许可"]\n', "riskchart.toml:1:1:", "是否为 categories？"),
    ('font = 黑体\n', "riskchart.toml:1:8:", "TOML 语法错误"),
    ('\nformats = "svg"\n', "riskchart.toml:2:1:", 'formats 应为文字列表，如 formats = ["svg", "pdf"]'),
    ('formats = ["svg", "xlsx"]\n', "riskchart.toml:1:1:", "xlsx 不是可用的格式"),
    ('categories = []\n', "riskchart.toml:1:1:", "categories 不能为空列表"),
    ('categories = ["公共服务", "公共服务"]\n', "riskchart.toml:1:1:", "「公共服务」重复"),
    ('out = 3\n', "riskchart.toml:1:1:", "out 应为文件夹路径"),
    ('font = "<黑体>"\n', "riskchart.toml:1:1:", "字体名称"),
    ('\ndocx_heading_font = ""\n', "riskchart.toml:2:1:", 'docx_heading_font = "黑体"'),
    ('  disable = ["RC107"]\n', "riskchart.toml:1:3:", "RC107 不能关闭"),
    ('\nlevels = []\n', "riskchart.toml:2:1:", "levels 不能为空列表"),
    ('levels = ["高", "高"]\n', "riskchart.toml:1:1:", "「高」重复"),
    ('levels = ["1", "2", "3", "4", "5", "6"]\n', "riskchart.toml:1:1:", "levels 最多 5 项"),
    ('levels = ["<高>"]\n', "riskchart.toml:1:1:", "过长或含引号"),
    ('levels = "高"\n', "riskchart.toml:1:1:", "levels 应为文字列表"),
    ('require = ["level", "phone"]\n', "riskchart.toml:1:1:", "phone 不能要求"),
    ('risk_types = []\n', "riskchart.toml:1:1:", "risk_types 不能为空列表"),
    ('"风险等级" = ["高"]\n', "riskchart.toml:1:1:", "是否为 levels？"),
])
def test_settings_mistakes_are_located_with_a_suggestion_and_exit_2(tmp_path, monkeypatch, toml, where, words):
    write_files(tmp_path, {"riskchart.toml": toml})
    write_files(tmp_path / "charts", {"01-a.yaml": CHART})
    monkeypatch.chdir(tmp_path)
    for command in (["lint"], ["build"], ["stats"], ["export"], ["schema"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, (command, result.output)
        assert f"{tmp_path.resolve()}/{where}" in result.stderr and words in result.stderr, result.stderr
        assert "Traceback" not in result.output


def test_every_settings_mistake_is_reported_at_once(tmp_path):
    write_files(tmp_path, {"riskchart.toml": 'formats = "svg"\nfont_name = "x"\n'})
    with pytest.raises(EnvironmentProblem) as raised:
        find_project(tmp_path)
    assert "formats 应为" in raised.value.message and "font_name" in raised.value.message


def test_lint_checks_characters_against_the_project_font(tmp_path, monkeypatch):
    from riskchart.draw import fonts

    asked = set()
    monkeypatch.setattr(fonts, "lacks", lambda font, char: asked.add(font) or False)
    monkeypatch.setattr(fonts, "_PRESENT", {})  # an earlier test may have seen these characters in that font
    write_files(tmp_path, {"riskchart.toml": 'font = "Noto Serif CJK SC"\n'})
    charts = write_files(tmp_path / "charts", {"01-a.yaml": CHART})
    lint_paths([charts], find_project(charts).settings, jobs=1)
    assert asked == {"Noto Serif CJK SC"}


def test_levels_require_and_risk_types_are_read_and_reach_lint(tmp_path):
    write_files(tmp_path, {"riskchart.toml": 'levels = ["一级", "二级", "三级"]\nrequire = ["owner"]\n'
                                              'risk_types = ["廉洁自律", "业务流程"]\n'})
    settings = find_project(tmp_path).settings
    assert settings.levels == ("一级", "二级", "三级") and settings.require == frozenset({"owner"})
    assert settings.risk_types == ("廉洁自律", "业务流程")
    chart = HEAD + ("steps:\n  - name: 受理\n    level: 一级\n    risk_type: 廉洁自律\n    risks: [甲。]\n"
                    "    measures: [乙。]\n  - name: 审查\n    risks: [丙。]\n    measures: [丁。]\n")
    write_files(tmp_path / "charts", {"01-a.yaml": chart})
    result = lint_paths([tmp_path / "charts"])
    # owners required: an error; levels not: a warning
    assert sorted(d.code for d in result.diagnostics) == ["RC207", "RC207", "RC306"]
    assert Settings().levels == ("高", "中", "低") and Settings().require == frozenset()


def test_page_and_orientation_are_read_and_checked(tmp_path):
    from riskchart.draw.page import A4_PORTRAIT, Page

    charts = project(tmp_path, '[tool.riskchart]\npage = "A3"\norientation = "landscape"\n')
    assert find_project(charts).page == Page("A3", landscape=True)
    assert find_project(project(tmp_path / "plain", "[tool.riskchart]\n")).page == A4_PORTRAIT
    wrong = project(tmp_path / "wrong", '[tool.riskchart]\npage = "B5"\norientation = "横向"\n')
    with pytest.raises(EnvironmentProblem) as problem:
        find_project(wrong)
    assert "pyproject.toml:2:1" in str(problem.value) and "page 应为" in str(problem.value)
    assert "pyproject.toml:3:1" in str(problem.value) and "landscape" in str(problem.value)


@pytest.mark.needs("dot")
def test_build_page_options_override_the_project_and_change_the_fingerprint(tmp_path):
    import pikepdf

    charts = project(tmp_path, '[tool.riskchart]\npage = "A3"\n', CHART)
    out = tmp_path / "out"

    def size() -> list[float]:
        with pikepdf.open(out / "01-a.pdf") as pdf:
            return [float(v) for v in pdf.pages[0].MediaBox]

    runner = CliRunner()
    assert runner.invoke(main, ["build", str(charts), "-o", str(out), "--no-publish", "--format", "pdf"]).exit_code == 0
    assert size() == [0, 0, 842, 1191]
    result = runner.invoke(main, ["build", str(charts), "-o", str(out), "--no-publish", "--format", "pdf",
                                  "--page", "A4", "--landscape"])
    assert result.exit_code == 0 and "生成" in result.output  # drawn again, not "up to date"
    assert size() == [0, 0, 842, 595]
    # a landscape project printed in portrait for once
    (charts.parent / "pyproject.toml").write_text('[tool.riskchart]\norientation = "landscape"\n', encoding="utf-8")
    result = runner.invoke(main, ["build", str(charts), "-o", str(out), "--no-publish", "--format", "pdf",
                                  "--portrait"])
    assert result.exit_code == 0 and size() == [0, 0, 595, 842]


@pytest.mark.parametrize("text", ['page = ["A4"]\n', 'orientation = {a = 1}\n', "page = 3\n"])
def test_a_page_setting_of_the_wrong_type_is_a_located_error(tmp_path, text):
    charts = project(tmp_path, "[tool.riskchart]\n" + text)
    with pytest.raises(EnvironmentProblem) as problem:
        find_project(charts)
    assert "pyproject.toml:2:1" in str(problem.value)
