"""Pereira 2018 .mat reader: write MATLAB v5 (scipy) and v7.3 (HDF5) files and read them back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nibabel.affines import apply_affine

from core.data.concepts import PARADIGMS, load_concepts
from core.data.geometry import MNI_2MM_AFFINE
from core.data.readers import ignored_files, open_dataset
from core.data.readers.pereira import detect, open_pereira, paradigm_of
from core.errors import DataError
from tests.reader_files import (
    MAT_TOKENS,
    pereira_voxels,
    write_pereira_exp23,
    write_pereira_v5,
    write_pereira_v73,
)

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


# ------------------------------------------------------------ the public release's folders and grid

SPM_DIMS = (79, 95, 69)  # SPM's default 2 mm bounding box [-78 -112 -50; 78 76 85]
OFFSET_91 = np.array([6, 7, 11])  # the same voxel centre on the 91 x 109 x 91 grid: (i, j, k) + offset
AREAS = ("L_A5", "L_45", "R_V1")  # left posterior temporal, left frontal, right occipital


def _spm_box_voxels(atlas, per_area=6):
    """Voxels of the 79 x 95 x 69 box chosen through the 91 x 109 x 91 Glasser grid: ``per_area`` voxels
    of each area in AREAS plus 3 unlabelled ones. Returns (ijk (V, 3) on the box, area name per voxel or
    '')."""
    rng = np.random.default_rng(5)
    ijk, names = [], []
    for area in AREAS:
        on91 = np.argwhere(atlas.data == atlas.label_of(area))
        box = on91 - OFFSET_91
        box = box[np.all((box >= 0) & (box < np.array(SPM_DIMS)), axis=1)]
        ijk.append(box[rng.choice(len(box), per_area, replace=False)])
        names += [area] * per_area
    ijk.append(np.array([[0, 0, 0], [78, 94, 68], [0, 94, 0]]))  # box corners: outside the brain
    names += ["", "", ""]
    return np.concatenate(ijk), names


def _write_release_folder(folder, rng, ijk, signal):
    """A participant folder as the public release has it: data_ and older examples_ files for the three
    paradigms (the examples_ twins hold other numbers), plus Experiment 2 and 3 files."""
    concepts = list(load_concepts())
    truth = {}
    for paradigm, token in MAT_TOKENS.items():
        ex = signal + 0.5 * rng.standard_normal(signal.shape)
        truth[paradigm] = ex
        write_pereira_v5(folder / f"data_180concepts_{token}.mat", ex, concepts, ijk, SPM_DIMS)
        write_pereira_v5(folder / f"examples_180concepts_{token}.mat", -ex, concepts, ijk, SPM_DIMS)
    write_pereira_exp23(folder / "data_384sentences.mat", 384, ijk, SPM_DIMS)
    write_pereira_exp23(folder / "data_243sentences.mat", 243, ijk, SPM_DIMS)
    return truth


@pytest.fixture(scope="module")
def release_folders(tmp_path_factory):
    from core.atlas.glasser import glasser_mni

    atlas = glasser_mni()
    root = tmp_path_factory.mktemp("pereira_release")
    ijk, names = _spm_box_voxels(atlas)
    rng = np.random.default_rng(6)
    signal = rng.standard_normal((180, len(ijk)))  # shared concept profile -> consistent voxels
    truths = {pid: _write_release_folder(root / pid, rng, ijk, signal) for pid in ("M01", "M02")}
    return {"root": root, "ijk": ijk, "names": names, "truths": truths, "atlas": atlas}


def test_release_folder_reads_data_files_in_mni_space(release_folders):
    root, ijk = release_folders["root"], release_folders["ijk"]
    ds = open_dataset(root)
    assert ds.reader == "pereira" and ds.participants == ("M01", "M02") and ds.paradigms == PARADIGMS
    assert ds.space == "MNI152_2mm_SPM"
    ignored = ignored_files(ds)
    reasons = {Path(i["path"]).relative_to(root).as_posix(): i["reason"] for i in ignored}
    for pid in ("M01", "M02"):
        for token in MAT_TOKENS.values():
            twin = reasons[f"{pid}/examples_180concepts_{token}.mat"]
            assert f"twin of data_180concepts_{token}.mat" in twin
        assert "Experiment 2/3" in reasons[f"{pid}/data_384sentences.mat"]
        assert "243 sentences" in reasons[f"{pid}/data_243sentences.mat"]
    assert len(ignored) == 2 * 5
    data = ds.participant("M01")
    geom = data.geometry
    # x, y, z are MNI millimetres: SPM's box corner (-78, -112, -50) at 2 mm, x reversed (index 0 = +78)
    ref = np.c_[78 - 2 * geom.ijk[:, 0], -112 + 2 * geom.ijk[:, 1], -50 + 2 * geom.ijk[:, 2]]
    np.testing.assert_array_equal(geom.xyz, ref)
    # ... and each voxel's centre is that of the 91 x 109 x 91 MNI voxel it was chosen from
    np.testing.assert_array_equal(geom.xyz, apply_affine(MNI_2MM_AFFINE, geom.ijk + OFFSET_91))
    assert geom.xyz[:, 0].max() == 78 - 2 * ijk[:, 0].min() and (geom.hemisphere() == "L").any()
    for paradigm in PARADIGMS:  # the data_ files, not the examples_ twins (which hold -data)
        expected = _expected(release_folders["truths"]["M01"][paradigm], ijk, geom)
        np.testing.assert_allclose(data.betas(paradigm), expected, rtol=1e-6)


def test_atlas_labels_sample_by_world_position(release_folders):
    """LabelVolume.sample on the 79 x 95 x 69 box gives each voxel the label of the 91 x 109 x 91 atlas
    voxel it was chosen from (different grids: the look-up goes through MNI mm)."""
    atlas, ijk, names = release_folders["atlas"], release_folders["ijk"], release_folders["names"]
    geom = open_dataset(release_folders["root"]).participant("M01").geometry
    assert not atlas.same_grid(geom)
    labels = atlas.sample(geom)
    name_of = {0: "", **atlas.name_of()}
    by_voxel = {tuple(c): n for c, n in zip(ijk.tolist(), names, strict=True)}
    assert [name_of[int(lab)] for lab in labels] == [by_voxel[tuple(c)] for c in geom.ijk.tolist()]
    hemis = geom.hemisphere()
    assert all(h == n[0] for h, n in zip(hemis, [by_voxel[tuple(c)] for c in geom.ijk.tolist()],
                                         strict=True) if n)


def test_label_sampling_is_nearest_neighbour_off_lattice():
    """A grid that is not on the atlas lattice (3 mm voxels, shifted) takes the label of the atlas voxel
    whose centre is nearest (brute-force reference over all atlas voxels)."""
    import pandas as pd

    from core.atlas.labels import LabelVolume
    from core.data.geometry import VoxelGeometry

    rng = np.random.default_rng(7)
    atlas = LabelVolume(rng.integers(0, 5, (12, 11, 10)).astype(np.int32), MNI_2MM_AFFINE,
                        pd.DataFrame({"label": [1, 2, 3, 4], "name": ["a", "b", "c", "d"]}))
    affine = np.array([[-3.0, 0, 0, 85.3], [0, 3, 0, -121.6], [0, 0, 3, -67.7], [0, 0, 0, 1]])
    geom = VoxelGeometry(np.ones((6, 6, 5), bool), affine)
    centres = apply_affine(atlas.affine, np.argwhere(np.ones(atlas.shape, bool)))
    d = np.linalg.norm(geom.xyz[:, None, :] - centres[None], axis=2)
    nearest = d.argmin(axis=1)
    inside = d.min(axis=1) < np.sqrt(3)  # within the atlas grid (half-voxel diagonal + margin)
    ref = np.where(inside, atlas.data.ravel()[nearest], 0)
    got = atlas.sample(geom)
    assert inside.sum() > 50
    np.testing.assert_array_equal(got[inside], ref[inside])


def test_consistency_writes_area_table_on_spm_box(release_folders, tmp_path):
    import pandas as pd

    from app.cli import main

    out = tmp_path / "out"
    argv = ["run", "consistency", "--data", str(release_folders["root"]), "--out", str(out),
            "--device", "cpu", "--set", "n_permutations=19", "--set", "split_halves=false"]
    assert main(argv) == 0
    areas = pd.read_csv(out / "consistency_areas.csv")
    counts = pd.Series(release_folders["names"]).value_counts().drop("")
    assert dict(zip(areas["area"], areas["n_voxels"], strict=True)) == counts.to_dict()
    assert dict(zip(areas["area"], areas["hemisphere"], strict=True)) == {a: a[0] for a in AREAS}
    assert np.isfinite(areas["C_area"]).all()


def test_info_lists_ignored_files(release_folders, capsys):
    import json

    from app.cli import main

    root = release_folders["root"]
    assert main(["info", "--json", str(root)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["space"] == "MNI152_2mm_SPM" and len(info["ignored"]) == 10
    assert {Path(i["path"]).name for i in info["ignored"]} >= {"data_384sentences.mat",
                                                                "examples_180concepts_pictures.mat"}
    assert main(["info", str(root)]) == 0
    text = capsys.readouterr().out
    assert "ignored   10 files not read" in text and "data_243sentences.mat" in text


def test_exp23_file_alone_is_refused(release_folders, tmp_path):
    with pytest.raises(DataError, match="Experiment 2/3"):
        open_dataset(release_folders["root"] / "M01" / "data_384sentences.mat")
    folder = tmp_path / "P09"
    folder.mkdir()
    for name in ("data_180concepts_sentences.mat", "examples_180concepts_sentences.mat"):
        (folder / name).write_bytes((release_folders["root"] / "M01" / name).read_bytes())
    (folder / "other_180concepts_sentences.mat").write_bytes((folder / name).read_bytes())
    assert open_dataset(folder).participant("P09").n_voxels == len(release_folders["ijk"])
    (folder / "data_180concepts_sentences.mat").rename(folder / "x.mat")
    (folder / "examples_180concepts_sentences.mat").rename(folder / "data_180concepts_sentences.mat")
    (folder / "x.mat").rename(folder / "data_180concepts_Sentences.mat")
    with pytest.raises(DataError, match="a second file for paradigm 'sentences'"):
        open_dataset(folder)
