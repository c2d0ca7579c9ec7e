"""Consistency for a participant (all trials and split halves), the voxel table and the group map
(method.md §2.2-2.3).

A voxel is *significant* for a participant when its (corrected) permutation p-value is <= alpha on all
trials; it is *replicated* when it is significant in both split halves (the paper's criterion). The group
probabilistic map is, per voxel, the fraction of participants replicated (or significant, for a participant
without split labels).

Memory: responses are read chunk by chunk over voxels (``chunk_voxels``, default 8,192), once per chunk
for all trials and both halves (a sparse averaging matrix per paradigm): per chunk a reused slab of each
paradigm's trials (n_trials x chunk float32, 100 MB for 1,080 + 900 + 1,080 trials), the concept means of
every run (runs x P x n x chunk float32, 53 MB for 3 runs) and the working copies of
:func:`core.analyses.consistency.statistic.permutation_tests` (16 P n bytes per voxel, 71 MB): about 250 MB
whatever the number of voxels, plus about 25 bytes per voxel and run for the outputs (measured on 204,492
voxels: +150 to +230 MB beyond the memory-mapped input, benchmarks/consistency.py --whole-run).

Participants with different masks on the same grid: the group map lives on the **union** of the masks, and
a participant who lacks a voxel counts as not significant there (the denominator is always the number of
participants, as in the paper's mean of binary maps). Different grids (shape or affine) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.analyses.consistency.statistic import (
    PermutationTest,
    consistency,
    default_chunk,
    permutation_tests,
    voxel_null,
)
from core.data.concepts import load_concepts
from core.data.dataset import ParticipantData
from core.data.geometry import VoxelGeometry
from core.errors import DataError, ParameterError
from core.progress import CancelToken, ProgressFn, no_progress
from core.stats.correction import CORRECTIONS, corrected_p, significant
from core.stats.permutation import exceedance_counts, p_from_counts

VOXEL_COLUMNS = ("participant", "i", "j", "k", "x", "y", "z", "C", "p", "significant")
SPLIT_COLUMNS = ("C_split1", "p_split1", "C_split2", "p_split2", "replicated")


@dataclass(eq=False)
class ConsistencyResult:
    """One participant's consistency map.

    C, p : float32 / float64 (V,) on all trials; significant : bool (V,) after ``correction``.
    p_corrected : float64 (V,) the values compared with alpha (equal to p when correction = none).
    max_null : float64 (K,) max-statistic null on all trials.
    splits : the two split-half tests (None without split labels or when not asked for);
    split_significant : bool (2, V); replicated : bool (V,) significant in both halves.
    """

    participant: str
    geometry: VoxelGeometry
    C: np.ndarray
    p: np.ndarray
    p_corrected: np.ndarray
    significant: np.ndarray
    max_null: np.ndarray
    n_permutations: int
    seed: int | None
    alpha: float
    correction: str
    backend: str
    splits: tuple[PermutationTest, PermutationTest] | None = None
    split_significant: np.ndarray | None = None
    replicated: np.ndarray | None = None

    @property
    def group_flag(self) -> np.ndarray:
        """What the group map counts: replicated when split halves were tested, else significant."""
        return self.replicated if self.replicated is not None else self.significant

    def frame(self) -> pd.DataFrame:
        """The voxel table: one row per voxel with the columns of ``consistency_voxels.csv``."""
        g = self.geometry
        data = {
            "participant": np.full(g.n_voxels, self.participant, dtype=object),
            "i": g.ijk[:, 0],
            "j": g.ijk[:, 1],
            "k": g.ijk[:, 2],
            "x": g.xyz[:, 0],
            "y": g.xyz[:, 1],
            "z": g.xyz[:, 2],
            "C": self.C,
            "p": self.p,
            "significant": self.significant,
        }
        if self.correction != "none":
            data["p_corrected"] = self.p_corrected
        if self.splits is not None:
            for half, test in enumerate(self.splits, start=1):
                data[f"C_split{half}"] = test.C
                data[f"p_split{half}"] = test.p
            data["replicated"] = self.replicated
        return pd.DataFrame(data)


def _flag(test: PermutationTest, alpha: float, correction: str) -> tuple[np.ndarray, np.ndarray]:
    adjusted = corrected_p(test.p, correction, test.C, test.max_null)
    return significant(test.p, alpha, correction, test.C, test.max_null), adjusted


def participant_consistency(
    data: ParticipantData,
    n_permutations: int = 1000,
    seed: int | None = 0,
    alpha: float = 0.05,
    correction: str = "none",
    split_halves: bool = True,
    *,
    concepts: tuple[str, ...] | None = None,
    backend: str = "auto",
    device: str = "cpu",
    chunk_voxels: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> ConsistencyResult:
    """C, permutation p and significance for one participant, on all trials and (when ``split_halves``
    and the events carry split labels) on each half.

    Concept means are computed chunk by chunk over voxels from the participant's (memory-mapped)
    responses, so the whole-brain concept-mean array is never held (memory bound: module docstring).
    The same permutations (``seed``) serve all trials and both halves.
    """
    if correction not in CORRECTIONS:
        raise ParameterError(f"correction {correction!r} is not one of {', '.join(CORRECTIONS)}")
    paradigms = data.paradigms
    if len(paradigms) < 2:
        raise DataError(data.id, f"consistency needs at least two paradigms, found {len(paradigms)}")
    halves = (1, 2) if split_halves and data.has_splits() else ()
    runs = (None, *halves)
    load = _concept_mean_loader(data, runs, concepts)
    n_concepts = len(concepts) if concepts is not None else len(load_concepts())
    chunk_voxels = chunk_voxels or default_chunk(len(paradigms), n_concepts)
    tests = permutation_tests(
        load,
        data.n_voxels,
        len(runs),
        n_permutations,
        seed,
        backend=backend,
        device=device,
        chunk_voxels=chunk_voxels,
        progress=lambda f, m: progress(f, f"{data.id}: {m}"),
        cancel=cancel,
    )
    main = tests[0]
    sig, adjusted = _flag(main, alpha, correction)
    result = ConsistencyResult(
        data.id, data.geometry, main.C, main.p, adjusted, sig, main.max_null,
        n_permutations, seed, alpha, correction, main.backend,
    )  # fmt: skip
    if halves:
        split_sig = np.stack([_flag(t, alpha, correction)[0] for t in tests[1:]])
        result.splits = (tests[1], tests[2])
        result.split_significant = split_sig
        result.replicated = split_sig.all(axis=0)
    return result


def average_trials(weights, block: np.ndarray) -> np.ndarray:
    """Concept means float32 (n, V) from averaging weights (n, n_trials) and trial responses (n_trials, V).

    weights : dense float array or a scipy.sparse matrix (one non-zero per trial and run: the sparse
        product reads each response once, ``n_trials x V`` multiply-adds instead of ``n x n_trials x V``).
    NaN responses are left out of their concept's mean (as the paper's pandas ``groupby().mean()``); a
    concept with no finite trial is NaN.
    """
    finite = np.isfinite(block)
    if finite.all():
        return np.asarray(weights @ block).astype(np.float32, copy=False)
    hit = (weights > 0).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.asarray(hit @ np.where(finite, block, np.float32(0))) / np.asarray(
            hit @ finite.astype(np.float32)
        )
    return means.astype(np.float32, copy=False)


def _concept_mean_loader(data: ParticipantData, runs, concepts):
    """``(start, stop) -> [(P, n, stop - start) per run]``: concept means of a voxel range for all trials
    (run None) and each split half, from one read of each paradigm's responses (the stacked averaging
    matrices of :meth:`ParticipantData.trial_weights`, held sparse: one pass over each chunk of the memory
    map serves every run; concepts without trials give NaN rows, as in
    :meth:`ParticipantData.concept_means`). NaN betas are left out of their concept's mean (pandas'
    ``groupby().mean()`` in the paper); a concept whose trials are all NaN is NaN, so is the voxel."""
    from scipy import sparse

    weights = {}
    for paradigm in data.paradigms:
        w = np.concatenate([data.trial_weights(paradigm, split, concepts) for split in runs])
        weights[paradigm] = (sparse.csr_matrix(w), w.sum(axis=1) == 0)
    n_runs, n_par = len(runs), len(data.paradigms)
    n_rows = next(iter(weights.values()))[0].shape[0] // n_runs
    buffers: dict = {}  # reused while the chunk width stays the same (fresh pages cost page faults)

    def load(start: int, stop: int) -> list[np.ndarray]:
        """The returned arrays are overwritten by the next call."""
        m = stop - start
        if buffers.get("width") != m:
            buffers.clear()
            buffers.update(width=m, out=np.empty((n_runs, n_par, n_rows, m), dtype=np.float32))
        out = buffers["out"]
        for p, paradigm in enumerate(data.paradigms):
            w, empty = weights[paradigm]
            betas = data.betas(paradigm)
            if paradigm not in buffers:
                buffers[paradigm] = np.empty((betas.shape[0], m), dtype=np.float32)
            block = buffers[paradigm]
            np.copyto(block, betas[:, start:stop], casting="same_kind")  # one read of the memory map
            means = average_trials(w, block)
            means[empty] = np.nan
            out[:, p] = means.reshape(n_runs, n_rows, m)
        return [out[i] for i in range(n_runs)]

    return load


def union_geometry(geometries: list[VoxelGeometry]) -> VoxelGeometry:
    """The union of the masks of geometries on one grid (the group grid)."""
    if not geometries:
        raise ValueError("no geometries")
    first = geometries[0]
    mask = first.mask.copy()
    for g in geometries[1:]:
        if not first.same_grid(g):
            raise DataError(
                "dataset", "participants are on different voxel grids; a group map needs one grid"
            )
        mask |= g.mask
    if all(g.mask.shape == mask.shape and np.array_equal(g.mask, mask) for g in geometries):
        return first
    return VoxelGeometry(mask, first.affine)


def group_fraction(
    flags: list[tuple[VoxelGeometry, np.ndarray]], geometry: VoxelGeometry | None = None
) -> tuple[VoxelGeometry, np.ndarray]:
    """Fraction of participants flagged at each voxel of the union grid.

    flags : one (geometry, bool (V_participant,)) per participant. Returns (union geometry, float32 (V,)).
    """
    geometry = geometry or union_geometry([g for g, _f in flags])
    total = np.zeros(geometry.n_voxels, dtype=np.float64)
    for g, flag in flags:
        flag = np.asarray(flag, dtype=np.float64)
        if g is geometry:
            total += flag
        else:
            total += np.bincount(geometry.index_of(g.ijk), weights=flag, minlength=geometry.n_voxels)
    return geometry, (total / max(len(flags), 1)).astype(np.float32)


def probabilistic_map(results: list[ConsistencyResult]) -> tuple[VoxelGeometry, np.ndarray]:
    """The group probabilistic map (method.md §2.3): fraction of participants replicated (significant in
    both halves; significant on all trials for a participant without halves). Returns (geometry, (V,))."""
    return group_fraction([(r.geometry, r.group_flag) for r in results])


def voxel_card(
    data: ParticipantData,
    voxel: int,
    n_permutations: int = 1000,
    seed: int | None = 0,
    split: int | None = None,
    concepts: tuple[str, ...] | None = None,
) -> tuple[float, float, np.ndarray]:
    """One voxel's C, p and full permutation null (float64 (K,)) with the same permutations as the map
    (same ``n_permutations`` and ``seed``): what the GUI's voxel card shows as a histogram."""
    profiles = np.stack(
        [data.concept_means(p, split, concepts, voxels=slice(voxel, voxel + 1))[:, 0] for p in data.paradigms]
    )
    c = float(consistency(profiles[:, :, None])[0])
    null = voxel_null(profiles, n_permutations, seed)
    p = np.nan if not np.isfinite(c) else float(p_from_counts(exceedance_counts(c, null), n_permutations))
    return c, p, null


