"""Semantic consistency C per voxel and its permutation test (method.md §2.1-2.2), on arrays.

For each voxel, C is the mean over the three paradigm pairs of the Pearson correlation, across the 180
concepts, of the paradigm's concept-mean responses. A voxel with a missing concept (NaN row), a non-finite
value or a constant profile in any paradigm gets NaN (the paper requires all 180 concepts).

The permutation test shuffles every paradigm independently over concepts, with the same permutations for
every voxel, and gives ``p = (1 + #{C_perm >= C}) / (1 + n_permutations)``. The kernels
(:mod:`core.analyses.consistency.kernels`) avoid recomputing correlations: see there for the algebra.

Memory: voxels are processed in chunks of ``chunk_voxels``; a chunk holds ``16 P n`` bytes per voxel
(the float32 profiles, the float32 z-scores and float32 temporaries: 71 MB for 8,192 voxels with
P = 3, n = 180), on top of the permutation table (``4 K P n`` bytes, 2.2 MB for K = 1000) and the
per-voxel outputs (about 25 bytes per voxel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.analyses.consistency.kernels import (
    consistency_from_sums,
    counts_and_max,
    permuted_sums,
)
from core.backend import chunk_size, get_backend
from core.errors import ParameterError
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress
from core.stats.permutation import (
    exceedance_counts,
    make_permutations,
    p_from_counts,
    relative_permutations,
    seeded_relative_permutations,
)

MAX_CHUNK_VOXELS = 8192
ProfileSource = np.ndarray | Callable[[int, int], np.ndarray]


@dataclass(eq=False)
class PermutationTest:
    """Consistency and its permutation test for V voxels.

    C : float32 (V,) mean pairwise Pearson r (NaN for invalid voxels).
    p : float64 (V,) one-sided permutation p-value (NaN for invalid voxels).
    counts : int64 (V,) permutations with C_perm >= C (0 for invalid voxels).
    max_null : float64 (K,) max over valid voxels of C_perm in each permutation (for max-stat FWE).
    """

    C: np.ndarray
    p: np.ndarray
    counts: np.ndarray
    max_null: np.ndarray
    n_permutations: int
    seed: int | None
    backend: str

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.C)


def zscore_profiles(means: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score each paradigm's concept profile per voxel.

    means : float (P, n, V) concept means.
    Returns ``z`` float32 (P, n, V) (population SD; zeros at invalid voxels), ``valid`` bool (V,), and
    ``C`` float32 (V,) (mean pairwise Pearson r; NaN where invalid).

    Works in float32 with float64 sums; voxels whose mean is over 1000 SDs from zero (where float32
    centring would lose digits) are redone in float64.
    """
    x = np.array(means, dtype=np.float32)  # a private working copy
    if x.ndim != 3:
        raise ValueError(f"expected concept means of shape (P, n, V), got {x.shape}")
    n_par, n = x.shape[:2]
    if n_par < 2 or n < 3:
        raise ParameterError(f"consistency needs at least 2 paradigms and 3 concepts, got {n_par} x {n}")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        finite = np.isfinite(x).all(axis=(0, 1))
        mean = x.mean(axis=1, keepdims=True, dtype=np.float64)
        x -= mean.astype(np.float32)
        sd = np.sqrt((x * x).sum(axis=1, keepdims=True, dtype=np.float64) / n)
        valid = finite & ~((sd <= 1e-6 * np.abs(mean)) | (sd == 0)).any(axis=(0, 1))
        x /= np.where(valid, sd, 1.0).astype(np.float32)
        redo = valid & (np.abs(mean) > 1e3 * sd).any(axis=(0, 1))
    x[:, :, ~valid] = 0.0
    if redo.any():
        x[:, :, redo] = _zscore64(np.asarray(means)[:, :, redo])
    pair_sum = np.zeros(x.shape[2])
    for a in range(n_par):
        for b in range(a + 1, n_par):
            pair_sum += (x[a] * x[b]).sum(axis=0, dtype=np.float64)
    c = pair_sum / (n * n_par * (n_par - 1) / 2)
    c[~valid] = np.nan
    return x, valid, c.astype(np.float32)


