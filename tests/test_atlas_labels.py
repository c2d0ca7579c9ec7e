"""LabelVolume sampling and user atlas loading."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from core.atlas.labels import LabelVolume, load_label_volume, read_label_table
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
from core.errors import DataError, ParameterError


def _table(ids):
    return pd.DataFrame({"label": ids, "name": [f"area{i}" for i in ids]})


def test_sample_matches_kdtree_nearest_on_other_grid():
    rng = np.random.default_rng(1)
    # a 1.5 mm atlas grid, offset so that no dataset centre is equidistant to two atlas centres
    aff = np.array([[1.5, 0, 0, -95.3], [0, 1.5, 0, -130.2], [0, 0, 1.5, -75.1], [0, 0, 0, 1]])
    data = rng.integers(0, 6, size=(40, 50, 40)).astype(np.int32)
    atlas = LabelVolume(data, aff, _table(range(1, 6)))
    mask = np.zeros(MNI_2MM_SHAPE, bool)
    mask[30:60, 40:70, 20:50] = rng.random((30, 30, 30)) < 0.3
    geom = VoxelGeometry(mask, MNI_2MM_AFFINE)
    got = atlas.sample(geom)
    centres = nib.affines.apply_affine(aff, np.argwhere(np.ones(data.shape, bool)))
    dist, nn = cKDTree(centres).query(geom.xyz)
    ref = data.ravel()[nn]
    ref[dist > 1.5 * np.sqrt(3) / 2 + 1e-6] = 0  # outside the atlas grid
    np.testing.assert_array_equal(got, ref)
    assert got.dtype == np.int32 and got.shape == (geom.n_voxels,)


def test_sample_same_grid_fast_path():
    rng = np.random.default_rng(2)
    data = rng.integers(0, 4, size=MNI_2MM_SHAPE).astype(np.int32)
    atlas = LabelVolume(data, MNI_2MM_AFFINE, _table([1, 2, 3]))
    mask = rng.random(MNI_2MM_SHAPE) < 0.05
    geom = VoxelGeometry(mask, MNI_2MM_AFFINE)
    assert atlas.same_grid(geom)
    np.testing.assert_array_equal(atlas.sample(geom), data[mask])


def test_names_lookup_and_counts():
    data = np.zeros((4, 4, 4), np.int32)
    data[0, 0, :2] = 3
    data[1] = 7
    atlas = LabelVolume(data, np.eye(4), pd.DataFrame({"label": [3, 7], "name": ["L_A5_ROI", "R_45"]}))
    assert atlas.names() == ["L_A5_ROI", "R_45"]
    assert atlas.table["hemisphere"].tolist() == ["L", "R"]
    assert atlas.label_of("L_A5") == 3 and atlas.label_of("r_45") == 7
    assert atlas.voxel_counts().to_dict() == {3: 2, 7: 16}
    with pytest.raises(ParameterError):
        atlas.label_of("L_V1")


def test_user_atlas_roundtrip_and_formats(tmp_path):
    data = np.zeros((5, 6, 7), np.int16)
    data[1:3, 1:3, 1:3] = 1
    data[3, 4, 5] = 12
    aff = np.diag([3.0, 3.0, 3.0, 1.0])
    nifti = tmp_path / "lang.nii.gz"
    nib.save(nib.Nifti1Image(data, aff), nifti)
    (tmp_path / "lang_table.tsv").write_text("label\tname\n1\tL_IFG\n12\tL_PostTemp\n")
    vol = load_label_volume(nifti, tmp_path / "lang_table.tsv")
    np.testing.assert_array_equal(vol.data, data)
    np.testing.assert_allclose(vol.affine, aff)
    assert vol.names() == ["L_IFG", "L_PostTemp"] and set(vol.table["hemisphere"]) == {"L"}
    # the paper's names file: headerless "id name"
    (tmp_path / "names.txt").write_text("1 L_IFGorb_ROI\n12 L_AngG_ROI\n")
    assert load_label_volume(nifti, tmp_path / "names.txt").names() == ["L_IFGorb_ROI", "L_AngG_ROI"]
    # CSV with extra columns and a background row; float NIfTI with integer values (scaled uint8)
    (tmp_path / "t.csv").write_text("index,name,hemisphere,network\n0,bg,,\n1,a,left,lang\n12,b,right,lang\n")
    table = read_label_table(tmp_path / "t.csv")
    assert table["hemisphere"].tolist() == ["L", "R"] and "network" in table
    flt = tmp_path / "f.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.float32) * 1.0000001, aff), flt)
    assert np.array_equal(load_label_volume(flt, tmp_path / "t.csv").data, data)
    # save + default table next to the file
    vol.save(tmp_path / "copy.nii.gz")
    again = load_label_volume(tmp_path / "copy.nii.gz")
    assert again.names() == vol.names() and np.array_equal(again.data, vol.data)
    # no table: generic names
    assert load_label_volume(nifti).names() == ["label_1", "label_12"]


def test_bad_atlas_files(tmp_path):
    aff = np.eye(4)
    ok = tmp_path / "ok.nii.gz"
    nib.save(nib.Nifti1Image(np.array([[[0, 1], [2, 2]]], np.int16), aff), ok)
    (tmp_path / "ok_names.tsv").write_text("label\tname\n1\ta\n")
    bad_cases = {
        "missing.nii.gz": None,
        "trunc.nii.gz": "truncate",
        "stat.nii.gz": np.array([[[0.5, 1.2]]], np.float32),
        "fourd.nii.gz": np.zeros((2, 2, 2, 3), np.int16),
        "neg.nii.gz": np.array([[[-1, 1]]], np.int16),
    }
    for name, content in bad_cases.items():
        path = tmp_path / name
        if content is None:
            pass
        elif isinstance(content, str):
            raw = ok.read_bytes()
            path.write_bytes(raw[: len(raw) // 2])
        else:
            nib.save(nib.Nifti1Image(content, aff), path)
        with pytest.raises(DataError):
            load_label_volume(path)
    with pytest.raises(DataError, match="no row"):
        load_label_volume(ok, tmp_path / "ok_names.tsv")  # label 2 missing from the table
    for text in (
        "label\tname\n1\ta\n1\tb\n",
        "label\tname\nx\ta\n",
        "foo\tbar\n1\ta\n",
        "",
        "label\tname\n1\t\n",
    ):
        (tmp_path / "bad.tsv").write_text(text)
        with pytest.raises(DataError):
            read_label_table(tmp_path / "bad.tsv")
    with pytest.raises(DataError):
        read_label_table(tmp_path / "absent.tsv")


def test_split_hemispheres_like_the_paper():
    """The paper's rule: array index i < 46 (x >= 0 on the MNI 2 mm grid) is right and gets +200."""
    from core.atlas.labels import split_hemispheres

    rng = np.random.default_rng(4)
    data = rng.integers(0, 4, size=MNI_2MM_SHAPE).astype(np.int32)
    bilateral = LabelVolume(
        data, MNI_2MM_AFFINE, pd.DataFrame({"label": [1, 2, 3], "name": ["L_V1_ROI", "L_A5_ROI", "L_45_ROI"]})
    )
    split = split_hemispheres(bilateral)
    i = np.arange(MNI_2MM_SHAPE[0])[:, None, None]
    expected = np.where((i < 46) & (data > 0), data + 200, data)
    np.testing.assert_array_equal(split.data, expected)
    assert split.name_of()[202] == "R_A5_ROI" and split.name_of()[2] == "L_A5_ROI"
    assert split.label_of("R_45") == 203
