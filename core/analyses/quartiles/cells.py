"""Quartile decoupling of semantic consistency and language response (method.md §4).

Within each participant and ROI, voxels get marginal quartile bins of consistency (``b_C``) and of
language response (``b_L``), 1..4: the number of the 0, 0.25, 0.5, 0.75 quantiles the value is >=
(voxels with NaN in either metric are dropped). Each of the 4 x 4 cells is an encoding target (the
mean beta over its voxels per item). Statistics, after averaging predictivity over models and folds:
``r_C`` = for each fixed b_L, the Pearson correlation between predictivity and b_C across the
(participant x b_C) rows, then mean ± SEM over the 4 values of b_L; ``r_L`` the same with roles
swapped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

N_BINS = 4
CELL_CODE_BASE = 100  # a cell's code: roi * CELL_CODE_BASE + (b_C - 1) * n_bins + b_L


def encode_cells(roi, b_c, b_l, n: int = N_BINS) -> np.ndarray:
    """The integer code of quartile cells (ROI id, consistency bin 1..n, language bin 1..n), int64."""
    return np.asarray(roi, np.int64) * CELL_CODE_BASE + (np.asarray(b_c, np.int64) - 1) * n + np.asarray(b_l)


def decode_cells(codes, n: int = N_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(roi, b_C, b_L) of cell codes made by :func:`encode_cells`, each int64 like ``codes``."""
    roi, rest = np.divmod(np.asarray(codes, np.int64), CELL_CODE_BASE)
    return roi, (rest - 1) // n + 1, (rest - 1) % n + 1


def quantile_bins(values: np.ndarray, n: int = N_BINS) -> np.ndarray:
    """Bin index 1..n per value (0 for NaN): the count of the 0, 1/n, ..., (n-1)/n quantiles <= value."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    out = np.zeros(values.shape, dtype=np.int64)
    if not finite.any():
        return out
    thresholds = np.quantile(values[finite], np.arange(n) / n)
    out[finite] = (values[finite][:, None] >= thresholds[None, :]).sum(axis=1)
    return out


def quartile_cells(consistency: np.ndarray, language: np.ndarray, roi: np.ndarray,
                   n: int = N_BINS) -> pd.DataFrame:
    """One row per voxel in an ROI with both metrics: voxel, roi, b_C, b_L (bins within each ROI)."""
    consistency = np.asarray(consistency, dtype=np.float64)
    language = np.asarray(language, dtype=np.float64)
    roi = np.asarray(roi)
    frames = []
    for label in np.unique(roi[roi != 0]):
        vox = np.flatnonzero((roi == label) & np.isfinite(consistency) & np.isfinite(language))
        if vox.size == 0:
            continue
        frames.append(pd.DataFrame({
            "voxel": vox,
            "roi": int(label),
            "b_C": quantile_bins(consistency[vox], n),
            "b_L": quantile_bins(language[vox], n),
        }))
    if not frames:
        return pd.DataFrame(columns=["voxel", "roi", "b_C", "b_L"])
    return pd.concat(frames, ignore_index=True)


def cell_labels(cells: pd.DataFrame, n_voxels: int, n: int = N_BINS) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer target label per voxel (0 = none) and the table (label, roi, b_C, b_L, n_voxels)."""
    code = encode_cells(cells["roi"].to_numpy(), cells["b_C"].to_numpy(), cells["b_L"].to_numpy(), n)
    labels = np.zeros(n_voxels, dtype=np.int64)
    labels[cells["voxel"].to_numpy()] = code
    table = (
        cells.assign(label=code)
        .groupby(["label", "roi", "b_C", "b_L"], as_index=False)
        .size()
        .rename(columns={"size": "n_voxels"})
    )
    return labels, table


def _fixed_correlations(frame: pd.DataFrame, vary: str, fixed: str) -> list[float]:
    out = []
    for _, sub in frame.groupby(fixed):
        sub = sub.dropna(subset=["r"])
        if len(sub) >= 3 and sub[vary].nunique() > 1 and sub["r"].nunique() > 1:
            out.append(float(pearsonr(sub[vary], sub["r"])[0]))
    return out


def _mean_sem(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    v = np.asarray(values)
    sem = v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else float("nan")
    return float(v.mean()), float(sem)


def quartile_stats(cells: pd.DataFrame) -> pd.DataFrame:
    """r_C and r_L (mean ± SEM over the held-fixed quartiles) per ROI (and paradigm, if present).

    cells : one row per (participant, roi, b_C, b_L[, paradigm]) with predictivity ``r`` (already
    averaged over models and folds).
    """
    keys = ["roi", "paradigm"] if "paradigm" in cells else ["roi"]
    rows = []
    for key, frame in cells.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        r_c = _fixed_correlations(frame, "b_C", "b_L")
        r_l = _fixed_correlations(frame, "b_L", "b_C")
        (cm, cs), (lm, ls) = _mean_sem(r_c), _mean_sem(r_l)
        rows.append({**dict(zip(keys, key, strict=True)), "r_C_mean": cm, "r_C_sem": cs,
                     "r_L_mean": lm, "r_L_sem": ls, "n_participants": frame["participant"].nunique()})
    return pd.DataFrame(rows)


def cell_means(cells: pd.DataFrame) -> pd.DataFrame:
    """Mean and SEM of r over participants per (roi[, paradigm], b_C, b_L) (Fig. 4 / Fig. 12 values)."""
    keys = [k for k in ("roi", "paradigm") if k in cells] + ["b_C", "b_L"]
    g = cells.dropna(subset=["r"]).groupby(keys)["r"]
    out = g.agg(["mean", "count"]).reset_index()
    out["sem"] = g.sem().to_numpy()
    return out
