"""Synthetic 防控图 for the benchmark, recombined from the real charts.

    python tests/bench/generate.py FOLDER -n 400 --seed 1 [--charts charts/]

or, as a module, ``generate(folder, n, seed)``.  Every generated chart is in
the real format and lints clean (tests/bench/test_generate.py checks it):

* ids 1..n in files ``NNNN-合成N.yaml`` (zero-padded, at least 4 digits, so
  the id equals the file-name prefix and the files sort by id);
* 4–9 steps whose names, order and "bare" steps (申请, 办结 …) follow the real
  charts: names are drawn by frequency and sorted by their mean position in
  the real workflows;
* each step with risks has a level, 1–6 risks, 1–6 measures and an owner,
  drawn with the real charts' frequencies;
* each item is 10–60 characters: real risk (or measure) sentences are split
  into clauses at ， ； and rejoined, then end with 。;
* titles recombine a real title's subject with a real title's action word
  and are unique; categories follow the real distribution;
* ``_defaults.yaml`` is copied from the real charts folder.

The same (n, seed, real charts) always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
REAL_CHARTS = ROOT / "charts"

MIN_STEPS, MAX_STEPS = 4, 9
MIN_ITEMS, MAX_ITEMS = 1, 6
MIN_CHARS, MAX_CHARS = 10, 60
LEVELS = ("高", "中", "低")
# Action words real titles end with; the rest of the title is its subject.
ACTIONS = ("审批", "备案", "登记", "审核", "认证", "核定", "处理", "检查", "监督检查", "管理",
           "服务", "给付", "支付", "发放", "考核", "调配", "接续", "审查", "保存", "认定", "发放工作")
SYNTHETIC_NAME = re.compile(r"[0-9]+-合成[0-9]+\.yaml")
DEFAULTS_TEXT = ("# 所有防控图共用的部门名称与电话；单张图可用同名键覆盖。\n"
                 "department: 长治高新区组织和人力资源部\n"
                 "phones:\n"
                 "  service: \"8583591\"      # 服务电话\n"
                 "  supervision: \"2032510\"  # 监管电话\n")

_CLAUSE_SPLIT = re.compile(r"[，,；;]")
_END_PUNCTUATION = "。.；;，,、 "
# What riskchart's RC302 takes for an item's own number, and anything digit-led.
_NUMBER_LIKE = re.compile(r"\s*(?:[0-9０-９]|[(（][0-9０-９])")
_BRACKETS = ("()", "（）", "【】", "《》", "[]", "“”", "「」")
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Vocabulary:
    """What the real charts are made of, with how often each piece occurs."""

    categories: tuple[str, ...]            # one entry per real chart: frequency-weighted
    subjects: tuple[str, ...]
    actions: tuple[str, ...]
    step_names: tuple[str, ...]            # distinct, in a fixed order
    step_weights: tuple[int, ...]
    step_position: dict                    # name -> mean relative position 0..1
    step_bare: dict                        # name -> share of real steps without risks
    step_counts: tuple[int, ...]           # weights of 4..9 steps
    item_counts: tuple[int, ...]           # weights of 1..6 items
    levels: tuple[int, ...]                # weights of 高, 中, 低
    owners: tuple[str, ...]
    owner_weights: tuple[int, ...]
    risk_clauses: tuple[str, ...]
    measure_clauses: tuple[str, ...]
    defaults_text: str


def _yaml_load(path: Path):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)


def _balanced(text: str) -> bool:
    return all(text.count(a) == text.count(b) for a, b in _BRACKETS)


def _clauses(sentences) -> tuple[str, ...]:
    """Distinct clauses of the sentences, fit to stand in a 10–60 character item."""
    found = {}
    for sentence in sentences:
        for clause in _CLAUSE_SPLIT.split(sentence.strip().rstrip(_END_PUNCTUATION)):
            clause = clause.strip().strip(_END_PUNCTUATION)
            if (2 <= len(clause) <= MAX_CHARS - 2 and _balanced(clause)
                    and not clause.endswith(("：", ":")) and ": " not in clause
                    and not _NUMBER_LIKE.match(clause) and "。" not in clause):
                found.setdefault(clause, None)
    return tuple(found)


@cache
def vocabulary(charts: Path = REAL_CHARTS) -> Vocabulary:
    """Load the real charts (yaml.safe_load) and count what they contain."""
    paths = sorted(p for p in Path(charts).glob("*.yaml") if not p.name.startswith(("_", ".")))
    if not paths:
        raise SystemExit(f"no real charts (*.yaml) in {charts}")
    categories, titles, owners, levels = [], [], Counter(), Counter()
    names, positions, bare = Counter(), defaultdict(list), defaultdict(list)
    step_counts, item_counts = Counter(), Counter()
    risks, measures = [], []
    for path in paths:
        chart = _yaml_load(path)
        if not isinstance(chart, dict) or chart.get("status") == "draft" or not chart.get("steps"):
            continue
        categories.append(chart["category"])
        titles.append(chart["title"])
        steps = chart["steps"]
        step_counts[len(steps)] += 1
        for index, step in enumerate(steps):
            name = step["name"]
            names[name] += 1
            positions[name].append(index / max(1, len(steps) - 1))
            bare[name].append(not step.get("risks"))
            if step.get("owner"):
                owners[step["owner"]] += 1
            if step.get("level"):
                levels[step["level"]] += 1
            for kind, pool in (("risks", risks), ("measures", measures)):
                if step.get(kind):
                    item_counts[len(step[kind])] += 1
                    pool.extend(step[kind])
    subjects, actions = {}, {}
    for title in titles:
        action = next((a for a in sorted(ACTIONS, key=len, reverse=True)
                       if title.endswith(a) and len(title) > len(a) + 1), None)
        if action:
            subjects.setdefault(title[: -len(action)].rstrip("、，"), None)
            actions.setdefault(action, None)
    step_names = tuple(sorted(names, key=lambda n: (-names[n], n)))
    owner_names = tuple(sorted(owners, key=lambda n: (-owners[n], n)))
    defaults = Path(charts) / "_defaults.yaml"
    return Vocabulary(
        categories=tuple(categories),
        subjects=tuple(subjects) or tuple(titles),
        actions=tuple(actions) or ("管理",),
        step_names=step_names,
        step_weights=tuple(names[n] for n in step_names),
        step_position={n: sum(positions[n]) / len(positions[n]) for n in step_names},
        step_bare={n: sum(bare[n]) / len(bare[n]) for n in step_names},
        # +1 so every count in the range can occur, even one no real chart has.
        step_counts=tuple(step_counts[k] + 1 for k in range(MIN_STEPS, MAX_STEPS + 1)),
        item_counts=tuple(item_counts[k] + 1 for k in range(MIN_ITEMS, MAX_ITEMS + 1)),
        levels=tuple(levels[level] + 1 for level in LEVELS),
        owners=owner_names,
        owner_weights=tuple(owners[n] for n in owner_names),
        risk_clauses=_clauses(risks),
        measure_clauses=_clauses(measures),
        defaults_text=defaults.read_text(encoding="utf-8") if defaults.is_file() else DEFAULTS_TEXT,
    )


def _item(rng: random.Random, clauses: tuple[str, ...]) -> str:
    """One 10–60 character item: clauses joined with ， ending in 。"""
    # Real items are mostly short; the triangular draw keeps most near 10–25.
    target = round(rng.triangular(MIN_CHARS, MAX_CHARS, 12))
    while True:
        parts = [rng.choice(clauses)]
        length = len(parts[0]) + 1                      # + 。
        for _ in range(50):
            if length >= target:
                break
            clause = rng.choice(clauses)
            if clause in parts or length + 1 + len(clause) > MAX_CHARS:
                continue
            parts.append(clause)
            length += 1 + len(clause)
        if MIN_CHARS <= length <= MAX_CHARS:
            return "，".join(parts) + "。"


def _steps(rng: random.Random, vocab: Vocabulary) -> list[dict]:
    count = rng.choices(range(MIN_STEPS, MAX_STEPS + 1), weights=vocab.step_counts)[0]
    count = min(count, len(vocab.step_names))
    chosen: list[str] = []
    names, weights = list(vocab.step_names), list(vocab.step_weights)
    while len(chosen) < count:                           # weighted, without replacement
        index = rng.choices(range(len(names)), weights=weights)[0]
        chosen.append(names.pop(index))
        weights.pop(index)
    chosen.sort(key=lambda n: (vocab.step_position[n], vocab.step_names.index(n)))
    bare = [rng.random() < vocab.step_bare[n] for n in chosen]
    # A workflow has at least two steps with risks, like every real chart.
    for index in sorted(range(count), key=lambda i: vocab.step_bare[chosen[i]]):
        if count - sum(bare) >= 2:
            break
        bare[index] = False
    steps = []
    for name, is_bare in zip(chosen, bare, strict=True):
        step: dict = {"name": name}
        if not is_bare:
            step["level"] = rng.choices(LEVELS, weights=vocab.levels)[0]
            for kind, clauses in (("risks", vocab.risk_clauses), ("measures", vocab.measure_clauses)):
                number = rng.choices(range(MIN_ITEMS, MAX_ITEMS + 1), weights=vocab.item_counts)[0]
                step[kind] = [_item(rng, clauses) for _ in range(number)]
            step["owner"] = rng.choices(vocab.owners, weights=vocab.owner_weights)[0]
        steps.append(step)
    return steps


def _scalar(text: str) -> str:
    """Plain when YAML reads it back as the same text, else double-quoted."""
    if (not text or text[0] in _INDICATORS or text != text.strip() or ": " in text
            or " #" in text or text.endswith(":")
            or _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG):
        return json.dumps(text, ensure_ascii=False)
    return text


def chart_text(chart: dict, seed: int) -> str:
    lines = [f"# 合成防控图 {chart['id']}（tests/bench/generate.py，seed {seed}）",
             f"id: {chart['id']}",
             f"category: {_scalar(chart['category'])}",
             f"title: {_scalar(chart['title'])}",
             "steps:"]
    for step in chart["steps"]:
        lines.append(f"  - name: {_scalar(step['name'])}")
        if "level" in step:
            lines.append(f"    level: {step['level']}")
        for kind in ("risks", "measures"):
            if kind in step:
                lines.append(f"    {kind}:")
                lines.extend(f"      - {_scalar(item)}" for item in step[kind])
        if "owner" in step:
            lines.append(f"    owner: {_scalar(step['owner'])}")
    return "\n".join(lines) + "\n"


def _long_steps(rng: random.Random, vocab: Vocabulary) -> list[dict]:
    """14–20 steps of 4 risks and 4 measures each, as other departments' long charts have:
    too tall for one A4 page, so the chart continues on further pages."""
    names = list(vocab.step_names)
    steps = []
    for index in range(rng.randint(14, 20)):
        steps.append({"name": f"{names[index % len(names)]}{index + 1}",
                      "level": rng.choices(LEVELS, weights=vocab.levels)[0],
                      "risks": [_item(rng, vocab.risk_clauses) for _ in range(4)],
                      "measures": [_item(rng, vocab.measure_clauses) for _ in range(4)],
                      "owner": rng.choices(vocab.owners, weights=vocab.owner_weights)[0]})
    return steps


def charts(n: int, seed: int, real: Path = REAL_CHARTS, long_every: int = 0) -> list[dict]:
    """n synthetic charts as plain dicts, ids 1..n; with `long_every`, every such
    chart is a long one (see `_long_steps`)."""
    vocab = vocabulary(Path(real))
    rng = random.Random(seed)
    titles: set[str] = set()
    made = []
    for chart_id in range(1, n + 1):
        title = rng.choice(vocab.subjects) + rng.choice(vocab.actions)
        if title in titles:
            title = f"{title}（合成{chart_id}）"
        titles.add(title)
        long = long_every and chart_id % long_every == 0
        made.append({"id": chart_id, "category": rng.choice(vocab.categories), "title": title,
                     "steps": _long_steps(rng, vocab) if long else _steps(rng, vocab)})
    return made


def file_name(chart_id: int, n: int) -> str:
    return f"{chart_id:0{max(4, len(str(n)))}d}-合成{chart_id}.yaml"


def generate(folder, n: int, seed: int = 1, real=REAL_CHARTS, long_every: int = 0) -> list[Path]:
    """Write n synthetic charts and _defaults.yaml into folder; return the chart paths.

    Synthetic charts already in the folder (from an earlier, larger run) are
    removed first, so the folder holds exactly these n charts.
    """
    if not 1 <= n <= 9999:
        raise ValueError(f"n must be 1..9999 (riskchart ids), not {n}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*-合成*.yaml"):
        if SYNTHETIC_NAME.fullmatch(old.name):
            old.unlink()
    vocab = vocabulary(Path(real))
    (folder / "_defaults.yaml").write_text(vocab.defaults_text, encoding="utf-8")
    written = []
    for chart in charts(n, seed, real, long_every):
        path = folder / file_name(chart["id"], n)
        path.write_text(chart_text(chart, seed), encoding="utf-8")
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write N synthetic riskchart charts recombined from the real ones.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("-n", type=int, default=100, help="number of charts (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--charts", type=Path, default=REAL_CHARTS, help="folder of real charts to draw from")
    args = parser.parse_args(argv)
    paths = generate(args.folder, args.n, args.seed, args.charts)
    print(f"wrote {len(paths)} charts and _defaults.yaml to {args.folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
