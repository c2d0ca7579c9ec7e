"""Encoding, quartiles and RSA from the CLI on a small release-layout dataset (GLMsingle dicts, the
paper's stimulus table in ``data/stimuli``), with no stimulus option: the release reader supplies the
texts, and they are the paper's."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import core.data.readers.release as release
from core.data.concepts import PARADIGMS, load_concepts
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE
from tests.reader_files import write_release_participant

pytestmark = pytest.mark.slow

PER_ROI = 24  # voxels per ROI and ROI definition
PIDS = ("M01",)
TABLE = "complang_paradigms_stims.csv"


def _roi_voxels() -> np.ndarray:
    """MNI 2 mm voxel indices (V, 3): PER_ROI voxels of each ROI 1-3 of the published map (``rois=paper``)
    and of the surface-derived rebuild, so every ROI definition finds voxels."""
    from core.analyses.rsa.inputs import load_rois
    from core.atlas.rois import paper_rois

    rng = np.random.default_rng(0)
    picked = []
    for volume in (load_rois("paper"), paper_rois()):
        assert volume.shape == MNI_2MM_SHAPE
        for lab in (1, 2, 3):
            ijk = np.argwhere(volume.data == lab)
            picked.append(ijk[rng.choice(len(ijk), PER_ROI, replace=False)])
    return np.unique(np.concatenate(picked), axis=0)


def _paper_text(row: pd.Series, paradigm: str, idx: int) -> str:
    """The paper's stimulus text (its lm_utils.get_stim_text, text models), written from its definition."""
    if paradigm == "sentences":
        return row[f"b{idx}. sent{idx}"].strip()
    if paradigm == "word_clouds":
        return " ".join(row[f"e{i}. cloud{i}"] for i in range(1, 7))
    return str(row["f. wordImg"])


def _write_betas(data, pid, paradigm, order, ijk, values):
    """Sentences as a GLMsingle result dict (NaN outside the voxels, 650 MB); the other paradigms as
    plain (X, Y, Z, T) .npy files written through a memory map, zero (constant, so excluded) outside the
    voxels, which leaves them sparse on disk."""
    n_trials = values.shape[1]
    if paradigm == "sentences":
        betas = np.full((*MNI_2MM_SHAPE, n_trials), np.nan, np.float32)
        betas[tuple(ijk.T)] = values
        write_release_participant(data, pid, paradigm, order, betas, as_dict=True)
        return
    order.to_csv(data / "stimuli" / f"stimuli_order_{pid}_{paradigm}.csv", index=False)
    target = data / "GLMsingle_outputs" / f"{pid}_{paradigm}_TYPED_FITHRF_GLMDENOISE_RR.npy"
    target.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(target, mode="w+", dtype=np.float32, shape=(*MNI_2MM_SHAPE, n_trials))
    out[tuple(ijk.T)] = values
    out.flush()
    del out


@pytest.fixture(scope="module")
def release_layout(shared_data, tmp_path_factory):
    stim_src = shared_data / "data" / "stimuli"
    root = tmp_path_factory.mktemp("release_analyses") / "concepts-brain-llms"
    data = root / "data"
    (data / "stimuli").mkdir(parents=True)
    shutil.copy(stim_src / TABLE, data / "stimuli" / TABLE)
    for paradigm in PARADIGMS:
        shutil.copy(stim_src / f"split_{paradigm}.csv", data / "stimuli")
    ijk = _roi_voxels()
    rng = np.random.default_rng(1)
    profile = rng.standard_normal((len(load_concepts()), len(ijk)))  # a concept code shared by paradigms
    index = {c: i for i, c in enumerate(load_concepts())}
    (data / "language_selectivity_nii").mkdir()
    for pid in PIDS:
        for paradigm in PARADIGMS:
            # the real trial order, one trial per concept (its lowest stimulus index): 180 trials
            order = pd.read_csv(stim_src / f"stimuli_order_{pid}_{paradigm}.csv")
            order = order.sort_values(["concept", "stimulus_idx"]).groupby("concept").head(1)
            order = order.sample(frac=1, random_state=0).reset_index(drop=True)
            trials = order.sort_values(["run", "onset"], kind="stable")  # GLMsingle's column order
            signal = profile[trials["concept"].map(index).to_numpy()]
            values = (signal + rng.standard_normal(signal.shape)).T.astype(np.float32)  # (V, T)
            _write_betas(data, pid, paradigm, order, ijk, values)
        lang = np.full(MNI_2MM_SHAPE, np.nan, np.float32)
        lang[tuple(ijk.T)] = rng.standard_normal(len(ijk))
        nib.save(nib.Nifti1Image(lang, MNI_2MM_AFFINE),
                 data / "language_selectivity_nii" / f"{pid}_S-N_contrast.nii.gz")
    return {"root": root, "table": stim_src / TABLE, "n_voxels": len(ijk)}


@pytest.fixture(autouse=True)
def _caches(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "release_analyses_cache"
    monkeypatch.setattr(release, "release_cache_dir", lambda: cache / "release")
    monkeypatch.setenv("CBS_FEATURE_CACHE", str(cache / "features"))


def test_dataset_texts_are_the_papers(release_layout):
    from core.data.readers import open_dataset
    from core.features.texts import stimulus_texts

    ds = open_dataset(release_layout["root"])
    assert ds.reader == "release" and ds.participants == PIDS and ds.stimuli is not None
    assert ds.describe()["stimuli"] == 180 * 6 * 3
    paper = pd.read_csv(release_layout["table"]).set_index("a. wordSent")
    for paradigm in PARADIGMS:
        rows = ds.stimuli[ds.stimuli["paradigm"] == paradigm]
        assert len(rows) == 1080
        for concept, idx, text in rows[["concept", "stimulus_idx", "text"]].itertuples(index=False):
            row = paper.loc["Count" if concept == "Counting" else concept]  # the paper's one exception
            assert text == _paper_text(row, paradigm, int(idx)), (paradigm, concept, idx)
    for paradigm in ("sentences", "word_clouds"):  # what the language models are given
        frame = stimulus_texts(ds.stimuli, paradigm, "text")
        for concept, idx, text in frame[["concept", "stimulus_idx", "text"]].itertuples(index=False):
            row = paper.loc["Count" if concept == "Counting" else concept]
            assert text == _paper_text(row, paradigm, int(idx) if pd.notna(idx) else 1)
    data = ds.participant("M01")
    assert data.n_voxels == release_layout["n_voxels"] and data.language is not None


@pytest.mark.parametrize("analysis, sets, table, roi_column, value", [
    ("encoding", ["model=minilm", "target=rois"], "encoding_summary", "target", "mean_r"),
    ("quartiles", ["model=minilm"], "quartile_cells", "roi", "r"),
    ("rsa", ["model=minilm", "n_permutations=200"], "rsa_scores", "roi", "rho"),
])
def test_analysis_runs_from_the_cli(release_layout, tmp_path, analysis, sets, table, roi_column, value):
    """No stimulus option: the texts come from the layout's complang_paradigms_stims.csv."""
    from app.cli import main

    out = tmp_path / analysis
    argv = ["run", analysis, "--data", str(release_layout["root"]), "--out", str(out), "--device", "cpu"]
    argv += [a for s in sets for a in ("--set", s)]
    assert main(argv) == 0
    frame = pd.read_csv(out / f"{table}.csv")
    assert set(frame["participant"]) == set(PIDS)
    assert frame[roi_column].nunique() == 3  # every paper ROI has voxels and a result
    assert np.isfinite(frame[value]).all()
