"""The Study panel (pytest-qt, real widgets, a real Dask LocalCluster): run a small recipe from the GUI
without blocking the UI, see the task grid fill, open a finished task's outputs, cancel, write a recipe
for the open dataset; and Help › "Reproduce the paper on the demo" points at the packaged recipe."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.views.study_panel import grid_cells

pytestmark = pytest.mark.gl


def test_grid_cells_place_participant_tasks_in_columns():
    rows = [{"task": "consistency", "state": "finished", "key": "a"},
            {"task": "encoding/minilm/sentences/rois/sub-S1", "state": "finished", "key": "b"},
            {"task": "encoding/minilm/sentences/rois/sub-S2", "state": "failed", "key": "c"},
            {"task": "encoding/minilm/sentences/rois", "state": "pending", "key": "d"}]
    names, columns, cells = grid_cells(rows)
    assert names == ["consistency", "encoding/minilm/sentences/rois"]
    assert columns == ["all", "S1", "S2"]
    assert cells[("encoding/minilm/sentences/rois", "S2")]["key"] == "c"
    assert cells[("encoding/minilm/sentences/rois", "all")]["key"] == "d"


@pytest.fixture
def window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, results_root=tmp_path / "results")
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_run_a_study_from_the_panel(qtbot, window, tmp_path):
    pytest.importorskip("distributed")
    from PySide6.QtCore import Qt

    from core.demo.synthetic import make_demo

    data = make_demo(tmp_path / "tiny", n_participants=2, seed=0, size="tiny")
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(f'dataset = "{data}"\nmodels = ["minilm"]\nparadigms = ["word_clouds"]\n'
                      "[analyses.consistency]\nn_permutations = 19\nsplit_halves = false\n")
    panel = window.study_panel
    panel.recipe.setText(str(recipe))
    panel.out.setText(str(tmp_path / "study"))
    panel.workers.setValue(1)
    ticks = []
    window.study.timer.timeout.connect(lambda: ticks.append(1))  # the event loop runs during the study
    with qtbot.waitSignal(window.study.finished, timeout=240000) as done:
        qtbot.mouseClick(panel.run_button, Qt.LeftButton)
        assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    states = done.args[0]
    assert states and all(s in ("done", "cached") for s in states.values())
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=5000)
    assert (tmp_path / "study" / "report.html").is_file() and panel.report_button.isEnabled()
    # the grid: every task finished, green
    cells = [panel.grid.item(i, j) for i in range(panel.grid.rowCount())
             for j in range(panel.grid.columnCount())]
    shown = [c.text() for c in cells if c is not None]
    assert shown and all(t.startswith("finished") for t in shown)
    labels = [panel.grid.verticalHeaderItem(i).text() for i in range(panel.grid.rowCount())]
    row = labels.index("consistency")
    col = next(j for j in range(panel.grid.columnCount()) if panel.grid.item(row, j) is not None)
    # double-click the consistency task: its maps reach the viewer (read on a worker)
    panel.grid.cellDoubleClicked.emit(row, col)
    qtbot.waitUntil(lambda: "group_probabilistic" in window.cortex.maps, timeout=20000)
    # a rerun resumes: nothing is recomputed
    with qtbot.waitSignal(window.study.finished, timeout=240000) as again:
        qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    assert set(again.args[0].values()) == {"cached"}


def test_new_recipe_from_the_open_dataset(qtbot, window, tmp_path):
    from app.plugins.study_task import read_recipe
    from tests.gui_fake_plugin import make_mni_dataset

    data = make_mni_dataset(tmp_path / "ds")
    assert window.open_dataset(str(data))
    window.analysis_panel.select("consistency")
    window.analysis_panel.form.set_values({"n_permutations": 50, "alpha": 0.01})
    path = tmp_path / "mine.toml"
    window.study.write_recipe(str(path))
    recipe = read_recipe(path)  # validated against the installed plugins
    chosen = recipe.analyses["consistency"]
    assert recipe.dataset_path() == Path(data)
    assert chosen["n_permutations"] == "50" and chosen["alpha"] == "0.01"
    assert "participants" not in chosen  # set by the study
    assert window.study_panel.recipe.text() == str(path)


def test_reproduce_the_paper_on_the_demo_uses_the_packaged_recipe(window, monkeypatch):
    from app.controllers.study import demo_recipe
    from core.study.recipe import load_recipe

    started = []
    monkeypatch.setattr(window.study, "run", lambda recipe, out, workers=2: started.append((recipe, out)))
    action = next(a for a in window.menuBar().actions() if a.text() == "&Help").menu().actions()[0]
    assert action.text() == "Reproduce the paper on the demo"
    action.trigger()
    assert started == [(str(demo_recipe()), str(window.results_root / "study-demo"))]
    assert window.docks["study"].isVisible()
    recipe = load_recipe(demo_recipe())
    assert recipe.name == "demo" and set(recipe.analyses) == {"consistency", "encoding", "quartiles", "rsa"}
