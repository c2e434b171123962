"""A scripted git repository for the diff tests: tag v1, then tag v2 with
every kind of change riskchart diff reports, a renamed file and an
unchanged chart that must not appear.  git runs without the machine's or
the user's configuration."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from riskchart.diff.changes import Change

GIT_ENVIRONMENT = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00",
                   "GIT_COMMITTER_DATE": "2026-01-01T00:00:00", "LC_ALL": "C"}


def git(repository: Path, *arguments: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=测试", "-c", "user.email=test@example.org", "-c", "init.defaultBranch=main",
                           "-c", "core.quotepath=false",
                           "-C", str(repository), *arguments], capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENVIRONMENT}, timeout=60)
    return done.stdout


def isolate_git(monkeypatch) -> None:
    """riskchart's own git runs see no system or user configuration either."""
    for name, value in GIT_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


DEFAULTS = "department: 测试局\nphones:\n  service: \"1111111\"\n  supervision: \"2222222\"\n"

CHART_A_V1 = """id: 1
category: 行政许可
title: 食品经营许可
basis:
  - 《中华人民共和国食品安全法》第三十五条
steps:
  - name: 申请
  - name: 受理
    level: 中
    risks:
      - 故意刁难申请人。
    measures:
      - 建立受理单制度。
    owner: 受理人
  - name: 办结
"""
CHART_A_V2 = """id: 1
category: 行政检查
code: 140403-XK-0001
title: 食品经营许可证核发
department: 市场监管局
phones:
  service: "3333333"
time_limit:
  statutory: 二十个工作日
basis:
  - 《中华人民共和国食品安全法》第三十五条、第三十六条
  - 《食品经营许可和备案管理办法》第十条
steps:
  - name: 申请
  - name: 受理
    level: 中
    risks:
      - 故意刁难申请人。
    measures:
      - 建立受理单制度。
    owner: 受理人
  - name: 办结
"""
CHART_B_V1 = """id: 2
category: 行政许可
title: 审批
steps:
  - name: 申请
  - name: 受理
    level: 中
    risks:
      - 故意刁难申请人。
      - 不按规定程序受理。
    measures:
      - 建立受理单制度。
      - 实行一次性告知。
    owner: 受理人
  - name: 审核
    level: 中
    risks:
      - 擅自改变审查结论。
    measures:
      - 严格执行会商机制。
    owner: 审核人
  - name: 公示
    level: 低
    risks:
      - 公示不及时。
    measures:
      - 按时公示。
    owner: 办理人
  - name: 送达
  - name: 办结
"""
CHART_B_V2 = """id: 2
category: 行政许可
title: 审批
steps:
  - name: 受理
    level: 高
    risks:
      - 故意刁难申请人。
      - 不按规定程序和时限受理。
    measures:
      - 建立受理单制度。
      - 推行网上受理，全程留痕。
    owner: 受理岗
  - name: 申请
  - name: 复核
    level: 中
    risks:
      - 擅自改变审查结论。
    measures:
      - 严格执行会商机制。
    owner: 审核人
  - name: 送达
  - name: 集体讨论
    level: 高
    risks:
      - 议而不决。
    measures:
      - 实行票决制。
    owner: 分管领导
  - name: 办结
"""
CHART_C_V1 = """id: 3
category: 行政确认
title: 确认
steps:
  - name: 审查
    level: 低
    risks:
      - 审查不严。
      - 超时办理。
    measures:
      - 双人审查。
    owner: 审查人
"""
CHART_C_V2 = CHART_C_V1.replace("      - 审查不严。\n", "      - 收受申请人财物。\n      - 审查不严。\n")
CHART_D = CHART_C_V1.replace("id: 3", "id: 4").replace("title: 确认", "title: 不变的图")
CHART_E = CHART_C_V1.replace("id: 3", "id: 5").replace("title: 确认", "title: 要删除的图")
CHART_F = CHART_C_V1.replace("id: 3", "id: 6").replace("title: 确认", "title: 新增的图")

V1 = {"riskchart.toml": 'charts = "charts"\n', "charts/_defaults.yaml": DEFAULTS,
      "charts/01-食品经营许可.yaml": CHART_A_V1, "charts/02-审批.yaml": CHART_B_V1, "charts/03-旧名.yaml": CHART_C_V1,
      "charts/04-不变.yaml": CHART_D, "charts/05-删除.yaml": CHART_E, "README.md": "不是防控图\n"}
