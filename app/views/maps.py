"""Maps on disk and on the surface (Qt-free): read a NIfTI into a VoxelMap, read a results folder back
into typed outputs, and cache volume-to-surface projections per (voxel grid, mesh)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.geometry import VoxelGeometry
from core.errors import DataError
from core.outputs import RDM, Table, VoxelMap

LAYER_RE = re.compile(r"(?:^|[_-])(?:layer|L)[_-]?(\d+)(?:$|[_-])", re.IGNORECASE)


def map_from_volume(name: str, volume: np.ndarray, affine: np.ndarray, **kw) -> VoxelMap:
    """A VoxelMap of a 3D volume: voxels = finite values (and non-zero ones when the volume has no NaN,
    i.e. zero is its background)."""
    volume = np.asarray(volume, dtype=np.float32)
    mask = np.isfinite(volume)
    if mask.all():
        mask &= volume != 0
    if not mask.any():
        raise DataError(name, "the map holds no finite non-zero values")
    geometry = VoxelGeometry(mask, affine)
    return VoxelMap(name, geometry.from_volume(volume), geometry, **kw)


def read_map(path: str | Path, provenance: dict | None = None) -> VoxelMap:
    """Read a 3D NIfTI map (DataError when unreadable); meta/units from ``provenance`` where it has them."""
    from core.data.validate import load_nifti

    path = Path(path)
    img = load_nifti(path, 3)
    data = np.asarray(img.get_fdata(dtype=np.float32))
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    name = path.name.removesuffix(".gz").removesuffix(".nii")
    info = _output_info(provenance, name)
    meta = dict(info.get("meta", {}))
    match = LAYER_RE.search(name)
    if "layer" not in meta and match:
        meta["layer"] = int(match.group(1))
    if provenance and "model" not in meta:
        model = provenance.get("parameters", {}).get("model") or provenance.get("model")
        if isinstance(model, str):
            meta["model"] = model
    vm = map_from_volume(
        name,
        data,
        img.affine,
        units=info.get("units", ""),
        description=info.get("description", ""),
        two_sided=bool(info.get("two_sided", bool(np.nanmin(data) < 0 < np.nanmax(data)))),
        meta=meta,
    )
    return vm


def _output_info(provenance: dict | None, name: str) -> dict:
    """The provenance entry describing output ``name`` where provenance lists its outputs."""
    if not provenance:
        return {}
    outputs = provenance.get("outputs")
    if isinstance(outputs, dict):
        return outputs.get(name, {}) or {}
    if isinstance(outputs, list):
        for entry in outputs:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry
    return {}


def read_results_folder(folder: str | Path) -> tuple[list, dict]:
    """Outputs written by an analysis run: (outputs, provenance). NIfTI -> VoxelMap, CSV -> Table,
    NPY (square) -> RDM. DataError when the folder does not exist or holds nothing readable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "not a folder")
    prov_path = folder / "provenance.json"
    provenance = {}
    if prov_path.is_file():
        try:
            provenance = json.loads(prov_path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(prov_path, f"unreadable provenance: {exc}") from None
    outputs: list = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.name.endswith((".nii", ".nii.gz")):
            outputs.append(read_map(path, provenance))
        elif path.suffix == ".csv":
            outputs.append(Table(path.stem, pd.read_csv(path)))
        elif path.suffix == ".parquet":
            outputs.append(Table(path.stem, pd.read_parquet(path)))
        elif path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
            if arr.ndim == 2 and arr.shape[0] == arr.shape[1]:
                labels = [str(i) for i in range(arr.shape[0])]
                outputs.append(RDM(path.stem, arr, labels))
    if not outputs:
        raise DataError(folder, "no results (NIfTI, CSV or NPY files) found")
    return outputs, provenance


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
