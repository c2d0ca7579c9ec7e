"""Regions of interest built from atlas areas: the paper's three ROIs, named groups, top-k areas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.atlas.labels import LabelVolume, load_label_volume, read_label_table, table_path_for
from core.errors import ParameterError

# method.md §2.4 (export_roi_map / roi_map.nii): all left hemisphere
PAPER_ROIS: dict[str, list[str]] = {
    "ROI 1": ["L_A5", "L_STSdp", "L_TPOJ1", "L_TPOJ2"],
    "ROI 2": ["L_IFSa", "L_45", "L_FOP5"],
    "ROI 3": ["L_TE2p", "L_PH"],
}
PAPER_ROI_NICKNAMES = {"ROI 1": "posttemp", "ROI 2": "frontal", "ROI 3": "ventral"}


def _atlas(atlas: LabelVolume | None) -> LabelVolume:
    if atlas is not None:
        return atlas
    from core.atlas.glasser import glasser_mni

    return glasser_mni()


def rois_from_areas(groups: dict[str, list[str]], atlas: LabelVolume | None = None) -> LabelVolume:
    """One ROI per group of area names: labels 1..n in the dict's order.

    Parameters
    ----------
    groups : {roi name: [area names]} (area names as in the atlas table, e.g. "L_A5").
    atlas : the area atlas (default: :func:`core.atlas.glasser.glasser_mni`).
    """
    if not groups:
        raise ParameterError("no ROI groups given")
    atlas = _atlas(atlas)
    data = np.zeros(atlas.shape, np.int32)
    owner: dict[str, str] = {}
    rows = []
    for n, (roi, areas) in enumerate(groups.items(), start=1):
        if not areas:
            raise ParameterError(f"ROI '{roi}' lists no areas")
        ids = []
        for area in areas:
            if area in owner:
                raise ParameterError(f"area '{area}' is in both '{owner[area]}' and '{roi}'")
            owner[area] = roi
            ids.append(atlas.label_of(area))
        data[np.isin(atlas.data, ids)] = n
        hemis = set(atlas.table.loc[atlas.table["label"].isin(ids), "hemisphere"])
        rows.append((n, str(roi), hemis.pop() if len(hemis) == 1 else "", ";".join(areas)))
    table = pd.DataFrame(rows, columns=["label", "name", "hemisphere", "areas"])
    return LabelVolume(data, atlas.affine, table)


def paper_rois(atlas: LabelVolume | None = None) -> LabelVolume:
    """The paper's ROIs 1-3 (method.md §2.4): 1 = L A5+STSdp+TPOJ1+TPOJ2, 2 = L IFSa+45+FOP5,
    3 = L TE2p+PH, from the Glasser atlas (default: the MNI 2 mm labelling)."""
    return rois_from_areas(PAPER_ROIS, atlas)


def top_k_areas(
    area_scores: pd.DataFrame,
    k: int,
    atlas: LabelVolume | None = None,
    hemisphere: str | None = None,
    separate: bool = False,
    name: str | None = None,
) -> LabelVolume:
    """An ROI of the k best-scoring areas.

    Parameters
    ----------
    area_scores : DataFrame with columns ``area`` (atlas names) and ``score`` (higher is better);
        NaN scores are ignored; ties keep the frame's order.
    k : number of areas (>= 1).
    hemisphere : "L" or "R" to choose among one hemisphere's areas only.
    separate : one label per area (1..k, best first) instead of one ROI (label 1).
    name : ROI name when not separate (default "top<k>").
    """
    if k < 1:
        raise ParameterError("k must be at least 1")
    if not {"area", "score"} <= set(area_scores.columns):
        raise ParameterError("area_scores needs columns 'area' and 'score'")
    atlas = _atlas(atlas)
    frame = area_scores[["area", "score"]].dropna(subset=["score"])
    if hemisphere is not None:
        hemi_of = dict(zip(atlas.table["name"], atlas.table["hemisphere"], strict=True))
        frame = frame[[hemi_of.get(a, "") == hemisphere.upper()[:1] for a in frame["area"]]]
    frame = frame.sort_values("score", ascending=False, kind="stable").head(k)
    if frame.empty:
        raise ParameterError("no area has a score")
    areas = frame["area"].tolist()
    if separate:
        return rois_from_areas({a: [a] for a in areas}, atlas)
    return rois_from_areas({name or f"top{k}": areas}, atlas)


def load_roi_map(path: str | Path, tsv: str | Path | None = None) -> LabelVolume:
    """A NIfTI ROI/label map (e.g. the paper's roi_map.nii.gz). Without a table (given or next to
    the file) ROIs are named "ROI <id>"."""
    path = Path(path)
    if tsv is None and not table_path_for(path).is_file():
        vol = load_label_volume(path)
        table = vol.table.assign(name=[f"ROI {i}" for i in vol.table["label"]])
        return LabelVolume(vol.data, vol.affine, table)
    read_label_table(tsv or table_path_for(path))  # early, clear error for a bad table
    return load_label_volume(path, tsv)
