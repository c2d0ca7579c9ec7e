"""The main window's split viewer: two linked views show two different maps with one camera, every routed
map is offered in both, and a pick in the second view fills the voxel card."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_gui_main import _wait_idle, mni_data, window  # noqa: F401

pytestmark = pytest.mark.gl


def test_two_linked_views_in_the_window(qtbot, window):  # noqa: F811
    from core.outputs import VoxelMap

    views = window.views
    views.set_layout("2")
    first, second = views.views[:2]
    assert second.isVisible() and "language_T1" in second.maps  # maps loaded before the split
    geom = window.cortex.reference_geometry
    rng = np.random.default_rng(0)
    window.route([VoxelMap("split_a", rng.standard_normal(geom.n_voxels), geom, two_sided=True),
                  VoxelMap("split_b", rng.standard_normal(geom.n_voxels), geom, two_sided=True)])
    assert {"split_a", "split_b"} <= set(second.maps)  # routed after the split: offered in both views
    first.show_map("split_a")
    second.show_map("split_b")
    assert (first.current_map, second.current_map) == ("split_a", "split_b")
    cam = first.scene.states["left"].renderer.GetActiveCamera()
    cam.Azimuth(40)
    cam.Modified()
    other = second.scene.states["left"].renderer.GetActiveCamera()
    np.testing.assert_allclose(other.GetPosition(), cam.GetPosition(), rtol=1e-6)
    stats = views.comparison()
    a, b = first._projected, second._projected
    ok = {h: np.isfinite(a[h]) & np.isfinite(b[h]) for h in a}
    x = np.concatenate([a[h][ok[h]] for h in a])
    y = np.concatenate([b[h][ok[h]] for h in a])
    assert stats["n"] == x.size and stats["r"] == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-5)
    # a pick in the second view fills the card and marks the first view
    proj = second.projections.get(geom, second.mesh.name)
    vertex = int(np.flatnonzero(proj.vertex_voxel["left"] >= 0)[0])
    with qtbot.waitSignal(views.vertexPicked, timeout=3000):
        second.select("left", vertex)
    assert window.card.info.vertex == vertex and first.selection == ("left", vertex)
    views.set_layout("1")
