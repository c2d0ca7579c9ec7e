"""Atlas look-ups for the viewer and the voxel card (Qt-free): Glasser area names per label, the area
and ROI at an MNI point, and paper-ROI ids per mesh vertex. Every look-up degrades to "unavailable"
(None) when an atlas asset is missing, so the viewer never fails because of it."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

RIGHT_OFFSET = 200  # right-hemisphere Glasser ids = left id + 200 (core.atlas.meshes)


@lru_cache(maxsize=1)
def glasser_names() -> dict[int, str]:
    """Glasser label id -> area name (left 1..180 "L_*", right 201..380 "R_*"); {} when unavailable."""
    try:
        from core.atlas.glasser import glasser_mni

        table = glasser_mni().table
        return {int(r.label): str(r.name) for r in table.itertuples()}
    except Exception:  # noqa: BLE001 - fall back to the names shipped with the mesh assets
        pass
    try:
        from core.atlas import _assets

        _, names = _assets.hcp_mmp()
        out = {i: str(names[i]) for i in range(1, 181)}
        out.update({i + RIGHT_OFFSET: str(names[i + 180]) for i in range(1, 181)})
        return out
    except Exception:  # noqa: BLE001
        return {}


def area_name(label: int) -> str:
    return glasser_names().get(int(label), "") if label else ""


@lru_cache(maxsize=1)
def _glasser_volume():
    try:
        from core.atlas.glasser import glasser_mni

        return glasser_mni()
    except Exception:  # noqa: BLE001
        return None


@lru_cache(maxsize=1)
def _roi_volume():
    try:
        from core.atlas.specs import resolve_rois

        return resolve_rois("paper")
    except Exception:  # noqa: BLE001
        return None


def _label_at(volume, xyz: np.ndarray) -> tuple[int, str]:
    ijk = np.rint(np.linalg.solve(volume.affine, np.r_[np.asarray(xyz, float), 1.0])[:3]).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= np.array(volume.data.shape)):
        return 0, ""
    label = int(volume.data[tuple(ijk)])
    names = dict(zip(volume.table["label"].astype(int), volume.table["name"].astype(str), strict=True))
    return label, names.get(label, "")


def area_at_mm(xyz: np.ndarray) -> str | None:
    """Glasser area name at an MNI point ("" outside every area); None when the atlas is unavailable."""
    vol = _glasser_volume()
    return None if vol is None else _label_at(vol, xyz)[1]


def roi_at_mm(xyz: np.ndarray) -> str | None:
    """Paper ROI name at an MNI point ("" outside); None when the ROI atlas is unavailable."""
    vol = _roi_volume()
    if vol is None:
        return None
    label, name = _label_at(vol, xyz)
    return name or (f"ROI{label}" if label else "")


@lru_cache(maxsize=4)
def roi_vertex_labels(mesh_name: str) -> dict[str, np.ndarray] | None:
    """Paper ROI id per vertex {hemi: int (N,)} (nearest voxel at midthickness); None when unavailable."""
    vol = _roi_volume()
    if vol is None:
        return None
    from core.atlas.projection import vol_to_surf

    sampled = vol_to_surf(vol.data.astype(np.float32), vol.affine, mesh_name, kind="nearest")
    return {h: np.nan_to_num(v).round().astype(np.int32) for h, v in sampled.items()}
