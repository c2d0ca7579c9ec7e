"""The main window under Xvfb: open a dataset, run a plugin through the UI (progress, cancel, errors,
routing), pick a vertex, exports, rendering, layer scrubber, session restore."""

from __future__ import annotations

import json
import time

import matplotlib
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.tolerance import assert_f32_close

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def mni_data(tmp_path_factory):
    from tests.gui_fake_plugin import make_mni_dataset

    return make_mni_dataset(tmp_path_factory.mktemp("mni") / "ds")


@pytest.fixture(scope="module")
def window(qapp, mni_data, tmp_path_factory):
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow
    from tests.gui_fake_plugin import fake_registry

    root = tmp_path_factory.mktemp("session")
    settings = QSettings(str(root / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(registry=fake_registry(), settings=settings, results_root=root / "results")
    win.resize(1400, 900)
    win.show()
    assert win.open_dataset(str(mni_data))
    _wait_idle(win)  # the participant's data loads on a worker
    yield win
    win.close()


def _wait_idle(win, timeout_s: float = 30.0) -> None:
    """Process events until nothing loads or runs in the background (no qtbot in module fixtures)."""
    import time

    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while win.busy() and time.monotonic() < deadline:
        QApplication.processEvents()
        win.pool.pool.waitForDone(20)
    QApplication.processEvents()
    assert not win.busy()


def _run(qtbot, win, **params):
    values = {**win.analysis_panel.form.values(), **params}
    win.analysis_panel.form.set_values(values)
    progress = []
    worker = win.run_plugin("fake", win.analysis_panel.form.values(), "cpu")
    assert worker is not None
    worker.signals.progress.connect(lambda f, m: progress.append(f))
    return worker, progress


def test_open_run_progress_and_routing(qtbot, window):
    assert window.dataset_panel.participant.currentText() == "T1"
    assert window.cortex.current_map == "language_T1"
    worker, progress = _run(qtbot, window, steps=3, delay=0.05, fail=False, mode="mean")
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    assert progress and progress[-1] == pytest.approx(1.0)
    assert window.analysis_panel.progress.value() == 1000
    # routed by kind
    assert "fake_mean_T1" in window.cortex.maps
    assert window.cortex.current_map == "fake_mean_T1"
    assert "fake_table" in window.tables.tables and window.tables.model.rowCount() == 20
    assert "fake_curve" in window.plots.items and "fake_figure" in window.plots.items
    assert "fake_rdm" in window.rdms.rdms
    # the map shown is the computed statistic, written with provenance
    out = window.last_run_dir
    written = nib.load(out / "fake_mean_T1.nii.gz").get_fdata()
    data = window.participant("T1")
    expect = np.nanmean(data.concept_means("sentences"), axis=0)
    assert_f32_close(data.geometry.from_volume(written), expect)  # float32 mean vs nanmean
    assert json.loads((out / "provenance.json").read_text())["analysis"] == "fake"


def test_cancel_leaves_no_output(qtbot, window):
    worker, progress = _run(qtbot, window, steps=400, delay=0.02, fail=False)
    qtbot.waitUntil(lambda: len(progress) > 0, timeout=10000)
    assert window.status_cancel.isEnabled()
    window.status_cancel.click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=10000)
    out = window.last_run_dir
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
    assert "cancelled" in window.log_view.toPlainText()
    assert progress[-1] < 1.0


def test_ui_stays_responsive_during_analysis(qtbot, window):
    from PySide6.QtCore import QTimer

    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    _run(qtbot, window, steps=20, delay=0.04, fail=False)
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    timer.stop()
    gaps = np.diff(ticks)
    # the event loop keeps turning while the analysis runs (generous bounds: no timing flakiness)
    assert len(ticks) >= 20
    assert gaps.max() < 2.0


def test_failure_shows_one_dialog_and_app_goes_on(qtbot, window):
    _run(qtbot, window, steps=4, delay=0.0, fail=True)
    qtbot.waitUntil(lambda: window.worker is None, timeout=10000)
    assert window.error_box.isVisible() and "planted failure" in window.error_box.text()
    window.show_error("second problem")
    assert "planted failure" in window.error_box.text() and "second problem" in window.error_box.text()
    window.error_box.hide()
    assert not window.open_dataset(str(window.results_root / "does-not-exist"))
    assert window.error_box.isVisible()
    window.error_box.hide()
    _run(qtbot, window, steps=1, delay=0.0, fail=False, mode="max")
    qtbot.waitUntil(lambda: window.worker is None, timeout=10000)
    assert "fake_max_T1" in window.cortex.maps


def _facing_vertex(cortex, hemi="left"):
    """A vertex on the lateral surface, facing the camera in the lateral view, with a voxel."""
    cortex.set_view("lateral")
    cortex.plotter.render()
    verts = cortex.mesh.hemis[hemi].vertices
    geometry, _ = cortex.voxel_of(hemi, 0)
    proj = cortex.projections.get(geometry, cortex.mesh.name)
    has_voxel = proj.vertex_voxel[hemi] >= 0
    x = verts[:, 0] if hemi == "right" else -verts[:, 0]
    candidates = np.flatnonzero(has_voxel & (x > np.percentile(x[has_voxel], 97)))
    return int(candidates[len(candidates) // 2])


def test_click_vertex_fills_card(qtbot, window):
    cortex = window.cortex
    cortex.show_map("language_T1")
    vertex = _facing_vertex(cortex)
    x, y, _ = cortex.scene.world_to_display("left", cortex.mesh.hemis["left"].vertices[vertex])
    with qtbot.waitSignal(cortex.vertexPicked, timeout=3000) as sig:
        hit = cortex.pick_at(x, y)
    hemi, picked = sig.args
    assert (hemi, picked) == hit and hemi == "left"
    verts = cortex.mesh.hemis["left"].vertices
    assert np.linalg.norm(verts[picked] - verts[vertex]) < 3.0  # the same vertex or an adjacent one
    info = window.card.info
    assert info is not None and info.hemi == "left" and info.participant == "T1"
    data = window.participant("T1")
    idx = info.voxel
    assert idx >= 0 and np.allclose(info.xyz, data.geometry.xyz[idx])
    profiles = [data.betas(p)[:, idx] for p in data.paradigms]
    expect_c = np.mean([np.corrcoef(profiles[a], profiles[b])[0, 1] for a, b in ((0, 1), (0, 2), (1, 2))])
    assert info.C == pytest.approx(expect_c, abs=1e-5) and info.C > 0.5  # left voxels are planted
    assert info.language == pytest.approx(data.geometry.xyz[idx, 1] / 100, abs=1e-6)
    assert window.card.fields["C"].text() != "–" and "mm" in window.card.fields["MNI x, y, z"].text()
    # the permutation null follows on the next event-loop turn: 1000 permutations, none reach C
    qtbot.waitUntil(lambda: window.card.info.null is not None, timeout=5000)
    assert len(window.card.info.null) == 1000 and window.card.info.p == pytest.approx(1 / 1001)
    assert "1000 permutations" in window.card.fields["p (permutation)"].text()
    assert info.area  # fs_LR Glasser area name (atlas present)
    # clicking the background picks nothing
    assert cortex.pick_at(2, 2) is None


def test_rendered_brain_and_overlay_colours_follow_data(qtbot, window):
    cortex = window.cortex
    cortex.show_map("language_T1")
    cortex.set_threshold(None)
    image = window.screenshot_image()
    background = np.array([255, 255, 255])
    brain = np.any(image != background, axis=2)
    assert brain.mean() > 0.15
    # vertex colours: the colormap applied to the projected values, independently recomputed
    style = cortex.overlay_style()
    values = cortex._projected["left"]
    lo, hi = style.limits(np.concatenate([cortex._projected["left"], cortex._projected["right"]]))
    rgb = cortex.scene.vertex_colors("left").astype(float)
    ok = np.flatnonzero(np.isfinite(values))[:500]
    frac = np.clip((values[ok] - lo) / (hi - lo), 0, 1)
    expect = matplotlib.colormaps[style.cmap](np.round(frac * 255) / 255)[:, :3] * 255
    assert np.abs(rgb[ok] - expect).max() <= 1.0
    # anterior voxels have high language values (y / 100) -> red end of RdBu_r on screen
    red = (image[..., 0] > 150) & (image[..., 2] < 100)
    blue = (image[..., 2] > 150) & (image[..., 0] < 100)
    assert red.sum() > 50 and blue.sum() > 50
    # two-sided threshold: |value| below it keeps the sulcal shading, above it is coloured
    thr = float(np.nanpercentile(np.abs(values), 50))
    cortex.set_threshold(thr)
    rgb_thr = cortex.scene.vertex_colors("left")
    base = np.clip(cortex.scene.states["left"].base * 255 + 0.5, 0, 255).astype(np.uint8)
    below = np.isfinite(values) & (np.abs(values) < thr)
    above = np.isfinite(values) & (np.abs(values) >= thr)
    assert below.sum() > 100 and np.array_equal(rgb_thr[below], base[below])
    assert (rgb_thr[above] != base[above]).any(axis=1).mean() > 0.95
    cortex.set_threshold(None)


def test_layer_scrubber_recolours(qtbot, window):
    cortex = window.cortex
    if "fake_r_T1_layer00" not in cortex.maps:  # when run alone
        from app.plugins.runner import run_analysis
        from tests.gui_fake_plugin import FakePlugin

        window.route(run_analysis(FakePlugin, window.dataset_path, {"steps": 1}, device="cpu").outputs)
    assert cortex.model_box.currentText() == "toy · T1"
    cortex.scrub_to(0)
    assert cortex.current_map == "fake_r_T1_layer00"
    before = cortex.scene.vertex_colors("left").copy()
    cortex.scrub_to(3)
    assert cortex.current_map == "fake_r_T1_layer03" and cortex.layer_label.text() == "layer 3"
    assert not np.array_equal(before, cortex.scene.vertex_colors("left"))
    # the colour scale is shared across layers of one model
    assert cortex.overlay_style().vmax == pytest.approx(cortex.range_slider.value()[1])


def test_exports(qtbot, window, tmp_path):
    cortex = window.cortex
    cortex.show_map("fake_mean_T1")
    vmap = cortex.maps["fake_mean_T1"]
    from app.views.export import export_figure, export_map, export_table

    # screenshot at a chosen size
    paths = window.export_screenshot(tmp_path / "shot.png", size=(640, 360))
    assert Image.open(paths[0]).size == (640, 360)
    assert json.loads(paths[1].read_text())["parameters"]["width"] == 640
    # table CSV
    table = window.tables.tables["fake_table"]
    export_table(table, tmp_path / "t.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), table.frame, check_dtype=False)
    # figure in three formats
    fig = window.plots.items["fake_curve"]
    for ext in ("png", "svg", "pdf"):
        p = export_figure(fig, tmp_path / f"curve.{ext}")[0]
        assert p.stat().st_size > 500
    assert (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "curve.pdf").read_bytes()[:4] == b"%PDF"
    # map as NIfTI and GIfTI
    export_map(vmap, tmp_path / "m.nii.gz")
    np.testing.assert_allclose(
        vmap.geometry.from_volume(nib.load(tmp_path / "m.nii.gz").get_fdata()), vmap.values, rtol=1e-6
    )
    proj = cortex.projections.get(vmap.geometry, cortex.mesh.name)
    gii = export_map(vmap, tmp_path / "m.gii", cortex.mesh.name, proj)
    left = nib.load(gii[0]).darrays[0].data
    np.testing.assert_array_equal(np.isnan(left), np.isnan(proj.project(vmap.values)["left"]))
    np.testing.assert_allclose(left[~np.isnan(left)], proj.project(vmap.values)["left"][~np.isnan(left)])
    assert (tmp_path / "m.gii.provenance.json").is_file()
    # one-click bundle
    bundle = window.export_bundle(tmp_path / "bundle", views=("lateral",))
    names = {p.name for p in bundle}
    assert names == {"brain.png", "brain.svg", "shown_values.csv", "provenance.json"}
    shown = pd.read_csv(tmp_path / "bundle" / "shown_values.csv")
    lv = cortex._projected["left"]
    sel = shown[shown.hemi == "left"]
    np.testing.assert_allclose(sel["value"].to_numpy(), lv[sel["vertex"].to_numpy()], rtol=1e-6)
    prov = json.loads((tmp_path / "bundle" / "provenance.json").read_text())
    assert prov["parameters"]["map"] == "fake_mean_T1" and prov["source_provenance"]["analysis"] == "fake"


def test_session_restore(qtbot, window, mni_data, tmp_path):
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow
    from tests.gui_fake_plugin import fake_registry

    window.analysis_panel.form.set_values({"steps": 9, "mode": "max"})
    window.save_session()
    win2 = MainWindow(registry=fake_registry(), settings=window.settings, results_root=tmp_path / "r")
    qtbot.addWidget(win2)
    try:
        win2.restore_session()
        assert win2.busy()  # participant data and result folders load on workers, not on the UI thread
        qtbot.waitUntil(lambda: not win2.busy(), timeout=30000)
        assert str(win2.dataset_path) == str(mni_data)
        assert win2.analysis_panel.form.values()["steps"] == 9
        assert win2.analysis_panel.form.values()["mode"] == "max"
        # the maps of earlier runs are shown again from their folders
        assert "fake_mean_T1" in win2.cortex.maps and "fake_r_T1_layer02" in win2.cortex.maps
        assert win2.cortex.maps["fake_r_T1_layer02"].meta["layer"] == 2
        assert isinstance(QSettings, type)
    finally:
        win2.close()


def test_linked_cameras_mesh_switch_and_hover_text(qtbot, window):
    cortex = window.cortex
    cortex.set_view("lateral")
    scene = cortex.scene
    left, right = scene.states["left"], scene.states["right"]
    left.renderer.GetActiveCamera().Azimuth(30)  # as a mouse rotation would
    cl, cr = np.asarray(left.polydata.center), np.asarray(right.polydata.center)
    pl = np.asarray(left.renderer.GetActiveCamera().GetPosition()) - cl
    pr = np.asarray(right.renderer.GetActiveCamera().GetPosition()) - cr
    np.testing.assert_allclose(pr, pl * np.array([-1, 1, 1]), atol=1e-6)  # mirrored across the midline
    vertex = _facing_vertex(cortex)
    text = cortex.describe_vertex("left", vertex)
    assert text.startswith(f"left #{vertex}: L_")  # Glasser area name under the pointer
    name = cortex.current_map
    cortex.set_mesh("fsaverage5", "inflated")
    try:
        assert cortex.mesh.name == "fsaverage5" and cortex.current_map == name
        assert len(cortex._projected["left"]) == 10242 and np.isfinite(cortex._projected["left"]).mean() > 0.3
    finally:
        cortex.set_mesh("fs_LR32k", "inflated")


def test_colour_bar_has_its_own_strip(qtbot, window):
    cortex = window.cortex
    cortex.show_map("language_T1")
    scene = cortex.scene
    bar = scene._bar_renderer
    assert bar is not None and bar.HasViewProp(scene._scalar_bar)
    x0 = bar.GetViewport()[0]
    for st in scene.states.values():
        assert st.renderer.GetViewport()[2] <= x0 + 1e-9  # no hemisphere under the colour bar
        assert not st.renderer.HasViewProp(scene._scalar_bar)
    cortex.plotter.render()
    image = np.asarray(cortex.plotter.screenshot(return_img=True))[..., :3].astype(int)
    width = image.shape[1]
    strip = image[:, int(np.ceil(x0 * width)) + 1 :]
    colourful = np.ptp(strip, axis=2) > 60  # saturated colour bar pixels (RdBu_r)
    assert colourful.sum() > 200
    left_part = image[:, : int(x0 * width) - 1]
    # the brain is drawn left of the strip, the strip holds only the bar (white elsewhere)
    assert (np.ptp(left_part, axis=2) > 60).sum() > 1000


def test_progress_and_incremental_routing(qtbot, window):
    from core.outputs import Table, VoxelMap

    window.show_progress(0.5, "half way")
    assert window.analysis_panel.progress.value() == 500 and window.status_progress.value() == 500
    assert window.analysis_panel.message.text() == "half way"
    assert window.analysis_panel.progress.updatesEnabled()
    geom = window.cortex.reference_geometry
    outs = [
        VoxelMap("inc_a", np.arange(geom.n_voxels, dtype=np.float32), geom, units="z"),
        Table("inc_t", pd.DataFrame({"a": [1, 2]})),
        VoxelMap("inc_b", -np.arange(geom.n_voxels, dtype=np.float32), geom, units="z"),
    ]
    window.route(outs, {"analysis": "inc"}, incremental=True)
    assert not window.routing_done() and "inc_b" not in window.cortex.maps  # one output per turn
    qtbot.waitUntil(window.routing_done, timeout=5000)
    assert {"inc_a", "inc_b"} <= set(window.cortex.maps) and "inc_t" in window.tables.tables
    assert window.cortex.current_map == "inc_a"  # the first map of a run is shown
    assert window.provenance["inc_t"] == {"analysis": "inc"}


def test_p_maps_are_shown_as_minus_log10_p(qtbot, window):
    from app.views.cortex_view import LOGP_UNITS
    from core.outputs import VoxelMap

    geom = window.cortex.reference_geometry
    p = np.linspace(1e-4, 1.0, geom.n_voxels).astype(np.float32)
    window.cortex.add_map(VoxelMap("pmap", p, geom, units="p"))
    cortex = window.cortex
    proj = cortex.projections.get(geom, cortex.mesh.name).project(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        expect = -np.log10(proj["left"].astype(np.float64))
    ok = np.isfinite(expect)
    assert_f32_close(cortex._projected["left"][ok], expect[ok])  # float32 -log10 vs float64
    style = cortex.overlay_style()
    assert style.units == LOGP_UNITS and style.threshold == pytest.approx(-np.log10(0.05), abs=1e-3)
    vertex = int(np.flatnonzero(ok)[0])
    assert f"p = {proj['left'][vertex]:.3g}" in cortex.describe_vertex("left", vertex)


def test_plots_are_drawn_only_when_shown(qtbot, window):
    from matplotlib.figure import Figure as MplFigure

    from core.outputs import Figure

    window.tabs.setCurrentWidget(window.tables)
    fig = MplFigure()
    fig.add_subplot(111).plot([0, 1], [1, 0])
    designed_width = fig.get_size_inches()[0] * fig.dpi
    window.plots.add_output(Figure("lazy_fig", fig))
    assert "lazy_fig" in window.plots.items and "lazy_fig" not in window.plots.canvases
    window.tabs.setCurrentWidget(window.plots)
    qtbot.waitUntil(lambda: "lazy_fig" in window.plots.canvases, timeout=3000)
    assert window.plots.stack.currentWidget().widget() is window.plots.canvases["lazy_fig"]
    assert window.plots.canvases["lazy_fig"].minimumWidth() == int(0.8 * designed_width)  # ~designed size
