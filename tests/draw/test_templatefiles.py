"""Where the templates are found: the source tree's, else the wheel's copy."""

from pathlib import Path

import riskchart
from riskchart.draw import templatefiles


def test_templates_come_from_the_source_tree_when_there_is_one():
    assert templatefiles.template_folder() == Path(riskchart.__file__).resolve().parents[2] / "templates"
    assert (templatefiles.template_folder() / templatefiles.CHART_TEMPLATE).is_file()


def test_templates_come_from_the_package_when_the_source_tree_has_none(tmp_path, monkeypatch):
    """In an installed wheel there is no templates/ three folders up: the packaged copy is used."""
    monkeypatch.setattr(templatefiles, "__file__", str(tmp_path / "site-packages" / "riskchart" / "draw" / "templatefiles.py"))
    assert templatefiles.template_folder() == Path(riskchart.__file__).parent / "templates"
