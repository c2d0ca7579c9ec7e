"""Pereira 2018 .mat reader: write MATLAB v5 (scipy) and v7.3 (HDF5) files and read them back."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.concepts import PARADIGMS, load_concepts
from core.data.geometry import MNI_2MM_AFFINE
from core.data.readers import open_dataset
from core.data.readers.pereira import detect, open_pereira, paradigm_of
from core.errors import DataError
from tests.reader_files import MAT_TOKENS, pereira_voxels, write_pereira_v5, write_pereira_v73

DIMS = (7, 6, 5)


def _write_participant(folder, rng, writer_for, n_vox=40, dims=DIMS, prefix="data"):
    """Three paradigm files, concepts shuffled; returns (ijk, {paradigm: examples in paper order})."""
    concepts = list(load_concepts())
    ijk = pereira_voxels(rng, dims, n_vox)
    truth = {}
    for paradigm, token in MAT_TOKENS.items():
        perm = rng.permutation(len(concepts))
        ex = rng.standard_normal((len(concepts), n_vox))
        truth[paradigm] = ex
        writer_for(paradigm)(folder / f"{prefix}_180concepts_{token}.mat", ex[perm],
                             [concepts[i] for i in perm], ijk, dims)
    return ijk, truth


def _expected(ex: np.ndarray, ijk: np.ndarray, geometry) -> np.ndarray:
    """Independent reference: look each dataset voxel up by its coordinates in the file's columns."""
    col = {tuple(int(v) for v in c): i for i, c in enumerate(ijk)}
    return ex[:, [col[tuple(int(v) for v in c)] for c in geometry.ijk]].astype(np.float32)


@pytest.mark.parametrize("version", ["v5", "v73", "mixed"])
def test_pereira_roundtrip(tmp_path, version):
    rng = np.random.default_rng(1)
    writers = {"v5": lambda p: write_pereira_v5, "v73": lambda p: write_pereira_v73,
               "mixed": lambda p: write_pereira_v73 if p == "pictures" else write_pereira_v5}[version]
    ijk, truth = _write_participant(tmp_path / "P01", rng, writers)
    assert detect(tmp_path / "P01")
    ds = open_dataset(tmp_path / "P01")
    assert ds.reader == "pereira" and ds.participants == ("P01",) and ds.paradigms == PARADIGMS
    assert ds.space == "native"
    data = ds.participant("P01")
    assert data.n_voxels == len(ijk)
    assert np.array_equal(np.sort(np.ravel_multi_index(tuple(data.geometry.ijk.T), DIMS)),
                          np.sort(np.ravel_multi_index(tuple(ijk.T), DIMS)))
    np.testing.assert_array_equal(data.geometry.affine, np.eye(4))
    for paradigm in PARADIGMS:
        ev = data.events[paradigm]
        assert list(ev["concept"]) == list(load_concepts())
        assert ev["stimulus_idx"].isna().all() and ev["split"].isna().all()
        betas = data.betas(paradigm)
        assert betas.dtype == np.float32 and betas.shape == (180, len(ijk))
        np.testing.assert_array_equal(betas, _expected(truth[paradigm], ijk, data.geometry))
        # concept means of concept-level data are the rows themselves
        np.testing.assert_array_equal(data.concept_means(paradigm), betas)


def test_pereira_mni_grid_and_root_of_participants(tmp_path):
    rng = np.random.default_rng(2)
    dims = (91, 109, 91)
    truths = {}
    for pid in ("M01", "P01"):
        prefix = "examples" if pid == "P01" else "data"
        truths[pid] = _write_participant(tmp_path / pid, rng, lambda p: write_pereira_v5, n_vox=30, dims=dims,
                                         prefix=prefix)
    (tmp_path / "notes").mkdir()  # unrelated folders are ignored
    ds = open_pereira(tmp_path)
    assert ds.participants == ("M01", "P01") and ds.space == "MNI152_2mm"
    for pid, (ijk, truth) in truths.items():
        data = ds.participant(pid)
        np.testing.assert_array_equal(data.geometry.affine, MNI_2MM_AFFINE)
        # MNI mm of the voxels agrees with the coordinates written (1-based colToCoord)
        xyz = data.geometry.xyz
        ref = np.c_[90 - 2 * data.geometry.ijk[:, 0], -126 + 2 * data.geometry.ijk[:, 1],
                    -72 + 2 * data.geometry.ijk[:, 2]]
        np.testing.assert_allclose(xyz, ref)
        expected = _expected(truth["word_clouds"], ijk, data.geometry)
        np.testing.assert_array_equal(data.betas("word_clouds"), expected)
    info = ds.describe()
    assert [p["voxels"] for p in info["participants"]] == [30, 30]


def test_pereira_single_file_and_indices_only(tmp_path):
    """One .mat file is one participant x one paradigm; voxel positions may come from indicesIn3D alone."""
    import scipy.io

    rng = np.random.default_rng(3)
    concepts = list(load_concepts())
    ijk = pereira_voxels(rng, DIMS, 25)
    ex = rng.standard_normal((180, 25))
    lin = np.ravel_multi_index(tuple(ijk.T), DIMS, order="F") + 1
    path = tmp_path / "P02" / "data_180concepts_wordclouds.mat"
    path.parent.mkdir()
    cell = np.empty((180, 1), dtype=object)
    cell[:, 0] = [c.lower() for c in concepts]
    scipy.io.savemat(path, {"examples": ex, "keyConcept": cell,
                            "meta": {"indicesIn3D": lin.reshape(-1, 1).astype(float),
                                     "dimensions": np.array([DIMS], float)}})
    ds = open_dataset(path)
    assert ds.paradigms == ("word_clouds",) and ds.participants == ("P02",)
    data = ds.participant("P02")
    np.testing.assert_array_equal(data.betas("word_clouds"), _expected(ex, ijk, data.geometry))


def test_keyconcept_count_alias_and_subset(tmp_path):
    """'count' (the sentence word) maps to Counting; a consistent subset of concepts is accepted."""
    rng = np.random.default_rng(4)
    concepts = ["Dog", "Counting", "Ability"]
    ijk = pereira_voxels(rng, DIMS, 10)
    for token in MAT_TOKENS.values():
        names = ["dog", "count", "ability"]
        ex = rng.standard_normal((3, 10))
        write_pereira_v5(tmp_path / f"data_180concepts_{token}.mat", ex, names, ijk, DIMS)
    data = open_pereira(tmp_path).participant(tmp_path.name)
    order = [c for c in load_concepts() if c in concepts]
    assert list(data.events["sentences"]["concept"]) == order
    means = data.concept_means("sentences")
    assert np.isnan(means[[i for i, c in enumerate(load_concepts()) if c not in concepts]]).all()


def test_paradigm_names():
    assert paradigm_of("x/data_180concepts_wordclouds.mat") == "word_clouds"
    assert paradigm_of("examples_180concepts_pictures.mat") == "pictures"
    with pytest.raises(DataError, match="unknown paradigm 'movies'"):
        paradigm_of("data_180concepts_movies.mat")
    with pytest.raises(DataError, match="cannot tell the paradigm"):
        paradigm_of("stuff.mat")
