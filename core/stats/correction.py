"""Multiple-comparison corrections over voxels: Benjamini-Hochberg FDR and max-statistic FWE.

NaN p-values (voxels without a statistic) are left out of every correction and are never significant.
"""

from __future__ import annotations

import numpy as np

from core.errors import ParameterError
from core.stats.permutation import exceedance_counts, p_from_counts

CORRECTIONS = ("none", "fdr_bh", "maxstat")


def fdr_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), float64, NaN where ``p`` is NaN.

    Same values as ``scipy.stats.false_discovery_control(p, method="bh")`` on the finite entries.
    With permutation p-values the smallest p is ``1 / (K + 1)``, so BH rejects nothing unless at least
    ``m / ((K + 1) alpha)`` of the m tests reach it: large maps need many permutations.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    values = p[finite]
    m = values.size
    if m == 0:
        return q
    order = np.argsort(values)
    ranked = values[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(ranked, 1.0)
    q[finite] = adjusted
    return q


def maxstat_p(statistic: np.ndarray, max_null: np.ndarray) -> np.ndarray:
    """Family-wise error p-values from the max-statistic null (Westfall-Young single step).

    ``max_null`` : float (K,), the maximum over voxels of the permuted statistic in each permutation.
    Returns ``(1 + #{max_null >= statistic}) / (1 + K)``, NaN where ``statistic`` is NaN.
    """
    max_null = np.asarray(max_null)
    stat = np.asarray(statistic, dtype=np.float64)
    p = p_from_counts(exceedance_counts(stat, max_null), len(max_null))
    p[np.isnan(stat)] = np.nan
    return p


def corrected_p(
    p: np.ndarray,
    correction: str = "none",
    statistic: np.ndarray | None = None,
    max_null: np.ndarray | None = None,
) -> np.ndarray:
    """The p-values a correction compares with alpha: raw p, BH q-values, or max-stat FWE p."""
    if correction not in CORRECTIONS:
        raise ParameterError(f"correction {correction!r} is not one of {', '.join(CORRECTIONS)}")
    if correction == "none":
        return np.asarray(p, dtype=np.float64)
    if correction == "fdr_bh":
        return fdr_bh(p)
    if statistic is None or max_null is None:
        raise ParameterError("correction 'maxstat' needs the statistic and its max-statistic null")
    return maxstat_p(statistic, max_null)


def significant(
    p: np.ndarray,
    alpha: float = 0.05,
    correction: str = "none",
    statistic: np.ndarray | None = None,
    max_null: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean significance: corrected p <= alpha (NaN -> False).

    ``p <= alpha`` reproduces the paper's rule "fewer than round(alpha * n_permutations) permutations at
    or above the true value" for n_permutations = 1000.
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    adjusted = corrected_p(p, correction, statistic, max_null)
    with np.errstate(invalid="ignore"):
        return np.asarray(adjusted <= alpha) & np.isfinite(adjusted)
