"""Release layout reader: GLMsingle dict .npy + trial order + split + language map, read back."""

from __future__ import annotations

import os
import pickle

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import core.data.readers.release as release
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE
from core.data.readers import open_dataset
from core.data.readers.glmsingle import read_glmsingle
from core.errors import DataError
from tests.reader_files import write_release_participant
from tests.tolerance import assert_f32_close


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "release_cache_dir", lambda: tmp_path / "cache")


def _order(rng, concepts=("Dog", "Bird", "Ability"), n_stim=2, n_runs=2):
    """A shuffled trial-order table: each concept once per run with stimulus_idx = run."""
    rows = []
    for run in range(1, n_runs + 1):
        for k, c in enumerate(rng.permutation(list(concepts))):
            rows.append((run * 2, f"stim/{c}_{run}", c, run, 10 + 5 * k))
    frame = pd.DataFrame(rows, columns=["run", "stimulus", "concept", "stimulus_idx", "onset"])
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def _expected_events(order: pd.DataFrame, split: pd.DataFrame | None) -> pd.DataFrame:
    ev = order.sort_values(["run", "onset"]).reset_index(drop=True)
    if split is not None:
        ev = ev.merge(split, on=["concept", "stimulus_idx"], how="left")
    return ev


def _small_betas(rng, n_trials, box=(slice(40, 46), slice(50, 55), slice(40, 44))):
    """Full MNI grid, NaN outside a small box; inside, random betas plus one constant and one NaN voxel."""
    b = np.full(MNI_2MM_SHAPE + (n_trials,), np.nan, dtype=np.float32)
    b[box] = rng.standard_normal(b[box].shape).astype(np.float32)
    b[41, 51, 41] = 3.0  # zero variance across trials -> excluded
    b[42, 52, 42, 0] = np.nan  # NaN on one trial -> excluded
    return b


def test_release_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    data_dir = tmp_path / "repo" / "data"
    truth = {}
    for pid in ("S01", "S02"):
        for paradigm, as_dict in (("sentences", True), ("word_clouds", False)):
            order = _order(rng)
            betas = _small_betas(rng, len(order))
            write_release_participant(data_dir, pid, paradigm, order, betas, as_dict=as_dict)
            truth[pid, paradigm] = (order, betas)
    split = pd.DataFrame({"concept": ["Dog", "Dog", "Bird", "Bird", "Ability", "Ability"],
                          "stimulus_idx": [1, 2, 1, 2, 1, 2], "split": [1, 2, 2, 1, 1, 2]})
    split.to_csv(data_dir / "stimuli" / "split_sentences.csv", index=False)
    # language map for S01 only: NaN on half of the box
    lang = rng.standard_normal(MNI_2MM_SHAPE).astype(np.float32)
    lang[:43] = np.nan
    (data_dir / "language_selectivity_nii").mkdir()
    lang_path = data_dir / "language_selectivity_nii" / "S01_S-N_contrast.nii"
    nib.save(nib.Nifti1Image(lang, MNI_2MM_AFFINE), lang_path)

    for path in (tmp_path / "repo", data_dir):
        ds = open_dataset(path)
        assert ds.reader == "release" and ds.participants == ("S01", "S02")
        assert ds.paradigms == ("sentences", "word_clouds") and ds.space == "MNI152_2mm"
    for pid in ("S01", "S02"):
        data = ds.participant(pid)
        # independent mask: finite and non-constant in both paradigms (and language finite for S01)
        mask = np.ones(MNI_2MM_SHAPE, bool)
        for paradigm in ("sentences", "word_clouds"):
            b = truth[pid, paradigm][1]
            finite = np.isfinite(b).all(-1)
            mask &= finite & (np.where(finite[..., None], b, 0).std(axis=-1) > 0)
        if pid == "S01":
            mask &= np.isfinite(lang)
        assert np.array_equal(data.geometry.mask, mask)
        assert not mask[41, 51, 41] and not mask[42, 52, 42]
        for paradigm in ("sentences", "word_clouds"):
            order, b = truth[pid, paradigm]
            got = data.betas(paradigm)
            assert isinstance(got, np.memmap) and got.dtype == np.float32
            np.testing.assert_array_equal(got, b[mask].T)
            exp = _expected_events(order, split if paradigm == "sentences" else None)
            ev = data.events[paradigm]
            assert list(ev["concept"]) == list(exp["concept"])
            assert ev["stimulus_idx"].tolist() == exp["stimulus_idx"].tolist()
            if paradigm == "sentences":
                assert ev["split"].tolist() == exp["split"].tolist()
            else:
                assert ev["split"].isna().all()
        if pid == "S01":
            np.testing.assert_array_equal(data.language, lang[mask])
        else:
            assert data.language is None
    # second load uses the cache: conversion must not run again
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(cached) == 2 and not any(".tmp-" in c for c in cached)
    release_convert = release._convert
    try:
        release._convert = lambda *a, **k: pytest.fail("converted twice")
        again = open_dataset(data_dir).participant("S01")
        expected = truth["S01", "sentences"][1][again.geometry.mask].T
        np.testing.assert_array_equal(again.betas("sentences"), expected)
    finally:
        release._convert = release_convert


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": ()})
        pickle.dump({"betasmd": Evil()}, fh, protocol=3)
    with pytest.raises(DataError, match="refused to unpickle"):
        read_glmsingle(path)
    assert not marker.exists()
    # a dict holding a non-numpy object is refused too
    np.save(tmp_path / "path.npy", {"betasmd": np.zeros((2, 2, 2, 2)), "where": tmp_path}, allow_pickle=True)
    with pytest.raises(DataError, match="pathlib"):
        read_glmsingle(tmp_path / "path.npy")


