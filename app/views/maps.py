"""Maps on the surface (Qt-free): cache volume-to-surface projections per (voxel grid, mesh). Reading maps
and results folders back is :mod:`core.export.readers`."""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from core.data.geometry import VoxelGeometry
from core.outputs import VoxelMap


def geometry_key(geometry: VoxelGeometry) -> str:
    """A content hash of a voxel grid (mask + affine)."""
    digest = hashlib.sha1(np.packbits(geometry.mask).tobytes())
    digest.update(np.asarray(geometry.affine, np.float64).tobytes())
    digest.update(str(geometry.shape).encode())
    return digest.hexdigest()


class ProjectionCache:
    """``VolumeToSurface`` objects per (grid, mesh), built on first use and kept (few grids per session)."""

    def __init__(self, max_items: int = 8) -> None:
        self._items: dict[tuple[str, str], object] = {}
        self.max_items = max_items
        self._lock = threading.Lock()  # workers pre-build mappings while the UI thread reads them

    def get(self, geometry: VoxelGeometry, mesh_name: str):
        from core.atlas.projection import VolumeToSurface

        key = (geometry_key(geometry), mesh_name)
        with self._lock:
            found = self._items.get(key)
        if found is not None:
            return found
        # built outside the lock: the UI thread never waits for a worker building another grid's mapping
        built = VolumeToSurface(geometry, mesh_name)
        with self._lock:
            if key not in self._items:
                if len(self._items) >= self.max_items:
                    self._items.pop(next(iter(self._items)))
                self._items[key] = built
            return self._items[key]

    def project(self, vmap: VoxelMap, mesh_name: str) -> dict[str, np.ndarray]:
        return self.get(vmap.geometry, mesh_name).project(vmap.values)
