"""Compatibility shim: atlas look-ups live in :mod:`core.atlas.lookup` (to be removed)."""

from core.atlas.lookup import (  # noqa: F401  (re-export)
    RIGHT_OFFSET,
    area_at_mm,
    area_name,
    glasser_names,
    roi_at_mm,
    roi_vertex_labels,
)
