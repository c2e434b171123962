"""`riskchart build`: lint, lay out, render and publish every chart.

Incremental: each chart's fingerprint covers its file, its folder's
_defaults.yaml, the templates, the rendering code, the font and the
formats.  A chart whose fingerprint and outputs are unchanged is left
alone; when nothing changed at all the build returns before linting and
writes nothing (but the stamps of files touched and not changed, see
below).  Like git's index, the manifest records each chart file's stamp
(stamps.py) with its fingerprint and each output's size and time, so that
a build with nothing to do reads no chart and opens no output.  Charts render in parallel; outputs are written
atomically under a folder lock, and only after a chart rendered fully.

The rooms, in the order a build goes through them:
  options.py    what a build is asked and what it answers; each chart's name in out/
  run.py        build(): the lock, what changed, the set and its publication
  freshness.py  fingerprints and file stamps: which charts are up to date
  stamps.py     a file's stamp, and when it can be trusted
  manifest.py   the record in out/ of what the last build wrote
  drawing.py    dot's parallel batches, finished and staged
  outputs.py    staged files moved into out/; outputs of charts that are gone removed
"""

from typing import Any

from .manifest import MANIFEST, Manifest, Recorded, recorded
from .options import DEFAULT_FORMATS, BuildOptions, BuildReport, ChartOutcome, Progress
from .run import build

__all__ = ["DEFAULT_FORMATS", "MANIFEST", "MAX_BATCH", "BuildOptions", "BuildReport", "ChartOutcome", "Manifest",
           "Progress", "Recorded", "Staged", "balanced_batches", "build", "drawing_cost", "recorded"]

# dot's batches (and the thread pools they import) are loaded by a build that
# draws: a build with nothing to do never needs them
_DRAWING = {"MAX_BATCH", "Staged", "balanced_batches", "drawing_cost"}


def __getattr__(name: str) -> Any:
    if name in _DRAWING:
        from . import drawing

        return getattr(drawing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
