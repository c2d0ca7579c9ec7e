"""Representational similarity analysis (method.md §5): concept patterns, RDMs and their comparison.

Condensed RDMs follow :func:`scipy.spatial.distance.pdist` order: the entries (i, j), i < j, row by
row, so n concepts give ``M = n (n - 1) / 2`` entries (16,110 for 180 concepts). Relabelling the
concepts by a permutation ``pi`` turns an RDM ``D`` into ``D[pi_i, pi_j]`` (see :mod:`rsa_stats`).

Brain side: per participant and ROI, voxel responses averaged per concept over all trials of all
paradigms (a 180 x n_voxels matrix), RDM = 1 - Pearson r between concept patterns. Model side: per
layer, the concept vector is the mean of the embeddings of the stimuli the participant saw
(sentences, the word cloud, and for VLMs in the text+image condition the pictures).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import ParameterError
from core.names import COMPARISONS, DISTANCES  # noqa: F401 - re-exported: the implementing module's names


def n_pairs(n: int) -> int:
    """Number of condensed entries for ``n`` concepts."""
    return n * (n - 1) // 2


def n_from_pairs(m: int) -> int:
    """Number of concepts of a condensed RDM with ``m`` entries (raises if ``m`` is not n(n-1)/2)."""
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    if n_pairs(n) != m:
        raise ParameterError(f"{m} entries is not a condensed RDM (n (n - 1) / 2 for some n)")
    return n


def check_choice(value: str, options: tuple[str, ...], what: str) -> str:
    if value not in options:
        raise ParameterError(f"unknown {what} {value!r}; choose from {', '.join(options)}")
    return value


#: entries of a Gram-form RDM closer than this (absolute for correlation / cosine distances, relative to
#: the largest squared norm for squared euclidean ones) to another entry are recomputed with scipy
#: ``pdist``'s own arithmetic; the Gram form's rounding error is far below it (~1e-15)
TIE_TOL = 1e-10


def rdm(patterns: np.ndarray, distance: str = "correlation") -> np.ndarray:
    """Condensed RDM of the rows of ``patterns``, ranked exactly as scipy's.

    Parameters
    ----------
    patterns : (n, d) one pattern per concept (voxels or hidden units).
    distance : ``correlation`` (1 - Pearson r, the paper's), ``cosine`` (1 - cosine similarity) or
        ``euclidean``; the same values as ``scipy.spatial.distance.pdist(patterns, distance)``.

    Returns
    -------
    float64 (n (n - 1) / 2,). Pairs involving a constant row (correlation) or a zero row (cosine) are NaN.

    Notes
    -----
    The distances come from one Gram matrix (BLAS), within ~1e-15 of pdist's but not bit-identical.
    Ranks (Spearman) only change where entries are that close to each other: exactly equal rows (a
    layer whose state depends only on the token position gives many equal concept vectors) make
    thousands of entries that pdist ties exactly. Every entry within :data:`TIE_TOL` of another entry
    is therefore recomputed by ``pdist`` itself on the rows involved (its per-pair result does not
    depend on the other rows), so equal vectors give exactly equal distances and the entries' order
    and ties are pdist's; every other entry is at least ``TIE_TOL`` from its neighbours, beyond any
    rounding. Ordinary data have no such entries and keep the Gram speed.
    """
    check_choice(distance, DISTANCES, "distance")
    x = np.asarray(patterns, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ParameterError(f"an RDM needs a (n >= 2, d) pattern matrix, got shape {x.shape}")
    out, key, tol = _gram_rdm(x, distance)
    close = _near_ties(key, tol)
    if close.any():
        _exact_pairs(x, distance, close, out)
    return out


def _gram_rdm(x: np.ndarray, distance: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(distances, ordering key, tie tolerance on the key) from one Gram matrix."""
    iu, ju = np.triu_indices(x.shape[0], k=1)
    if distance == "euclidean":
        x = x - x.mean(axis=0)  # translation-invariant; reduces cancellation in the Gram form
        sq = np.einsum("ij,ij->i", x, x)
        gram = x @ x.T
        d2 = np.maximum(sq[iu] + sq[ju] - 2.0 * gram[iu, ju], 0.0)
        return np.sqrt(d2), d2, TIE_TOL * float(np.max(sq, initial=0.0))
    if distance == "correlation":
        x = x - x.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        x = x / norms[:, None]
    sim = x @ x.T
    out = 1.0 - np.clip(sim[iu, ju], -1.0, 1.0)
    return out, out, TIE_TOL


def _near_ties(key: np.ndarray, tol: float) -> np.ndarray:
    """bool (M,): entries within ``tol`` of their neighbour in sorted order (NaN never counts)."""
    order = np.argsort(key, kind="stable")
    gaps = np.diff(key[order]) <= tol
    close = np.zeros(key.size, dtype=bool)
    close[order[:-1][gaps]] = True
    close[order[1:][gaps]] = True
    return close


def _exact_pairs(x: np.ndarray, distance: str, close: np.ndarray, out: np.ndarray) -> None:
    """Overwrite, in ``out``, every pair among the rows of the ``close`` entries with scipy's pdist."""
    from scipy.spatial.distance import pdist

    n = x.shape[0]
    iu, ju = np.triu_indices(n, k=1)
    rows = np.unique(np.concatenate([iu[close], ju[close]]))
    si, sj = np.triu_indices(rows.size, k=1)
    i, j = rows[si], rows[sj]  # i < j, as rows is sorted
    out[n * i - i * (i + 1) // 2 + (j - i - 1)] = pdist(x[rows], distance)


def rdms(vectors: np.ndarray, distance: str = "correlation") -> np.ndarray:
    """Condensed RDMs of a stack of pattern matrices: (L, n, d) -> float64 (L, M), one per layer."""
    vectors = np.asarray(vectors)
    return np.stack([rdm(v, distance) for v in vectors])


def square(condensed: np.ndarray) -> np.ndarray:
    """Square symmetric matrix (n, n) with a zero diagonal from a condensed RDM (like ``squareform``)."""
    condensed = np.asarray(condensed)
    n = n_from_pairs(condensed.shape[-1])
    out = np.zeros((n, n), dtype=condensed.dtype)
    iu, ju = np.triu_indices(n, k=1)
    out[iu, ju] = condensed
    out[ju, iu] = condensed
    return out


def unit_scores(condensed: np.ndarray, comparison: str = "spearman") -> np.ndarray:
    """Centred, unit-norm scores of a condensed RDM (ranks for ``spearman``, values for ``pearson``).

    The correlation of two RDMs is the dot product of their unit scores, and relabelling concepts only
    permutes the scores, so they are computed once per RDM. float64 (..., M); an RDM with no spread
    (or any NaN) gives NaN scores.
    """
    check_choice(comparison, ("spearman", "pearson"), "comparison for unit scores")
    x = np.asarray(condensed, dtype=np.float64)
    if comparison == "spearman":
        x = stats.rankdata(x, axis=-1)  # average ranks for ties; NaN propagates as NaN
    x = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, x / norm, np.nan)


def kendall_tau_a(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a, ``(concordant - discordant) / (M (M - 1) / 2)`` over all pairs of entries.

    Computed in O(M log M) from scipy's tau-b and the tie counts:
    ``tau_a = tau_b * sqrt((n0 - t_a) (n0 - t_b)) / n0`` with ``t = sum ties (ties - 1) / 2``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    m = a.size
    n0 = m * (m - 1) / 2.0
    t_a = _tied_pairs(a)
    t_b = _tied_pairs(b)
    if t_a == n0 or t_b == n0:
        return 0.0  # one side constant: no pair is concordant or discordant
    tau_b = stats.kendalltau(a, b, variant="b").statistic
    return float(tau_b * np.sqrt((n0 - t_a) * (n0 - t_b)) / n0)


def _tied_pairs(x: np.ndarray) -> float:
    counts = np.unique(x, return_counts=True)[1].astype(np.float64)
    return float((counts * (counts - 1) / 2.0).sum())


def compare_rdms(a: np.ndarray, b: np.ndarray, comparison: str = "spearman") -> float:
    """Similarity of two condensed RDMs: ``spearman`` rho (the paper's), ``kendall_tau_a`` or
    ``pearson`` r."""
    check_choice(comparison, COMPARISONS, "comparison")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ParameterError(f"RDMs to compare must be condensed vectors of one length: {a.shape}, {b.shape}")
    if comparison == "kendall_tau_a":
        return kendall_tau_a(a, b)
    return float(np.dot(unit_scores(a, comparison), unit_scores(b, comparison)))


def compare_many(brain: np.ndarray, models: np.ndarray, comparison: str = "spearman") -> np.ndarray:
    """All brain x model comparisons: brain (R, M), models (K, M) -> float64 (R, K)."""
    brain = np.atleast_2d(np.asarray(brain, dtype=np.float64))
    models = np.atleast_2d(np.asarray(models, dtype=np.float64))
    check_choice(comparison, COMPARISONS, "comparison")
    if comparison == "kendall_tau_a":
        return np.array([[kendall_tau_a(a, b) for b in models] for a in brain])
    return unit_scores(brain, comparison) @ unit_scores(models, comparison).T


# --------------------------------------------------------------------------------------------- patterns


def brain_concept_patterns(participant, voxels: np.ndarray | None = None,
                           concepts: tuple[str, ...] | None = None) -> np.ndarray:
    """Voxel responses averaged per concept over all trials of all paradigms (method.md §5).

    Parameters
    ----------
    participant : :class:`core.data.dataset.ParticipantData`.
    voxels : int indices of the voxels to keep (default all).
    concepts : concept order (default the dataset's 180).

    Returns
    -------
    float32 (n_concepts, n_voxels); NaN rows for concepts without any trial. Each trial weighs the same
    (a concept seen 6 times in sentences and 4 times in pictures averages 10 trials).
    """
    from core.data.concepts import load_concepts

    concepts = tuple(concepts or load_concepts())
    sums = None
    counts = np.zeros(len(concepts), dtype=np.float64)
    for paradigm in participant.paradigms:
        n_trials = (participant.events[paradigm]["concept"].value_counts()
                    .reindex(list(concepts)).fillna(0).to_numpy(dtype=np.float64))
        means = participant.concept_means(paradigm, concepts=concepts, voxels=voxels).astype(np.float64)
        means[n_trials == 0] = 0.0
        part = means * n_trials[:, None]
        sums = part if sums is None else sums + part
        counts += n_trials
    if sums is None:
        raise ParameterError(f"participant {participant.id} has no paradigms")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / counts[:, None]
    out[counts == 0] = np.nan
    return out.astype(np.float32)


def concept_vectors(keys: pd.DataFrame, hidden: np.ndarray, concepts: tuple[str, ...]) -> np.ndarray:
    """Concept vectors: the mean of the stimulus embeddings of each concept.

    Parameters
    ----------
    keys : one row per distinct stimulus the participant saw (any paradigms), column ``concept``.
    hidden : float (n_stimuli, L + 1, H) their embeddings, rows aligned with ``keys``.
    concepts : concept order of the output.

    Returns
    -------
    float32 (n_concepts, L + 1, H); NaN rows for concepts with no stimulus. Each mean is numpy's
    float32 ``mean(axis=0)`` of the concept's rows in ``keys`` order (the paper's arithmetic: a
    sequential sum, then one division), so concepts with the same embeddings in the same order get
    exactly equal vectors.
    """
    hidden = np.asarray(hidden, dtype=np.float32)
    if len(keys) != hidden.shape[0]:
        raise ParameterError(f"{len(keys)} stimulus keys for {hidden.shape[0]} embeddings")
    index = {c: i for i, c in enumerate(concepts)}
    rows = keys["concept"].map(index).to_numpy(dtype=np.float64)
    out = np.full((len(concepts),) + hidden.shape[1:], np.nan, dtype=np.float32)
    ok = np.flatnonzero(~np.isnan(rows))
    order = ok[np.argsort(rows[ok], kind="stable")]  # grouped by concept, keys order within a concept
    groups = rows[order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if order.size else np.zeros(0, int)
    for start, stop in zip(starts, np.r_[starts[1:], order.size], strict=True):
        out[groups[start]] = hidden[order[start:stop]].mean(axis=0)
    return out
