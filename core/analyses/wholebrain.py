"""Whole-brain area analysis (method.md §3.6, Fig. 3).

Per Glasser area: mean (± SEM) of fold-averaged encoding r over all (participant x model) entries;
area consistency = the mean of the group probabilistic consistency map (fraction of participants whose
voxel is significant, in both halves where split results exist) over the area's voxels; the statistic
is the Pearson correlation across areas between the two, per paradigm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from core.errors import DataError


def area_predictivity(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (paradigm, area): mean_r, sem_r, n over (participant x model) fold-mean r.

    scores : rows with columns participant, model, target (area name), r, fold[, paradigm].
    """
    keys = [k for k in ("paradigm",) if k in scores] + ["target"]
    per_entry = scores.groupby(keys + ["participant", "model"], as_index=False)["r"].mean()
    g = per_entry.groupby(keys)["r"]
    out = g.agg(mean_r="mean", n="count").reset_index()
    out["sem_r"] = g.sem().to_numpy()
    return out.rename(columns={"target": "area"})


def probabilistic_map(consistency_voxels: pd.DataFrame) -> pd.DataFrame:
    """Group probabilistic map from a consistency_voxels.csv table: (i, j, k, x, y, z, p_sig).

    Uses ``replicated`` (significant in both halves, the paper's criterion) where present, else
    ``significant``.
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


def area_consistency(prob: pd.DataFrame, area_of_voxel: np.ndarray, names: dict[int, str]) -> pd.DataFrame:
    """Mean probabilistic consistency per area: (area, consistency, n_voxels).

    area_of_voxel : int label per row of ``prob`` (0 = none); names : label -> area name.
    """
    labels = np.asarray(area_of_voxel)
    frame = pd.DataFrame({"label": labels, "p": prob["p_sig"].to_numpy()})
    frame = frame[frame["label"] != 0]
    g = frame.groupby("label")["p"].agg(["mean", "size"]).reset_index()
    return pd.DataFrame({"area": [names.get(int(lab), str(lab)) for lab in g["label"]],
                         "consistency": g["mean"].to_numpy(), "n_voxels": g["size"].to_numpy()})


def wholebrain_table(predictivity: pd.DataFrame, consistency: pd.DataFrame) -> pd.DataFrame:
    """Join predictivity (paradigm, area, mean_r, sem_r, n) with area consistency (area, consistency)."""
    return predictivity.merge(consistency, on="area", how="inner")


def wholebrain_correlation(table: pd.DataFrame) -> pd.DataFrame:
    """Pearson r across areas between consistency and mean_r, per paradigm: (paradigm, r, p, n_areas)."""
    rows = []
    groups = table.groupby("paradigm") if "paradigm" in table else [("all", table)]
    for paradigm, sub in groups:
        sub = sub.dropna(subset=["consistency", "mean_r"])
        r, p = (pearsonr(sub["consistency"], sub["mean_r"]) if len(sub) >= 3 else (np.nan, np.nan))
        rows.append({"paradigm": paradigm, "r": float(r), "p": float(p), "n_areas": len(sub)})
    return pd.DataFrame(rows)
