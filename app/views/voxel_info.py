"""Compatibility shim: the voxel card's content lives in :mod:`core.inspect.voxel` (to be removed)."""

from core.inspect.voxel import (  # noqa: F401  (re-export)
    NULL_PERMUTATIONS,
    NULL_SEED,
    VoxelInfo,
    add_null,
    add_quartile,
    collect,
    value_at,
)
