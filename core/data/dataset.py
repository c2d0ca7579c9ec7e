"""The dataset model: participants x paradigms x trials x voxels.

A :class:`Dataset` is cheap to open: it knows its participants, paradigms and concepts, and loads one
participant at a time (:meth:`Dataset.participant`), whose responses are float32 (n_trials, n_voxels)
arrays, memory-mapped where the format allows. Readers (``core.data.readers``) build datasets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from core.data.concepts import PARADIGMS, load_concepts
from core.data.geometry import VoxelGeometry

EVENT_COLUMNS = ("concept", "stimulus_idx", "split")
VOXEL_CHUNK = 16384  # voxels per chunk in the concept-mean and label-mean helpers


class ParticipantLoader(Protocol):
    """What a reader provides to a :class:`Dataset`: load one participant by id."""

    def load_participant(self, participant: str) -> ParticipantData: ...


@dataclass(eq=False)
class ParticipantData:
    """One participant's responses.

    Attributes
    ----------
    id : participant id, e.g. ``"M01"``.
    geometry : the voxel grid and mask (V voxels).
    events : paradigm -> trial table with columns ``concept`` (str), ``stimulus_idx`` (Int64, NA for
        concept-level data), ``split`` (Int64 1/2, NA when unknown); row i describes trial i.
    language : optional language response per voxel (sentences > nonwords contrast), float32 (V,).
    """

    id: str
    geometry: VoxelGeometry
    events: dict[str, pd.DataFrame]
    betas_source: dict[str, Callable[[], np.ndarray]] = field(repr=False)
    language: np.ndarray | None = None
    _betas_cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def paradigms(self) -> tuple[str, ...]:
        return tuple(p for p in PARADIGMS if p in self.events)

    @property
    def n_voxels(self) -> int:
        return self.geometry.n_voxels

    def betas(self, paradigm: str) -> np.ndarray:
        """Responses for ``paradigm``: float32 (n_trials, V), memory-mapped where possible."""
        if paradigm not in self.betas_source:
            raise KeyError(f"participant {self.id} has no paradigm {paradigm!r}")
        if paradigm not in self._betas_cache:
            self._betas_cache[paradigm] = self.betas_source[paradigm]()
        return self._betas_cache[paradigm]

    def release(self) -> None:
        """Drop loaded responses (memory maps are closed when no longer referenced)."""
        self._betas_cache.clear()

    def has_splits(self) -> bool:
        """True when every paradigm's trials carry split-half labels."""
        return all(ev["split"].notna().all() for ev in self.events.values())

    def trial_weights(
        self, paradigm: str, split: int | None = None, concepts: tuple[str, ...] | None = None
    ) -> np.ndarray:
        """Averaging matrix float32 (n_concepts, n_trials): row c holds 1/n_c on concept c's trials.

        Concepts without trials (in this split) get an all-zero row; :meth:`concept_means` turns those
        into NaN.
        """
        concepts = concepts or load_concepts()
        ev = self.events[paradigm]
        keep = np.ones(len(ev), dtype=bool)
        if split is not None:
            keep &= (ev["split"] == split).fillna(False).to_numpy(dtype=bool)
        index = {c: i for i, c in enumerate(concepts)}
        rows = ev["concept"].map(index)
        keep &= rows.notna().to_numpy()
        w = np.zeros((len(concepts), len(ev)), dtype=np.float32)
        w[rows[keep].astype(int).to_numpy(), np.flatnonzero(keep)] = 1.0
        counts = w.sum(axis=1, keepdims=True)
        np.divide(w, counts, out=w, where=counts > 0)
        return w

    def concept_means(
        self,
        paradigm: str,
        split: int | None = None,
        concepts: tuple[str, ...] | None = None,
        voxels: np.ndarray | slice | None = None,
    ) -> np.ndarray:
        """Mean response per concept: float32 (n_concepts, V_selected), NaN for concepts without trials.

        ``split`` = 1 or 2 keeps only that half's trials; ``voxels`` selects columns (default all).
        Works chunk by chunk over voxels, so a memory-mapped array is never read whole at once.
        """
        w = self.trial_weights(paradigm, split, concepts)
        empty = w.sum(axis=1) == 0
        betas = self.betas(paradigm)
        cols = np.arange(betas.shape[1])[voxels if voxels is not None else slice(None)]
        out = np.empty((w.shape[0], len(cols)), dtype=np.float32)
        for start in range(0, len(cols), VOXEL_CHUNK):
            sel = cols[start : start + VOXEL_CHUNK]
            block = np.asarray(betas[:, sel] if len(sel) != betas.shape[1] else betas, dtype=np.float32)
            out[:, start : start + len(sel)] = w @ block
        out[empty] = np.nan
        return out

    def label_means(
        self, paradigm: str, labels: np.ndarray, label_ids: np.ndarray | None = None
    ) -> np.ndarray:
        """Trial-level mean response per label (area or ROI): float32 (n_trials, n_labels).

        ``labels`` is int (V,) with 0 = unlabelled; ``label_ids`` fixes the column order (default:
        sorted non-zero labels present). NaN voxels are ignored (nanmean); empty labels give NaN.

        One pass over the labelled voxels in chunks of ``VOXEL_CHUNK``: each chunk's responses
        (n_trials x chunk float32, read as one slab of the memory map when the labelled voxels are dense
        in it, else gathered) times a sparse voxel-to-label membership matrix (scipy.sparse): float32 sums
        per chunk, accumulated over chunks in float64 (equal to the per-label nanmean to float32
        precision, tests/test_dataset_model.py).
        """
        labels = np.asarray(labels)
        if labels.shape != (self.n_voxels,):
            raise ValueError(f"labels must have shape ({self.n_voxels},), got {labels.shape}")
        if label_ids is None:
            label_ids = np.unique(labels[labels != 0])
        label_ids = np.asarray(label_ids)
        betas = self.betas(paradigm)
        sums, counts = _label_sums(betas, labels, label_ids)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        return out.astype(np.float32)


