"""Volume-to-surface sampling for display (dataset voxels -> mesh vertices).

Method (chosen for this project, documented in the README): every vertex is sampled at points on
the segment from its white-matter surface position to its pial position (both surfaces share vertex
order). ``VolumeToSurface`` takes, per vertex, the dataset voxel that contains the first of these
points, in the priority order ``DEFAULT_DEPTHS`` (midthickness first, then deeper/shallower), that
lies inside the dataset mask: the midthickness voxel when the dataset has it, otherwise the nearest
in-mask voxel along the cortical ribbon. Medial-wall vertices get -1 (no voxel) unless asked for.
Because the mapping is computed on white/pial geometry, it holds for every displayed surface of the
same mesh (inflated, very_inflated, ...).

The paper drew its maps with ``nilearn.surface.vol_to_surf`` (nearest voxel, radius 0) on
fsaverage5; :func:`vol_to_surf` with ``kind="nearest"`` and ``depths=(1.0,)`` samples the pial
vertex positions the same way (which surface the paper sampled is inferred, not seen).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from core.atlas.meshes import HEMIS, Mesh, load_mesh
from core.data.geometry import VoxelGeometry
from core.errors import ParameterError

DEFAULT_DEPTHS = (0.5, 1 / 3, 2 / 3, 1 / 6, 5 / 6, 0.0, 1.0)  # 0 = white, 1 = pial; priority order


def _mesh_name(mesh: str | Mesh) -> str:
    return mesh.name if isinstance(mesh, Mesh) else load_mesh(mesh, "white").name


def ribbon_points(mesh: str | Mesh, depths: tuple[float, ...] = DEFAULT_DEPTHS) -> dict[str, np.ndarray]:
    """Points on the white->pial segment of every vertex: {hemi: float32 (D, N, 3)} in mm."""
    depths_arr = np.asarray(depths, dtype=np.float32)
    if depths_arr.ndim != 1 or len(depths_arr) == 0 or np.any((depths_arr < 0) | (depths_arr > 1)):
        raise ParameterError("depths must be a non-empty list of fractions in [0, 1] (0 = white, 1 = pial)")
    name = _mesh_name(mesh)
    white, pial = load_mesh(name, "white"), load_mesh(name, "pial")
    out = {}
    for hemi in HEMIS:
        w = white.hemis[hemi].vertices
        p = pial.hemis[hemi].vertices
        out[hemi] = w[None] + depths_arr[:, None, None] * (p - w)[None]
    return out


class VolumeToSurface:
    """Precomputed dataset-voxel index per mesh vertex, for fast overlay updates.

    Parameters
    ----------
    geometry : the dataset's voxel geometry (mask + affine, MNI mm).
    mesh : mesh name ("fs_LR32k", "fsaverage5") or a loaded Mesh (any surface of it).
    depths : white(0)->pial(1) fractions tried in order; the first one inside the mask wins.
    include_medial_wall : also map medial-wall vertices (default: they get -1).

    Attributes
    ----------
    vertex_voxel : {hemi: int64 (N,)} dataset voxel index per vertex, -1 where none.
    """

    def __init__(
        self,
        geometry: VoxelGeometry,
        mesh: str | Mesh = "fs_LR32k",
        depths: tuple[float, ...] = DEFAULT_DEPTHS,
        include_medial_wall: bool = False,
    ):
        self.geometry = geometry
        self.mesh_name = _mesh_name(mesh)
        self.depths = tuple(float(d) for d in depths)
        points = ribbon_points(self.mesh_name, self.depths)
        walls = {h: load_mesh(self.mesh_name, "white").hemis[h].medial_wall for h in HEMIS}
        self.vertex_voxel: dict[str, np.ndarray] = {}
        self._dst: dict[str, np.ndarray] = {}
        self._src: dict[str, np.ndarray] = {}
        for hemi in HEMIS:
            d, n, _ = points[hemi].shape
            idx = geometry.index_of_mm(points[hemi].reshape(-1, 3)).reshape(d, n)
            valid = idx >= 0
            first = valid.argmax(axis=0)
            vox = np.where(valid.any(axis=0), idx[first, np.arange(n)], -1).astype(np.int64)
            if not include_medial_wall:
                vox[walls[hemi]] = -1
            vox.setflags(write=False)
            self.vertex_voxel[hemi] = vox
            self._dst[hemi] = np.flatnonzero(vox >= 0)
            self._src[hemi] = vox[self._dst[hemi]]

    @property
    def n_vertices(self) -> dict[str, int]:
        return {h: len(v) for h, v in self.vertex_voxel.items()}

    def project(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Per-voxel values (V,) or (V, K) -> {hemi: float32 (N,) or (N, K)}, NaN where no voxel."""
        values = np.asarray(values)
        if values.shape[0] != self.geometry.n_voxels:
            raise ParameterError(f"expected {self.geometry.n_voxels} voxel values, got {values.shape[0]}")
        out = {}
        for hemi in HEMIS:
            arr = np.full((len(self.vertex_voxel[hemi]),) + values.shape[1:], np.nan, dtype=np.float32)
            arr[self._dst[hemi]] = values[self._src[hemi]]
            out[hemi] = arr
        return out

    def voxel_of_vertex(self, hemi: str, vertex: int) -> int:
        """Dataset voxel index of one vertex (for picking); -1 where none."""
        if hemi not in self.vertex_voxel:
            raise ParameterError(f"unknown hemisphere '{hemi}'; use 'left' or 'right'")
        return int(self.vertex_voxel[hemi][int(vertex)])

    def vertices_of_voxel(self, voxel: int) -> dict[str, np.ndarray]:
        """Vertices mapped to one dataset voxel: {hemi: int64 (k,)}."""
        return {h: np.flatnonzero(v == int(voxel)) for h, v in self.vertex_voxel.items()}


