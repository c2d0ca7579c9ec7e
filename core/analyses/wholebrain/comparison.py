"""Whole-brain area analysis (method.md §3.6; the paper's Fig. 3 and its Fig. 9 variants).

Per area: mean (± SEM) of fold-averaged encoding r over all (participant x model) entries. Area
consistency is the paper's (``figures.py``, ``plot_brain_encoding_whole_brain``): the mean of the group
probabilistic consistency map (fraction of participants whose voxel is significant, in both halves
where split results exist) over **every** voxel of the area on the data grid, the map being 0 wherever
no participant is significant or there are no data; the atlas is put on the data grid by nearest
neighbour, as the paper's ``resample_to_img(..., interpolation='nearest')`` onto its brain-mask grid.
The statistic is the Pearson correlation across areas between the two, per paradigm.

Fig. 9 variants: the raw area C (``use_raw_consistency_metric``: C of area-averaged responses per
participant, :func:`core.analyses.consistency.areas.area_consistency`, averaged over participants) and
the ceiling-normalised predictivity (``divide_by_noise_ceiling``: each entry's r divided by the area's
noise ceiling before the mean over participants x models).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from core.atlas.labels import LabelVolume
from core.data.geometry import VoxelGeometry
from core.errors import DataError


def area_predictivity(scores: pd.DataFrame, value: str = "r") -> pd.DataFrame:
    """Per (paradigm, area): mean_r, sem_r, n over (participant x model) fold-mean values.

    scores : rows with columns participant, model, target (area name), ``value``[, fold, paradigm].
    value : the column averaged, e.g. ``r`` or ``r_normalised`` (r / noise ceiling); NaN entries are
        left out of the mean, the SEM and n.
    """
    keys = [k for k in ("paradigm",) if k in scores] + ["target"]
    per_entry = scores.groupby(keys + ["participant", "model"], as_index=False)[value].mean()
    g = per_entry.groupby(keys)[value]
    out = g.agg(mean_r="mean", n="count").reset_index()
    out["sem_r"] = g.sem().to_numpy()
    return out.rename(columns={"target": "area"})


def probabilistic_voxels(consistency_voxels: pd.DataFrame) -> pd.DataFrame:
    """Group probabilistic map from a consistency_voxels.csv table: (i, j, k, x, y, z, p_sig).

    Uses ``replicated`` (significant in both halves, the paper's criterion) where present, else
    ``significant``; the denominator is the number of participants in the table.
    """
    column = "replicated" if "replicated" in consistency_voxels else "significant"
    if column not in consistency_voxels:
        raise DataError("consistency_voxels.csv", "has neither a 'replicated' nor a 'significant' column")
    frame = consistency_voxels.assign(_s=consistency_voxels[column].astype(float))
    n = frame["participant"].nunique()
    g = frame.groupby(["i", "j", "k"], as_index=False).agg(x=("x", "first"), y=("y", "first"),
                                                           z=("z", "first"), _s=("_s", "sum"))
    g["p_sig"] = g.pop("_s") / n
    return g


def probabilistic_volume(prob: pd.DataFrame, shape: tuple[int, int, int]) -> np.ndarray:
    """The map of :func:`probabilistic_voxels` as a dense volume float64 ``shape``, 0 where it has no row
    (as the paper's map, whose non-significant and out-of-mask voxels are 0)."""
    ijk = prob[["i", "j", "k"]].to_numpy(dtype=np.int64)
    if len(ijk) and (ijk.min() < 0 or np.any(ijk.max(axis=0) >= np.asarray(shape))):
        raise DataError("consistency_voxels.csv", f"voxel indices fall outside the data grid {tuple(shape)}; "
                        "was the consistency run made on another dataset?")
    out = np.zeros(shape, np.float64)
    out[tuple(ijk.T)] = prob["p_sig"].to_numpy(dtype=np.float64)
    return out


def labels_on_grid(atlas: LabelVolume, shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """Atlas labels on every voxel of a grid, int32 ``shape``: the atlas voxel nearest each centre."""
    full = VoxelGeometry(np.ones(shape, bool), affine)
    return atlas.sample(full).reshape(shape)


def map_area_means(prob, area_of_voxel: np.ndarray, names: dict[int, str]) -> pd.DataFrame:
    """Mean probabilistic consistency per area over the voxels given: (area, label, consistency, n_voxels).

    prob : DataFrame with ``p_sig`` (one row per voxel) or an array of values (any shape).
    area_of_voxel : int label per value (same size; 0 = none); names : label -> area name.
    For the paper's definition pass every voxel of the data grid, 0 where the map has no value
    (:func:`paper_area_consistency`). Areas in label order.
    """
    values = prob["p_sig"].to_numpy() if isinstance(prob, pd.DataFrame) else np.asarray(prob)
    values = np.asarray(values, np.float64).ravel()
    labels = np.asarray(area_of_voxel).ravel().astype(np.int64)
    if labels.shape != values.shape:
        raise ValueError(f"{labels.size} labels for {values.size} values")
    counts = np.bincount(labels, minlength=1)
    sums = np.bincount(labels, weights=values, minlength=len(counts))
    ids = np.flatnonzero(counts)
    ids = ids[ids != 0]
    return pd.DataFrame({"area": [names.get(int(lab), str(lab)) for lab in ids], "label": ids,
                         "consistency": sums[ids] / counts[ids], "n_voxels": counts[ids]})


def paper_area_consistency(prob: pd.DataFrame, grid: VoxelGeometry, atlas: LabelVolume) -> pd.DataFrame:
    """The paper's area consistency: the dense probabilistic map on ``grid``'s whole grid (0 outside
    the table) averaged over every grid voxel the atlas (nearest neighbour) gives to the area."""
    volume = probabilistic_volume(prob, grid.shape)
    return map_area_means(volume, labels_on_grid(atlas, grid.shape, grid.affine), atlas.name_of())


def raw_area_c(dataset, pids, atlas: LabelVolume) -> pd.DataFrame:
    """Raw area C (the paper's ``use_raw_consistency_metric``): per participant, C of the area-averaged
    responses (:func:`core.analyses.consistency.areas.area_consistency`, all trials, all paradigms of
    the dataset), then the mean over participants (NaN-skipping, as pandas' ``groupby().mean()``).

    Returns DataFrame(area, label, C_area, n_participants), areas in label order.
    """
    from core.analyses.consistency import area_consistency as c_of_areas

    values: dict[int, list[float]] = {}
    for pid in pids:
        data = dataset.participant(pid)
        try:
            labels = atlas.sample(data.geometry)
            ids = np.unique(labels[labels != 0])
            for lab, c in zip(ids, c_of_areas(data, labels, ids, dataset.concepts), strict=True):
                values.setdefault(int(lab), []).append(float(c))
        finally:
            data.release()
    names = atlas.name_of()
    rows = []
    for lab in sorted(values):
        v = np.asarray(values[lab])
        ok = np.isfinite(v)
        rows.append({"area": names.get(lab, str(lab)), "label": lab,
                     "C_area": float(v[ok].mean()) if ok.any() else np.nan, "n_participants": int(ok.sum())})
    return pd.DataFrame(rows, columns=["area", "label", "C_area", "n_participants"])


def wholebrain_table(predictivity: pd.DataFrame, consistency: pd.DataFrame) -> pd.DataFrame:
    """Join predictivity (paradigm, area, mean_r, sem_r, n) with area consistency (area, ...)."""
    return predictivity.merge(consistency, on="area", how="inner")


def wholebrain_correlation(table: pd.DataFrame, x: str = "consistency", y: str = "mean_r") -> pd.DataFrame:
    """Pearson r across areas between ``x`` and ``y``, per paradigm: (paradigm, r, p, n_areas)."""
    rows = []
    groups = table.groupby("paradigm") if "paradigm" in table else [("all", table)]
    for paradigm, sub in groups:
        sub = sub.replace([np.inf, -np.inf], np.nan).dropna(subset=[x, y])
        ok = len(sub) >= 3 and np.ptp(sub[x]) > 0 and np.ptp(sub[y]) > 0
        r, p = pearsonr(sub[x], sub[y]) if ok else (np.nan, np.nan)
        rows.append({"paradigm": paradigm, "r": float(r), "p": float(p), "n_areas": len(sub)})
    return pd.DataFrame(rows)


def results_area_consistency(results_dir, grid: VoxelGeometry,
                             atlas: LabelVolume) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fig. 3's area consistency from a consistency run's folder: ``(area table, voxel table)``; the area
    table is :func:`paper_area_consistency` of the group probabilistic map on ``grid``. DataError naming
    the voxel table when it lacks the columns."""
    from core.analyses.consistency import read_consistency_voxels

    path, voxels = read_consistency_voxels(results_dir, "the whole-brain comparison")
    if not {"participant", "i", "j", "k", "x", "y", "z"} <= set(voxels.columns):
        raise DataError(path, "needs columns participant, i, j, k, x, y, z")
    return paper_area_consistency(probabilistic_voxels(voxels), grid, atlas), voxels


def raw_area_c_of_run(results_dir, voxels, dataset, pids, *, atlas: LabelVolume,
                      areas: set[str]) -> tuple[pd.DataFrame | None, str]:
    """Raw area C (area, C_area) and where it came from: the consistency run's ``consistency_areas.csv``
    (C_area, the same quantity) when it was made on these participants and covers ``areas``; else
    computed from the dataset (:func:`raw_area_c`; needs at least two paradigms, else ``(None, "")``)."""
    if results_dir is not None and voxels is not None:
        path = Path(results_dir) / "consistency_areas.csv"
        if path.is_file():
            table = pd.read_csv(path)
            if {"area", "C_area"} <= set(table.columns) and np.isfinite(table["C_area"]).any():
                same = set(voxels["participant"].astype(str)) == {str(p) for p in pids}
                if same and areas <= set(table["area"].astype(str)):
                    return table[["area", "C_area"]].assign(area=table["area"].astype(str)), path.name
    if len(dataset.paradigms) < 2:
        return None, ""
    return raw_area_c(dataset, pids, atlas)[["area", "C_area"]], "computed from the responses"
