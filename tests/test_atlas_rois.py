"""ROI builders: paper ROIs, named groups, top-k, ROI map loading."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from core.atlas.labels import LabelVolume
from core.atlas.rois import load_roi_map, paper_rois, rois_from_areas, top_k_areas
from core.errors import ParameterError


@pytest.fixture
def toy_atlas():
    data = np.zeros((6, 4, 3), np.int32)
    for i, lab in enumerate([1, 2, 3, 201, 202, 203]):
        data[i, : i % 4 + 1, 0] = lab  # area i has i % 4 + 1 voxels
    table = pd.DataFrame(
        {"label": [1, 2, 3, 201, 202, 203], "name": ["L_A5", "L_45", "L_PH", "R_A5", "R_45", "R_PH"]}
    )
    return LabelVolume(data, np.eye(4), table)


def test_rois_from_areas(toy_atlas):
    rois = rois_from_areas({"temporal": ["L_A5", "L_PH"], "frontal": ["R_45"]}, toy_atlas)
    expected = np.zeros_like(toy_atlas.data)
    expected[np.isin(toy_atlas.data, [1, 3])] = 1
    expected[toy_atlas.data == 202] = 2
    np.testing.assert_array_equal(rois.data, expected)
    assert rois.names() == ["temporal", "frontal"] and rois.table["hemisphere"].tolist() == ["L", "R"]
    assert rois.table["areas"].tolist() == ["L_A5;L_PH", "R_45"]
    with pytest.raises(ParameterError):
        rois_from_areas({"a": ["L_A5"], "b": ["L_A5"]}, toy_atlas)
    with pytest.raises(ParameterError):
        rois_from_areas({"a": ["L_V1"]}, toy_atlas)


def test_top_k_areas(toy_atlas):
    scores = pd.DataFrame(
        {"area": ["L_A5", "L_45", "L_PH", "R_A5", "R_45"], "score": [0.2, 0.9, np.nan, 0.5, 0.1]}
    )
    top = top_k_areas(scores, 2, toy_atlas)
    np.testing.assert_array_equal(top.data > 0, np.isin(toy_atlas.data, [2, 201]))
    assert top.names() == ["top2"]
    sep = top_k_areas(scores, 2, toy_atlas, hemisphere="L", separate=True)
    assert sep.names() == ["L_45", "L_A5"]
    np.testing.assert_array_equal(sep.data[toy_atlas.data == 2], 1)
    with pytest.raises(ParameterError):
        top_k_areas(scores, 0, toy_atlas)
    with pytest.raises(ParameterError):
        top_k_areas(scores.rename(columns={"score": "value"}), 1, toy_atlas)


def test_paper_rois_from_glasser():
    from core.atlas.glasser import glasser_mni

    atlas = glasser_mni()
    rois = paper_rois()
    assert rois.names() == ["ROI 1", "ROI 2", "ROI 3"] and set(rois.table["hemisphere"]) == {"L"}
    for n, areas in enumerate(
        [["L_A5", "L_STSdp", "L_TPOJ1", "L_TPOJ2"], ["L_IFSa", "L_45", "L_FOP5"], ["L_TE2p", "L_PH"]], start=1
    ):
        np.testing.assert_array_equal(rois.data == n, np.isin(atlas.data, [atlas.label_of(a) for a in areas]))


def test_load_roi_map(tmp_path, shared_data):
    roi = load_roi_map(shared_data / "outputs" / "roi_map.nii.gz")
    assert roi.names() == ["ROI 1", "ROI 2", "ROI 3"]
    assert roi.voxel_counts().tolist() == [975, 675, 646]  # method.md §2.4
    nib.save(roi.to_nifti(), tmp_path / "r.nii.gz")
    (tmp_path / "r.tsv").write_text("label\tname\n1\tposttemp\n2\tfrontal\n3\tventral\n")
    assert load_roi_map(tmp_path / "r.nii.gz").names() == ["posttemp", "frontal", "ventral"]
