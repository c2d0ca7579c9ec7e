"""Compiled CPU kernels (numba) for the consistency permutation test. Imported only when the numba
backend is used; see :mod:`core.analyses.consistency.kernels` for the maths.

Each parallel task copies a block of ``BLOCK`` voxels of the z-scored profiles (P x n x BLOCK float32,
276 KB for 3 x 180 x 128) into a private buffer that stays in the core's L2 cache, then runs every
permutation over it: for each concept c, ``w = sum_p z_p[rel_p(c)]`` and ``S += w * w`` over the block's
voxels (a contiguous, vectorised inner loop).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 128  # voxels per parallel task


@njit(cache=True, nogil=True)
def _block_sums(loc, rel, k, m, acc):  # pragma: no cover - compiled
    n_par, n = loc.shape[0], loc.shape[1]
    acc[:] = 0.0
    if n_par == 3:
        for c in range(n):
            i1 = rel[k, 1, c]
            i2 = rel[k, 2, c]
            for v in range(m):
                w = loc[0, c, v] + loc[1, i1, v] + loc[2, i2, v]
                acc[v] += w * w
    else:
        w = np.empty(m, np.float32)
        for c in range(n):
            for v in range(m):
                w[v] = loc[0, c, v]
            for p in range(1, n_par):
                ip = rel[k, p, c]
                for v in range(m):
                    w[v] += loc[p, ip, v]
            for v in range(m):
                acc[v] += w[v] * w[v]


@njit(cache=True, nogil=True)
def _identity_sums(loc, m, acc):  # pragma: no cover - compiled
    n_par, n = loc.shape[0], loc.shape[1]
    acc[:] = 0.0
    w = np.empty(m, np.float32)
    for c in range(n):
        for v in range(m):
            w[v] = loc[0, c, v]
        for p in range(1, n_par):
            for v in range(m):
                w[v] += loc[p, c, v]
        for v in range(m):
            acc[v] += w[v] * w[v]


@njit(cache=True, nogil=True)
def _load_block(z, v0, m):  # pragma: no cover - compiled
    n_par, n = z.shape[0], z.shape[1]
    loc = np.empty((n_par, n, m), np.float32)
    for p in range(n_par):
        for c in range(n):
            for v in range(m):
                loc[p, c, v] = z[p, c, v0 + v]
    return loc


@njit(parallel=True, cache=True, nogil=True)
def perm_counts_max(z, rel, valid):  # pragma: no cover - compiled
    """Observed S float32 (V,) (identity permutation, same code path), counts int64 (V,) of
    S_perm >= S_obs, and the max over valid voxels of S_perm, float32 (K,): one parallel region."""
    n_vox = z.shape[2]
    n_perm = rel.shape[0]
    n_blocks = (n_vox + BLOCK - 1) // BLOCK
    s_obs = np.empty(n_vox, np.float32)
    counts = np.zeros(n_vox, np.int64)
    block_max = np.full((n_blocks, n_perm), -np.inf, np.float32)
    for b in prange(n_blocks):
        v0 = b * BLOCK
        m = min(n_vox, v0 + BLOCK) - v0
        loc = _load_block(z, v0, m)
        acc = np.empty(m, np.float32)
        _identity_sums(loc, m, acc)
        for v in range(m):
            s_obs[v0 + v] = acc[v]
        for k in range(n_perm):
            _block_sums(loc, rel, k, m, acc)
            best = -np.inf
            for v in range(m):
                if valid[v0 + v]:
                    s = acc[v]
                    if s >= s_obs[v0 + v]:
                        counts[v0 + v] += 1
                    if s > best:
                        best = s
            block_max[b, k] = best
    out = np.full(n_perm, -np.inf, np.float32)
    for b in range(n_blocks):
        for k in range(n_perm):
            if block_max[b, k] > out[k]:
                out[k] = block_max[b, k]
    return s_obs, counts, out


@njit(parallel=True, cache=True, nogil=True)
def perm_sums(z, rel):  # pragma: no cover - compiled
    """The full null: S_perm float32 (K, V) (for a few voxels only)."""
    n_vox = z.shape[2]
    n_perm = rel.shape[0]
    n_blocks = (n_vox + BLOCK - 1) // BLOCK
    out = np.empty((n_perm, n_vox), np.float32)
    for b in prange(n_blocks):
        v0 = b * BLOCK
        m = min(n_vox, v0 + BLOCK) - v0
        loc = _load_block(z, v0, m)
        acc = np.empty(m, np.float32)
        for k in range(n_perm):
            _block_sums(loc, rel, k, m, acc)
            for v in range(m):
                out[k, v0 + v] = acc[v]
    return out
