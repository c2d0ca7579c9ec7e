"""Help › About shows the citations of the paper and of the data, the versions, and the user guide."""

from __future__ import annotations

import platform
from importlib import metadata

import pytest

pytestmark = pytest.mark.gl


def test_about_shows_citations_versions_and_the_guide(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow
    from app.views.about import user_guide

    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), results_root=tmp_path)
    qtbot.addWidget(win)
    help_menu = next(a for a in win.menuBar().actions() if a.text() == "&Help").menu()
    about = next(a for a in help_menu.actions() if a.text() == "About")
    about.trigger()
    dialog = win.about
    assert dialog.isVisible()
    text = dialog.text.text()
    assert "Language models align with brain regions that represent concepts across modalities" in text
    assert "COLM 2025" in text and "Pereira" in text and "Nature Communications" in text
    assert f"<td>Python</td><td>{platform.python_version()}</td>" in text
    assert f"<td>numpy</td><td>{metadata.version('numpy')}</td>" in text
    import PySide6

    assert f"<td>PySide6</td><td>{PySide6.__version__}</td>" in text
    guide = user_guide()
    assert guide is not None and guide.name == "README.md" and guide.as_uri() in text
    assert "The desktop application" in text and "## The desktop application" in guide.read_text()
    dialog.close()
    win.close()
