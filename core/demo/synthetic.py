"""The synthetic demo dataset with planted truth (``cbstudio demo``).

Native format (DESIGN.md) on the MNI 2 mm grid inside nilearn's MNI152 grey-matter mask, trial-level
like Pereira et al. (2018) Exp. 1: 180 concepts x 3 paradigms, 4–6 stimuli per concept, runs of 90
trials, the paper's split-half scheme. Per trial and voxel (units: noise sd = 1)::

    beta = baseline(v) + a_C(v) * P[concept](v) + a_LM(v) * L_paradigm[stimulus](v) + N(0, 1)

- ``P`` is a concept profile shared by all three paradigms (cross-paradigm consistency), planted in
  :data:`~core.demo.maps.CONSISTENCY_REGIONS` with amplitude ``a_C`` = ``truth/consistency_snr``;
- ``L`` is driven by the stimulus texts: mean-pooled last-layer all-MiniLM-L6-v2 states x random
  weights, independent per paradigm (so it adds no cross-paradigm consistency), planted in
  :data:`~core.demo.maps.LM_REGIONS` with amplitude ``a_LM`` = ``truth/lm_snr``;
- the language map (each ``langloc.nii.gz``) is the participant's real localizer map when the paper's
  release is beside the repository, else a smooth synthetic map; it does not enter the betas.

Both profiles vary smoothly over voxels (a mix of 6 latent 180-vectors with weights linear in
position) and are standardised per voxel. Memory: one paradigm's betas are written in trial blocks of
at most 64 MB; concept and stimulus profiles exist only for planted voxels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.data.concepts import PARADIGMS, load_concepts
from core.data.geometry import MNI_2MM_AFFINE, VoxelGeometry
from core.data.readers.native import write_native
from core.data.stimuli import N_STIMULI, read_stimulus_table, stimulus_text_lookup, template_stimuli
from core.demo.features import cached_text_features
from core.demo.maps import (
    CONSISTENCY_REGIONS,
    LM_REGIONS,
    SIZES,
    Region,
    cortex_mask,
    published_roi_labels,
    real_language_map,
    region_strength,
    shared_data_dir,
    synthetic_language_map,
)
from core.errors import DataError, ParameterError
from core.export.atomic import atomic_output_dir
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress, sub_progress

N_LATENT = 6  # latent 180-vectors mixed per region
BLOCK_BYTES = 64 * 2**20  # trial-block size bound when writing betas
STIM_COUNTS = (4, 5, 6)  # stimuli per concept (the paper: 720–1080 trials)
STIM_PROBS = (0.2, 0.5, 0.3)


@dataclass
class _Planted:
    """Signal for one kind of planted region: voxel columns, amplitudes and profiles."""

    voxels: np.ndarray  # int (Vp,) dataset voxel indices
    amplitude: np.ndarray  # float32 (Vp,)
    profiles: dict[str, np.ndarray]  # paradigm -> float32 (n_rows, Vp), unit sd per column


def make_demo(
    path: str | Path,
    n_participants: int = 3,
    seed: int = 0,
    size: str = "small",
    stimuli_path: str | Path | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    shared: str | Path | None = "auto",
) -> Path:
    """Write the demo dataset and its planted truth; return ``path``.

    Parameters
    ----------
    path : output folder (created; files of an earlier demo there are replaced).
    n_participants : participants ``M01``, ``M02``, ...
    seed : every random step derives from it; the same seed gives identical files.
    size : ``small`` (30,753 voxels: the grey-matter voxels on the fs_LR 32k midthickness surface),
        ``full`` (204,492 voxels, the whole 2 mm grey-matter mask) or ``tiny`` (4,902 voxels on a
        6 mm lattice, 4 stimuli per concept; for tests, too sparse to display).
    stimuli_path : the paper's stimulus table (CSV/XLSX) or a native stimuli.tsv; default: the
        project's template texts.
    shared : the paper's release folder for the ROI map and language maps; ``"auto"`` looks beside
        the repository (or ``$CBS_SHARED_DATA``), None uses only synthetic maps.
    """
    if size not in SIZES:
        raise ParameterError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    if not 1 <= int(n_participants) <= 99:
        raise ParameterError(f"participants must be 1..99, got {n_participants}")
    progress = progress or no_progress
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(path, "exists and is not a folder")
    shared_dir = shared_data_dir() if shared == "auto" else (Path(shared) if shared else None)
    stimuli = template_stimuli() if stimuli_path is None else read_stimulus_table(stimuli_path)
    if stimuli_path is not None:
        _check_stimuli(stimuli, Path(stimuli_path))

    progress(0.0, "stimulus features (all-MiniLM-L6-v2)")
    features = _paradigm_features(stimuli, sub_progress(progress, 0.0, 0.35))
    check_cancel(cancel)
    progress(0.35, "cortex mask")
    geometry = VoxelGeometry(cortex_mask(size), MNI_2MM_AFFINE)
    roi_labels = published_roi_labels(geometry, shared_dir)
    root_rng = np.random.SeedSequence(int(seed))
    design_seq, *participant_seqs = root_rng.spawn(1 + int(n_participants))
    design_rng = np.random.default_rng(design_seq)
    consistency = _plant_consistency(geometry, roi_labels, design_rng)
    lm = _plant_lm(geometry, features, design_rng)
    splits = {p: _split_table(design_rng) for p in PARADIGMS}
    baseline = design_rng.normal(0.0, 0.5, geometry.n_voxels).astype(np.float32)

    participants, languages, real_language = {}, [], True
    n_stim_fixed = 4 if size == "tiny" else None
    for i, seq in enumerate(participant_seqs, start=1):
        pid = f"M{i:02d}"
        lang_rng, *par_seqs = seq.spawn(1 + len(PARADIGMS))
        language = real_language_map(geometry, shared_dir, i)
        if language is None:
            real_language = False
            language = synthetic_language_map(geometry, np.random.default_rng(lang_rng))
        languages.append(language)
        events, betas = {}, {}
        for paradigm, pseq in zip(PARADIGMS, par_seqs, strict=True):
            trial_seq, noise_seq = pseq.spawn(2)
            ev = _trial_table(np.random.default_rng(trial_seq), splits[paradigm], n_stim_fixed)
            events[paradigm] = ev
            betas[paradigm] = _BetasWriter(ev, paradigm, geometry.n_voxels, baseline, consistency, lm,
                                           noise_seq, cancel)
        participants[pid] = {"geometry": geometry, "events": events, "betas": betas, "language": language}

    n_jobs = len(participants) * len(PARADIGMS)
    done = [0]

    def tick(writer: _BetasWriter) -> None:
        done[0] += 1
        progress(0.4 + 0.55 * done[0] / n_jobs, f"responses {done[0]}/{n_jobs}")

    for d in participants.values():
        for w in d["betas"].values():
            w.on_done = tick
    progress(0.4, "responses")
    with atomic_output_dir(path) as staging:
        write_native(staging, f"demo-{size}-seed{seed}", participants, stimuli=stimuli)
        _write_truth(staging / "truth", geometry, consistency, lm, languages, real_language, roi_labels,
                     seed, size)
    progress(1.0, "done")
    return path


def _check_stimuli(stimuli: pd.DataFrame, path: Path) -> None:
    """The demo needs a text for every concept and stimulus index 1–6 of every paradigm."""
    for paradigm in PARADIGMS:
        lookup = stimulus_text_lookup(stimuli, paradigm)
        for concept in load_concepts():
            for idx in range(1, N_STIMULI + 1):
                if (concept, idx) not in lookup:
                    raise DataError(path, f"no {paradigm} text for {concept!r} stimulus {idx}")


def _paradigm_features(stimuli: pd.DataFrame, progress: ProgressFn | None = None) -> dict[str, np.ndarray]:
    """Paradigm -> float32 (180 * 6, H) features of the texts of (concept, stimulus_idx), rows in
    concept order then index 1–6."""
    keys = [(c, i) for c in load_concepts() for i in range(1, N_STIMULI + 1)]
    lookups = {p: stimulus_text_lookup(stimuli, p) for p in PARADIGMS}
    texts = {p: [lookups[p][k] for k in keys] for p in PARADIGMS}
    unique = sorted({t for p in PARADIGMS for t in texts[p]})
    emb = cached_text_features(unique, progress)
    row = {t: j for j, t in enumerate(unique)}
    return {p: emb[[row[t] for t in texts[p]]] for p in PARADIGMS}


def _smooth_profiles(geometry: VoxelGeometry, strength: np.ndarray, region: Region, latent: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Per-voxel profiles (n_rows, Vr) for a region's voxels: ``latent`` (n_rows, K) mixed with weights
    linear in position (``w = b0 + B (x - c) / r``), each column standardised to mean 0, sd 1."""
    voxels = np.flatnonzero(strength > 0)
    rel = (geometry.xyz[voxels] - geometry.xyz[voxels].mean(axis=0)) / max(region.radius, 1.0)
    weights = rng.normal(size=(1, latent.shape[1])) + rel @ rng.normal(0.0, 0.7, (3, latent.shape[1]))
    prof = latent @ weights.T
    prof -= prof.mean(axis=0)
    prof /= prof.std(axis=0)
    return prof.astype(np.float32)


