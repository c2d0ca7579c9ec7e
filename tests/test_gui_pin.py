"""Pinned voxel cards (up to four), the card title naming the vertex, and the card's "Nearest significant"
button (pytest-qt, the real window)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.test_gui_main import _wait_idle, mni_data, window  # noqa: F401

pytestmark = pytest.mark.gl


def _vertices(window, n):  # noqa: F811
    cortex = window.cortex
    proj = cortex.projections.get(cortex.reference_geometry, cortex.mesh.name)
    voxel = proj.vertex_voxel["left"]
    seen, out = set(), []
    for v in np.flatnonzero(voxel >= 0):
        if int(voxel[v]) not in seen:
            seen.add(int(voxel[v]))
            out.append(int(v))
        if len(out) == n:
            return out
    return out


def test_pin_keeps_four_cards_and_the_title_names_the_vertex(qtbot, window):  # noqa: F811
    window.cortex.show_map("language_T1")
    vertices = _vertices(window, 5)
    pinned = []
    for v in vertices:
        window.on_vertex_picked("left", v)
        assert window.docks["card"].windowTitle().startswith(f"Voxel card: left #{v}")
        qtbot.mouseClick(window.card.pin_button, Qt.LeftButton)
        pinned.append(window.card.info)
    kept = window.pinned.infos()
    assert len(kept) == 4 and kept == pinned[1:]  # the oldest went when the fifth was pinned
    first_card = window.pinned.cards[0][1]
    assert first_card.fields["C"].text() == window.card.fields["C"].text() or first_card.info is pinned[1]
    assert first_card.fields["vertex"].text() == f"left #{vertices[1]}"
    for holder, _card in list(window.pinned.cards):
        window.pinned.unpin(holder)
    assert window.pinned.infos() == [] and window.pinned.hint.isVisibleTo(window.pinned)


def test_nearest_significant_moves_the_selection(qtbot, window):  # noqa: F811
    from core.outputs import VoxelMap

    geom = window.cortex.reference_geometry
    rng = np.random.default_rng(3)
    p = np.full(geom.n_voxels, 0.5, np.float32)
    significant = rng.choice(geom.n_voxels, 20, replace=False)
    p[significant] = 0.001
    window.route([VoxelMap("sub-T1_C", rng.standard_normal(geom.n_voxels), geom, "r", two_sided=True),
                  VoxelMap("sub-T1_p", p, geom, "p")])
    window.cortex.show_map("sub-T1_C")
    start = _vertices(window, 1)[0]
    window.on_vertex_picked("left", start)
    with qtbot.waitSignal(window.views.vertexPicked, timeout=3000) as moved:
        qtbot.mouseClick(window.card.nearest_button, Qt.LeftButton)
    hemi, vertex = moved.args
    proj = window.cortex.projections.get(geom, window.cortex.mesh.name)
    assert p[proj.vertex_voxel[hemi][vertex]] < 0.05 and window.card.info.vertex == vertex
