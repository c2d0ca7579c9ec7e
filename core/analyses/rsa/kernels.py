"""Null statistics of independently drawn concept relabelings, one kernel per array backend.

For unit scores ``a`` of brain RDMs (R, M) and ``b`` of model RDMs (K, M) (ranks or values, computed
once, :func:`core.analyses.rsa.rdm.unit_scores`) and permutations ``pi_q`` (P, n), every kernel returns
``null[r, q, k] = sum_m a_r[pi_q(i_m), pi_q(j_m)] b_k[m]`` over the condensed pairs m = (i_m, j_m):

``numba`` (CPU default)
    Few models (K <= :data:`FUSED_MAX_MODELS`): one compiled pass per permutation, ROI and model that
    reads the brain's square scores at the relabelled pairs and accumulates in float64, with no
    gathered copy (10,000 permutations of a 180 x 180 RDM: ~0.2 s on 2 cores). More models: a
    compiled gather of the relabelled brain scores (float32, ~64 MB blocks) and one BLAS product per
    block with all K models, as the ``product`` scheme does.
``numpy`` and ``torch``
    One code path on the array namespace (:class:`core.backend.ArrayNamespace`): the same gather by
    fancy indexing, then one product per block (numpy: BLAS on the CPU; torch: any device, blocks of
    about 512 MB on a GPU), float32.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from core.analyses.rsa.rdm import square
from core.backend import ArrayNamespace
from core.progress import CancelToken, ProgressFn, check_cancel

FUSED_MAX_MODELS = 4  # beyond this, gather + one BLAS product per block is faster
CHUNK_BYTES = 64 << 20  # bound on each temporary gather block on the CPU (float32)
GPU_CHUNK_BYTES = 512 << 20  # the same on a GPU
FUSED_CHUNK = 2500  # permutations per compiled call (progress and cancel between calls)


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a declared dependency
        return None
    return ThreadpoolController()


def single_thread_blas(work: float):
    """BLAS limited to one thread for ``work`` multiply-adds or more: the null's products are short and
    wide (e.g. 100 x 16,110 x 100) and a multi-threaded OpenBLAS spends more on waking and spinning
    threads than it saves (measured on a loaded 2-core machine: 1.0 s with 2 threads vs 0.005-0.025 s
    with one). Small problems skip the (millisecond) thread-pool inspection."""
    controller = _blas_controller() if work >= 1e7 else None
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def square_scores(a: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Square (R, n, n) forms of condensed scores (R, M), zero diagonal, C-contiguous."""
    return np.ascontiguousarray(np.stack([square(x) for x in np.asarray(a, dtype=dtype)]))


def gather_numpy(a_sq: np.ndarray, perms: np.ndarray, iu: np.ndarray, ju: np.ndarray) -> np.ndarray:
    """Condensed scores of every RDM in ``a_sq`` (R, n, n) under every permutation (P, n):
    (R, P, M) in ``a_sq``'s dtype (numpy fancy indexing)."""
    n = a_sq.shape[-1]
    flat = perms[:, iu].astype(np.int64) * n + perms[:, ju]
    return np.stack([sq.ravel()[flat] for sq in a_sq])


def independent_null(a: np.ndarray, b: np.ndarray, perms: np.ndarray, xp: ArrayNamespace,
                     progress: ProgressFn, cancel: CancelToken | None) -> np.ndarray:
    """Null statistics for independent permutations.

    Parameters
    ----------
    a : float64 (R, M) brain unit scores; b : float64 (K, M) model unit scores.
    perms : int (P, n) relabelings (row = new order of the concepts).
    xp : the array namespace (:func:`core.backend.get_backend`): ``numba`` runs the compiled gathers,
        ``numpy`` and ``torch`` (any device) one gather and one product per block of permutations.

    Returns
    -------
    float32 (R, P, K).
    """
    perms = np.ascontiguousarray(perms, dtype=np.int32)
    r, k, big_n = a.shape[0], b.shape[0], perms.shape[0]
    out = np.empty((r, big_n, k), dtype=np.float32)
    if xp.name == "numba":
        return _compiled_null(a, b, perms, out, progress, cancel)
    n, m = perms.shape[1], a.shape[1]
    a_flat = xp.asarray(square_scores(a).reshape(r, n * n))
    b_t = xp.asarray(np.asarray(b, dtype=np.float32).T)  # (M, K)
    iu, ju = (xp.index_array(x) for x in np.triu_indices(n, k=1))
    budget = GPU_CHUNK_BYTES if xp.device != "cpu" else CHUNK_BYTES
    chunk = max(1, budget // (m * (4 * r + 24)))  # float32 gathers + three int64 index temporaries
    with single_thread_blas(float(r) * k * big_n * m) if not xp.is_torch else contextlib.nullcontext(), \
            xp.no_grad():
        for start in range(0, big_n, chunk):
            check_cancel(cancel)
            p = xp.index_array(perms[start:start + chunk])
            flat = p[:, iu] * n + p[:, ju]  # (c, M)
            block = a_flat[:, flat]  # (R, c, M)
            out[:, start:start + p.shape[0]] = xp.to_numpy(xp.matmul(block, b_t))
            progress(min(1.0, (start + chunk) / big_n), "permutations")
    return out


def _compiled_null(a, b, perms, out, progress, cancel) -> np.ndarray:
    """The numba path: fused gather + dot for a few models, else a compiled gather and a BLAS product."""
    from core.analyses.rsa._numba import gather_scores, null_dots
    from core.progress import sigint_deferred

    r, k, big_n = a.shape[0], b.shape[0], perms.shape[0]
    if k <= FUSED_MAX_MODELS:
        a_sq = square_scores(a, np.float64)
        b64 = np.ascontiguousarray(b, dtype=np.float64)
        for start in range(0, big_n, FUSED_CHUNK):
            check_cancel(cancel)
            stop = min(big_n, start + FUSED_CHUNK)
            block = np.empty((r, stop - start, k), dtype=np.float32)
            with sigint_deferred():
                null_dots(a_sq, b64, perms[start:stop], block)
            out[:, start:stop] = block
            progress(stop / big_n, "permutations")
        return out
    a_sq = square_scores(a)
    b32 = np.ascontiguousarray(np.asarray(b, dtype=np.float32).T)  # (M, K)
    m = b.shape[1]
    chunk = max(1, CHUNK_BYTES // (4 * m * r))
    buffer = np.empty((r, min(chunk, big_n), m), dtype=np.float32)
    with single_thread_blas(float(r) * k * big_n * m):
        for start in range(0, big_n, chunk):
            check_cancel(cancel)
            block_perms = perms[start:start + chunk]
            block = buffer[:, :block_perms.shape[0]]
            with sigint_deferred():
                gather_scores(a_sq, block_perms, block)
            np.matmul(block, b32, out=out[:, start:start + block_perms.shape[0]])
            progress(min(1.0, (start + chunk) / big_n), "permutations")
    return out
