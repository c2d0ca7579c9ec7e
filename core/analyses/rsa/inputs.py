"""From a dataset to RDMs: ROI voxels, significant-voxel masks, model features and concept vectors.

Model side (method.md §5): the concept vector of a participant is the mean of the embeddings of the
distinct stimuli that participant saw: the sentences, the word cloud (one input per concept) and, for
vision-language models in the ``text+image`` condition, the pictures (image + word).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.analyses.consistency import read_consistency_voxels
from core.analyses.rsa.pipeline import ParticipantRDMs
from core.analyses.rsa.rdm import brain_concept_patterns, concept_vectors, rdm, rdms
from core.errors import DataError, ParameterError
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress, sub_progress

CONDITIONS = {"text": ("sentences", "word_clouds"), "text+image": ("sentences", "word_clouds", "pictures")}
MIN_VOXELS = 2


@dataclass
class ROISet:
    """ROIs as labels per dataset voxel: ``ids`` (int) with ``names`` (same order)."""

    ids: list[int]
    names: list[str]

    @classmethod
    def from_volume(cls, volume) -> ROISet:
        return cls([int(i) for i in volume.ids()], [str(n) for n in volume.names()])


def load_rois(spec: str, tsv: str | None = None):
    """The ROI label volume of a ``rois=`` spec (see :func:`core.atlas.specs.resolve_rois`)."""
    from core.atlas.specs import resolve_rois

    return resolve_rois(spec, tsv or None)


def significant_voxels(results_dir: str | Path | None, participant: str, geometry) -> np.ndarray:
    """Voxels significant in both halves (``replicated``; else ``significant``) for one participant,
    from ``consistency_voxels.csv`` of an earlier consistency run: bool (V,)."""
    path, table = read_consistency_voxels(results_dir, "sig_voxels_only")
    column = "replicated" if "replicated" in table else "significant"
    if not {"participant", "i", "j", "k", column} <= set(table.columns):
        raise DataError(path, f"needs columns participant, i, j, k and {column}")
    if not (table["participant"] == participant).any():
        raise DataError(path, f"has no rows for participant {participant} (results of another dataset?)")
    rows = table[(table["participant"] == participant) & table[column].astype(bool)]
    mask = np.zeros(geometry.n_voxels, dtype=bool)
    index = geometry.index_of(rows[["i", "j", "k"]].to_numpy())
    mask[index[index >= 0]] = True
    return mask


def model_features(dataset, model: str, condition: str, pooling: str, device: str = "auto",
                   progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """Stimulus features per paradigm for one model x condition x pooling: {paradigm: StimulusFeatures}."""
    from core.features.dataset import dataset_features
    from core.features.registry import resolve_model

    if condition not in CONDITIONS:
        raise ParameterError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    spec = resolve_model(model)
    if condition == "text+image" and not spec.is_vlm:
        raise ParameterError(f"condition text+image needs a vision-language model; {model!r} is text-only")
    paradigms = [p for p in CONDITIONS[condition] if p in dataset.paradigms]
    if not paradigms:
        raise DataError(dataset.path, f"no {' or '.join(CONDITIONS[condition])} paradigm for the model side")
    out = {}
    for n, paradigm in enumerate(paradigms):
        check_cancel(cancel)
        step = sub_progress(progress, n / len(paradigms), (n + 1) / len(paradigms))
        out[paradigm] = dataset_features(dataset, spec, paradigm, pooling, device, step, cancel)
    return out


def seen_stimuli(features: dict, events: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct stimuli a participant saw, over the paradigms in ``features``.

    Returns (keys with columns concept, paradigm, row; hidden float32 (n, L + 1, H)). A concept-level
    feature row (one input per concept, as the word clouds) counts once however many trials showed it.
    """
    keys, hidden = [], []
    for paradigm, feats in features.items():
        if paradigm not in events:
            continue
        shown = events[paradigm][["concept", "stimulus_idx"]].drop_duplicates()
        rows = np.unique(np.concatenate(feats.row_index(shown))) if len(shown) else np.zeros(0, int)
        keys.append(pd.DataFrame({"concept": feats.keys["concept"].to_numpy()[rows], "paradigm": paradigm,
                                  "row": rows}))
        hidden.append(feats.hidden[rows])
    if not keys:
        raise DataError("events", "the participant saw none of the model-side paradigms")
    return pd.concat(keys, ignore_index=True), np.concatenate(hidden)


