"""One encoding run over a dataset: features -> items -> targets -> selection -> scores, for one model
and paradigm (used by the ``encoding`` and ``quartiles`` plugins).

Targets are described per participant by :class:`Targets` with integer ``keys`` that are common across
participants (atlas label, union-grid voxel index, quartile-cell code): the paper's selection and the
noise ceiling average item responses across participants by (item, key).

Memory: per participant the item responses (n_items, T) float32; for ``selection=paper`` or the noise
ceiling, accumulators of (n_union_items, T_union) float32 (3 of them with the noise ceiling).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.analyses.cv import make_folds
from core.analyses.encoding import (
    ChosenScores,
    Items,
    LayerScores,
    concept_level,
    make_items,
    score_with_choice,
)
from core.analyses.selection import nested_scores, paper_selection
from core.data.concepts import load_concepts
from core.errors import DataError, ParameterError
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress, sub_progress
from core.stats.noise_ceiling import NoiseCeiling, nsd_from_moments

SELECT = "select"


@dataclass
class Targets:
    """Encoding targets of one participant.

    kind : ``voxels``, ``areas``, ``rois`` or ``cells``; names : (T,) str; keys : (T,) int common ids;
    values : paradigm -> trial-level values (n_trials, T).
    """

    kind: str
    names: np.ndarray
    keys: np.ndarray
    values: Callable[[str], np.ndarray]


@dataclass
class ParticipantScores:
    participant: str
    targets: Targets
    scores: ChosenScores


@dataclass
class EncodingRun:
    """Everything a run produced for one model x paradigm."""

    model: str
    paradigm: str
    poolings: tuple[str, ...]
    layers: np.ndarray
    participants: list[ParticipantScores]
    group_keys: np.ndarray | None = None  # union keys (paper selection / noise ceiling)
    group_curves: LayerScores | None = None  # paper selection on participant-averaged data
    noise_ceiling: NoiseCeiling | None = None
    model_id: str = ""
    revision: str | None = None
    n_items: dict[str, int] = field(default_factory=dict)


def _item_rank(keys: pd.DataFrame) -> np.ndarray:
    order = {c: i for i, c in enumerate(load_concepts())}
    idx = keys["stimulus_idx"].fillna(0).astype(np.int64).to_numpy()
    return keys["concept"].map(order).to_numpy(np.int64) * 1000 + idx


class _Accumulator:
    """Sums over participants per (item, target key)."""

    def __init__(self, item_ranks: np.ndarray, target_keys: np.ndarray, squares: bool):
        self.items = np.unique(item_ranks)
        self.keys = np.unique(target_keys)
        shape = (self.items.size, self.keys.size)
        self.total = np.zeros(shape, np.float32)
        self.count = np.zeros(shape, np.float32)
        self.total_sq = np.zeros(shape, np.float32) if squares else None

    def add(self, ranks: np.ndarray, keys: np.ndarray, values: np.ndarray) -> None:
        rows = np.searchsorted(self.items, ranks)
        cols = np.searchsorted(self.keys, keys)
        finite = np.isfinite(values)
        v = np.where(finite, values, 0.0).astype(np.float32)
        self.total[np.ix_(rows, cols)] += v
        self.count[np.ix_(rows, cols)] += finite
        if self.total_sq is not None:
            self.total_sq[np.ix_(rows, cols)] += v * v

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.total / np.maximum(self.count, 1), np.nan).astype(np.float32)


def _candidates(spec, layer, pooling, n_layers: int | None) -> tuple[tuple[str, ...], str]:
    if pooling == SELECT:
        poolings = tuple(p for p in ("last_tok", "mean") if p in spec.poolings) or spec.poolings
    else:
        poolings = (pooling,)
    return poolings, ("select" if (pooling == SELECT or layer == SELECT) else "fixed")


def run_encoding(
    dataset,
    model: str,
    paradigm: str,
    targets: Callable[[object], Targets],
    layer: int | str = SELECT,
    pooling: str = "mean",
    selection: str = "paper",
    cv_folds: int = 5,
    cv_groups: str = "stimulus",
    seed: int = 0,
    noise_ceiling: bool = False,
    participants: tuple[str, ...] | None = None,
    device: str = "cpu",
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> EncodingRun:
    """Encode ``targets`` of every participant from ``model`` features of ``paradigm`` (method.md §3.4–3.5).

    layer : hidden-state index (0 = embeddings) or ``"select"``; pooling : a pooling or ``"select"``
    (the model's ``last_tok`` and ``mean``, as the paper); selection : ``paper`` or ``nested``.
    """
    from core.features.dataset import dataset_features
    from core.features.registry import resolve_model

    if paradigm not in dataset.paradigms:
        raise ParameterError(f"paradigm {paradigm!r} is not in this dataset ({', '.join(dataset.paradigms)})")
    spec = resolve_model(model)
    poolings, mode = _candidates(spec, layer, pooling, spec.n_layers)
    participants = tuple(participants or dataset.participants)
    feats = {}
    for n, p in enumerate(poolings):
        check_cancel(cancel)
        step = sub_progress(progress, 0.3 * n / len(poolings), 0.3 * (n + 1) / len(poolings))
        feats[p] = dataset_features(dataset, spec, paradigm, p, device, step, cancel)
    first = feats[poolings[0]]
    n_layers = first.n_layers
    if layer != SELECT and not 0 <= int(layer) < n_layers:
        raise ParameterError(f"layer {layer} is outside 0..{n_layers - 1} for model {model!r}")
    layers = np.arange(n_layers) if layer == SELECT else np.array([int(layer)])
    per_concept = concept_level(first.keys)
    run = EncodingRun(model, paradigm, poolings, layers, [], model_id=first.model_id, revision=first.revision)

    def prepare(pid):
        data = dataset.participant(pid)
        if paradigm not in data.events:
            raise DataError(dataset.path, f"participant {pid} has no {paradigm} trials")
        items = make_items(data.events[paradigm], per_concept)
        tg = targets(data)
        Y = items.responses(tg.values(paradigm))
        return data, items, tg, Y

    need_group = (mode == "select" and selection == "paper") or noise_ceiling
    if need_group:
        ranks, keys = [], []
        for pid in participants:
            data = dataset.participant(pid)
            ranks.append(_item_rank(make_items(data.events[paradigm], per_concept).keys))
            keys.append(targets(data).keys)
        acc = _Accumulator(np.concatenate(ranks), np.concatenate(keys), noise_ceiling)
        for n, pid in enumerate(participants):
            check_cancel(cancel)
            data, items, tg, Y = prepare(pid)
            acc.add(_item_rank(items.keys), tg.keys, Y)
            data.release()
            progress(0.3 + 0.1 * (n + 1) / len(participants), f"group average {pid}")
        run.group_keys = acc.keys
        if noise_ceiling:
            run.noise_ceiling = nsd_from_moments(acc.total, acc.total_sq, acc.count)
    choice = None
    if mode == "select" and selection == "paper":
        Yg = acc.mean()
        item_keys = _keys_from_ranks(acc.items, per_concept)
        Xg = {p: np.asarray(feats[p].for_events(item_keys), np.float32) for p in poolings}
        ok = np.all(np.isfinite(Yg), axis=0)
        folds = make_folds(item_keys["concept"].to_numpy(), cv_folds, seed, cv_groups)
        sub = sub_progress(progress, 0.4, 0.6)
        scores, pi, li = paper_selection(Xg, np.nan_to_num(Yg), folds, layers, device=device,
                                         progress=sub, cancel=cancel)
        scores.r[..., ~ok] = np.nan
        run.group_curves = scores
        choice = (pi, li)
    elif mode == "select" and selection != "nested":
        raise ParameterError(f"selection must be paper or nested, got {selection!r}")
    start = 0.6 if choice is not None else 0.4
    for n, pid in enumerate(participants):
        check_cancel(cancel)
        sub = sub_progress(progress, start + (1 - start) * n / len(participants),
                           start + (1 - start) * (n + 1) / len(participants))
        data, items, tg, Y = prepare(pid)
        run.n_items[pid] = items.n
        X = {p: np.asarray(feats[p].for_events(items.keys), np.float32) for p in poolings}
        run.participants.append(ParticipantScores(pid, tg, _score(
            X, Y, items, tg, mode, selection, choice, run.group_keys, layers, cv_folds, cv_groups, seed,
            device, sub, cancel)))
        data.release()
    progress(1.0, f"encoding {model} {paradigm} done")
    return run


def _keys_from_ranks(ranks: np.ndarray, per_concept: bool) -> pd.DataFrame:
    concepts = np.asarray(load_concepts())
    idx = pd.array(ranks % 1000, dtype="Int64")
    if per_concept:
        idx = pd.array([pd.NA] * len(ranks), dtype="Int64")
    return pd.DataFrame({"concept": concepts[ranks // 1000], "stimulus_idx": idx})


def _score(X, Y, items: Items, tg: Targets, mode, selection, choice, group_keys, layers, cv_folds,
           cv_groups, seed, device, progress, cancel) -> ChosenScores:
    concepts = items.concepts
    folds = make_folds(concepts, cv_folds, seed, cv_groups)
    ok = np.all(np.isfinite(Y), axis=0)
    Yf = np.where(np.isfinite(Y), Y, 0.0).astype(np.float32)
    if mode == "fixed":
        scores = score_with_choice(X, Yf, folds, 0, int(layers[0]), device=device, progress=progress,
                                   cancel=cancel)
    elif selection == "paper":
        col = np.searchsorted(group_keys, tg.keys)
        scores = score_with_choice(X, Yf, folds, choice[0][col], choice[1][col], device=device,
                                   progress=progress, cancel=cancel)
    else:
        def inner(train):
            return make_folds(concepts[train], cv_folds, seed, cv_groups)

        scores = nested_scores(X, Yf, folds, inner, layers, device=device, progress=progress, cancel=cancel)
    scores.r[:, ~ok] = np.nan
    return scores
