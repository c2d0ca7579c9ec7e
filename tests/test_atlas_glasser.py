"""Volumetric Glasser labelling: table, geometry against the surfaces, disk cache, Dice validation."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from core.atlas import glasser as glasser_mod
from core.atlas.glasser import glasser_mni, glasser_table
from core.atlas.meshes import load_mesh
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry


@pytest.fixture(scope="module")
def atlas():
    return glasser_mni()


def test_table_360_areas():
    t = glasser_table()
    assert len(t) == 360 and t["label"].is_unique and t["name"].is_unique
    left, right = t[t["hemisphere"] == "L"], t[t["hemisphere"] == "R"]
    assert left["label"].tolist() == list(range(1, 181)) and right["label"].tolist() == list(range(201, 381))
    assert (left["name"].str[2:].to_numpy() == right["name"].str[2:].to_numpy()).all()
    assert {"L_A5", "R_A5", "L_STSdp", "L_45", "L_TE2p"} <= set(t["name"])


def test_volume_grid_and_all_areas_present(atlas):
    assert atlas.shape == MNI_2MM_SHAPE
    np.testing.assert_allclose(atlas.affine, MNI_2MM_AFFINE)
    present = set(np.unique(atlas.data)) - {0}
    assert present == set(atlas.ids())  # every one of the 360 areas has voxels
    assert 60_000 < (atlas.data > 0).sum() < 150_000  # cortex at 2 mm: ~0.5-1.2 l


def test_hemispheres_follow_x_sign(atlas):
    geom = VoxelGeometry(atlas.data > 0, MNI_2MM_AFFINE)
    labels = atlas.sample(geom)
    right = geom.hemisphere() == "R"
    assert np.all(labels[right] > 200) and np.all(labels[~right] <= 180)


def test_labels_agree_with_nearest_midthickness_vertex(atlas):
    """Independent check: voxels that the midthickness surface passes through carry the label of
    the vertex inside them for most vertices (a different rule than the builder's ribbon KD-tree)."""
    for hemi in ("left", "right"):
        h = load_mesh("fs_LR32k", "midthickness").hemis[hemi]
        ijk = np.rint(nib.affines.apply_affine(np.linalg.inv(MNI_2MM_AFFINE), h.vertices)).astype(int)
        vox = atlas.data[tuple(ijk.T)]
        cortex = (h.glasser > 0) & (vox > 0)
        assert (h.glasser[~h.medial_wall] > 0).all()
        assert np.mean(vox[cortex] == h.glasser[cortex]) > 0.8


def test_disk_cache_roundtrip(tmp_path, monkeypatch, atlas):
    monkeypatch.setenv("CBS_ATLAS_CACHE", str(tmp_path))
    monkeypatch.setattr(glasser_mod, "_MEMORY", {})
    built = glasser_mni()
    assert (tmp_path / "glasser_mni2mm.nii.gz").is_file() and (tmp_path / "glasser_mni2mm.tsv").is_file()
    np.testing.assert_array_equal(built.data, atlas.data)  # deterministic
    monkeypatch.setattr(glasser_mod, "_MEMORY", {})
    monkeypatch.setattr(glasser_mod, "build_glasser_volume", lambda **_: pytest.fail("cache not used"))
    again = glasser_mni()
    np.testing.assert_array_equal(again.data, built.data)
    assert again.names() == built.names()


PAPER_ROIS = {
    1: ["L_A5", "L_STSdp", "L_TPOJ1", "L_TPOJ2"],
    2: ["L_IFSa", "L_45", "L_FOP5"],
    3: ["L_TE2p", "L_PH"],
}


def test_dice_against_published_roi_map(shared_data, atlas):
    """Our labelling vs the paper's roi_map (their Glasser volume, a different template projection).

    Threshold 0.55: we measure 0.60 / 0.65 / 0.66. A left/right flip, a label-id offset or a grid
    flip gives Dice ~0; a ribbon-only labelling of the same surfaces gives 0.45-0.61; the remaining
    mismatch is the 2-3 mm disagreement between group-average surfaces and the template's folding.
    """
    roi_map = np.rint(nib.load(shared_data / "outputs" / "roi_map.nii.gz").get_fdata()).astype(int)
    for roi, areas in PAPER_ROIS.items():
        ours = np.isin(atlas.data, [atlas.label_of(a) for a in areas])
        theirs = roi_map == roi
        dice = 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum())
        assert dice > 0.55, (roi, dice)
        centre = lambda m: nib.affines.apply_affine(MNI_2MM_AFFINE, np.argwhere(m)).mean(0)  # noqa: E731
        assert np.linalg.norm(centre(ours) - centre(theirs)) < 4.0
