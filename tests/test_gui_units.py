"""GUI building blocks that need no OpenGL: colour compositing, workers, the parameter form, result
folders, voxel information."""

from __future__ import annotations

import json
import threading

import matplotlib
import numpy as np
import pytest

from app.views.colors import (
    OverlayStyle,
    colormap_table,
    composite,
    label_borders,
    sulcal_shading,
    visible_mask,
)


def test_one_sided_threshold_and_colours_follow_colormap():
    values = np.array([np.nan, 0.0, 0.5, 1.0, 2.0], np.float32)
    style = OverlayStyle(cmap="viridis", vmin=0.5, vmax=1.5, threshold=0.5)
    base = sulcal_shading(None, len(values))
    rgb = composite(base, values, style, style.limits(values))
    # below threshold and NaN keep the base shading
    assert np.array_equal(rgb[:2], composite(base, None, None)[:2])
    # above threshold: matplotlib's own colormap, clipped to [vmin, vmax]
    cmap = matplotlib.colormaps["viridis"]
    for v, got in zip((0.5, 1.0, 2.0), rgb[2:], strict=True):
        frac = min(max((v - 0.5) / 1.0, 0), 1)
        expect = np.array(cmap(round(frac * 255) / 255)[:3]) * 255
        assert np.abs(got.astype(float) - expect).max() <= 1.0


def test_two_sided_threshold_is_on_magnitude_and_grey_mode():
    values = np.array([-2.0, -0.2, 0.2, 2.0], np.float32)
    style = OverlayStyle(cmap="RdBu_r", threshold=1.0, two_sided=True, vmax=2.0, below="grey")
    assert visible_mask(values, style).tolist() == [True, False, False, True]
    assert style.limits(values) == (-2.0, 2.0)
    rgb = composite(sulcal_shading(None, 4), values, style)
    table = colormap_table("RdBu_r")
    assert np.abs(rgb[0] - table[0] * 255).max() <= 1 and np.abs(rgb[3] - table[-1] * 255).max() <= 1
    assert (rgb[1] == rgb[2]).all() and len(set(rgb[1].tolist())) == 1  # flat grey


def test_label_borders_mark_one_side_of_each_boundary():
    # a strip of 2 x 4 vertices split into labels 1 | 2 between columns 1 and 2
    faces = np.array([[0, 1, 4], [1, 5, 4], [1, 2, 5], [2, 6, 5], [2, 3, 6], [3, 7, 6]])
    labels = np.array([1, 1, 2, 2, 1, 1, 2, 2])
    border = label_borders(labels, faces)
    assert border.tolist() == [False, False, True, False, False, False, True, False]


@pytest.mark.gl  # needs a Qt application, i.e. an X display (Xvfb)
def test_worker_relays_progress_result_and_cancel(qtbot):
    from app.workers import Worker, WorkerPool
    from core.progress import check_cancel

    def task(progress, cancel, n=5):
        for i in range(n):
            check_cancel(cancel)
            progress((i + 1) / n, f"{i}")
        return n * 10

    pool = WorkerPool()
    seen, results = [], []
    w = Worker(task, n=3)
    w.signals.progress.connect(lambda f, m: seen.append(f))
    w.signals.result.connect(results.append)
    with qtbot.waitSignal(w.signals.finished, timeout=5000):
        pool.start(w)
    assert results == [30] and seen[-1] == 1.0

    gate = threading.Event()

    def slow(progress, cancel):
        gate.wait(5)
        check_cancel(cancel)
        return "never"

    w2 = Worker(slow)
    cancelled, results2 = [], []
    w2.signals.cancelled.connect(lambda: cancelled.append(True))
    w2.signals.result.connect(results2.append)
    with qtbot.waitSignal(w2.signals.finished, timeout=5000):  # emitted last: the others are delivered
        pool.start(w2)
        w2.cancel()
        gate.set()
    assert w2.done.is_set() and cancelled == [True] and results2 == []


@pytest.mark.gl  # needs a Qt application, i.e. an X display (Xvfb)
def test_generator_worker_and_error_signal(qtbot):
    from app.workers import Worker, WorkerPool

    def gen():
        for i in range(3):
            yield (i + 1) / 3, "step"
        return "done"

    pool = WorkerPool()
    w = Worker(gen)
    out = []
    w.signals.result.connect(out.append)
    with qtbot.waitSignal(w.signals.finished, timeout=5000):
        pool.start(w)
    assert out == ["done"]

    def bad(progress, cancel):
        raise ValueError("boom\nsecond line")

    w = Worker(bad)
    errors = []
    w.signals.error.connect(lambda msg, tb: errors.append((msg, tb)))
    with qtbot.waitSignal(w.signals.finished, timeout=5000):
        pool.start(w)
    assert errors[0][0] == "ValueError: boom" and "Traceback" in errors[0][1]


@pytest.mark.gl  # needs a Qt application, i.e. an X display (Xvfb)
def test_params_form_round_trip(qtbot):
    from app.views.params_form import ParamsForm
    from tests.gui_fake_plugin import FakePlugin

    form = ParamsForm(FakePlugin.params)
    qtbot.addWidget(form)
    assert FakePlugin.resolve_params(form.values()) == FakePlugin.defaults()
    form.set_values({"steps": 7, "delay": 0.25, "fail": True, "mode": "max"})
    assert FakePlugin.resolve_params(form.values()) == {
        "steps": 7,
        "delay": 0.25,
        "fail": True,
        "mode": "max",
    }


