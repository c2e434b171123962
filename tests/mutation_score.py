"""Print the mutation score of the last `make mutation` run.

Score = killed / (checked mutants − equivalent ones).  Mutants listed in
tests/mutation_equivalent.txt change no behaviour (each line: name, then
the reason after a #) and are left out; a mutant no test reaches counts as
a survivor.  Each module's line says how many of its mutants were checked:
after `make mutation SAMPLE=N` the score of a module is an estimate from a
random sample, shown with its 95 % (Wilson) interval.  Exit status 1 when
the score is under the target, or when some mutants were not checked
(unless --sampled: `make mutation SAMPLE=N` checks only a sample).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

TARGET = 0.85
HERE = Path(__file__).resolve().parent
# "caught by type check": strict mypy (tests/mutation_typecheck.py) rejects the
# mutant, as `make test` would; shown apart from the ones a test killed.
TYPED = "caught by type check"
KILLED = {"killed", "timeout", "segfault", TYPED}


def equivalent() -> set[str]:
    lines = (HERE / "mutation_equivalent.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def statuses() -> dict[str, str]:
    """Every mutant's status as mutmut recorded it ("not checked" when it never ran)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    listing = subprocess.run([str(mutmut), "results", "--all", "true"], capture_output=True, text=True,
                             check=True, cwd=HERE.parent).stdout
    return dict(line.strip().rsplit(": ", 1) for line in listing.splitlines() if ": " in line)


def module_of(name: str) -> str:
    return name.split(".xǁ")[0].split(".x_")[0]


def wilson(killed: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % interval of a proportion estimated from `total` draws."""
    if not total:
        return 0.0, 1.0
    p = killed / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def load_strata() -> dict[str, Any]:
    """The strata of the last `mutation_sample.py --unchecked` draw."""
    loaded: dict[str, Any] = json.loads((HERE.parent / "mutants" / "sampled.json").read_text(encoding="utf-8"))
    return loaded


def stratified(found: dict[str, str], excluded: set[str]) -> int:
    """The score of a run cut short, estimated (see mutation_sample.py
    --unchecked): in each module, the mutants checked before the draw count
    as they are; those unchecked then are estimated from the random sample
    drawn of them.  Two 95 % intervals for the whole: the stratified one
    (each stratum's variance from its sample, with Agresti–Coull's two
    successes and two failures added so a sample with no survivor still
    counts as uncertain, and the finite population correction), and a
    cautious one that puts every module's unchecked part at the low end of
    its own interval at once."""
    strata = load_strata()
    drawn_all = {name for stratum in strata.values() for name in stratum["drawn"]}
    totals = [0.0, 0.0, 0.0, 0.0]  # killed (estimated), low end, high end, mutants
    variance = 0.0  # of the estimated number killed
    for module in sorted({module_of(name) for name in found}):
        names = [n for n in found if module_of(n) == module and n not in excluded]
        exact = [found[n] for n in names if n not in drawn_all and found[n] != "not checked"]
        known = sum(status in KILLED for status in exact)
        stratum = strata.get(module)
        if stratum is None:
            if len(exact) < len(names):
                print(f"{module:28} not run in full and not sampled: left out")
                continue
            estimate = low = high = float(known)
            population = 0.0
            how = "all checked"
        else:
            drawn = [n for n in stratum["drawn"] if n not in excluded]
            sampled = [found[n] for n in drawn if found.get(n, "not checked") != "not checked"]
            if not sampled:
                print(f"{module:28} sample not run yet: left out")
                continue
            killed = sum(status in KILLED for status in sampled)
            # equivalent mutants drawn are not in the stratum: shrink it by their share of the draw
            population = stratum["unchecked"] * len(drawn) / len(stratum["drawn"])
            rate_low, rate_high = wilson(killed, len(sampled))
            estimate, low, high = (known + population * rate for rate in (killed / len(sampled), rate_low, rate_high))
            adjusted = (killed + 2) / (len(sampled) + 4)
            correction = max(0.0, 1 - len(sampled) / population) if population else 0.0
            variance += population ** 2 * adjusted * (1 - adjusted) / (len(sampled) + 4) * correction
            how = (f"{len(exact)} checked in full + {population:.0f} estimated from a sample of {len(sampled)}"
                   f" ({killed} killed; {len(drawn) - len(sampled)} drawn not run)")
        size = len(exact) + population
        print(f"{module:28} {estimate / size:6.1%}  (95 %: {low / size:.1%}–{high / size:.1%})  {how}")
        totals = [total + value for total, value in zip(totals, (estimate, low, high, size), strict=True)]
    killed, low, high, size = totals
    score = killed / size if size else 0.0
    half = 1.96 * math.sqrt(variance) / size if size else 0.0
    print(f"{'all':28} {score:6.1%}  (95 %: {max(0.0, score - half):.1%}–{min(1.0, score + half):.1%}; cautious:"
          f" {low / size if size else 0:.1%}–{high / size if size else 0:.1%})"
          f"  over {size:.0f} mutants, {len(excluded)} equivalent left out")
    for name in sorted(n for n in found if found[n] not in KILLED and found[n] != "not checked" and n not in excluded):
        print(f"  {found[name]:10} {name}")
    return 0 if score >= TARGET else 1


def main(sampled: bool = False) -> int:
    found = statuses()
    excluded = equivalent() & set(found)
    counted = {name: status for name, status in found.items() if name not in excluded}
    by_module: dict[str, Counter[str]] = {}
    for name, status in counted.items():
        kind = "unchecked" if status == "not checked" else "killed" if status in KILLED else "survived"
        by_module.setdefault(module_of(name), Counter())[kind] += 1
        by_module[module_of(name)]["typed"] += status == TYPED
        by_module[module_of(name)]["timeout"] += status == "timeout"
    for module, counts in sorted(by_module.items()):
        checked = counts["killed"] + counts["survived"]
        if not checked:
            print(f"{module:28} not run ({counts['unchecked']} mutants)")
            continue
        low, high = wilson(counts["killed"], checked)
        sampled = f"  sample of {checked} / {checked + counts['unchecked']}: 95 % {low:.0%}–{high:.0%}" \
            if counts["unchecked"] else "  all checked"
        print(f"{module:28} {counts['killed']:5} / {checked:5} killed  {counts['killed'] / checked:6.1%}"
              f"  ({counts['typed']} by mypy, {counts['timeout']} timeouts){sampled}")
    checked = {name: status for name, status in counted.items() if status != "not checked"}
    killed = sum(status in KILLED for status in checked.values())
    typed = sum(status == TYPED for status in checked.values())
    score = killed / len(checked) if checked else 0.0
    unchecked = len(counted) - len(checked)
    print(f"{'all':28} {killed:5} / {len(checked):5} killed  {score:6.1%}"
          f"   ({typed} by mypy, {len(excluded)} equivalent left out, {unchecked} not checked)")
    for name, status in sorted(checked.items()):
        if status not in KILLED:
            print(f"  {status:10} {name}")
    return 0 if score >= TARGET and (sampled or not unchecked) else 1


if __name__ == "__main__":
    if "--stratified" in sys.argv[1:]:
        found = statuses()
        sys.exit(stratified(found, equivalent() & set(found)))
    sys.exit(main(sampled="--sampled" in sys.argv[1:]))
