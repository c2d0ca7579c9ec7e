"""Voxel geometry: which voxels of a 3D grid a dataset holds, and where they are in MNI space.

Voxel order everywhere is numpy C-order of ``np.nonzero(mask)`` (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import nibabel as nib
import numpy as np

MNI_2MM_SHAPE = (91, 109, 91)
MNI_2MM_AFFINE = np.array(
    [[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]], dtype=np.float64
)


@dataclass(frozen=True, eq=False)
class VoxelGeometry:
    """A boolean mask on a grid plus the grid's voxel-to-mm affine.

    Attributes
    ----------
    mask : bool array (X, Y, Z); True where the dataset has a voxel.
    affine : float array (4, 4); voxel index (i, j, k, 1) -> MNI mm (x, y, z, 1).
    """

    mask: np.ndarray
    affine: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask", np.asarray(self.mask, dtype=bool))
        object.__setattr__(self, "affine", np.asarray(self.affine, dtype=np.float64))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.mask.shape)  # type: ignore[return-value]

    @cached_property
    def n_voxels(self) -> int:
        return int(self.mask.sum())

    @cached_property
    def ijk(self) -> np.ndarray:
        """Voxel indices, int32 (V, 3), in dataset voxel order."""
        return np.argwhere(self.mask).astype(np.int32)

    @cached_property
    def xyz(self) -> np.ndarray:
        """Voxel centres in mm, float64 (V, 3)."""
        return nib.affines.apply_affine(self.affine, self.ijk)

    @cached_property
    def _lookup(self) -> np.ndarray:
        table = np.full(self.shape, -1, dtype=np.int64)
        table[self.mask] = np.arange(self.n_voxels)
        return table

    def index_of(self, ijk: np.ndarray) -> np.ndarray:
        """Voxel numbers for integer grid indices (N, 3); -1 outside the grid or the mask."""
        ijk = np.atleast_2d(np.asarray(ijk, dtype=np.int64))
        inside = np.all((ijk >= 0) & (ijk < np.array(self.shape)), axis=1)
        out = np.full(len(ijk), -1, dtype=np.int64)
        out[inside] = self._lookup[tuple(ijk[inside].T)]
        return out

    def index_of_mm(self, xyz: np.ndarray) -> np.ndarray:
        """Voxel numbers of the voxels containing mm points (N, 3); -1 outside."""
        inv = np.linalg.inv(self.affine)
        ijk = np.rint(nib.affines.apply_affine(inv, np.atleast_2d(xyz))).astype(np.int64)
        return self.index_of(ijk)

    def to_volume(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Scatter per-voxel values (V,) or (V, K) into a float32 volume (X, Y, Z[, K])."""
        values = np.asarray(values)
        if values.shape[0] != self.n_voxels:
            raise ValueError(f"expected {self.n_voxels} voxel values, got {values.shape[0]}")
        vol = np.full(self.shape + values.shape[1:], fill, dtype=np.float32)
        vol[self.mask] = values
        return vol

    def from_volume(self, volume: np.ndarray) -> np.ndarray:
        """Gather a volume (X, Y, Z[, K]) at the mask: (V[, K])."""
        volume = np.asanyarray(volume)
        if volume.shape[:3] != self.shape:
            raise ValueError(f"volume shape {volume.shape[:3]} differs from grid {self.shape}")
        return np.asarray(volume[self.mask])

    def to_nifti(self, values: np.ndarray, fill: float = np.nan) -> nib.Nifti1Image:
        """A NIfTI image of per-voxel values on this grid."""
        img = nib.Nifti1Image(self.to_volume(values, fill), self.affine)
        img.header.set_xyzt_units("mm")
        return img

    def same_grid(self, other: VoxelGeometry) -> bool:
        return self.shape == other.shape and np.allclose(self.affine, other.affine)

    def hemisphere(self) -> np.ndarray:
        """'L' or 'R' per voxel from the sign of x in mm (x >= 0 is right)."""
        return np.where(self.xyz[:, 0] >= 0, "R", "L")
