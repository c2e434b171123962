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

import os
import random
import sys
from collections import defaultdict

from mutation_score import equivalent, module_of, statuses

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


if __name__ == "__main__":
    print(" ".join(sample(int(sys.argv[1]))))
