"""Maps on the whole MNI 2 mm grid for viewer tests: smooth functions of MNI position, so that two maps
differ and correlate by a known amount, plus a p companion."""

from __future__ import annotations

import numpy as np


def grid_maps():
    """(geometry, {name: VoxelMap}) with ``sub-X_C`` (anterior-positive), ``sub-X_p`` (its p companion,
    small where C is large) and ``other_r`` (lateral-positive, with noise)."""
    from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
    from core.outputs import VoxelMap

    geom = VoxelGeometry(np.ones(MNI_2MM_SHAPE, bool), MNI_2MM_AFFINE)
    x, y = geom.xyz[:, 0], geom.xyz[:, 1]
    c = (y / 100.0).astype(np.float32)
    p = np.clip(0.5 - c, 1e-3, 1.0).astype(np.float32)  # p < .05 where C > 0.45
    rng = np.random.default_rng(0)
    other = (np.abs(x) / 70.0 + 0.3 * rng.standard_normal(x.size)).astype(np.float32)
    maps = {
        "sub-X_C": VoxelMap("sub-X_C", c, geom, units="Pearson r", two_sided=True, meta={"stat": "C"}),
        "sub-X_p": VoxelMap("sub-X_p", p, geom, units="p", meta={"stat": "p"}),
        "other_r": VoxelMap("other_r", other, geom, units="r"),
    }
    return geom, maps
