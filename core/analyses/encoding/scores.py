"""Scores of cross-validated predictions: Pearson r per target column, and the mean over folds."""

from __future__ import annotations

import numpy as np


def pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching columns of ``a`` and ``b`` (n, T); NaN where either is constant."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    num = np.einsum("ij,ij->j", a, b)
    den = np.sqrt(np.einsum("ij,ij->j", a, a) * np.einsum("ij,ij->j", b, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    r[~(den > 0)] = np.nan
    return r


def fold_mean(r: np.ndarray) -> np.ndarray:
    """Mean over folds (axis 0) skipping NaN folds; NaN where every fold is NaN. float64 (T,)."""
    valid = np.isfinite(r)
    count = valid.sum(axis=0)
    total = np.where(valid, r, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