def participant_rdms(participant, concepts: tuple[str, ...], labels: np.ndarray, rois: ROISet,
                     model_sets: dict, distance: str = "correlation",
                     voxel_mask: np.ndarray | None = None) -> tuple[ParticipantRDMs, dict]:
    """Brain RDMs per ROI and model RDMs per setting and layer for one participant.

    Parameters
    ----------
    labels : int (V,) ROI label per voxel of this participant (0 = none).
    model_sets : (model, condition, pooling) -> {paradigm: StimulusFeatures}.
    voxel_mask : optional bool (V,) voxels to keep (significant voxels only).

    Returns
    -------
    (ParticipantRDMs over the concepts with finite data on both sides, extras) where extras holds
    ``concepts_dropped``. ROIs with fewer than 2 usable voxels are left out.
    """
    labels = np.asarray(labels)
    keep = np.ones(labels.shape, bool) if voxel_mask is None else np.asarray(voxel_mask, bool)
    roi_voxels = {name: np.flatnonzero((labels == rid) & keep) for rid, name in zip(rois.ids, rois.names,
                                                                                       strict=True)}
    union = np.unique(np.concatenate([v for v in roi_voxels.values()] + [np.zeros(0, np.int64)]))
    patterns = brain_concept_patterns(participant, union, concepts) if union.size else None
    position = {v: i for i, v in enumerate(union)}
    brain_patterns, n_voxels = {}, {}
    for name, vox in roi_voxels.items():
        if vox.size == 0:
            continue
        block = patterns[:, [position[v] for v in vox]]
        rows_ok = ~np.all(np.isnan(block), axis=1)
        block = block[:, ~np.isnan(block[rows_ok]).any(axis=0)]  # voxels with a value for every concept
        if block.shape[1] >= MIN_VOXELS:
            brain_patterns[name] = block
            n_voxels[name] = int(block.shape[1])
    if not brain_patterns:
        raise DataError("rois", f"participant {participant.id}: no ROI has {MIN_VOXELS} or more voxels")
    vectors = {}
    for key, feats in model_sets.items():
        seen, hidden = seen_stimuli(feats, participant.events)
        vectors[key] = concept_vectors(seen, hidden, concepts)  # (n, L + 1, H)
    ok = np.ones(len(concepts), bool)
    for block in brain_patterns.values():
        ok &= ~np.isnan(block).any(axis=1)
    for vec in vectors.values():
        ok &= ~np.isnan(vec).reshape(len(concepts), -1).any(axis=1)
    if ok.sum() < 3:
        raise DataError("events", f"participant {participant.id}: under 3 concepts with data on both sides")
    kept = tuple(c for c, k in zip(concepts, ok, strict=True) if k)
    brain = {name: rdm(block[ok], distance) for name, block in brain_patterns.items()}
    models = {key: rdms(vec[ok].transpose(1, 0, 2), distance) for key, vec in vectors.items()}
    dropped = [c for c, k in zip(concepts, ok, strict=True) if not k]
    return ParticipantRDMs(participant.id, kept, brain, models, n_voxels), {"concepts_dropped": dropped}


def union_events(events: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Every stimulus any participant saw: paradigm -> distinct (concept, stimulus_idx) rows, in first-seen
    order, from each participant's events (paradigm -> events table)."""
    union: dict[str, list[pd.DataFrame]] = {}
    for ev in events:
        for paradigm, frame in ev.items():
            union.setdefault(paradigm, []).append(frame[["concept", "stimulus_idx"]])
    return {p: pd.concat(f, ignore_index=True).drop_duplicates() for p, f in union.items()}


def reported_layers(scores: pd.DataFrame, model: str, condition: str, pooling: str,
                    selected_only: bool) -> list[int]:
    """The layers of one model x condition x pooling in the RSA scores, sorted: those the paper's selection
    picked (``selected_paper``) when ``selected_only``, else every scored layer."""
    rows = scores[(scores["model"] == model) & (scores["condition"] == condition)
                  & (scores["pooling"] == pooling)]
    layers = rows.loc[rows["selected_paper"], "layer"] if selected_only else rows["layer"]
    return sorted({int(x) for x in layers})


def model_layer_rdms(features: dict, union: dict[str, pd.DataFrame], concepts: tuple[str, ...],
                     layers: list[int], distance: str = "correlation") -> tuple[list[str], np.ndarray]:
    """Model RDMs of ``layers`` over the stimuli in ``union`` (:func:`union_events`): the concepts with a
    feature vector (labels) and the condensed RDMs, float (len(layers), n_pairs)."""
    keys, hidden = seen_stimuli(features, union)
    vectors = concept_vectors(keys, hidden, tuple(concepts))
    ok = ~np.isnan(vectors).reshape(len(concepts), -1).any(axis=1)
    stack = rdms(vectors[ok][:, layers].transpose(1, 0, 2), distance)
    return [c for c, k in zip(concepts, ok, strict=True) if k], stack
