"""Layer and pooling selection (method.md §3.4).

* ``paper``: choose the best (pooling, layer) per target on the participant-averaged responses (items
  keyed by concept and stimulus index, NaN-aware mean over the participants who saw them), by the
  fold-mean Pearson r of the same ridge CV; the choice is then reused for every participant. This is
  the paper's procedure; it is not nested (the same items are later scored per participant).
* ``nested``: inside each outer training fold only, by inner CV on the participant's own training
  items (leakage-free).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analyses.encoding.cv import Folds
from core.analyses.encoding.model import (
    ChosenScores,
    LayerScores,
    item_ranks,
    layer_scores,
    score_with_choice,
)
from core.analyses.encoding.ridge import PAPER_ALPHAS
from core.names import SELECTIONS  # noqa: F401 - re-exported: the implementing module's names
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress, sub_progress


def paper_selection(
    X: dict[str, np.ndarray],
    Y_group: np.ndarray,
    folds: Folds,
    layers: np.ndarray | None = None,
    alphas: np.ndarray = PAPER_ALPHAS,
    device: str = "cpu",
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[LayerScores, np.ndarray, np.ndarray]:
    """Layer scores on group-averaged items and the chosen (pooling index, layer id) per target."""
    scores = layer_scores(X, Y_group, folds, layers, alphas, device, progress=progress, cancel=cancel)
    pi, li = scores.best()
    return scores, pi, scores.layers[li]


def nested_scores(
    X: dict[str, np.ndarray],
    Y: np.ndarray,
    folds: Folds,
    inner_folds,
    layers: np.ndarray | None = None,
    alphas: np.ndarray = PAPER_ALPHAS,
    device: str = "cpu",
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> ChosenScores:
    """Leakage-free selection: inside each outer training fold, pick (pooling, layer) per target by
    inner CV r (``inner_folds(n_train_items, train_idx) -> Folds``), refit on the whole training fold
    and score on the outer test fold. ``curves`` = the inner-CV curves averaged over outer folds."""
    poolings = tuple(X)
    n_layers = next(iter(X.values())).shape[1]
    layers = np.arange(n_layers) if layers is None else np.asarray(layers, dtype=int)
    F, T = len(folds), Y.shape[1]
    r, alpha = np.full((F, T), np.nan), np.full((F, T), np.nan)
    pool_out, layer_out = np.zeros((F, T), int), np.zeros((F, T), int)
    curve_sum = np.zeros((len(poolings), len(layers), T))
    curve_n = np.zeros_like(curve_sum)
    for f, (train, test) in enumerate(folds):
        check_cancel(cancel)
        sub = sub_progress(progress, f / F, (f + 0.9) / F)
        inner = layer_scores({p: X[p][train] for p in poolings}, Y[train], inner_folds(train), layers,
                             alphas, device, progress=sub, cancel=cancel)
        c = inner.curves()
        curve_sum += np.nan_to_num(c)
        curve_n += np.isfinite(c)
        pi, li = inner.best()
        chosen = score_with_choice(X, Y, [(train, test)], pi, layers[li], alphas, device, cancel=cancel)
        r[f], alpha[f] = chosen.r[0], chosen.alpha[0]
        pool_out[f], layer_out[f] = pi, layers[li]
        progress((f + 1) / F, f"nested fold {f + 1}/{F}")
    with np.errstate(invalid="ignore"):
        curves = np.where(curve_n > 0, curve_sum / np.maximum(curve_n, 1), np.nan)
    return ChosenScores(poolings, r, alpha, pool_out, layer_out, curves)


def group_average(
    keys_list: list[pd.DataFrame], values_list: list[np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Average item responses across participants by item key (NaN-aware; union of items, paper order).

    keys_list[i] : DataFrame(concept, stimulus_idx); values_list[i] : (n_items_i, T) in a common target
    space (NaN where a participant lacks a target). Returns (keys, float32 (n_union, T)).
    """
    ranks = [item_ranks(k) for k in keys_list]
    union, first_src = np.unique(np.concatenate(ranks), return_index=True)
    all_keys = pd.concat(keys_list, ignore_index=True).iloc[first_src].reset_index(drop=True)
    T = values_list[0].shape[1]
    total = np.zeros((union.size, T), np.float64)
    count = np.zeros((union.size, T), np.float64)
    for rk, vals in zip(ranks, values_list, strict=True):
        rows = np.searchsorted(union, rk)
        finite = np.isfinite(vals)
        total[rows] += np.where(finite, vals, 0.0)
        count[rows] += finite
    with np.errstate(invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return all_keys, mean.astype(np.float32)
