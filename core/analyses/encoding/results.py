"""What an encoding run produces and works on: per-participant :class:`Targets`, the paper's
:class:`PaperChoice`, and the :class:`EncodingRun` that collects every participant's scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.analyses.encoding.model import ChosenScores, LayerScores
from core.errors import DataError
from core.stats.noise_ceiling import NoiseCeiling


@dataclass
class Targets:
    """Encoding targets of one participant.

    kind : ``voxels``, ``areas``, ``rois`` or ``cells``; names : (T,) str; keys : (T,) int common ids;
    values : paradigm -> trial-level values (n_trials, T); n_voxels : (T,) voxels averaged into each
    target (1 for voxel targets), the weight of the paper's voxel-level group average; columns : for
    the voxel targets of a chunk, their positions among the participant's voxels (None: all of them).
    """

    kind: str
    names: np.ndarray
    keys: np.ndarray
    values: Callable[[str], np.ndarray]
    n_voxels: np.ndarray | None = None
    columns: np.ndarray | None = None


@dataclass
class PaperChoice:
    """The paper's selection: one (pooling index, layer id) per group target key, chosen on the
    participant-pooled responses; ``curves`` are the group layer scores it came from."""

    keys: np.ndarray
    pooling: np.ndarray
    layer: np.ndarray
    curves: LayerScores

    def for_keys(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col = np.searchsorted(self.keys, keys)
        if np.any(col >= self.keys.size) or np.any(self.keys[np.minimum(col, self.keys.size - 1)] != keys):
            raise DataError("encoding", "a target has no layer/pooling choice from the group selection")
        return self.pooling[col], self.layer[col]


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
    choice: PaperChoice | None = None  # the paper's (pooling, layer) per group key
