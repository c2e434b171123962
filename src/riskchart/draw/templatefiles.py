"""Where the templates are, and the chart's own: a module of its own so that
a build with nothing to do fingerprints the templates without importing
the layout (the model and the wrapping come with it)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CHART_TEMPLATE = "chart.dot.j2"
CONTINUATION_TEMPLATE = "continuation.dot.j2"


def template_folder() -> Path:
    """templates/ of the source tree, or the copy packaged into a wheel."""
    in_tree = Path(__file__).resolve().parents[3] / "templates"
    if in_tree.is_dir():
        return in_tree
    # riskchart itself is a regular package, so files() gives a real folder
    # here; files("riskchart.templates") would give a MultiplexedPath, whose
    # str() is not a path (templates/ has no __init__.py).
    return Path(str(resources.files("riskchart"))) / "templates"
