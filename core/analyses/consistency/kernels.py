"""Permutation kernels for semantic consistency, one per array backend (numba, numpy, torch).

Maths. With each paradigm's concept profile z-scored over the n concepts (population SD, so
``sum_c z_p[c]^2 = n``), the Pearson r between paradigms a and b is ``sum_c z_a[c] z_b[c] / n`` and,
for P paradigms, ``S = sum_c (sum_p z_p[c])^2 = P n + 2 sum_{a<b} sum_c z_a[c] z_b[c]``, so the
consistency (mean pairwise r) is ``C = (S / n - P) / (P (P - 1))``, an increasing function of S. A
permutation shuffles every paradigm over concepts; renaming concepts by the inverse of paradigm 0's
shuffle leaves every pairwise sum unchanged, so one permutation costs ``P - 1`` row gathers, P - 1
additions and one squared accumulation per concept and voxel (about n P multiply-adds).

Every kernel takes the z-scored profiles ``z`` float32 (P, n, V) (zeros at invalid voxels), the
relative permutations ``rel`` int32 (K, P, n) from :func:`core.stats.permutation.relative_permutations`
(row 0 the identity), and returns S, never C, so that the observed value and the permuted values are
computed by the same code and compared exactly.
"""

from __future__ import annotations

import numpy as np

from core.backend import ArrayNamespace
from core.progress import sigint_deferred

PERM_CHUNK_BYTES = 4 << 20  # numpy/torch on CPU: bytes of one gathered (K_chunk, n, V) block (cache-sized)
GPU_CHUNK_BYTES = 512 << 20  # torch GPU: same, on the device


def consistency_from_sums(s: np.ndarray, n: int, n_paradigms: int) -> np.ndarray:
    """C = (S / n - P) / (P (P - 1)), in float64."""
    return (np.asarray(s, dtype=np.float64) / n - n_paradigms) / (n_paradigms * (n_paradigms - 1))


def observed_sums(z: np.ndarray, xp: ArrayNamespace) -> np.ndarray:
    """S for the identity permutation, float32 (V,), computed by ``xp``'s own kernel."""
    identity = np.broadcast_to(np.arange(z.shape[1], dtype=np.int32), (1, z.shape[0], z.shape[1]))
    return permuted_sums(z, np.ascontiguousarray(identity), xp)[0]


def permuted_sums(z: np.ndarray, rel: np.ndarray, xp: ArrayNamespace) -> np.ndarray:
    """The full null of S: float32 (K, V). Memory K x V x 4 bytes: for a few voxels (voxel cards, tests)."""
    if xp.name == "numba":
        with sigint_deferred():
            from core.analyses.consistency._numba import perm_sums

            z, rel = np.ascontiguousarray(z, dtype=np.float32), np.ascontiguousarray(rel, dtype=np.int32)
            return perm_sums(z, rel)
    out = np.empty((rel.shape[0], z.shape[2]), dtype=np.float32)
    for k0, k1, block in _gathered_sums(z, rel, xp):
        out[k0:k1] = xp.to_numpy(block)
    return out


def counts_and_max(
    z: np.ndarray, rel: np.ndarray, valid: np.ndarray, xp: ArrayNamespace
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The observed S float32 (V,), exceedance counts ``#{S_perm >= S_obs}`` int64 (V,), and the
    per-permutation maximum of S over the valid voxels, float32 (K,) (``-inf`` when no voxel is valid)."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    rel = np.ascontiguousarray(rel, dtype=np.int32)
    valid = np.ascontiguousarray(valid, dtype=np.bool_)
    if xp.name == "numba":
        with sigint_deferred():
            from core.analyses.consistency._numba import perm_counts_max

            return perm_counts_max(z, rel, valid)
    s_obs = observed_sums(z, xp)
    s_x, valid_x = xp.from_numpy(s_obs), xp.from_numpy(valid)
    counts = xp.from_numpy(np.zeros(z.shape[2], dtype=np.int64))
    best = np.full(rel.shape[0], -np.inf, dtype=np.float32)
    any_valid = bool(valid.any())
    for k0, k1, block in _gathered_sums(z, rel, xp):
        counts += ((block >= s_x) & valid_x).sum(0)
        if any_valid:
            best[k0:k1] = xp.to_numpy(xp.amax(block[:, valid_x], 1))
    return s_obs, xp.to_numpy(counts).astype(np.int64), best


def _perm_chunk(n: int, n_vox: int, device: str) -> int:
    budget = GPU_CHUNK_BYTES if device != "cpu" else PERM_CHUNK_BYTES
    return max(1, budget // max(1, n * n_vox * 4))


def _gathered_sums(z: np.ndarray, rel: np.ndarray, xp: ArrayNamespace):
    """Yield (k0, k1, S block (k1 - k0, V)) computed by gathering rows, on ``xp`` (numpy or torch)."""
    n_par, n, n_vox = z.shape
    step = _perm_chunk(n, n_vox, xp.device)
    zx, relx = xp.from_numpy(np.asarray(z)), xp.index_array(rel)
    with xp.no_grad():
        for k0 in range(0, rel.shape[0], step):
            k1 = min(rel.shape[0], k0 + step)
            shape = (k1 - k0, n, n_vox)
            w = xp.take_rows(zx[0], relx[k0:k1, 0].reshape(-1)).reshape(shape)
            for p in range(1, n_par):
                w += xp.take_rows(zx[p], relx[k0:k1, p].reshape(-1)).reshape(shape)
            yield k0, k1, xp.square_(w).sum(1)
