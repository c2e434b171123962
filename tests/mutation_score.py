"""Print the mutation score of the last `make mutation` run.

Score = killed / (all mutants − equivalent ones).  Mutants listed in
tests/mutation_equivalent.txt change no behaviour (each line: name, then
the reason after a #) and are left out; a mutant no test reaches counts as
a survivor.  Exit status 1 when the score is under the target.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

TARGET = 0.85
HERE = Path(__file__).resolve().parent
KILLED = {"killed", "timeout", "segfault"}


def equivalent() -> set[str]:
    lines = (HERE / "mutation_equivalent.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def main() -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    listing = subprocess.run([str(mutmut), "results", "--all", "true"], capture_output=True, text=True,
                             check=True, cwd=HERE.parent).stdout
    statuses = dict(line.strip().rsplit(": ", 1) for line in listing.splitlines() if ": " in line)
    excluded = equivalent() & set(statuses)
    counted = {name: status for name, status in statuses.items() if name not in excluded}
    unchecked = [name for name, status in counted.items() if status == "not checked"]
    checked = {name: status for name, status in counted.items() if status != "not checked"}
    by_module: dict[str, Counter] = {}
    for name, status in checked.items():
        module = name.split(".x")[0].split(".xǁ")[0]
        by_module.setdefault(module, Counter())["killed" if status in KILLED else "survived"] += 1
    for module, counts in sorted(by_module.items()):
        total = counts["killed"] + counts["survived"]
        print(f"{module:28} {counts['killed']:5} / {total:5} killed  {counts['killed'] / total:6.1%}")
    killed = sum(status in KILLED for status in checked.values())
    score = killed / len(checked) if checked else 0.0
    print(f"{'all':28} {killed:5} / {len(checked):5} killed  {score:6.1%}"
          f"   ({len(excluded)} equivalent left out, {len(unchecked)} not checked)")
    for name, status in sorted(checked.items()):
        if status not in KILLED:
            print(f"  {status:10} {name}")
    return 0 if score >= TARGET and not unchecked else 1


if __name__ == "__main__":
    sys.exit(main())