V2_WRITTEN = {"charts/01-食品经营许可.yaml": CHART_A_V2, "charts/02-审批.yaml": CHART_B_V2,
              "charts/06-新增.yaml": CHART_F}

# (chart id, the changes) of v1 → v2, exactly, in order.
EXPECTED: list[tuple[int, list[Change]]] = [
    (1, [
        Change("field_changed", "", "标题", "食品经营许可", "食品经营许可证核发", ("title",), ("title",)),
        Change("field_changed", "", "职权类别", "行政许可", "行政检查", ("category",), ("category",)),
        Change("field_changed", "", "职权编码", "", "140403-XK-0001", ("code",), ("code",)),
        Change("field_changed", "", "部门", "测试局", "市场监管局", ("department",), ("department",)),
        Change("field_changed", "", "服务电话", "1111111", "3333333", ("phones", "service"), ("phones", "service")),
        Change("field_changed", "", "法定时限", "", "二十个工作日", ("time_limit", "statutory"),
               ("time_limit", "statutory")),
        Change("item_reworded", "", "法律依据1", "《中华人民共和国食品安全法》第三十五条",
               "《中华人民共和国食品安全法》第三十五条、第三十六条", ("basis", 0), ("basis", 0)),
        Change("item_added", "", "法律依据2", "", "《食品经营许可和备案管理办法》第十条", None, ("basis", 1)),
    ]),
    (2, [
        Change("step_moved", "受理", "环节顺序", "第 2 个环节", "第 1 个环节", ("steps", 1), ("steps", 0)),
        Change("level_changed", "受理", "风险等级", "中", "高", ("steps", 1, "level"), ("steps", 0, "level")),
        Change("owner_changed", "受理", "责任人", "受理人", "受理岗", ("steps", 1, "owner"), ("steps", 0, "owner")),
        Change("item_reworded", "受理", "风险点2", "不按规定程序受理。", "不按规定程序和时限受理。",
               ("steps", 1, "risks", 1), ("steps", 0, "risks", 1)),
        Change("item_removed", "受理", "防控措施2", "实行一次性告知。", "", ("steps", 1, "measures", 1), None),
        Change("item_added", "受理", "防控措施2", "", "推行网上受理，全程留痕。", None, ("steps", 0, "measures", 1)),
        Change("step_renamed", "复核", "环节名称", "审核", "复核", ("steps", 2, "name"), ("steps", 2, "name")),
        Change("step_removed", "公示", "环节", "公示\n风险等级：低\n风险点1：公示不及时。\n防控措施1：按时公示。\n责任人：办理人", "",
               ("steps", 3), None),
        Change("step_added", "集体讨论", "环节", "",
               "集体讨论\n风险等级：高\n风险点1：议而不决。\n防控措施1：实行票决制。\n责任人：分管领导", None, ("steps", 4)),
    ]),
    (3, [Change("item_added", "审查", "风险点1", "", "收受申请人财物。", None, ("steps", 0, "risks", 0))]),
    (5, [Change("chart_removed", "", "职权", "要删除的图", "", (), None)]),
    (6, [Change("chart_added", "", "职权", "", "新增的图", None, ())]),
]


def write(repository: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repository / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_repository(repository: Path) -> Path:
    """v1 and v2 committed and tagged; the working tree is v2."""
    repository.mkdir(parents=True, exist_ok=True)
    git(repository, "init", "-q")
    write(repository, V1)
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", "v1")
    git(repository, "tag", "v1")
    write(repository, V2_WRITTEN)
    git(repository, "mv", "charts/03-旧名.yaml", "charts/03-新名.yaml")
    write(repository, {"charts/03-新名.yaml": CHART_C_V2})
    git(repository, "rm", "-q", "charts/05-删除.yaml")
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", "v2")
    git(repository, "tag", "v2")
    return repository


def entered_repository(tmp_path: Path, monkeypatch) -> Path:
    """The scripted repository, made under `tmp_path` with git isolated from
    the machine's configuration, as the current folder (a command's view)."""
    isolate_git(monkeypatch)
    folder = make_repository(tmp_path / "仓库")
    monkeypatch.chdir(folder)
    return folder
