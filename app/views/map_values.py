"""What the cortex viewer draws for a map (no Qt): p maps as −log10 p, the layer scrubber's series key,
and the companion p map of a statistic map (``sub-M01_C`` -> ``sub-M01_p``)."""

from __future__ import annotations

import numpy as np

P_UNITS = ("p", "p-value", "p value", "p (permutation)")
LOGP_UNITS = "-log10 p"
LOGP_DEFAULT_THRESHOLD = float(-np.log10(0.05))


def is_p_map(vmap) -> bool:
    """A map of p-values (units 'p' or meta stat 'p'): shown as −log10 p so that strong effects are
    bright and the threshold means p < 10^-t (as neuroimaging viewers do)."""
    return str(vmap.units).strip().lower() in P_UNITS or str(vmap.meta.get("stat", "")).lower() == "p"


def display_values(vmap) -> np.ndarray:
    """The values drawn for ``vmap``: −log10 p for p maps (p clipped to [1e-300, 1]), else the values."""
    if not is_p_map(vmap):
        return vmap.values
    v = np.asarray(vmap.values, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = -np.log10(np.clip(v, 1e-300, 1.0))
    return np.where(np.isfinite(v), out, np.nan).astype(np.float32)


def p_companion(name: str, maps: dict) -> str | None:
    """The name of the p map that goes with map ``name`` among ``maps`` (name -> VoxelMap), or None.

    Looked up, in order: ``meta["p_map"]`` of the map; the naming of the built-in analyses, where a
    statistic ``<stem>_<stat>`` (e.g. ``sub-M01_C``) comes with ``<stem>_p`` on the same voxel grid.
    A p map is its own companion.
    """
    vmap = maps.get(name)
    if vmap is None:
        return None
    if is_p_map(vmap):
        return name
    candidates = [vmap.meta.get("p_map")]
    if "_" in name:
        candidates.append(name.rsplit("_", 1)[0] + "_p")
    for cand in candidates:
        other = maps.get(cand) if cand else None
        if other is not None and is_p_map(other) and other.geometry.same_grid(vmap.geometry):
            return cand
    return None


def scrub_key(meta: dict) -> str:
    """The layer scrubber's series name for a layer map: its model and what else tells series apart."""
    parts = [str(meta[k]) for k in ("model", "paradigm", "pooling", "participant") if k in meta]
    return " · ".join(parts) or "model"


class Sided:
    """A view of a VoxelMap with ``two_sided`` overridden (for resetting the controls)."""

    def __init__(self, vmap, two_sided: bool) -> None:
        self._vmap = vmap
        self.two_sided = two_sided

    def __getattr__(self, item):
        return getattr(self._vmap, item)
