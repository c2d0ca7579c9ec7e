"""Permutation tests: reproducible permutation tables and one-sided p-values from exceedance counts.

The convention everywhere is the paper's: in each permutation every group (paradigm) is shuffled
independently over the items (concepts); the same permutations serve every voxel; the one-sided p-value
is ``p = (1 + #{T_perm >= T}) / (1 + n_permutations)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.errors import ParameterError


def make_permutations(n_items: int, n_groups: int, n_permutations: int, seed: int | None = 0) -> np.ndarray:
    """Independent random permutations: int32 (n_permutations, n_groups, n_items).

    Entry ``[k, g]`` is the k-th permutation of group g's items (a shuffle of ``0..n_items-1``), drawn with
    ``numpy.random.default_rng(seed)``; the same seed gives the same table on every machine.
    """
    if n_permutations < 1:
        raise ParameterError(f"n_permutations must be at least 1, got {n_permutations}")
    if n_items < 2 or n_groups < 1:
        raise ParameterError(f"need at least 2 items and 1 group, got {n_items} items, {n_groups} groups")
    rng = np.random.default_rng(seed)
    base = np.broadcast_to(np.arange(n_items, dtype=np.int32), (n_permutations * n_groups, n_items))
    return rng.permuted(base, axis=1).reshape(n_permutations, n_groups, n_items)


def relative_permutations(perms: np.ndarray) -> np.ndarray:
    """Re-express each permutation relative to group 0: int32 (K, G, n) with group 0 the identity.

    Statistics built from sums over items of products of permuted groups
    (``sum_c x_a[pi_a(c)] x_b[pi_b(c)]``) are unchanged when the items are renamed by ``pi_0^-1``, so
    ``rel[k, g] = perms[k, g][argsort(perms[k, 0])]`` gives the same values with one gather fewer.
    """
    perms = np.asarray(perms)
    inverse0 = np.argsort(perms[:, 0, :], axis=1)
    rel = np.take_along_axis(perms, inverse0[:, None, :].repeat(perms.shape[1], axis=1), axis=2)
    return np.ascontiguousarray(rel, dtype=np.int32)


@lru_cache(maxsize=4)
def seeded_relative_permutations(n_items: int, n_groups: int, n_permutations: int, seed: int) -> np.ndarray:
    """``relative_permutations(make_permutations(...))`` for an integer seed, made once per process and
    returned read-only (the voxel card tests every clicked voxel with the same 1000-permutation table:
    drawing it took ~10 of its ~17 ms)."""
    rel = relative_permutations(make_permutations(n_items, n_groups, n_permutations, seed))
    rel.setflags(write=False)
    return rel


def p_from_counts(counts: np.ndarray, n_permutations: int) -> np.ndarray:
    """One-sided permutation p-values ``(1 + counts) / (1 + n_permutations)``, float64."""
    return (1.0 + np.asarray(counts, dtype=np.float64)) / (1.0 + n_permutations)


def exceedance_counts(statistic: np.ndarray, null: np.ndarray) -> np.ndarray:
    """``#{null[k] >= statistic}`` for each statistic, from a 1-D null: int64, same shape as ``statistic``.

    NaN null values never count; a NaN statistic gets the number of finite null values (never significant).
    """
    null = np.asarray(null, dtype=np.float64)
    null = np.sort(null[np.isfinite(null)])
    stat = np.asarray(statistic, dtype=np.float64)
    counts = len(null) - np.searchsorted(null, stat, side="left")
    return np.where(np.isnan(stat), len(null), counts).astype(np.int64)
