"""ROI builders: paper ROIs, named groups, top-k, ROI map loading."""

from __future__ import annotations

from pathlib import Path

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


RELEASE = Path(__file__).resolve().parents[2] / "shared" / "data" / "concepts-brain-llms" / "outputs"


def test_rois_paper_is_the_published_map():
    """rois=paper is the shipped copy of the release's roi_map: 975 / 675 / 646 voxels (method.md §2.4),
    and identical to the release file where it is present."""
    from core.atlas.specs import published_roi_map, resolve_rois

    rois = resolve_rois("paper")
    assert rois is published_roi_map()
    assert rois.shape == (91, 109, 91)
    np.testing.assert_allclose(rois.affine[:3], [[-2, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72]])
    assert rois.names() == ["ROI 1", "ROI 2", "ROI 3"] and set(rois.table["hemisphere"]) == {"L"}
    assert rois.voxel_counts().tolist() == [975, 675, 646]
    # every ROI voxel is in the left hemisphere (x < 0 mm)
    xyz = nib.affines.apply_affine(rois.affine, np.argwhere(rois.data > 0))
    assert (xyz[:, 0] < 0).all()
    release = RELEASE / "roi_map.nii.gz"
    if release.is_file():
        np.testing.assert_array_equal(rois.data, np.rint(nib.load(release).get_fdata()))  # uint8, scaled


def test_published_maps_reproduce_the_papers_roi_consistency():
    """The published group map over the shipped ROI map: the mean probabilistic consistency per ROI
    0.083 / 0.074 / 0.097 (method.md §2.4, computed from the release files)."""
    group = RELEASE / "semantic_consistency" / "probabilistic_consistency_map.nii.gz"
    if not group.is_file():
        pytest.skip("the paper's release data are not in ../shared")
    from core.atlas.specs import resolve_rois

    rois = resolve_rois("paper")
    values = np.asarray(nib.load(group).get_fdata())
    means = [values[rois.data == k].mean() for k in (1, 2, 3)]
    np.testing.assert_allclose(means, [0.083, 0.074, 0.097], atol=5e-4)


def test_roi_specs_resolve_and_fail_clearly(tmp_path):
    from core.atlas.specs import resolve_atlas, resolve_rois
    from core.errors import DataError

    surface = resolve_rois("glasser-surface")
    assert surface.names() == ["ROI 1", "ROI 2", "ROI 3"]
    # the surface rebuild overlaps the published map but is not identical to it
    paper = resolve_rois("paper")
    for k in (1, 2, 3):
        a, b = paper.data == k, surface.data == k
        dice = 2 * (a & b).sum() / (a.sum() + b.sum())
        assert 0.3 < dice < 1.0
    assert resolve_atlas("none") is None
    with pytest.raises(ParameterError, match="rois must be"):
        resolve_rois("papper")
    with pytest.raises(DataError, match="not found"):
        resolve_rois(str(tmp_path / "missing.nii.gz"))
    with pytest.raises(ParameterError, match="atlas must be"):
        resolve_atlas("glaser")
