"""Brain encoding (method.md §3.4–3.5): items, targets, per-layer ridge scores, scoring with a
chosen (layer, pooling) per target.

*Items* are the units of regression. With per-stimulus features (sentences, VLM pictures) an item is
a stimulus ``(concept, stimulus_idx)``; with one input per concept (word clouds, pictures for text
models) or concept-level data an item is a concept, and the target is the mean over its trials (the
paper: "for word clouds it is the mean per concept: 180 items"). Items are in the paper's order, the
order of its sorted pivot tables, so folds over items with ``seed=0`` are the paper's folds: stimulus
items by stimulus path when the trial table has a ``stimulus`` column (the release layout: for
sentences ``stim/sentences/concept001_...``, i.e. Pereira's concept numbers, then the sentence index),
else by concept (list order) and stimulus index; concept items by concept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.analyses.encoding.cv import Folds
from core.analyses.encoding.ridge import DEFAULT_CHUNK_BYTES, PAPER_ALPHAS, ridge_cv_scores
from core.analyses.encoding.scores import fold_mean
from core.data.concepts import load_concepts
from core.errors import DataError
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress, sub_progress

VOXEL_CHUNK = 8192  # voxels per block when averaging trials into items


@dataclass
class Items:
    """Regression items of one participant and paradigm.

    keys : DataFrame(concept, stimulus_idx Int64; NA for concept items), one row per item.
    weights : float32 (n_items, n_trials) averaging matrix from trials to items.
    """

    keys: pd.DataFrame
    weights: np.ndarray

    @property
    def n(self) -> int:
        return len(self.keys)

    @property
    def concepts(self) -> np.ndarray:
        return self.keys["concept"].to_numpy()

    @property
    def n_trials(self) -> np.ndarray:
        """Trials averaged into each item, float32 (n_items,)."""
        return (self.weights > 0).sum(axis=1).astype(np.float32)

    def responses(self, trial_values: np.ndarray) -> np.ndarray:
        """Item means of trial-level values (n_trials, T) -> float32 (n_items, T), chunked over T."""
        out = np.empty((self.n, trial_values.shape[1]), dtype=np.float32)
        for start in range(0, trial_values.shape[1], VOXEL_CHUNK):
            cols = slice(start, start + VOXEL_CHUNK)
            out[:, cols] = self.weights @ np.asarray(trial_values[:, cols], dtype=np.float32)
        return out


def item_ranks(keys: pd.DataFrame) -> np.ndarray:
    """An integer id per item, common across participants: concept index * 1000 + stimulus index
    (0 for concept items), int64 (n_items,); sorting by it gives concept order, then stimulus index."""
    order = {c: i for i, c in enumerate(load_concepts())}
    idx = keys["stimulus_idx"].fillna(0).astype(np.int64).to_numpy()
    return keys["concept"].map(order).to_numpy(np.int64) * 1000 + idx


def keys_from_ranks(ranks: np.ndarray, per_concept: bool) -> pd.DataFrame:
    """Inverse of :func:`item_ranks`: DataFrame(concept, stimulus_idx Int64; NA for concept items)."""
    concepts = np.asarray(load_concepts())
    ranks = np.asarray(ranks, np.int64)
    idx = pd.array([pd.NA] * len(ranks) if per_concept else ranks % 1000, dtype="Int64")
    return pd.DataFrame({"concept": concepts[ranks // 1000], "stimulus_idx": idx})


def concept_level(features_keys: pd.DataFrame) -> bool:
    """True when features hold one input per concept (no stimulus index)."""
    return bool(features_keys["stimulus_idx"].isna().all())


def make_items(events: pd.DataFrame, per_concept: bool) -> Items:
    """Items of a trial table (see the module docstring); ``per_concept`` forces concept items."""
    order = {c: i for i, c in enumerate(load_concepts())}
    concept = events["concept"].astype(str)
    unknown = sorted(set(concept) - set(order))
    if unknown:
        raise DataError("events", f"unknown concept(s) {unknown[:3]} in the trial table")
    idx = events["stimulus_idx"]
    per_concept = per_concept or bool(idx.isna().any())
    if per_concept:
        key = pd.DataFrame({"concept": concept, "stimulus_idx": pd.array([pd.NA] * len(events), "Int64")})
    else:
        key = pd.DataFrame({"concept": concept, "stimulus_idx": idx.astype("Int64")})
    rank = item_ranks(key)
    uniq, first, inverse = np.unique(rank, return_index=True, return_inverse=True)
    weights = np.zeros((uniq.size, len(events)), dtype=np.float32)
    weights[inverse.reshape(-1), np.arange(len(events))] = 1.0
    weights /= weights.sum(axis=1, keepdims=True)
    keys = key.iloc[first].reset_index(drop=True)
    if not per_concept and "stimulus" in events and events["stimulus"].notna().all():
        # the paper's pivot index starts with the stimulus path (concept001_..._sentence1, ...)
        order = np.argsort(events["stimulus"].astype(str).to_numpy()[first], kind="stable")
        keys, weights = keys.iloc[order].reset_index(drop=True), weights[order]
    return Items(keys, weights)


@dataclass
class LayerScores:
    """Cross-validated r for every (pooling, layer) and target.

    r : float64 (n_poolings, n_layers, n_folds, T); alpha : the same shape.
    """

    poolings: tuple[str, ...]
    layers: np.ndarray
    r: np.ndarray
    alpha: np.ndarray

    def curves(self) -> np.ndarray:
        """Fold-mean r (n_poolings, n_layers, T), NaN folds skipped."""
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(self.r)
            s = np.where(valid, self.r, 0.0).sum(axis=2)
            k = valid.sum(axis=2)
            return np.where(k > 0, s / np.maximum(k, 1), np.nan)

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Per target the (pooling index, layer index) of the highest fold-mean r (first on ties;
        (0, 0) for an all-NaN target)."""
        c = self.curves()
        flat = c.reshape(-1, c.shape[-1])
        filled = np.where(np.isfinite(flat), flat, -np.inf)
        arg = np.argmax(filled, axis=0)
        return np.unravel_index(arg, c.shape[:2])


