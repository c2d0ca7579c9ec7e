"""Language network vs semantically consistent ROIs (the paper's Fig. 13, ``lang_network_vs_sem_cons_rois``
in its ``figures.py``; method.md §2.4).

Each area of the area atlas (Glasser) is assigned to the parcel of a language atlas that covers more than
25% of the area's voxels, the one with the largest share when several do (equal shares: the later
parcel, as the paper's loop). Voxel counts are taken on the area atlas's grid, the parcel volume being
put on that grid by nearest neighbour (the paper used both on its 2 mm MNI grid). The comparison is the
mean LM predictivity of the areas inside each language parcel against that of the areas of ROIs 1-3.

The paper's atlas is LanA (``allParcels-language-SN220.nii``, Lipkin et al. 2022; parcels 1-6 = IFGorb,
IFG, MFG, AntTemp, PostTemp, AngG of the left hemisphere); it is not redistributable, so the user gives
it as a NIfTI path (loaded by :func:`core.atlas.specs.resolve_parcels`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analyses.wholebrain.comparison import labels_on_grid
from core.atlas.labels import LabelVolume
from core.atlas.rois import PAPER_ROIS

OVERLAP_THRESHOLD = 0.25
ASSIGN_COLUMNS = ["area", "area_label", "parcel", "parcel_label", "n_voxels", "n_overlap", "overlap"]


def assign_areas(
    areas: LabelVolume, parcels: LabelVolume, threshold: float = OVERLAP_THRESHOLD
) -> pd.DataFrame:
    """Areas assigned to language parcels: one row per area whose overlap share exceeds ``threshold``.

    Returns DataFrame(area, area_label, parcel, parcel_label, n_voxels, n_overlap, overlap) in area
    label order: n_voxels = the area's voxels on the atlas grid, n_overlap = those in the parcel,
    overlap = n_overlap / n_voxels (the largest over parcels).
    """
    a = areas.data.ravel().astype(np.int64)
    p = labels_on_grid(parcels, areas.shape, areas.affine).ravel().astype(np.int64)
    parcel_ids = parcels.ids()
    col = np.full(int(max(p.max(initial=0), parcel_ids.max(initial=0))) + 1, -1, np.int64)
    col[parcel_ids] = np.arange(len(parcel_ids))
    n_areas = int(a.max(initial=0)) + 1
    inside = (a > 0) & (p > 0) & (col[p] >= 0)
    overlap = np.zeros((n_areas, len(parcel_ids)), np.int64)
    np.add.at(overlap, (a[inside], col[p[inside]]), 1)
    size = np.bincount(a, minlength=n_areas)
    names = areas.name_of()
    parcel_names = parcels.table["name"].tolist()
    rows = []
    for lab in np.flatnonzero(size):
        if lab == 0 or not len(parcel_ids):
            continue
        share = overlap[lab] / size[lab]
        best = len(share) - 1 - int(np.argmax(share[::-1]))  # ties: the later parcel
        if share[best] > threshold:
            rows.append({"area": names.get(int(lab), str(lab)), "area_label": int(lab),
                         "parcel": parcel_names[best], "parcel_label": int(parcel_ids[best]),
                         "n_voxels": int(size[lab]), "n_overlap": int(overlap[lab, best]),
                         "overlap": float(share[best])})
    return pd.DataFrame(rows, columns=ASSIGN_COLUMNS)


def _key(name: str) -> str:
    return str(name).lower().removesuffix("_roi")


def language_network_table(predictivity: pd.DataFrame, assignment: pd.DataFrame, parcel_order: list[str],
                           rois: dict[str, list[str]] = PAPER_ROIS,
                           consistency: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per paradigm, the areas of each language parcel and of each ROI with their predictivity.

    predictivity : (paradigm, area, mean_r, sem_r, n) from
        :func:`core.analyses.wholebrain.comparison.area_predictivity`.
    assignment : from :func:`assign_areas`; parcel_order : parcel names in display order.
    rois : ROI name -> area names (``_ROI`` suffixes and case ignored when matching).
    consistency : optional (area, consistency), to order the areas within a location (highest first, the
        paper's order); else by mean_r.
    Returns DataFrame(paradigm, group ("language"/"roi"), location, area, mean_r, sem_r, n, overlap[,
    consistency]); an area in both a parcel and an ROI appears once for each, as in the paper.
    """
    where = [(row.parcel, "language", row.area, row.overlap) for row in assignment.itertuples(index=False)]
    for roi, members in rois.items():
        where += [(roi, "roi", area, np.nan) for area in members]
    loc = pd.DataFrame(where, columns=["location", "group", "_area", "overlap"])
    loc["_key"] = loc["_area"].map(_key)
    pred = predictivity.assign(_key=predictivity["area"].map(_key))
    table = pred.merge(loc.drop(columns="_area"), on="_key")
    sort_by = "mean_r"
    if consistency is not None:
        table = table.merge(consistency[["area", "consistency"]], on="area", how="left")
        sort_by = "consistency"
    order = {name: i for i, name in enumerate(list(parcel_order) + list(rois))}
    table["_order"] = table["location"].map(order)
    keys = [k for k in ("paradigm",) if k in table]
    table = table.sort_values(keys + ["_order", sort_by], ascending=[True] * len(keys) + [True, False],
                              kind="stable")
    first = keys + ["group", "location", "area", "mean_r", "sem_r", "n", "overlap"]
    rest = [c for c in table.columns if c not in first and not c.startswith("_")]
    return table.loc[:, first + [c for c in rest if c == "consistency"]].reset_index(drop=True)


def language_network_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean (± SEM over areas) predictivity per paradigm x location, then per paradigm x group (all
    language parcels / all ROIs, each area counted once): (paradigm, group, location, n_areas, mean_r,
    sem_r)."""
    keys = [k for k in ("paradigm",) if k in table]
    per_loc = table.groupby(keys + ["group", "location"], sort=False)["mean_r"]
    out = per_loc.agg(n_areas="count", mean_r="mean", sem_r="sem").reset_index()
    once = table.drop_duplicates(keys + ["group", "area"])
    per_group = once.groupby(keys + ["group"], sort=False)["mean_r"]
    groups = per_group.agg(n_areas="count", mean_r="mean", sem_r="sem").reset_index()
    groups["location"] = groups["group"].map({"language": "all language parcels", "roi": "all ROIs"})
    out = pd.concat([out, groups[out.columns]], ignore_index=True)
    return out.sort_values(keys, kind="stable").reset_index(drop=True) if keys else out