def _assemble(parts: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]], n_voxels: int) -> _Planted:
    """Concatenate per-region (voxels, amplitudes, profiles); a voxel in two regions keeps the first."""
    if not parts:
        return _Planted(np.zeros(0, np.int64), np.zeros(0, np.float32),
                        {p: np.zeros((180 * N_STIMULI, 0), np.float32) for p in PARADIGMS})
    seen = np.zeros(n_voxels, bool)
    vox, amp, prof = [], [], {p: [] for p in PARADIGMS}
    for v, a, profiles in parts:
        keep = ~seen[v]
        seen[v[keep]] = True
        vox.append(v[keep])
        amp.append(a[keep])
        for p in PARADIGMS:
            prof[p].append(profiles[p][:, keep])
    return _Planted(np.concatenate(vox), np.concatenate(amp).astype(np.float32),
                    {p: np.concatenate(prof[p], axis=1) for p in PARADIGMS})


def _plant_consistency(geometry: VoxelGeometry, roi_labels: np.ndarray | None,
                       rng: np.random.Generator) -> _Planted:
    """Concept profiles (180 rows) shared by all paradigms in the consistency regions."""
    parts = []
    for region in CONSISTENCY_REGIONS:
        strength = region_strength(geometry, region, roi_labels)
        latent = rng.standard_normal((len(load_concepts()), N_LATENT))
        voxels = np.flatnonzero(strength > 0)
        if len(voxels) == 0:
            continue
        prof = _smooth_profiles(geometry, strength, region, latent, rng)
        parts.append((voxels, strength[voxels], {p: prof for p in PARADIGMS}))
    return _assemble(parts, geometry.n_voxels)


