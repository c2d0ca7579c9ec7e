"""Compiled CPU kernel (numba) for the exact-LOO ridge of :mod:`core.analyses.encoding.ridge`: the per-alpha
scoring of one chunk of targets fused into one pass over the score GEMM's output.

Without it the scoring takes four numpy passes over the (A_u n, T_chunk) buffer (a temporary for the
complement term, the addition, the square and the sum over items), each streaming the whole buffer
through memory; here every value is read once, the complement term added, squared and summed in
float64, alphas in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def loo_square_sums(N, n, inv_d, R0, out):  # pragma: no cover - compiled
    """``out[a, t] = sum_i (N[a n + i, t] + inv_d[a, i] R0[i, t])^2`` (float64 accumulation).

    N : (A_u n, Tc) float32/64 GEMM output; inv_d : (A_u, n) or (0, 0) when there is no complement
    term (R0 then unused, may be (0, 0)); out : (A_u, Tc) float64, overwritten.
    """
    n_alpha, n_t = out.shape
    has_complement = inv_d.shape[0] > 0
    for a in prange(n_alpha):
        acc = np.zeros(n_t, np.float64)
        for i in range(n):
            row = N[a * n + i]
            if has_complement:
                d = np.float64(inv_d[a, i])
                res = R0[i]
                for t in range(n_t):
                    v = np.float64(row[t]) + d * np.float64(res[t])
                    acc[t] += v * v
            else:
                for t in range(n_t):
                    v = np.float64(row[t])
                    acc[t] += v * v
        out[a] = acc