def test_glmsingle_dict_read_matches_np_load(tmp_path):
    rng = np.random.default_rng(5)
    arr = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    np.save(tmp_path / "d.npy", {"betasmd": np.asfortranarray(arr), "R2": arr[..., 0], "n": np.int64(3)},
            allow_pickle=True)
    got = read_glmsingle(tmp_path / "d.npy")
    np.testing.assert_array_equal(got, arr)
    with pytest.raises(DataError, match="no 'other' entry"):
        read_glmsingle(tmp_path / "d.npy", key="other")


def test_public_release_without_betas(shared_data):
    """The public folder has trial orders but no GLMsingle outputs: a clear error, nothing else."""
    assert release.detect(shared_data)
    with pytest.raises(DataError, match="GLMsingle"):
        open_dataset(shared_data)


@pytest.mark.slow
def test_release_with_real_trial_order_split_and_language_map(shared_data, tmp_path):
    """Real M12 pictures trial order (720 trials), split file and language map; synthetic betas of the
    real shape 91 x 109 x 91 x 720, planted in a block and zero (constant, so masked out) elsewhere.
    To keep the test small they are a plain float16 .npy (1.3 GB apparent, a sparse file on disk): the
    reader converts any numeric dtype to float32."""
    src = shared_data / "data"
    data_dir = tmp_path / "data"
    (data_dir / "stimuli").mkdir(parents=True)
    (data_dir / "language_selectivity_nii").mkdir()
    for name in ("stimuli_order_M12_pictures.csv", "split_pictures.csv"):
        os.symlink(src / "stimuli" / name, data_dir / "stimuli" / name)
    os.symlink(src / "language_selectivity_nii" / "M12_S-N_contrast.nii.gz",
               data_dir / "language_selectivity_nii" / "M12_S-N_contrast.nii.gz")
    order = pd.read_csv(src / "stimuli" / "stimuli_order_M12_pictures.csv")
    n_trials = len(order)
    assert n_trials == 720
    (data_dir / "GLMsingle_outputs").mkdir()
    path = data_dir / "GLMsingle_outputs" / "M12_pictures_TYPED_FITHRF_GLMDENOISE_RR.npy"
    betas = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=MNI_2MM_SHAPE + (n_trials,))
    rng = np.random.default_rng(7)
    block = (slice(20, 26), slice(30, 70), slice(30, 50))  # planted voxels; zeros elsewhere are constant
    planted = rng.standard_normal(betas[block].shape).astype(np.float16)
    betas[block] = planted
    betas.flush()
    del betas

    ds = open_dataset(tmp_path)
    assert ds.participants == ("M12",) and ds.paradigms == ("pictures",)
    data = ds.participant("M12")
    lang = np.asarray(nib.load(src / "language_selectivity_nii" / "M12_S-N_contrast.nii.gz").dataobj)
    mask = np.zeros(MNI_2MM_SHAPE, bool)
    mask[block] = True
    mask &= np.isfinite(lang)
    assert 0 < mask.sum() < mask[block].size + 1
    assert np.array_equal(data.geometry.mask, mask)
    # mask lies inside the box, whose C-order agrees with the grid's: expected = planted[box mask]
    expected = planted[mask[block]].T.astype(np.float32)
    got = data.betas("pictures")
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(data.language, lang[mask].astype(np.float32))
    # events: real order sorted by run then onset, merged with the real split file
    split = pd.read_csv(src / "stimuli" / "split_pictures.csv")
    exp = _expected_events(order, split)
    ev = data.events["pictures"]
    assert ev["concept"].tolist() == exp["concept"].tolist()
    assert ev["stimulus_idx"].tolist() == exp["stimulus_idx"].tolist()
    assert ev["split"].tolist() == exp["split"].tolist()
    assert data.has_splits()
    # concept means over split 1 = mean of that concept's split-1 trials (direct formula)
    means = data.concept_means("pictures", split=1)
    concept = exp["concept"].iloc[0]
    rows = np.flatnonzero((exp["concept"] == concept) & (exp["split"] == 1))
    ci = ds.concepts.index(concept)
    assert_f32_close(means[ci], expected[rows].mean(axis=0))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<f2"])
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_dict_arrays_are_memory_mapped_when_possible(tmp_path, monkeypatch, order, dtype, protocol):
    """Large arrays of a result dict are mapped from the file (native byte order, np.save's protocol 3)
    or read normally (other byte order; small arrays inside protocol-4/5 frames); same values either way."""
    import core.data.readers.glmsingle as glmsingle

    monkeypatch.setattr(glmsingle, "SKIP_THRESHOLD", 1024)
    rng = np.random.default_rng(6)
    arr = np.asarray(rng.standard_normal((5, 6, 7, 8)), dtype=dtype, order=order)
    path = tmp_path / "r.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": ()})
        results = {"R2": arr[..., 0].copy(), "betasmd": arr, "pcnum": 5}
        pickle.dump(np.asanyarray(results), fh, protocol=protocol)
    got = read_glmsingle(path)
    np.testing.assert_array_equal(got, arr)
    if np.dtype(dtype).isnative and protocol == 3:  # what np.save writes: mapped, not read
        assert isinstance(got, np.memmap)
    if not np.dtype(dtype).isnative:  # numpy byte-swaps into a copy: read normally
        assert not isinstance(got, np.memmap)


