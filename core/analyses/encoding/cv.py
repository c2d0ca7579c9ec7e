"""Cross-validation folds for encoding.

``cv_groups="stimulus"`` (the paper, method.md §3.4): items are split by
``KFold(n_splits, shuffle=True, random_state=seed)`` in dataset order (identical assignment, without
importing scikit-learn). ``cv_groups="concept"``: every item of a concept lands in the same fold, so
no concept is seen in training and test (the same shuffled KFold applied to the unique concepts in
order of first appearance).
"""

from __future__ import annotations

import numpy as np

from core.errors import ParameterError
from core.names import CV_GROUPS

Folds = list[tuple[np.ndarray, np.ndarray]]


def kfold_labels(n_items: int, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index (n_items,) of each item, equal to sklearn ``KFold(n_splits, shuffle=True,
    random_state=seed)``: a ``RandomState(seed)`` permutation cut into consecutive folds, the first
    ``n_items % n_splits`` folds one item larger."""
    if n_splits < 2:
        raise ParameterError(f"cv_folds must be at least 2, got {n_splits}")
    if n_items < n_splits:
        raise ParameterError(f"cannot make {n_splits} folds from {n_items} items")
    order = np.arange(n_items)
    np.random.RandomState(seed).shuffle(order)
    sizes = np.full(n_splits, n_items // n_splits)
    sizes[: n_items % n_splits] += 1
    labels = np.empty(n_items, dtype=np.int64)
    start = 0
    for f, size in enumerate(sizes):
        labels[order[start : start + size]] = f
        start += size
    return labels


def group_kfold_labels(groups, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index per item such that all items of a group share a fold (shuffled KFold over groups)."""
    groups = np.asarray(groups)
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(first.size)  # groups in order of first appearance
    if first.size < n_splits:
        raise ParameterError(f"cannot make {n_splits} folds from {first.size} groups")
    return kfold_labels(first.size, n_splits, seed)[rank[inverse.reshape(-1)]]


def folds_from_labels(labels: np.ndarray) -> Folds:
    """(train_idx, test_idx) pairs, one per fold label 0..k-1, indices sorted."""
    labels = np.asarray(labels)
    return [(np.flatnonzero(labels != f), np.flatnonzero(labels == f)) for f in range(int(labels.max()) + 1)]


def make_folds(concepts, n_splits: int = 5, seed: int = 0, cv_groups: str = "stimulus") -> Folds:
    """Folds over items (one per entry of ``concepts``, in dataset order)."""
    if cv_groups == "stimulus":
        return folds_from_labels(kfold_labels(len(concepts), n_splits, seed))
    if cv_groups == "concept":
        return folds_from_labels(group_kfold_labels(concepts, n_splits, seed))
    raise ParameterError(f"cv_groups must be one of {', '.join(CV_GROUPS)}, got {cv_groups!r}")
