"""The window's controllers under Xvfb: the voxel card's slow part on a worker (payload kept alive until
delivered, a newer pick supersedes an older one), a run gets the state's analysis -> folder mapping as its
prior results, a results folder is read on a worker, and the state model drives the views."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_gui_main import _facing_vertex, _wait_idle, mni_data, window  # noqa: F401

pytestmark = pytest.mark.gl


def _until(condition, timeout_s: float = 20.0) -> None:
    """Process events until ``condition()`` holds. Not qtbot.waitUntil: after an in-process
    ``app.exec()`` + ``quit()`` (tests/test_gui_viewer.py runs ``run_app``), qtbot's nested event loop
    no longer delivers queued signals, while QApplication.processEvents does."""
    import time

    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.005)


def test_card_work_on_a_worker_and_newer_pick_supersedes(qtbot, window):  # noqa: F811
    cortex, cards = window.cortex, window.cards
    cortex.show_map("language_T1")
    first = _facing_vertex(cortex)
    geometry, _ = cortex.voxel_of("left", 0)
    proj = cortex.projections.get(geometry, cortex.mesh.name)
    others = np.flatnonzero((proj.vertex_voxel["left"] >= 0) & (proj.vertex_voxel["left"]
                                                                  != proj.vertex_voxel["left"][first]))
    second = int(others[0])
    completed = []
    cards.completed.connect(completed.append)
    cards.on_vertex_picked("left", first)
    old = window.card.info
    assert old.null is None and old.C is not None  # the immediate part is on the card at once
    assert len(cards.pending) == 1  # task payload referenced on the Python side while the worker runs
    cards.on_vertex_picked("left", second)
    new = window.card.info
    assert new is not old and new.null is None
    _until(lambda: not cards.pending)
    _wait_idle(window)
    # only the newer pick's completion reaches the card
    assert window.card.info.vertex == second and window.card.info.null is not None
    assert [info.vertex for info in completed] == [second]
    data = window.participant("T1")
    voxel = window.card.info.voxel
    profiles = [data.concept_means(p)[:, voxel].astype(np.float64) for p in data.paradigms]
    expect_c = np.mean([np.corrcoef(profiles[a], profiles[b])[0, 1] for a, b in ((0, 1), (0, 2), (1, 2))])
    assert window.card.info.C == pytest.approx(expect_c, abs=1e-5)
    # p = (1 + #null >= C) / (1 + n): the permutation p from the delivered null
    null = np.asarray(window.card.info.null)
    assert window.card.info.p == pytest.approx((1 + np.sum(null >= window.card.info.C)) / (1 + len(null)))
    assert window.state.selection.vertex == second and np.allclose(window.state.selection.xyz, new.xyz)


def test_run_gets_the_state_prior_results(qtbot, window, tmp_path, monkeypatch):  # noqa: F811
    import app.plugins.runner as runner
    from app.state.model import LoadedResults

    seen = []
    original = runner.run_analysis

    def recording(*args, **kwargs):
        seen.append(dict(kwargs.get("prior") or {}))
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "run_analysis", recording)
    earlier = tmp_path / "consistency-earlier"
    earlier.mkdir()
    window.state.add_results(LoadedResults("consistency", earlier, [], {"analysis": "consistency"}))
    values = {**window.analysis_panel.form.values(), "steps": 2, "delay": 0.0, "fail": False}
    assert window.run_plugin("fake", values, "cpu") is not None
    _until(lambda: window.worker is None)
    assert seen and seen[-1]["consistency"] == earlier
    # the finished run joins the mapping that the next run gets
    assert window.state.latest["fake"] == window.last_run_dir


def test_results_folder_read_on_a_worker(qtbot, window):  # noqa: F811
    from core.outputs import VoxelMap

    values = {**window.analysis_panel.form.values(), "steps": 2, "delay": 0.0, "fail": False}
    window.run_plugin("fake", values, "cpu")
    _until(lambda: window.worker is None)
    folder = window.last_run_dir
    before = len(window.state.results)
    shown = []
    window.state.subscribe("results", shown.append)
    opened = []
    window.datasets.resultsOpened.connect(opened.append)
    window.open_results(str(folder))
    assert window.busy() and not shown  # nothing read on the UI thread yet
    _until(lambda: opened)
    assert opened == [str(folder)] and len(window.state.results) == before + 1
    loaded = shown[-1]
    assert loaded.folder == folder and loaded.analysis == "fake" and not loaded.live
    assert any(isinstance(o, VoxelMap) and o.name == "fake_mean_T1" for o in loaded.outputs)
    window.cortex.show_map("fake_mean_T1")
    assert window.state.current_map == "fake_mean_T1"  # the viewer reports the map shown to the state


def test_dataset_opens_in_the_background_and_newer_request_wins(qtbot, window, mni_data, tmp_path):  # noqa: F811
    from tests.gui_fake_plugin import make_mni_dataset

    other = make_mni_dataset(tmp_path / "other")
    assert not window.datasets.open_in_background(str(tmp_path / "missing"))
    assert "no such file" in window.errors[-1]
    window.error_box.hide()
    assert window.datasets.open_in_background(str(other))
    assert window.dataset_path == mni_data  # nothing read on the UI thread yet
    assert window.datasets.open_in_background(str(mni_data))  # supersedes the first request
    _until(lambda: not window.busy())
    assert window.dataset_path == mni_data and window.state.participant_id == "T1"
    assert window.datasets.recent()[0] == str(mni_data)


def test_card_plots_are_drawn_once_a_pick_after_the_worker(qtbot, window, monkeypatch):  # noqa: F811
    """The card's plots wait for its worker (drawn next to it, each took 2-5x longer) and are drawn once
    per pick: the null, the layer profile and the concept scatter, each one time."""
    cortex, cards, card = window.cortex, window.cards, window.card
    cortex.show_map("language_T1")
    _wait_idle(window)
    drawn = []  # the card's draw requests (Qt adds a redraw when a plot is first shown or resized)
    names = {id(getattr(card, n)): n for n in ("null_canvas", "layer_canvas", "scatter_canvas")}
    real = card._draw_later
    monkeypatch.setattr(card, "_draw_later", lambda canvas: drawn.append(names[id(canvas)]) or real(canvas))
    cards.on_vertex_picked("left", _facing_vertex(cortex))
    assert card.info.null is None and drawn == []  # fields only, at once
    _until(lambda: not cards.pending)
    _wait_idle(window)
    assert card.info.null is not None
    assert sorted(drawn) == ["layer_canvas", "null_canvas", "scatter_canvas"]  # once each, after the worker