RESULTS_FILE = "consistency_voxels.csv"
RESULTS_FILES = (RESULTS_FILE, "consistency_voxels.parquet")  # table_format=csv or parquet


def consistency_results(results_dir, needed_for: str) -> Path:
    """The voxel table (``consistency_voxels.csv`` or ``.parquet``) of an earlier consistency run in
    ``results_dir`` (``--results``).

    ParameterError when no folder was given, DataError when it holds no such file; ``needed_for`` names
    what needs it, for the message.
    """
    if results_dir is None:
        raise ParameterError(f"{needed_for} needs --results DIR, the output folder of a consistency run")
    for name in RESULTS_FILES:
        path = Path(results_dir) / name
        if path.is_file():
            return path
    raise DataError(Path(results_dir) / RESULTS_FILE, f"not found; {needed_for} needs --results to be the "
                                                      "output folder of a consistency run")


def read_consistency_voxels(results_dir, needed_for: str):
    """(path, DataFrame) of :func:`consistency_results`, read from CSV or Parquet (participant as str)."""
    import pandas as pd

    path = consistency_results(results_dir, needed_for)
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            return path, frame.assign(participant=frame["participant"].astype(str))
        return path, pd.read_csv(path, dtype={"participant": str})
    except (OSError, ValueError) as exc:
        raise DataError(path, f"unreadable consistency table ({exc})") from None
