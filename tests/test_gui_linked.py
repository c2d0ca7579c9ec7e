"""Linked cortex views (one camera, linked selection, map comparison), the selection helpers and the map
context menu's file writers. GL tests carry the ``gl`` marker (skipped without X)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui_maps_fixture import grid_maps

RTOL = 1e-5


# ---------------------------------------------------------------------- Qt-free helpers
def test_compare_maps_matches_numpy():
    from app.views.linked_views import compare_maps

    rng = np.random.default_rng(1)
    a = {h: rng.standard_normal(500).astype(np.float32) for h in ("left", "right")}
    b = {h: (0.6 * a[h] + rng.standard_normal(500)).astype(np.float32) for h in ("left", "right")}
    a["left"][:40] = np.nan
    b["right"][100:130] = np.nan
    x, y = np.concatenate([a["left"], a["right"]]), np.concatenate([b["left"], b["right"]])
    ok = np.isfinite(x) & np.isfinite(y)
    got = compare_maps(a, b)
    assert got["n"] == ok.sum() == 1000 - 70
    np.testing.assert_allclose(got["r"], np.corrcoef(x[ok], y[ok])[0, 1], rtol=RTOL)
    np.testing.assert_allclose(got["mean_diff"], np.mean(x[ok] - y[ok]), rtol=RTOL)
    assert np.isnan(compare_maps({"left": np.full(5, np.nan)}, {"left": np.ones(5)})["r"])


def test_adjacency_step_and_nearest():
    from app.views.selection import mesh_adjacency, nearest_marked, neighbours, step_on_screen

    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 1]])  # a fan around vertex 0
    adj = mesh_adjacency(faces, 5)
    assert sorted(neighbours(adj, 0)) == [1, 2, 3, 4]
    assert sorted(neighbours(adj, 1)) == [0, 2, 4]
    xy = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0], [0.0, -10.0]])  # vertices 1..4 on screen
    cand = np.array([1, 2, 3, 4])
    assert step_on_screen(0, cand, xy, (0.0, 0.0), (1, 0)) == 1
    assert step_on_screen(0, cand, xy, (0.0, 0.0), (0, -1)) == 4
    assert step_on_screen(0, cand[:1], xy[:1], (0.0, 0.0), (-1, 0)) == 0  # nothing to the left: stay
    rng = np.random.default_rng(2)
    pts = {"left": rng.uniform(-50, 50, (300, 3)), "right": rng.uniform(-50, 50, (300, 3))}
    mask = {"left": rng.random(300) < 0.05, "right": np.zeros(300, bool)}
    hemi, v = nearest_marked(pts, mask, "left", 7)
    marked = np.flatnonzero(mask["left"])
    assert (
        hemi == "left"
        and v == marked[np.argmin(np.linalg.norm(pts["left"][marked] - pts["left"][7], axis=1))]
    )
    only_right = {"left": np.zeros(300, bool), "right": mask["left"]}
    assert nearest_marked(pts, only_right, "left", 7)[0] == "right"
    assert nearest_marked(pts, {"left": np.zeros(300, bool)}, "left", 7) is None


def test_p_companion_by_name_and_meta():
    import dataclasses

    from app.views.map_values import p_companion

    _, maps = grid_maps()
    assert p_companion("sub-X_C", maps) == "sub-X_p"
    assert p_companion("sub-X_p", maps) == "sub-X_p"
    assert p_companion("other_r", maps) is None
    maps["other_r"] = dataclasses.replace(maps["other_r"], meta={"p_map": "sub-X_p"})
    assert p_companion("other_r", maps) == "sub-X_p"


def test_save_gifti_reads_back(tmp_path):
    import nibabel as nib

    from app.views.map_menu import save_gifti

    values = {"left": np.arange(10, dtype=np.float32), "right": np.array([np.nan, 2.5], np.float32)}
    paths = save_gifti(values, tmp_path / "m", "fsaverage5")
    assert [p.name for p in paths] == ["m_hemi-L.func.gii", "m_hemi-R.func.gii"]
    for hemi, path in zip(("left", "right"), paths, strict=True):
        img = nib.load(path)
        np.testing.assert_array_equal(img.darrays[0].data, values[hemi])
        assert img.meta["AnatomicalStructurePrimary"] == ("CortexLeft" if hemi == "left" else "CortexRight")


# ---------------------------------------------------------------------- linked views (GL)
@pytest.fixture
def linked(qtbot):
    from app.views.linked_views import LinkedViews

    widget = LinkedViews(mesh="fsaverage5", layout="2")
    qtbot.addWidget(widget)
    widget.resize(1000, 420)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.close_viewers()


@pytest.mark.gl
def test_two_linked_views_two_maps_one_camera(linked):
    _, maps = grid_maps()
    for vmap in maps.values():
        linked.add_map(vmap, view=None)
    linked.show_map(0, "sub-X_C")
    linked.show_map(1, "other_r")
    a, b = linked.views[:2]
    assert (a.current_map, b.current_map) == ("sub-X_C", "other_r")
    assert not np.array_equal(a.scene.vertex_colors("left"), b.scene.vertex_colors("left"))

    cam_a = a.scene.states["left"].renderer.GetActiveCamera()
    cam_b = b.scene.states["left"].renderer.GetActiveCamera()
    before = np.array(cam_b.GetPosition())
    cam_a.Azimuth(35.0)
    cam_a.Elevation(10.0)
    assert not np.allclose(before, cam_b.GetPosition())
    np.testing.assert_allclose(cam_b.GetPosition(), cam_a.GetPosition(), rtol=1e-6)
    np.testing.assert_allclose(cam_b.GetFocalPoint(), cam_a.GetFocalPoint(), rtol=1e-6)
    np.testing.assert_allclose(cam_b.GetViewUp(), cam_a.GetViewUp(), rtol=1e-6, atol=1e-9)

    # the readout: Pearson r over vertices finite in both views, against numpy on independent projections
    from core.atlas.projection import VolumeToSurface

    proj = VolumeToSurface(maps["sub-X_C"].geometry, "fsaverage5")
    x = np.concatenate([proj.project(maps["sub-X_C"].values)[h] for h in ("left", "right")]).astype(float)
    y = np.concatenate([proj.project(maps["other_r"].values)[h] for h in ("left", "right")]).astype(float)
    ok = np.isfinite(x) & np.isfinite(y)
    stats = linked.comparison()
    assert stats["n"] == ok.sum() > 1000
    np.testing.assert_allclose(stats["r"], np.corrcoef(x[ok], y[ok])[0, 1], rtol=RTOL)
    assert linked.update_readout().startswith(f"r = {stats['r']:.3f}")
    linked.readout_box.setCurrentText("difference")
    assert f"{np.mean(x[ok] - y[ok]):.4g}" in linked.readout.text()


@pytest.mark.gl
def test_pick_in_one_view_marks_all(linked, qtbot):
    a, b = linked.views[:2]
    with qtbot.waitSignal(linked.vertexPicked) as sig:
        b.select("left", 1234)
    assert sig.args == ["left", 1234]
    assert a.selection == b.selection == ("left", 1234)
    pts = a.scene.states["left"].polydata.points
    np.testing.assert_allclose(a.marker.position("left"), pts[1234], rtol=RTOL)
    linked.set_layout("2x2")
    assert len(linked.visible_views) == 4
    assert linked.views[3].selection == ("left", 1234)
