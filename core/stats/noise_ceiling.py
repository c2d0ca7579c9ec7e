"""NSD-style noise ceiling across participants (method.md §3.5; Allen et al. 2022, Tuckute et al. 2024).

For one target with responses ``y[s, i]`` of participant s to item i (n participants)::

    sd_noise  = sqrt(mean_i var_s(y[:, i]))              (ddof = 1: unbiased across participants)
    sd_signal = sqrt(max(var_i(mean_s y[:, i]) - sd_noise^2 / n, 0))   (ddof = 1 across items)
    ncsnr     = sd_signal / sd_noise
    NC        = sqrt(ncsnr^2 / (ncsnr^2 + 1 / n))        (a ceiling on Pearson r, in [0, 1])

Missing responses (NaN: a participant who did not see an item) are skipped: items seen by fewer than 2
participants do not enter sd_noise, items seen by none do not enter sd_signal. ``n`` is the number of
participants, as in the paper's ``analysis_utils.NSD_noiseceiling(data, NC_n=n_participants)`` (both in
the signal-variance correction and in NC; method.md §3.5); without it, the mean number of participants
per item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NoiseCeiling:
    """Per-target noise ceiling: nc (T,) in Pearson-r units, ncsnr (T,), n (T,) effective participants."""

    nc: np.ndarray
    ncsnr: np.ndarray
    n: np.ndarray


def nsd_noise_ceiling(responses: np.ndarray, n: float | np.ndarray | None = None) -> NoiseCeiling:
    """Noise ceiling of ``responses`` float (n_participants, n_items, T) (NaN = missing); ``n``: see the
    module docstring (the paper: ``n_participants``)."""
    y = np.asarray(responses, dtype=np.float64)
    if y.ndim == 2:
        y = y[:, :, None]
    finite = np.isfinite(y)
    v = np.where(finite, y, 0.0)
    return nsd_from_moments(v.sum(axis=0), (v**2).sum(axis=0), finite.sum(axis=0), n)


def nsd_from_moments(total: np.ndarray, total_sq: np.ndarray, count: np.ndarray,
                     n: float | np.ndarray | None = None) -> NoiseCeiling:
    """The same from per-item sums over participants: sum, sum of squares and count, each (n_items, T)
    (lets callers accumulate one participant at a time); ``n`` scalar or (T,)."""
    total = np.asarray(total, np.float64)
    count = np.asarray(count, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        item_mean = total / count
        item_var = (np.asarray(total_sq, np.float64) - total * item_mean) / (count - 1)
        usable = count >= 2
        noise_var = np.where(usable, np.clip(item_var, 0.0, None), 0.0).sum(axis=0) / usable.sum(axis=0)
        seen = count >= 1
        n_eff = np.where(seen, count, 0).sum(axis=0) / seen.sum(axis=0)
        if n is not None:
            n_eff = np.broadcast_to(np.asarray(n, np.float64), n_eff.shape).copy()
        means = np.where(seen, item_mean, np.nan)
        signal_var = np.nanvar(means, axis=0, ddof=1) - noise_var / n_eff
        ncsnr = np.sqrt(np.clip(signal_var, 0.0, None)) / np.sqrt(noise_var)
        nc = np.sqrt(ncsnr**2 / (ncsnr**2 + 1.0 / n_eff))
    return NoiseCeiling(nc, ncsnr, n_eff)


def ceiling_normalise(r: np.ndarray, nc: np.ndarray) -> np.ndarray:
    """r / NC per target (NaN where NC is 0 or undefined)."""
    nc = np.asarray(nc, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(nc > 0, np.asarray(r, dtype=np.float64) / nc, np.nan)
