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

from core.backend import to_numpy
from core.progress import sigint_deferred

PERM_CHUNK_BYTES = 4 << 20  # numpy/torch on CPU: bytes of one gathered (K_chunk, n, V) block (cache-sized)
GPU_CHUNK_BYTES = 512 << 20  # torch GPU: same, on the device


def consistency_from_sums(s: np.ndarray, n: int, n_paradigms: int) -> np.ndarray:
    """C = (S / n - P) / (P (P - 1)), in float64."""
    return (np.asarray(s, dtype=np.float64) / n - n_paradigms) / (n_paradigms * (n_paradigms - 1))


def observed_sums(z: np.ndarray, backend: str, device: str = "cpu") -> np.ndarray:
    """S for the identity permutation, float32 (V,), computed by ``backend``'s own kernel."""
    identity = np.broadcast_to(np.arange(z.shape[1], dtype=np.int32), (1, z.shape[0], z.shape[1]))
    return permuted_sums(z, np.ascontiguousarray(identity), backend, device)[0]


def permuted_sums(z: np.ndarray, rel: np.ndarray, backend: str, device: str = "cpu") -> np.ndarray:
    """The full null of S: float32 (K, V). Memory K x V x 4 bytes: for a few voxels (voxel cards, tests)."""
    if backend == "numba":
        with sigint_deferred():
            from core.analyses.consistency._numba import perm_sums

            z, rel = np.ascontiguousarray(z, dtype=np.float32), np.ascontiguousarray(rel, dtype=np.int32)
            return perm_sums(z, rel)
    out = np.empty((rel.shape[0], z.shape[2]), dtype=np.float32)
    for k0, k1, block in _gathered_sums(z, rel, backend, device):
        out[k0:k1] = to_numpy(block)
    return out


def counts_and_max(
    z: np.ndarray, rel: np.ndarray, valid: np.ndarray, backend: str, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The observed S float32 (V,), exceedance counts ``#{S_perm >= S_obs}`` int64 (V,), and the
    per-permutation maximum of S over the valid voxels, float32 (K,) (``-inf`` when no voxel is valid)."""
    z = np.ascontiguousarray(z, dtype=np.float32)
    rel = np.ascontiguousarray(rel, dtype=np.int32)
    valid = np.ascontiguousarray(valid, dtype=np.bool_)
    if backend == "numba":
        with sigint_deferred():
            from core.analyses.consistency._numba import perm_counts_max

            return perm_counts_max(z, rel, valid)
    s_obs = observed_sums(z, backend, device)
    if backend == "torch":
        return (s_obs, *_torch_counts_max(z, rel, s_obs, valid, device))
    counts = np.zeros(z.shape[2], dtype=np.int64)
    best = np.full(rel.shape[0], -np.inf, dtype=np.float32)
    for k0, k1, block in _gathered_sums(z, rel, "numpy", "cpu"):
        counts[valid] += (block[:, valid] >= s_obs[valid]).sum(axis=0)
        if valid.any():
            best[k0:k1] = block[:, valid].max(axis=1)
    return s_obs, counts, best


def _perm_chunk(n: int, n_vox: int, device: str) -> int:
    budget = GPU_CHUNK_BYTES if device != "cpu" else PERM_CHUNK_BYTES
    return max(1, budget // max(1, n * n_vox * 4))


def _gathered_sums(z: np.ndarray, rel: np.ndarray, backend: str, device: str):
    """Yield (k0, k1, S block (k1 - k0, V)) computed by gathering rows (numpy or torch)."""
    n_par, n, n_vox = z.shape
    step = _perm_chunk(n, n_vox, device)
    if backend == "torch":
        import torch

        zt = torch.as_tensor(np.ascontiguousarray(z), device=device)
        relt = torch.as_tensor(np.ascontiguousarray(rel, dtype=np.int64), device=device)
        with torch.inference_mode():
            for k0 in range(0, rel.shape[0], step):
                k1 = min(rel.shape[0], k0 + step)
                shape = (k1 - k0, n, n_vox)
                w = torch.index_select(zt[0], 0, relt[k0:k1, 0].reshape(-1)).view(shape)
                for p in range(1, n_par):
                    w += torch.index_select(zt[p], 0, relt[k0:k1, p].reshape(-1)).view(shape)
                yield k0, k1, w.square_().sum(dim=1)
        return
    for k0 in range(0, rel.shape[0], step):
        k1 = min(rel.shape[0], k0 + step)
        w = z[0][rel[k0:k1, 0]]
        for p in range(1, n_par):
            w += z[p][rel[k0:k1, p]]
        np.square(w, out=w)
        yield k0, k1, w.sum(axis=1)


def _torch_counts_max(z, rel, s_obs, valid, device):
    import torch

    s_t = torch.as_tensor(s_obs, device=device)
    valid_t = torch.as_tensor(valid, device=device)
    counts = torch.zeros(z.shape[2], dtype=torch.int64, device=device)
    best = np.full(rel.shape[0], -np.inf, dtype=np.float32)
    any_valid = bool(valid.any())
    for k0, k1, block in _gathered_sums(z, rel, "torch", device):
        counts += ((block >= s_t) & valid_t).sum(dim=0)
        if any_valid:
            best[k0:k1] = to_numpy(block[:, valid_t].amax(dim=1))
    return to_numpy(counts).astype(np.int64), best