def test_unwritable_cache_is_a_data_error(tmp_path, monkeypatch):
    rng = np.random.default_rng(8)
    order = _order(rng)
    write_release_participant(tmp_path / "data", "S01", "sentences", order, _small_betas(rng, len(order)))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setattr(release, "release_cache_dir", lambda: blocker / "cache")
    with pytest.raises(DataError, match="cannot write the conversion cache") as err:
        open_dataset(tmp_path / "data").participant("S01")
    assert err.value.path == blocker / "cache"


def _paper_table(words: dict[str, str], tag: str) -> pd.DataFrame:
    """The paper's wide stimulus table (complang_paradigms_stims) for a few concepts, texts marked by
    ``tag``."""
    rows = []
    for concept, word in words.items():
        row = {"a. wordSent": concept}
        row.update({f"b{i}. sent{i}": f"{tag} sentence {i} about {word}. " for i in range(1, 7)})
        row.update({f"e{i}. cloud{i}": f"{word}{i}" for i in range(1, 7)})
        row["f. wordImg"] = concept
        rows.append(row)
    return pd.DataFrame(rows)


def test_stimulus_table_comes_from_the_layout(tmp_path):
    """complang_paradigms_stims.csv is preferred, the .xlsx is the fallback, none gives no table, and a
    broken table is an error naming it."""
    from tests.reader_files import build_release

    data = build_release(tmp_path)
    assert open_dataset(data).stimuli is None
    words = {"Dog": "dog", "Bird": "bird"}
    _paper_table(words, "xlsx").to_excel(data / "stimuli" / "complang_paradigms_stims.xlsx", index=False)
    stim = open_dataset(data).stimuli
    assert set(stim.loc[stim["paradigm"] == "sentences", "text"]) == {
        f"xlsx sentence {i} about {w}." for w in words.values() for i in range(1, 7)}
    csv = data / "stimuli" / "complang_paradigms_stims.csv"
    _paper_table(words, "csv").to_csv(csv, index=False)
    stim = open_dataset(tmp_path / "release").stimuli
    clouds = stim[stim["paradigm"] == "word_clouds"].set_index(["concept", "stimulus_idx"])["text"]
    assert clouds[("Dog", 3)] == "dog1 dog2 dog3 dog4 dog5 dog6"
    assert set(stim.loc[stim["paradigm"] == "sentences", "text"]) == {
        f"csv sentence {i} about {w}." for w in words.values() for i in range(1, 7)}
    assert open_dataset(data).describe()["stimuli"] == 2 * 6 * 3
    csv.write_text("a. wordSent,b1. sent1\nDog,Hello\n")
    with pytest.raises(DataError, match="complang_paradigms_stims.csv") as err:
        open_dataset(data)
    assert "lacks column" in str(err.value)
