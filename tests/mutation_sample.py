"""Print a random sample of the mutants of each mutated module, for
`make mutation SAMPLE=N`: N mutants of every module (all of a smaller
one), drawn with a fixed seed so that a run can be repeated and resumed.

A sample gives an unbiased estimate of each module's score where the whole
run does not fit the time (3,315 mutants; on the shared 2-core machine
under `nice -n 19` a few a minute).  mutmut's own order is no sample: it
runs the mutants with the fewest and fastest tests first.  Mutants listed
as equivalent are not drawn.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections import defaultdict
from pathlib import Path

from mutation_score import equivalent, module_of, statuses

HERE = Path(__file__).resolve().parent

SEED = int(os.environ.get("MUTATION_SEED", "19"))  # a new seed draws a sample no test was written against


def sample(per_module: int, seed: int = SEED) -> list[str]:
    by_module: dict[str, list[str]] = defaultdict(list)
    skipped = equivalent()
    for name in sorted(statuses()):
        if name not in skipped:
            by_module[module_of(name)].append(name)
    drawn = []
    for module in sorted(by_module):
        names = by_module[module]
        drawn += random.Random(f"{seed}|{module}").sample(names, min(per_module, len(names)))
    return drawn


SAMPLED = HERE.parent / "mutants" / "sampled.json"  # the strata of the last `--unchecked` draw


def sample_unchecked(fraction: float, least: int, seed: int = SEED) -> dict[str, dict[str, object]]:
    """A random sample of each module's mutants not yet checked: `fraction`
    of them, at least `least` (all of a module with fewer).  For a run cut
    short: mutmut checked the cheapest mutants first, so the checked ones
    are no sample of the rest; the rest's score is estimated from this
    random draw (mutation_score.py --stratified).  By module: how many were
    unchecked (the stratum) and the names drawn."""
    by_module: dict[str, list[str]] = defaultdict(list)
    skipped = equivalent()
    for name, status in sorted(statuses().items()):
        if status == "not checked" and name not in skipped:
            by_module[module_of(name)].append(name)
    return {module: {"unchecked": len(names),
                     "drawn": random.Random(f"{seed}|unchecked|{module}").sample(
                         names, min(len(names), max(least, round(fraction * len(names)))))}
            for module, names in sorted(by_module.items())}


if __name__ == "__main__":
    if sys.argv[1] == "--unchecked":  # --unchecked FRACTION LEAST [MODULE-PREFIX...]
        strata = sample_unchecked(float(sys.argv[2]), int(sys.argv[3]))
        wanted = sys.argv[4:]
        strata = {m: s for m, s in strata.items() if not wanted or any(m.startswith(w) for w in wanted)}
        # modules drawn before keep their strata: a second draw adds modules, it does not redraw
        earlier = json.loads(SAMPLED.read_text(encoding="utf-8")) if SAMPLED.is_file() else {}
        strata = {m: s for m, s in strata.items() if m not in earlier}
        SAMPLED.write_text(json.dumps(earlier | strata, ensure_ascii=False, indent=1), encoding="utf-8")
        print(" ".join(name for stratum in strata.values() for name in stratum["drawn"]))  # type: ignore[attr-defined]
    else:
        print(" ".join(sample(int(sys.argv[1]))))