def layer_scores(
    X: dict[str, np.ndarray],
    Y: np.ndarray,
    folds: Folds,
    layers: np.ndarray | None = None,
    alphas: np.ndarray = PAPER_ALPHAS,
    device: str = "cpu",
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> LayerScores:
    """Ridge CV scores for every pooling in ``X`` ({pooling: (n_items, L+1, H)}) and every layer."""
    poolings = tuple(X)
    n_layers = next(iter(X.values())).shape[1]
    layers = np.arange(n_layers) if layers is None else np.asarray(layers, dtype=int)
    shape = (len(poolings), len(layers), len(folds), Y.shape[1])
    r, alpha = np.full(shape, np.nan), np.full(shape, np.nan)
    steps = len(poolings) * len(layers)
    for pi, pooling in enumerate(poolings):
        for li, layer in enumerate(layers):
            check_cancel(cancel)
            step = pi * len(layers) + li
            sub = sub_progress(progress, step / steps, (step + 1) / steps)
            res = ridge_cv_scores(X[pooling][:, layer], Y, folds, alphas, device=device,
                                  max_chunk_bytes=max_chunk_bytes, progress=sub, cancel=cancel)
            r[pi, li], alpha[pi, li] = res.r, res.alpha
            progress((step + 1) / steps, f"{pooling} layer {layer}")
    return LayerScores(poolings, layers, r, alpha)


@dataclass
class ChosenScores:
    """Scores with one (pooling, layer) per target (per fold for nested selection).

    r, alpha : float64 (n_folds, T); pooling, layer : (n_folds, T) indices into poolings / layer ids.
    curves : optional fold-mean r per (pooling, layer, target) from the selection step.
    """

    poolings: tuple[str, ...]
    r: np.ndarray
    alpha: np.ndarray
    pooling: np.ndarray
    layer: np.ndarray
    curves: np.ndarray | None = None

    @property
    def mean_r(self) -> np.ndarray:
        """Fold-mean r per target (NaN folds skipped)."""
        return fold_mean(self.r)

    def columns(self, cols: slice) -> ChosenScores:
        """The scores of the targets ``cols`` (a slice of the target axis)."""
        curves = None if self.curves is None else self.curves[..., cols]
        return ChosenScores(self.poolings, self.r[:, cols], self.alpha[:, cols], self.pooling[:, cols],
                            self.layer[:, cols], curves)


def score_with_choice(
    X: dict[str, np.ndarray],
    Y: np.ndarray,
    folds: Folds,
    pooling_idx: np.ndarray,
    layer: np.ndarray,
    alphas: np.ndarray = PAPER_ALPHAS,
    device: str = "cpu",
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> ChosenScores:
    """Cross-validated r with a fixed (pooling index, layer id) per target (targets grouped by choice)."""
    poolings = tuple(X)
    T = Y.shape[1]
    pooling_idx = np.broadcast_to(np.asarray(pooling_idx, int), (T,))
    layer = np.broadcast_to(np.asarray(layer, int), (T,))
    r, alpha = np.full((len(folds), T), np.nan), np.full((len(folds), T), np.nan)
    choices = sorted(set(zip(pooling_idx.tolist(), layer.tolist(), strict=True)))
    for n, (p, layer_id) in enumerate(choices):
        check_cancel(cancel)
        cols = np.flatnonzero((pooling_idx == p) & (layer == layer_id))
        sub = sub_progress(progress, n / len(choices), (n + 1) / len(choices))
        res = ridge_cv_scores(X[poolings[p]][:, layer_id], Y[:, cols], folds, alphas, device=device,
                              progress=sub, cancel=cancel)
        r[:, cols], alpha[:, cols] = res.r, res.alpha
    tile = np.broadcast_to
    return ChosenScores(poolings, r, alpha, tile(pooling_idx, r.shape).copy(), tile(layer, r.shape).copy())
