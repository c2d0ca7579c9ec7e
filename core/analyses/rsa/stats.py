"""RSA inference: concept-relabelling permutation nulls, p-values, group tests and layer selection.

Relabelling concepts by a permutation ``pi`` maps an RDM ``D`` to ``D o pi = D[pi_i, pi_j]``. For the
Spearman and Pearson comparisons the statistic is the dot product of fixed unit scores (ranks are
computed once, :func:`core.analyses.rsa.rdm.unit_scores`), so ``rho(pi) = <a o pi, b>``.

Two ways to draw ``n_permutations`` relabelings (both seeded):

``independent`` (default)
    ``N`` independent uniform permutations (:func:`core.stats.permutation.make_permutations`): the
    exact Monte Carlo permutation test (each null value and the observed one are exchangeable, so
    ``(1 + #{null >= observed}) / (1 + N)`` is a valid p-value). The relabelled pairs are read from
    the brain scores by a compiled kernel, all ROIs x models of a participant in one pass
    (:mod:`core.analyses.rsa.kernels`: numba on the CPU, torch on a GPU).
``product``
    Draw ``S`` and ``T`` independent uniform permutations ``sigma_s``, ``tau_t`` (``S * T >= N``) and use
    every composition ``pi = sigma_s o tau_t``. Because ``<a o sigma o tau, b> = <a o sigma, b o tau^-1>``,
    the whole null is one matrix product of ``S`` gathered brain-score vectors with ``T`` gathered
    model-score vectors. Each composition is a uniform random permutation and any two are independent,
    so the Monte Carlo p-value has the mean and variance of ``N`` independent draws, but the set is
    neither a group nor independent draws (triples are dependent): the exactness argument of a
    permutation p-value does not hold. Kept for comparison with earlier results; CPU (BLAS) only.

Kendall's tau-a is not a dot product of fixed scores; its null loops over the permutations (one
O(M log M) tau-a per permutation and model), which is much slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.analyses.rsa.kernels import gather_numpy, independent_null, single_thread_blas, square_scores
from core.analyses.rsa.rdm import COMPARISONS, check_choice, kendall_tau_a, n_from_pairs, square, unit_scores
from core.backend import get_backend
from core.errors import ParameterError
from core.names import SCHEMES  # noqa: F401 - re-exported: the implementing module's names
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress
from core.stats.permutation import make_permutations, p_from_counts

CHUNK_BYTES = 64 << 20  # bound on each temporary gather block of the product scheme (float32)


@dataclass(frozen=True)
class ConceptPermutations:
    """``n_permutations`` relabelings of ``n_concepts`` concepts.

    left : int32 (S, n) sigma permutations; right : int32 (T, n) tau permutations (``product``) or None
    (``independent``: ``left`` holds all N permutations). Permutation k of the product scheme is
    ``sigma_{k // T}[tau_{k % T}]``.
    """

    n_concepts: int
    n_permutations: int
    seed: int | None
    scheme: str
    left: np.ndarray
    right: np.ndarray | None

    def materialize(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Permutations ``start..stop`` as int32 (k, n) arrays (row = new order of the concepts)."""
        stop = self.n_permutations if stop is None else min(stop, self.n_permutations)
        if self.right is None:
            return self.left[start:stop]
        ks = np.arange(start, stop)
        t = self.right.shape[0]
        return np.take_along_axis(self.left[ks // t], self.right[ks % t], axis=1)


def make_concept_permutations(n_concepts: int, n_permutations: int = 10_000, seed: int | None = 0,
                              scheme: str = "independent") -> ConceptPermutations:
    """Draw a seeded set of concept relabelings (see the module docstring for the two schemes)."""
    check_choice(scheme, SCHEMES, "permutation scheme")
    if n_permutations < 1:
        raise ParameterError(f"n_permutations must be at least 1, got {n_permutations}")
    if n_concepts < 3:
        raise ParameterError(f"a permutation test needs at least 3 concepts, got {n_concepts}")
    if scheme == "independent":
        perms = make_permutations(n_concepts, 1, n_permutations, seed)[:, 0, :]
        return ConceptPermutations(n_concepts, n_permutations, seed, scheme, perms, None)
    s = int(np.ceil(np.sqrt(n_permutations)))
    t = int(np.ceil(n_permutations / s))
    both = make_permutations(n_concepts, 1, s + t, seed)[:, 0, :]
    return ConceptPermutations(n_concepts, n_permutations, seed, scheme, both[:s], both[s:])


def paper_shuffle(n_concepts: int, seed: int = 0) -> np.ndarray:
    """The paper's single permuted baseline: ``df.sample(frac=1, random_state=seed)`` row order, int (n,)."""
    return pd.RangeIndex(n_concepts).to_series().sample(frac=1, random_state=seed).to_numpy()


def permute_condensed(condensed: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``D o perm`` in condensed form: entry (i, j) becomes ``D[perm_i, perm_j]``; (..., M) -> (..., M)."""
    condensed = np.asarray(condensed)
    n = n_from_pairs(condensed.shape[-1])
    iu, ju = np.triu_indices(n, k=1)
    index = square(np.arange(condensed.shape[-1]))
    return condensed[..., index[perm[iu], perm[ju]]]


def permutation_null(brain: np.ndarray, models: np.ndarray, perms: ConceptPermutations,
                     comparison: str = "spearman", progress: ProgressFn = no_progress,
                     cancel: CancelToken | None = None, backend: str = "auto",
                     device: str = "cpu") -> np.ndarray:
    """Null comparisons of relabelled brain RDMs with fixed model RDMs.

    Parameters
    ----------
    brain : (R, M) condensed brain RDMs (e.g. one per ROI); they are relabelled.
    models : (K, M) condensed model RDMs (e.g. one per layer).
    perms : the relabelings (the same for every brain RDM, so a maximum over models or an average over
        ROIs keeps its joint null).
    backend, device : array backend of the ``independent`` scheme (:func:`core.backend.select_backend`:
        ``auto`` = torch on a GPU, numba on the CPU); ``product`` and Kendall's tau-a run on the CPU.

    Returns
    -------
    float32 (R, N, K): ``compare(brain[r] o pi_k, models[j])``. Memory: temporaries are chunked to about
    64 MB (512 MB on a GPU) besides the (R, N, K) result.
    """
    check_choice(comparison, COMPARISONS, "comparison")
    brain = np.atleast_2d(np.asarray(brain, dtype=np.float64))
    models = np.atleast_2d(np.asarray(models, dtype=np.float64))
    n = n_from_pairs(brain.shape[1])
    if models.shape[1] != brain.shape[1] or n != perms.n_concepts:
        raise ParameterError("brain RDMs, model RDMs and permutations must cover the same concepts")
    if comparison == "kendall_tau_a":
        return _null_loop(brain, models, perms, progress, cancel)
    a = unit_scores(brain, comparison)
    b = unit_scores(models, comparison)
    if perms.right is None:
        return independent_null(a, b, perms.left, get_backend(backend, device), progress, cancel)
    with single_thread_blas(float(brain.shape[0]) * models.shape[0] * perms.n_permutations * brain.shape[1]):
        return _null_product(a.astype(np.float32), b.astype(np.float32), perms, progress, cancel)


def _null_product(a, b, perms, progress, cancel) -> np.ndarray:
    n = perms.n_concepts
    a_sq = square_scores(a)
    iu, ju = np.triu_indices(n, k=1)
    m = iu.size
    r, k, big_n = a.shape[0], b.shape[0], perms.n_permutations
    s, t = perms.left.shape[0], perms.right.shape[0]
    left = gather_numpy(a_sq, perms.left, iu, ju).reshape(r * s, m)  # brain o sigma_s
    inv = np.argsort(perms.right, axis=1).astype(np.int32)
    b_sq = square_scores(b)
    full = np.empty((r, s, t, k), dtype=np.float32)
    chunk = max(1, CHUNK_BYTES // (4 * m * t))
    for start in range(0, k, chunk):
        check_cancel(cancel)
        right = gather_numpy(b_sq[start:start + chunk], inv, iu, ju)  # (Kc, T, M): model o tau_t^-1
        kc = right.shape[0]
        prod = left @ right.reshape(kc * t, m).T  # (R*S, Kc*T)
        full[..., start:start + kc] = prod.reshape(r, s, kc, t).transpose(0, 1, 3, 2)
        progress(min(1.0, (start + kc) / k), "permutations")
    return np.ascontiguousarray(full.reshape(r, s * t, k)[:, :big_n])


def _null_loop(brain, models, perms, progress, cancel) -> np.ndarray:
    r, k, big_n = brain.shape[0], models.shape[0], perms.n_permutations
    out = np.empty((r, big_n, k), dtype=np.float32)
    step = 256
    for start in range(0, big_n, step):
        check_cancel(cancel)
        block = perms.materialize(start, start + step)
        for q, perm in enumerate(block):
            shuffled = permute_condensed(brain, perm)
            for i in range(r):
                for j in range(k):
                    out[i, start + q, j] = kendall_tau_a(shuffled[i], models[j])
        progress(min(1.0, (start + step) / big_n), "permutations (tau-a)")
    return out


def permutation_p(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided p-values ``(1 + #{null >= observed}) / (1 + N)``: observed (..., K), null (..., N, K).

    NaN observations give NaN p-values; NaN null values never count.
    """
    observed = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null)
    # compare in the null's precision so that a relabelling equal to the identity counts as a tie
    obs = observed.astype(null.dtype)[..., None, :]
    counts = (null >= obs).sum(axis=-2)
    p = p_from_counts(counts, null.shape[-2])
    return np.where(np.isnan(observed), np.nan, p)


def group_wilcoxon(values: np.ndarray, reference: np.ndarray | float = 0.0,
                   alternative: str = "greater") -> tuple[float, float]:
    """Wilcoxon signed-rank test of participants' ``values - reference`` (``scipy.stats.wilcoxon``).

    Returns (statistic, p); NaN, NaN with fewer than 2 finite pairs or when every difference is 0.
    """
    diff = np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    diff = diff[np.isfinite(diff)]
    if diff.size < 2 or not np.any(diff != 0):
        return float("nan"), float("nan")
    res = stats.wilcoxon(diff, alternative=alternative)
    return float(res.statistic), float(res.pvalue)


def select_paper(rho: np.ndarray) -> int:
    """The paper's choice: the setting (layer, pooling) with the largest participant-mean rho.

    rho : (P, S) participants x settings. Returns the setting index (not cross-validated).
    """
    mean = np.nanmean(np.asarray(rho, dtype=np.float64), axis=0)
    if np.all(np.isnan(mean)):
        raise ParameterError("no finite rho to select a layer from")
    return int(np.nanargmax(mean))


def select_leave_one_out(rho: np.ndarray) -> np.ndarray:
    """Cross-validated choice: for each participant, the setting with the largest mean rho over the other
    participants. rho : (P, S); returns int (P,). Needs at least 2 participants."""
    rho = np.asarray(rho, dtype=np.float64)
    if rho.shape[0] < 2:
        raise ParameterError("leave-one-participant-out layer selection needs at least 2 participants")
    out = np.empty(rho.shape[0], dtype=np.int64)
    for p in range(rho.shape[0]):
        others = np.delete(rho, p, axis=0)
        out[p] = select_paper(others)
    return out


def max_null_p(rho: np.ndarray, null: np.ndarray) -> float:
    """Selection-aware group p of the paper's choice: the observed ``max_s mean_p rho`` against the
    same maximum over settings of the participant-mean null (the same relabelling index for every
    participant). rho (P, S), null (P, N, S)."""
    observed = np.nanmax(np.nanmean(rho, axis=0))
    null_max = np.nanmax(np.nanmean(null, axis=0), axis=-1)  # (N,)
    return float(p_from_counts(np.sum(null_max >= np.float32(observed)), null_max.size))