def _as_volume(volume, affine) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(volume, (str, Path)):
        from core.data.validate import load_nifti

        volume = load_nifti(Path(volume))
    if isinstance(volume, nib.spatialimages.SpatialImage):
        affine = volume.affine if affine is None else affine
        data = np.asarray(volume.get_fdata(dtype=np.float32))
    else:
        data = np.asarray(volume, dtype=np.float32)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ParameterError(f"vol_to_surf needs a 3D volume, got shape {data.shape}")
    if affine is None:
        raise ParameterError("vol_to_surf needs the volume's affine")
    return data, np.asarray(affine, dtype=np.float64)


def vol_to_surf(
    volume,
    affine: np.ndarray | None = None,
    mesh: str | Mesh = "fs_LR32k",
    kind: str = "nearest",
    depths: tuple[float, ...] | None = None,
    interpolation: str = "nearest",
) -> dict[str, np.ndarray]:
    """Sample a volume on any grid at the vertices of a mesh.

    Parameters
    ----------
    volume : 3D array, nibabel image, or NIfTI path.
    affine : (4, 4) voxel -> mm affine (taken from the image when omitted).
    mesh : mesh name or Mesh.
    kind : "nearest": one sample per vertex at ``depths[0]`` (default midthickness, 0.5);
        "depth": NaN-ignoring mean over samples at ``depths`` (default 7 depths white->pial),
        like nilearn's ``kind="depth"``.
    interpolation : "nearest" voxel or "linear" (trilinear; NaN propagates).

    Returns
    -------
    {hemi: float32 (N,)}; NaN outside the volume's grid.
    """
    data, aff = _as_volume(volume, affine)
    if kind not in ("nearest", "depth"):
        raise ParameterError(f"unknown kind '{kind}'; use 'nearest' or 'depth'")
    if interpolation not in ("nearest", "linear"):
        raise ParameterError(f"unknown interpolation '{interpolation}'; use 'nearest' or 'linear'")
    if depths is None:
        depths = (0.5,) if kind == "nearest" else tuple(np.linspace(0, 1, 7))
    if kind == "nearest":
        depths = tuple(depths)[:1]
    points = ribbon_points(mesh, tuple(depths))
    inv = np.linalg.inv(aff)
    shape = np.array(data.shape)
    out = {}
    for hemi in HEMIS:
        d, n, _ = points[hemi].shape
        ijk = nib.affines.apply_affine(inv, points[hemi].reshape(-1, 3))
        if interpolation == "nearest":
            ijk_i = np.rint(ijk).astype(np.int64)
            inside = np.all((ijk_i >= 0) & (ijk_i < shape), axis=1)
            samples = np.full(len(ijk_i), np.nan, dtype=np.float32)
            samples[inside] = data[tuple(ijk_i[inside].T)]
        else:
            inside = np.all((ijk >= -0.5) & (ijk <= shape - 0.5), axis=1)
            samples = ndimage.map_coordinates(data, ijk.T, order=1, mode="nearest").astype(np.float32)
            samples[~inside] = np.nan
        samples = samples.reshape(d, n)
        if d == 1:
            out[hemi] = samples[0]
        else:
            finite = np.isfinite(samples)
            total = np.where(finite, samples, 0).sum(axis=0)
            count = finite.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[hemi] = np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)
    return out