def _label_sums(betas: np.ndarray, labels: np.ndarray, label_ids: np.ndarray):
    """Per trial and label, the sum of the finite responses and their count: float64 (n_trials, L) x 2."""
    from scipy import sparse

    n_trials = betas.shape[0]
    column = np.full(labels.shape, -1, dtype=np.int64)
    if len(label_ids):
        order = np.argsort(label_ids, kind="stable")
        pos = np.minimum(np.searchsorted(label_ids[order], labels), len(label_ids) - 1)
        hit = label_ids[order][pos] == labels
        column[hit] = order[pos[hit]]
    cols = np.flatnonzero(column >= 0)
    sums = np.zeros((n_trials, len(label_ids)))
    counts = np.zeros((n_trials, len(label_ids)))
    for start in range(0, len(cols), VOXEL_CHUNK):
        sel = cols[start : start + VOXEL_CHUNK]
        first, last = int(sel[0]), int(sel[-1]) + 1
        if last - first <= 2 * len(sel):  # dense enough: read the slab, zero weight on unlabelled voxels
            block = np.asarray(betas[:, first:last], dtype=np.float32)
            rows = sel - first
        else:
            block = np.asarray(betas[:, sel], dtype=np.float32)
            rows = np.arange(len(sel))
        member = sparse.csr_matrix(
            (np.ones(len(sel), dtype=np.float32), (rows, column[sel])), shape=(block.shape[1], len(label_ids))
        )
        finite = np.isfinite(block)
        if finite.all():
            sums += block @ member
            counts += np.asarray(member.sum(axis=0))
        else:
            sums += np.where(finite, block, np.float32(0)) @ member
            counts += finite.astype(np.float32) @ member
    return sums, counts


@dataclass(eq=False)
class Dataset:
    """A dataset on disk, opened by a reader.

    Attributes
    ----------
    path : the folder or file given by the user.
    name : display name.
    reader : name of the reader that opened it (``native``, ``pereira``, ``release``).
    space : coordinate space, e.g. ``MNI152_2mm``.
    paradigms, participants, concepts : what it holds (concepts in the paper's order).
    stimuli : optional stimulus table (concept, paradigm, stimulus_idx, text, image).
    """

    path: Path
    name: str
    reader: str
    space: str
    paradigms: tuple[str, ...]
    participants: tuple[str, ...]
    loader: ParticipantLoader = field(repr=False)
    concepts: tuple[str, ...] = field(default_factory=load_concepts)
    stimuli: pd.DataFrame | None = field(default=None, repr=False)

    def participant(self, participant: str) -> ParticipantData:
        """Load one participant (responses stay on disk until used)."""
        if participant not in self.participants:
            raise KeyError(f"no participant {participant!r} in {self.path}")
        return self.loader.load_participant(participant)

    def iter_participants(self) -> Iterator[ParticipantData]:
        """Participants one at a time; each is released before the next is loaded."""
        for pid in self.participants:
            data = self.participant(pid)
            try:
                yield data
            finally:
                data.release()

    def describe(self) -> dict:
        """A JSON-ready summary: reader, participants, paradigms, concepts, and per participant the
        voxels and trials."""
        subjects = []
        for pid in self.participants:
            data = self.participant(pid)
            subjects.append(
                {
                    "participant": pid,
                    "voxels": data.n_voxels,
                    "trials": {p: int(len(data.events[p])) for p in data.paradigms},
                    "splits": data.has_splits(),
                    "language_map": data.language is not None,
                }
            )
        return {
            "path": str(self.path),
            "name": self.name,
            "reader": self.reader,
            "space": self.space,
            "paradigms": list(self.paradigms),
            "n_concepts": len(self.concepts),
            "participants": subjects,
            "stimuli": None if self.stimuli is None else int(len(self.stimuli)),
        }
