"""The voxel card's quartile cell (Qt-free): the bin of the picked voxel, checked against C and language
quartiles computed here directly (numpy corrcoef and quantiles), and the cell's r from the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.outputs import Table


@pytest.fixture(scope="module")
def participant(tmp_path_factory):
    from core.data.readers import open_dataset
    from tests.gui_fake_plugin import make_mni_dataset

    path = make_mni_dataset(tmp_path_factory.mktemp("mni") / "ds")
    return open_dataset(path).participant("T1")


def _reference_bins(participant, roi_labels, label):
    """(voxel indices, b_C, b_L) in ROI ``label``: C = mean pairwise Pearson r of the concept profiles,
    bins = count of the 0/25/50/75 % quantiles <= value (the paper's quartile definition)."""
    vox = np.flatnonzero(roi_labels == label)
    means = [participant.concept_means(p, voxels=vox).astype(np.float64) for p in participant.paradigms]
    c = np.array(
        [
            np.mean([np.corrcoef(means[a][:, i], means[b][:, i])[0, 1] for a, b in ((0, 1), (0, 2), (1, 2))])
            for i in range(len(vox))
        ]
    )
    lang = participant.language[vox].astype(np.float64)

    def bins(values):
        q = np.quantile(values, [0, 0.25, 0.5, 0.75])
        margin = np.min(np.abs(values[:, None] - q[None, :]), axis=1)
        return (values[:, None] >= q[None, :]).sum(axis=1), margin

    b_c, m_c = bins(c)
    b_l, m_l = bins(lang)
    return vox, b_c, b_l, np.minimum(m_c, m_l / 10)


def test_quartile_cell_of_the_picked_voxel(participant):
    from core.atlas.specs import resolve_rois
    from core.inspect.voxel import VoxelInfo, add_quartile

    roi_labels = resolve_rois("paper").sample(participant.geometry)
    label = next(lab for lab in (1, 2, 3) if (roi_labels == lab).sum() >= 12)
    vox, b_c, b_l, margin = _reference_bins(participant, roi_labels, label)
    # planted cell predictivities: r = roi * 100 + b_C * 10 + b_L, two paradigms
    rows = [
        {"participant": "T1", "paradigm": par, "roi": roi, "b_C": c, "b_L": lang, "n_voxels": 1,
         "r": roi * 100 + c * 10 + lang + (0.5 if par == "pictures" else 0.0)}
        for roi in (1, 2, 3) for c in range(1, 5) for lang in range(1, 5) for par in ("sentences", "pictures")
    ]  # fmt: skip
    table = Table("quartile_cells", pd.DataFrame(rows))
    checked = 0
    for i in np.argsort(-margin)[:6]:  # voxels clear of the quartile boundaries (float32 vs float64)
        info = VoxelInfo("left", 0, participant.geometry.xyz[vox[i]], voxel=int(vox[i]))
        add_quartile(info, participant, [table], "paper")
        cell = info.quartile_cell
        assert cell is not None, info.quartile_note
        assert (cell["roi"], cell["b_C"], cell["b_L"]) == (label, b_c[i], b_l[i])
        expect = label * 100 + b_c[i] * 10 + b_l[i]
        assert cell["r"] == {"sentences": expect, "pictures": expect + 0.5}
        checked += 1
    assert checked == 6


def test_quartile_note_without_results_or_outside_rois(participant):
    from app.views.voxel_card import quartile_text
    from core.atlas.specs import resolve_rois
    from core.inspect.voxel import VoxelInfo, add_quartile

    info = add_quartile(VoxelInfo(None, None, np.zeros(3), voxel=0), participant, [], "paper")
    assert info.quartile_cell is None and "quartiles" in quartile_text(info)
    roi_labels = resolve_rois("paper").sample(participant.geometry)
    outside = int(np.flatnonzero(roi_labels == 0)[0])
    table = Table("quartile_cells", pd.DataFrame(
        {"participant": ["T1"], "paradigm": ["sentences"], "roi": [1], "b_C": [1], "b_L": [1], "r": [0.1]}
    ))  # fmt: skip
    info = add_quartile(VoxelInfo(None, None, np.zeros(3), voxel=outside), participant, [table], "paper")
    assert info.quartile_cell is None and quartile_text(info) == "outside the quartile ROIs"
    other = Table("quartile_cells", table.frame.assign(participant="P9"))
    info = add_quartile(VoxelInfo(None, None, np.zeros(3), voxel=outside), participant, [other], "paper")
    assert "T1 is not in the quartile results" == quartile_text(info)