def _plant_lm(geometry: VoxelGeometry, features: dict[str, np.ndarray], rng: np.random.Generator) -> _Planted:
    """Stimulus profiles (180 * 6 rows) = centred features x random weights, independent per paradigm."""
    parts = []
    for region in LM_REGIONS:
        strength = region_strength(geometry, region)
        voxels = np.flatnonzero(strength > 0)
        if len(voxels) == 0:
            continue
        profiles = {}
        for paradigm in PARADIGMS:
            f = features[paradigm].astype(np.float64)
            f = f - f.mean(axis=0)
            latent = f @ rng.standard_normal((f.shape[1], N_LATENT))
            profiles[paradigm] = _smooth_profiles(geometry, strength, region, latent, rng)
        parts.append((voxels, strength[voxels], profiles))
    return _assemble(parts, geometry.n_voxels)


def _split_table(rng: np.random.Generator) -> dict[tuple[str, int], int]:
    """The paper's split halves: per concept, stimulus 1 and 2 of indices 2–6 in half 1, the rest in 2."""
    table = {}
    for concept in load_concepts():
        first = {1, *(int(i) for i in rng.choice(np.arange(2, N_STIMULI + 1), 2, replace=False))}
        for idx in range(1, N_STIMULI + 1):
            table[(concept, idx)] = 1 if idx in first else 2
    return table


