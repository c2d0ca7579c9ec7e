"""One encoding run over a dataset: features -> items -> targets -> selection -> scores, for one model
and paradigm (used by the ``encoding`` and ``quartiles`` plugins).

Targets are described per participant by :class:`Targets` with integer ``keys`` that are common across
participants (atlas label, union-grid voxel index, quartile-cell code): the paper's selection and the
noise ceiling average item responses across participants by (item, key).

Memory: per participant the item responses (n_items, T) float32; for ``selection=paper`` and the noise
ceiling, the group pass streams over chunks of the union target keys, its accumulators bounded by
``group_chunk_bytes`` (default 1 GiB; :func:`group_results` states the bound).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.analyses.encoding.cv import make_folds
from core.analyses.encoding.model import (
    ChosenScores,
    Items,
    LayerScores,
    concept_level,
    item_ranks,
    keys_from_ranks,
    make_items,
    score_with_choice,
)
from core.analyses.encoding.results import EncodingRun, PaperChoice, ParticipantScores, Targets
from core.analyses.encoding.selection import nested_scores, paper_selection
from core.errors import DataError, ParameterError
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress, sub_progress
from core.stats.noise_ceiling import NoiseCeiling, nsd_from_moments

SELECT = "select"
#: default bound on the group pass's per-chunk accumulators (bytes), see :func:`group_results`.
DEFAULT_GROUP_BYTES = 1 << 30
#: default bound on the item responses of participants scored in one batch (bytes), see run_encoding
DEFAULT_BATCH_BYTES = 256 << 20


class _Accumulator:
    """Weighted sums over participants per (item, target key): the paper's ``groupby(...).mean()`` over
    the rows of all participants (each row one trial, or one trial x voxel)."""

    def __init__(self, item_ranks: np.ndarray, target_keys: np.ndarray, squares: bool):
        self.items = np.unique(item_ranks)
        self.keys = np.unique(target_keys)
        shape = (self.items.size, self.keys.size)
        self.total = np.zeros(shape, np.float64)
        self.count = np.zeros(shape, np.float64)
        self.total_sq = np.zeros(shape, np.float64) if squares else None
        self.participants = np.zeros(self.keys.size, np.int64)

    def add(self, ranks: np.ndarray, keys: np.ndarray, values: np.ndarray,
            weights: np.ndarray | None = None) -> None:
        """values (n_items, T) item means; weights (n_items, T) rows behind each (default 1)."""
        rows = np.searchsorted(self.items, ranks)
        cols = np.searchsorted(self.keys, keys)
        finite = np.isfinite(values)
        w = np.ones(values.shape) if weights is None else np.broadcast_to(weights, values.shape)
        w = np.where(finite, w, 0.0)
        v = np.where(finite, values, 0.0).astype(np.float64)
        self.total[np.ix_(rows, cols)] += w * v
        self.count[np.ix_(rows, cols)] += w
        if self.total_sq is not None:
            self.total_sq[np.ix_(rows, cols)] += w * v * v
        self.participants[cols] += finite.any(axis=0)

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.total / np.maximum(self.count, 1e-300), np.nan).astype(
                np.float32)


def _candidates(spec, layer, pooling) -> tuple[tuple[str, ...], str]:
    poolings = spec.select_poolings if pooling == SELECT else (pooling,)
    return poolings, ("select" if (pooling == SELECT or layer == SELECT) else "fixed")


def run_encoding(
    dataset,
    model: str,
    paradigm: str,
    targets: Callable[[object], Targets],
    *,
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
    choice: PaperChoice | None = None,
    choice_key: Callable[[np.ndarray], np.ndarray] | None = None,
    pool_voxels: bool = False,
    group_chunk_bytes: int = DEFAULT_GROUP_BYTES,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> EncodingRun:
    """Encode ``targets`` of every participant from ``model`` features of ``paradigm`` (method.md §3.4–3.5).

    layer : hidden-state index (0 = embeddings) or ``"select"``; pooling : a pooling or ``"select"``
    (the model's candidates, :attr:`core.features.registry.ModelSpec.select_poolings`, as the paper);
    selection : ``paper`` or ``nested``.
    choice : a paper choice made elsewhere (e.g. per ROI, reused for its quartile cells, as the paper's
    ``brain_encoding_quartiles.py``); ``choice_key`` maps this run's target keys to the choice's keys.
    pool_voxels : the paper's group average over voxel-level rows (each participant's target weighs by
    its number of voxels times trials) instead of over target-mean rows (trials only).
    group_chunk_bytes : bound on the group pass's accumulators (see :func:`group_results`).
    batch_bytes : participants with the same items are scored together while their item responses
    (float32 n_items x targets each) fit in this many bytes: one set of ridge decompositions per batch
    instead of per participant (areas and ROIs: every participant in one batch; whole-brain voxels:
    one participant per batch).
    """
    from core.features.dataset import dataset_poolings
    from core.features.registry import resolve_model

    if paradigm not in dataset.paradigms:
        raise ParameterError(f"paradigm {paradigm!r} is not in this dataset ({', '.join(dataset.paradigms)})")
    if selection not in ("paper", "nested"):
        raise ParameterError(f"selection must be paper or nested, got {selection!r}")
    spec = resolve_model(model)
    poolings, mode = _candidates(spec, layer, pooling)
    participants = tuple(participants or dataset.participants)
    check_cancel(cancel)  # every candidate pooling from one forward pass
    feats = dataset_poolings(dataset, spec, paradigm, poolings, device, sub_progress(progress, 0.0, 0.3),
                             cancel)
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
        return data, items, tg

    paper_mode = mode == "select" and selection == "paper"
    if (paper_mode and choice is None) or noise_ceiling:
        group_inputs = {}

        def select(items: np.ndarray, Yg: np.ndarray, sub: ProgressFn):
            if not group_inputs:  # the same union items in every chunk
                item_keys = keys_from_ranks(items, per_concept)
                group_inputs["X"] = {p: np.asarray(feats[p].for_events(item_keys), np.float32)
                                     for p in poolings}
                group_inputs["folds"] = make_folds(item_keys["concept"].to_numpy(), cv_folds, seed, cv_groups)
            return paper_selection(group_inputs["X"], Yg, group_inputs["folds"], layers, device=device,
                                   progress=sub, cancel=cancel)

        keys, group_choice, run.noise_ceiling = group_results(
            participants, paradigm, prepare, pool_voxels, noise_ceiling,
            select if (paper_mode and choice is None) else None, group_chunk_bytes,
            sub_progress(progress, 0.3, 0.6), cancel)
        run.group_keys = keys
        choice = choice if group_choice is None else group_choice
    if paper_mode:
        run.group_keys, run.group_curves, run.choice = choice.keys, choice.curves, choice
    start = 0.6 if paper_mode else 0.4
    batch: list[tuple[str, Items, Targets, np.ndarray]] = []

    def score(batch, done: int) -> None:
        """Score participants with the same items in one pass: their targets side by side (every
        result is per target, and the ridge decompositions depend on the items only)."""
        items = batch[0][1]
        X = {p: np.asarray(feats[p].for_events(items.keys), np.float32) for p in poolings}
        Y = batch[0][3] if len(batch) == 1 else np.concatenate([b[3] for b in batch], axis=1)
        chosen = None
        if paper_mode:
            picks = [choice.for_keys(choice_key(tg.keys) if choice_key is not None else tg.keys)
                     for _, _, tg, _ in batch]
            chosen = tuple(np.concatenate([c[i] for c in picks]) for i in (0, 1))
        sub = sub_progress(progress, start + (1 - start) * (done - len(batch)) / len(participants),
                           start + (1 - start) * done / len(participants))
        scores = _score(X, Y, items, mode=mode, selection=selection, chosen=chosen, layers=layers,
                        cv_folds=cv_folds, cv_groups=cv_groups, seed=seed, device=device, progress=sub,
                        cancel=cancel)
        first = 0
        for pid, _, tg, Yp in batch:
            cols = slice(first, first + Yp.shape[1])
            first = cols.stop
            run.participants.append(ParticipantScores(pid, tg, scores if len(batch) == 1 else
                                                      scores.columns(cols)))

    for n, pid in enumerate(participants):
        check_cancel(cancel)
        data, items, tg = prepare(pid)
        Y = items.responses(tg.values(paradigm))
        data.release()
        run.n_items[pid] = items.n
        same = batch and np.array_equal(item_ranks(batch[0][1].keys), item_ranks(items.keys))
        if batch and (not same or sum(b[3].nbytes for b in batch) + Y.nbytes > batch_bytes):
            score(batch, n)
            batch = []
        batch.append((pid, items, tg, Y))
    if batch:
        score(batch, len(participants))
    progress(1.0, f"encoding {model} {paradigm} done")
    return run


def _group_layout(participants, paradigm, prepare, stimulus_ceiling):
    """Union item ranks, union stimulus-item ranks (or None) and union target keys (sorted) of the
    participants, from their events and keys only (no responses are read)."""
    ranks, keys, stim_ranks = [], [], []
    for pid in participants:
        data, items, tg = prepare(pid)
        ranks.append(item_ranks(items.keys))
        keys.append(tg.keys)
        if stimulus_ceiling:
            stim_ranks.append(item_ranks(make_items(data.events[paradigm], False).keys))
        data.release()
    stim = np.unique(np.concatenate(stim_ranks)) if stimulus_ceiling else None
    return np.unique(np.concatenate(ranks)), stim, np.unique(np.concatenate(keys))


def _chunk_columns(keys: np.ndarray, chunk: np.ndarray):
    """A participant's columns whose keys lie in ``chunk`` (a run of the sorted union keys): None for
    all of them, a slice when they are contiguous (memory maps then read only that part), else indices."""
    inside = (keys >= chunk[0]) & (keys <= chunk[-1])
    if inside.all():
        return None
    return column_picker(np.flatnonzero(inside))


def column_picker(cols: np.ndarray):
    """A slice when the column indices ``cols`` are contiguous (memory maps then read only that part),
    else the indices themselves."""
    if cols.size and cols[-1] - cols[0] + 1 == cols.size:
        return slice(int(cols[0]), int(cols[-1]) + 1)
    return cols


def _group_pass(dataset, participants, paradigm, prepare, pool_voxels, stimulus_ceiling, progress, cancel,
                keys: np.ndarray | None = None, layout=None):
    """Pool every participant's responses by (item, target key) as the paper's ``groupby().mean()``
    over the concatenated participants does (participants with more trials, or more voxels with
    ``pool_voxels``, weigh more). With ``stimulus_ceiling`` also a stimulus-level accumulator for the
    noise ceiling (the paper's 1,080 (concept, stimulus_idx) items in every paradigm).

    keys : a run of the sorted union keys to accumulate (default all); layout : :func:`_group_layout`'s
    result when the caller has it. Progress goes 0 -> 1 over the participants."""
    items_u, stim_u, union = layout or _group_layout(participants, paradigm, prepare, stimulus_ceiling)
    chunk = union if keys is None else np.asarray(keys)
    acc = _Accumulator(items_u, chunk, squares=False)
    ceiling = _Accumulator(stim_u, chunk, squares=True) if stimulus_ceiling else None
    for n, pid in enumerate(participants):
        check_cancel(cancel)
        data, items, tg = prepare(pid)
        cols = _chunk_columns(tg.keys, chunk)
        pick = (lambda a: a) if cols is None else (lambda a, c=cols: a[..., c])
        tkeys = pick(tg.keys)
        if tkeys.size:
            values = pick(tg.values(paradigm))
            weights = items.n_trials[:, None]
            if pool_voxels and tg.n_voxels is not None:
                weights = weights * pick(np.asarray(tg.n_voxels, np.float64))[None, :]
            acc.add(item_ranks(items.keys), tkeys, items.responses(values), weights)
            if ceiling is not None:
                stim = make_items(data.events[paradigm], False)
                ceiling.add(item_ranks(stim.keys), tkeys, stim.responses(values))
        data.release()
        progress((n + 1) / len(participants), f"group average {pid}")
    return acc, ceiling


def group_results(participants, paradigm, prepare, pool_voxels: bool, noise_ceiling: bool, select,
                  chunk_bytes: int = DEFAULT_GROUP_BYTES, progress: ProgressFn = no_progress,
                  cancel: CancelToken | None = None):
    """The group pass, streamed over chunks of the union target keys: per chunk the participants'
    responses of those keys are pooled (:func:`_group_pass`), then the noise ceiling and the paper's
    selection (``select(union_items, Y_group (n_items, C) float32, progress) -> (LayerScores, pooling
    index, layer id)``, or None) run on the chunk; both are per target, so the results equal the
    unchunked pass.

    Peak memory of the pass is bounded by ``chunk_bytes`` (plus one participant's responses as
    ``prepare`` loads them, and the selection's ridge buffers): a chunk of C keys holds float64
    accumulators of 8 C (2 n_items + 3 n_stimulus_items) bytes (the last term with ``noise_ceiling``),
    and the group means and the ceiling's moments need temporaries of at most 8 C (3 n_items +
    6 n_stimulus_items) more, so C = chunk_bytes // (8 (5 n_items + 9 n_stimulus_items)) keys (at least
    one): 1 GiB (the default) is ~8,900 keys at 1,080 items with the ceiling. Each chunk reads every
    participant once more (only the chunk's columns where they are contiguous) and repeats the ridge
    decompositions of the selection (per pooling, layer and fold; estimated 5-15% of a chunk's ridge work
    at ~9,000 targets). The kept results are the selection's LayerScores, O(poolings x layers x folds x T).

    Returns (union keys (T,), PaperChoice or None, NoiseCeiling or None).
    """
    items_u, stim_u, union = layout = _group_layout(participants, paradigm, prepare, noise_ceiling)
    per_key = 8 * (5 * items_u.size + (9 * stim_u.size if noise_ceiling else 0))
    size = max(1, int(chunk_bytes) // per_key)
    bounds = list(range(0, union.size, size)) or [0]
    pieces, ceilings = [], []
    for c, start in enumerate(bounds):
        check_cancel(cancel)
        keys = union[start:start + size]
        sub = sub_progress(progress, c / len(bounds), (c + 1) / len(bounds))
        acc, ceiling = _group_pass(None, participants, paradigm, prepare, pool_voxels, noise_ceiling,
                                   sub_progress(sub, 0.0, 0.3 if select else 1.0), cancel, keys, layout)
        if ceiling is not None:
            ceilings.append(_ceiling(ceiling, acc.keys))
            del ceiling
        if select is not None:
            Yg = acc.mean()
            del acc
            ok = np.all(np.isfinite(Yg), axis=0)
            scores, pi, li = select(items_u, np.nan_to_num(Yg), sub_progress(sub, 0.3, 1.0))
            scores.r[..., ~ok] = np.nan
            pieces.append((scores, pi, li))
    choice = None
    if pieces:
        first = pieces[0][0]
        curves = LayerScores(first.poolings, first.layers, np.concatenate([p[0].r for p in pieces], -1),
                             np.concatenate([p[0].alpha for p in pieces], -1))
        choice = PaperChoice(union, np.concatenate([p[1] for p in pieces]),
                             np.concatenate([p[2] for p in pieces]), curves)
    nc = None
    if ceilings:
        nc = NoiseCeiling(*(np.concatenate([getattr(x, f) for x in ceilings]) for f in ("nc", "ncsnr", "n")))
    return union, choice, nc


def _ceiling(acc: _Accumulator, keys: np.ndarray) -> NoiseCeiling:
    """NSD noise ceiling per target from an accumulator of participant item means (one row per
    participant and item), with n = the number of participants that have the target (the paper's
    ``NC_n = n_participants``)."""
    col = np.searchsorted(acc.keys, keys)
    count = acc.count[:, col]
    return nsd_from_moments(acc.total[:, col], acc.total_sq[:, col], count, acc.participants[col])


def _score(X, Y, items: Items, *, mode, selection, chosen, layers, cv_folds, cv_groups, seed, device,
           progress, cancel) -> ChosenScores:
    concepts = items.concepts
    folds = make_folds(concepts, cv_folds, seed, cv_groups)
    ok = np.all(np.isfinite(Y), axis=0)
    Yf = np.where(np.isfinite(Y), Y, 0.0).astype(np.float32)
    if mode == "fixed":
        scores = score_with_choice(X, Yf, folds, 0, int(layers[0]), device=device, progress=progress,
                                   cancel=cancel)
    elif selection == "paper":
        scores = score_with_choice(X, Yf, folds, chosen[0], chosen[1], device=device,
                                   progress=progress, cancel=cancel)
    else:
        def inner(train):
            return make_folds(concepts[train], cv_folds, seed, cv_groups)

        scores = nested_scores(X, Yf, folds, inner, layers, device=device, progress=progress, cancel=cancel)
    scores.r[:, ~ok] = np.nan
    return scores