def test_results_folder_round_trip(tmp_path):
    from app.plugins.runner import run_analysis
    from core.export.readers import read_results_folder
    from tests.gui_fake_plugin import FakePlugin, make_mni_dataset

    data = make_mni_dataset(tmp_path / "ds")
    record = run_analysis(FakePlugin, data, {"steps": 1}, tmp_path / "out", device="cpu")
    outputs, prov = read_results_folder(tmp_path / "out")
    assert prov["analysis"] == "fake"
    maps = {o.name: o for o in outputs if hasattr(o, "geometry")}
    ref = {o.name: o for o in record.outputs if hasattr(o, "geometry")}
    for name, vmap in ref.items():
        back = maps[name]  # NaN-filled NIfTI: the same voxels in the same order
        assert np.array_equal(back.geometry.mask, vmap.geometry.mask)
        np.testing.assert_allclose(back.values, vmap.values, rtol=1e-6)
    assert maps["fake_r_T1_layer02"].meta["layer"] == 2
    json.loads((tmp_path / "out" / "provenance.json").read_text())


def test_voxel_info_matches_direct_computation(tmp_path):
    from core.data.readers import open_dataset
    from core.inspect.voxel import collect
    from tests.gui_fake_plugin import make_mni_dataset

    ds = open_dataset(make_mni_dataset(tmp_path / "ds"))
    data = ds.participant("T1")
    idx = int(np.flatnonzero(data.geometry.xyz[:, 0] < -30)[0])
    info = collect(data.geometry.xyz[idx], participant=data)
    assert info.voxel == idx
    profiles = [data.betas(p)[:, idx] for p in data.paradigms]  # concept-level: one trial per concept
    pairs = [np.corrcoef(profiles[a], profiles[b])[0, 1] for a, b in ((0, 1), (0, 2), (1, 2))]
    assert info.C == pytest.approx(np.mean(pairs), abs=1e-5)
    assert info.C > 0.5 and info.p == pytest.approx(1 / 1001)
    assert info.language == pytest.approx(data.geometry.xyz[idx, 1] / 100, abs=1e-6)
    np.testing.assert_allclose(info.concept_means["pictures"], profiles[1], rtol=1e-6)


@pytest.mark.gl
def test_pool_threads_run_at_lower_priority(qtbot):
    import os

    from app.workers import WORKER_NICE, Worker, WorkerPool

    if not hasattr(os, "getpriority"):
        pytest.skip("no per-thread priorities on this platform")
    base = os.getpriority(os.PRIO_PROCESS, 0)
    w = Worker(lambda progress, cancel: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    got = []
    w.signals.result.connect(got.append)
    with qtbot.waitSignal(w.signals.finished, timeout=5000):
        WorkerPool().start(w)
    assert got == [min(base + WORKER_NICE, 19)]
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the UI thread keeps its priority


def test_colour_bar_title_is_wrapped_to_fit_its_strip():
    from app.views.scalar_bar import bar_title

    assert bar_title("language response") == "language\nresponse"
    assert bar_title("p") == "p" and bar_title("") == "value"
    long = bar_title("a very long description of the units of this statistical map")
    assert len(long.splitlines()) == 3 and all(len(line) <= 12 for line in long.splitlines())
    assert long.endswith("…")


@pytest.mark.gl
def test_first_start_generates_the_demo_with_progress_then_shows_the_brain(qtbot, tmp_path, monkeypatch):
    """`cbstudio gui` with no dataset and no session: the demo is generated on a worker (progress shown,
    the window stays live), then opened and its language map drawn."""
    from PySide6.QtCore import QSettings

    import core.demo.cache as entry
    from app.main_window import MainWindow
    from tests.gui_fake_plugin import fake_registry, make_mni_dataset

    demo = tmp_path / "cache" / "demo-small"
    gate = threading.Event()

    def fake_ensure_demo(progress=None):  # stands in for make_demo (minutes of work in the real one)
        progress(0.25, "responses 1/4")
        gate.wait(10)
        make_mni_dataset(demo)
        progress(1.0, "done")
        return demo

    monkeypatch.setattr(entry, "default_demo_path", lambda: demo)
    monkeypatch.setattr(entry, "ensure_demo", fake_ensure_demo)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    win = MainWindow(registry=fake_registry(), settings=settings, results_root=tmp_path / "r")
    qtbot.addWidget(win)
    win.show()
    try:
        win.restore_session(None)
        assert win.dataset is None and "Generating the demo dataset" in win.status_dataset.text()
        qtbot.waitUntil(lambda: win.analysis_panel.progress.value() == 250, timeout=5000)
        assert win.analysis_panel.message.text() == "responses 1/4"
        gate.set()
        qtbot.waitUntil(lambda: win.dataset is not None and not win.busy(), timeout=30000)
        assert str(win.dataset_path) == str(demo) and win.cortex.current_map == "language_T1"
        colours = win.cortex.scene.vertex_colors("left")
        base = np.clip(win.cortex.scene.states["left"].base * 255 + 0.5, 0, 255).astype(np.uint8)
        assert (colours != base).any(axis=1).mean() > 0.3  # the map is drawn on the brain
        assert not win.errors
    finally:
        gate.set()
        win.close()


@pytest.mark.gl
def test_parameter_form_is_fully_shown_for_every_plugin(qtbot):
    from app.plugins.registry import Registry
    from app.views.analysis_panel import AnalysisPanel

    panel = AnalysisPanel(Registry())
    qtbot.addWidget(panel)
    panel.resize(320, 900)
    panel.show()
    names = list(panel.plugins) + list(panel.plugins)[:1]  # and back to the first
    assert len(names) >= 2

    def fully_shown():
        assert panel.collapsible.content().maximumHeight() >= panel.form.sizeHint().height()
        assert panel.form.height() >= panel.form.sizeHint().height() - 1

    for name in names:
        panel.select(name)
        qtbot.waitUntil(fully_shown, timeout=2000)  # once the layout has settled
