"""Strict mypy over mutmut's copy of the package, for `make mutation`.

mutmut runs this (`type_check_command` in pyproject.toml) in mutants/
before any test and counts a mutant whose own code strict mypy rejects as
"caught by type check", without running its tests: `make test` runs the
same strict mypy, so such a change could not land either.  (Most of them
pass None, drop an argument or swap an operand's type.)

The copy is not the package: every function is there once per mutant
beside a trampoline, so some reports are about the copy itself and are
dropped here, leaving only errors inside a numbered mutant whose original
function does not have the same error:
- "unused type: ignore" (mutmut marks its own lines so);
- "already defined" attributes (each mutant of an `__init__` annotates
  them anew);
- anything outside a mutant function, or also reported in the original.

Only the modules `make mutation MUTANTS=...` names (passed on in the
environment as MUTANTS) are reported: mutmut parses every file reported
on, and the mutated build.py alone has some 47,000 lines.

Prints mypy's JSON lines, as mutmut reads them (it recognises mypy's
format by the word "mypy" in the command: `python tests/mutation_typecheck.py mypy`).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ARTEFACTS = {"unused-ignore", "no-redef"}
MUTANT = re.compile(r"^(?P<base>.+)__mutmut_(?P<which>\d+|orig)$")


def functions(path: Path) -> list[tuple[int, int, str, str]]:
    """(first line, last line, original function, "orig" or the mutant's number) of each copy."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (match := MUTANT.match(node.name)):
            found.append((node.lineno, node.end_lineno or node.lineno, match["base"], match["which"]))
    return found


def wanted(path: str, patterns: list[str]) -> bool:
    """Whether a mutant of the file at `path` (src/riskchart/…/x.py) can match one of the patterns."""
    module = path.removeprefix("src/").removesuffix(".py").replace("/", ".")
    return not patterns or any(fnmatch.fnmatch(f"{module}.x_", pattern) or pattern.startswith(f"{module}.")
                               for pattern in patterns)


def main() -> int:
    patterns = os.environ.get("MUTANTS", "").split()
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-warn-unused-ignores", "-O", "json",
                          "--cache-dir", ".mypy_cache", "src/riskchart"], capture_output=True, text=True)
    reports = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    where: dict[str, list[tuple[int, int, str, str]]] = {}
    in_mutants: list[tuple[dict[str, object], str]] = []
    in_originals: dict[str, set[str]] = defaultdict(set)
    for report in reports:
        if report["code"] in ARTEFACTS or report["severity"] != "error":
            continue
        path = str(report["file"])
        if not wanted(path, patterns):
            continue
        if path not in where:
            where[path] = functions(Path(path))
        line = int(report["line"])
        copy = next(((base, which) for first, last, base, which in where[path] if first <= line <= last), None)
        if copy is None:
            continue
        base, which = copy
        if which == "orig":
            in_originals[f"{path}:{base}"].add(str(report["message"]))
        else:
            in_mutants.append((report, f"{path}:{base}"))
    for report, original in in_mutants:
        if report["message"] not in in_originals[original]:
            print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