def _zscore64(means: np.ndarray) -> np.ndarray:
    """Float64 z-scores (P, n, m) of voxels already known to be valid."""
    x = np.array(means, dtype=np.float64)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.sqrt((x * x).mean(axis=1, keepdims=True))
    return x.astype(np.float32)


def consistency(
    means: ProfileSource, n_voxels: int | None = None, chunk_voxels: int | None = None
) -> np.ndarray:
    """C per voxel, float32 (V,): the mean of the pairwise Pearson r across concepts (method.md §2.1).

    means : float (P, n, V) concept means, or a function ``(start, stop) -> (P, n, stop - start)`` with
        ``n_voxels`` given.
    """
    out = None
    for start, stop, block in _chunks(means, n_voxels, chunk_voxels):
        c = zscore_profiles(block)[2]
        if out is None:
            out = np.empty(_n_voxels(means, n_voxels), dtype=np.float32)
        out[start:stop] = c
    return out if out is not None else np.empty(0, dtype=np.float32)


def permutation_test(
    means: ProfileSource,
    n_permutations: int = 1000,
    seed: int | None = 0,
    *,
    n_voxels: int | None = None,
    backend: str = "auto",
    device: str = "cpu",
    chunk_voxels: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> PermutationTest:
    """C and its permutation p-value for every voxel, plus the max-statistic null.

    means : float (P, n, V) concept means, or ``(start, stop) -> (P, n, stop - start)`` with ``n_voxels``.
    n_permutations, seed : the permutation table is :func:`core.stats.permutation.make_permutations`
        ``(n, P, n_permutations, seed)``, shared by every voxel.
    backend : ``auto`` | ``numba`` | ``numpy`` | ``torch`` (see :func:`core.backend.select_backend`).
    device : ``cpu`` or a torch device (``cuda``) for the torch backend.
    """
    total = _n_voxels(means, n_voxels)
    if callable(means):
        step = chunk_voxels or MAX_CHUNK_VOXELS
        load = lambda a, b: (means(a, b),)  # noqa: E731
    else:
        step = chunk_voxels or default_chunk(*np.shape(means)[:2])
        load = lambda a, b: (means[:, :, a:b],)  # noqa: E731
    return permutation_tests(load, total, 1, n_permutations, seed, backend=backend, device=device,
                             chunk_voxels=step, progress=progress, cancel=cancel)[0]  # fmt: skip


def permutation_tests(
    load: Callable[[int, int], Sequence[np.ndarray]],
    n_voxels: int,
    n_sets: int,
    n_permutations: int = 1000,
    seed: int | None = 0,
    *,
    backend: str = "auto",
    device: str = "cpu",
    chunk_voxels: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[PermutationTest]:
    """Several permutation tests on the same voxels, run chunk by chunk in lockstep (e.g. all trials and
    the two split halves, whose concept means come from one read of the responses).

    load : ``(start, stop) -> n_sets arrays (P, n, stop - start)`` of concept means.
    The same permutation table (``seed``) serves every set. See :func:`permutation_test`.
    """
    xp = get_backend(backend, device)
    backend = xp.name
    step = chunk_voxels or MAX_CHUNK_VOXELS
    counts = np.zeros((n_sets, n_voxels), dtype=np.int64)
    c_all = np.full((n_sets, n_voxels), np.nan, dtype=np.float32)
    best = np.full((n_sets, n_permutations), -np.inf, dtype=np.float32)
    rel = None
    n_par = n = 0
    for start in range(0, n_voxels, step):
        check_cancel(cancel)
        stop = min(n_voxels, start + step)
        blocks = load(start, stop)
        if len(blocks) != n_sets:
            raise ValueError(f"load returned {len(blocks)} arrays, expected {n_sets}")
        for i, block in enumerate(blocks):
            z, valid, c = zscore_profiles(block)
            if rel is None:
                n_par, n = z.shape[:2]
                rel = relative_permutations(make_permutations(n, n_par, n_permutations, seed))
            _s_obs, chunk_counts, chunk_best = counts_and_max(z, rel, valid, xp)
            counts[i, start:stop] = chunk_counts
            c_all[i, start:stop] = c
            np.maximum(best[i], chunk_best, out=best[i])
        progress(stop / max(n_voxels, 1), f"permutation test: {stop:,}/{n_voxels:,} voxels")
    check_cancel(cancel)
    results = []
    for i in range(n_sets):
        valid_all = np.isfinite(c_all[i])
        counts[i, ~valid_all] = 0
        p = p_from_counts(counts[i], n_permutations)
        p[~valid_all] = np.nan
        max_null = np.full(n_permutations, np.nan)
        if rel is not None:
            finite = np.isfinite(best[i])
            max_null[finite] = consistency_from_sums(best[i][finite], n, n_par)
        results.append(PermutationTest(c_all[i], p, counts[i], max_null, n_permutations, seed, backend))
    return results


def voxel_null(
    profiles: np.ndarray, n_permutations: int = 1000, seed: int | None = 0, backend: str = "auto"
) -> np.ndarray:
    """The full permutation null of C for a few voxels: float64 (K,) for profiles (P, n), or (K, m) for
    (P, n, m). Uses the same permutations as :func:`permutation_test` with the same seed, so the p-value
    ``(1 + #{null >= C}) / (1 + K)`` matches the map (the GUI's voxel card draws this histogram).
    NaN for an invalid voxel."""
    x = np.asarray(profiles, dtype=np.float64)
    single = x.ndim == 2
    x = x[:, :, None] if single else x
    xp = get_backend(backend, "cpu")
    z, valid, _c = zscore_profiles(x)
    if isinstance(seed, (int, np.integer)):
        rel = seeded_relative_permutations(z.shape[1], z.shape[0], n_permutations, int(seed))
    else:
        rel = relative_permutations(make_permutations(z.shape[1], z.shape[0], n_permutations, seed))
    null = consistency_from_sums(permuted_sums(z, rel, xp), z.shape[1], z.shape[0])
    null[:, ~valid] = np.nan
    return null[:, 0] if single else null


def voxel_test(
    profiles: np.ndarray, n_permutations: int = 1000, seed: int | None = 0, backend: str = "auto"
) -> tuple[float, np.ndarray, float]:
    """One voxel's test, as the map computes it: (C, the permutation null float64 (K,), the one-sided
    p = (1 + #{null >= C}) / (1 + K)) for concept profiles (P, n). C and p are NaN for an invalid voxel."""
    x = np.asarray(profiles, dtype=np.float64)
    c = float(consistency(x[:, :, None])[0])
    null = voxel_null(x, n_permutations, seed, backend)
    p = float(p_from_counts(exceedance_counts(c, null), n_permutations)) if np.isfinite(c) else float("nan")
    return c, null, p


def _n_voxels(means: ProfileSource, n_voxels: int | None) -> int:
    if callable(means):
        if n_voxels is None:
            raise ValueError("n_voxels is required when means is a function")
        return int(n_voxels)
    return int(np.shape(means)[2])


def default_chunk(n_paradigms: int, n_concepts: int) -> int:
    """Voxels per chunk: about 5% of free memory at 16 P n bytes per voxel, at most 8,192."""
    return chunk_size(16 * n_paradigms * n_concepts, fraction=0.05, minimum=128, maximum=MAX_CHUNK_VOXELS)


def _chunks(means: ProfileSource, n_voxels: int | None, chunk_voxels: int | None):
    total = _n_voxels(means, n_voxels)
    if callable(means):
        step = chunk_voxels or MAX_CHUNK_VOXELS
    else:
        step = chunk_voxels or default_chunk(*np.shape(means)[:2])
    for start in range(0, total, step):
        stop = min(total, start + step)
        yield start, stop, means(start, stop) if callable(means) else means[:, :, start:stop]