def _trial_table(rng: np.random.Generator, splits: dict[tuple[str, int], int],
                 n_stim: int | None = None) -> pd.DataFrame:
    """A participant's trial order: ``n_stim`` (4–6) stimuli per concept in 2 * n_stim runs of 90
    trials; each pair of runs shows every concept once (half per run), in shuffled order."""
    concepts = load_concepts()
    if n_stim is None:
        n_stim = int(rng.choice(STIM_COUNTS, p=STIM_PROBS))
    chosen = np.stack([rng.permutation(N_STIMULI)[:n_stim] + 1 for _ in concepts])  # (180, n_stim)
    rows = []
    for pair in range(n_stim):
        order = rng.permutation(len(concepts))
        for half in (order[: len(order) // 2], order[len(order) // 2:]):
            for c in rng.permutation(half):
                rows.append((concepts[c], int(chosen[c, pair])))
    ev = pd.DataFrame(rows, columns=["concept", "stimulus_idx"])
    ev["stimulus_idx"] = ev["stimulus_idx"].astype("Int64")
    ev["split"] = pd.array([splits[(c, int(i))] for c, i in rows], dtype="Int64")
    return ev


class _BetasWriter:
    """Writes one paradigm's betas (n_trials, V) float32 ``.npy`` in trial blocks (<= 64 MB each)."""

    def __init__(self, events: pd.DataFrame, paradigm: str, n_voxels: int, baseline: np.ndarray,
                 consistency: _Planted, lm: _Planted, noise_seq: np.random.SeedSequence,
                 cancel: CancelToken | None):
        index = {c: i for i, c in enumerate(load_concepts())}
        self.concept_row = events["concept"].map(index).to_numpy(np.int64)
        self.stim_row = self.concept_row * N_STIMULI + events["stimulus_idx"].to_numpy(np.int64) - 1
        self.paradigm, self.n_voxels, self.baseline = paradigm, n_voxels, baseline
        self.consistency, self.lm, self.noise_seq, self.cancel = consistency, lm, noise_seq, cancel
        self.on_done = None

    def __call__(self, path: Path) -> None:
        n_trials = len(self.concept_row)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
                  "shape": (n_trials, self.n_voxels)}
        rng = np.random.default_rng(self.noise_seq)
        block = max(1, BLOCK_BYTES // (4 * self.n_voxels))
        c, m = self.consistency, self.lm
        c_prof, m_prof = c.profiles[self.paradigm], m.profiles[self.paradigm]
        with open(path, "wb") as fh:  # plain writes, not a memmap: written pages do not stay resident
            np.lib.format.write_array_header_1_0(fh, header)
            for start in range(0, n_trials, block):
                check_cancel(self.cancel)
                stop = min(start + block, n_trials)
                chunk = rng.standard_normal((stop - start, self.n_voxels), dtype=np.float32)
                chunk += self.baseline
                chunk[:, c.voxels] += c.amplitude * c_prof[self.concept_row[start:stop]]
                chunk[:, m.voxels] += m.amplitude * m_prof[self.stim_row[start:stop]]
                fh.write(chunk.astype("<f4", copy=False).tobytes())
        if self.on_done is not None:
            self.on_done(self)


def _write_truth(folder: Path, geometry: VoxelGeometry, consistency: _Planted, lm: _Planted,
                 languages: list[np.ndarray], real_language: bool, roi_labels: np.ndarray | None, seed: int,
                 size: str) -> None:
    """truth/{consistency_snr,lm_snr,language}.nii.gz (0 outside the mask), regions.tsv, README.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    maps = {"consistency_snr": consistency, "lm_snr": lm}
    for name, planted in maps.items():
        values = np.zeros(geometry.n_voxels, np.float32)
        values[planted.voxels] = planted.amplitude
        nib.save(geometry.to_nifti(values, fill=0.0), folder / f"{name}.nii.gz")
    nib.save(geometry.to_nifti(np.mean(languages, axis=0), fill=0.0), folder / "language.nii.gz")
    rows = []
    for kind, regions, labels in (("consistency", CONSISTENCY_REGIONS, roi_labels), ("lm", LM_REGIONS, None)):
        for r in regions:
            s = region_strength(geometry, r, labels)
            published = labels is not None and r.label > 0 and bool((labels == r.label).any())
            shape = "published ROI map label" if published else "sphere"
            rows.append({"kind": kind, "name": r.name, "shape": shape, "x": r.centre[0], "y": r.centre[1],
                         "z": r.centre[2], "radius_mm": r.radius, "peak_snr": r.snr,
                         "n_voxels": int((s > 0).sum())})
    pd.DataFrame(rows).to_csv(folder / "regions.tsv", sep="\t", index=False)
    lang_source = "the participants' real localizer maps (M01, M02, ... S-N contrast)" \
        if real_language else "smooth synthetic maps (synthetic_language_map)"
    roi_source = "the published roi_map.nii.gz labels 1-3" if roi_labels is not None \
        else "10 mm spheres at the paper's ROI centroids"
    (folder / "README.txt").write_text(
        f"Planted truth of the demo dataset (size {size}, seed {seed}, {geometry.n_voxels} voxels; "
        "amplitudes in units of the per-trial noise sd, which is 1).\n"
        f"consistency_snr.nii.gz: amplitude a_C of a concept profile shared by all three paradigms "
        f"(same 180-vector per voxel in sentences, pictures, word clouds), planted in ROI1-3 ({roi_source}) "
        "and three more spheres (regions.tsv), peak a_C falling to half at the edge; 0 elsewhere.\n"
        "lm_snr.nii.gz: amplitude a_LM of a stimulus-driven signal = mean-pooled last-layer "
        "all-MiniLM-L6-v2 states of the stimulus texts (stimuli.tsv) x random weights, drawn "
        "independently per paradigm (so it adds no cross-paradigm consistency), in the spheres of "
        "regions.tsv (two partly overlap ROI1 and ROI3); 0 elsewhere.\n"
        f"language.nii.gz: mean over participants of their langloc.nii.gz, which are {lang_source}; "
        "the language map does not enter the betas.\n"
        "Betas per trial: baseline (voxel constant) + a_C * profile[concept] + a_LM * profile[stimulus] "
        "+ N(0, 1) noise.\n",
        encoding="utf-8",
    )

