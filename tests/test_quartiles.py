"""Quartile decoupling (method.md §4) against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from core.analyses.quartiles.cells import (
    cell_labels,
    cell_means,
    quantile_bins,
    quartile_cells,
    quartile_stats,
)


def test_quantile_bins_match_the_papers_rule():
    rng = np.random.default_rng(0)
    v = rng.standard_normal(101)
    v[3] = np.nan
    bins = quantile_bins(v)
    finite = np.isfinite(v)
    thresholds = pd.Series(v[finite]).quantile([0, 0.25, 0.5, 0.75]).to_numpy()
    want = np.array([(x >= thresholds).sum() for x in v[finite]])
    np.testing.assert_array_equal(bins[finite], want)
    assert bins[3] == 0 and set(bins[finite]) == {1, 2, 3, 4}
    assert np.bincount(bins[finite])[1:].tolist() == [25, 25, 25, 25]


def test_cells_are_marginal_within_roi():
    rng = np.random.default_rng(1)
    roi = np.r_[np.zeros(10, int), np.ones(80, int), np.full(60, 2)]
    c, lang = rng.standard_normal(150), rng.standard_normal(150)
    lang[20] = np.nan
    cells = quartile_cells(c, lang, roi)
    assert 20 not in set(cells["voxel"]) and not set(cells["voxel"]) & set(range(10))
    for _label, sub in cells.groupby("roi"):
        vox = sub["voxel"].to_numpy()
        np.testing.assert_array_equal(sub["b_C"], quantile_bins(c[vox]))
        np.testing.assert_array_equal(sub["b_L"], quantile_bins(lang[vox]))
    labels, table = cell_labels(cells, 150)
    assert table["n_voxels"].sum() == len(cells) and (labels[:10] == 0).all()
    assert labels[cells["voxel"].iloc[0]] == table["label"].iloc[0] or labels[cells["voxel"]].min() > 0


def test_r_c_and_r_l_statistics():
    rng = np.random.default_rng(2)
    rows = []
    for s in range(17):
        for bc in range(1, 5):
            for bl in range(1, 5):
                r = 0.03 * bc + 0.002 * rng.standard_normal() + 0.01 * rng.standard_normal() * (bl == 1)
                rows.append({"participant": f"S{s}", "roi": 1, "paradigm": "sentences", "b_C": bc, "b_L": bl,
                             "r": r})
    cells = pd.DataFrame(rows)
    stats = quartile_stats(cells).iloc[0]
    per_l = [pearsonr(g["b_C"], g["r"])[0] for _, g in cells.groupby("b_L")]
    assert stats["r_C_mean"] == pytest.approx(np.mean(per_l))
    assert stats["r_C_sem"] == pytest.approx(np.std(per_l, ddof=1) / 2)
    assert stats["r_C_mean"] > 0.8 and abs(stats["r_L_mean"]) < 0.3
    means = cell_means(cells)
    assert len(means) == 16
    one = cells[(cells["b_C"] == 2) & (cells["b_L"] == 3)]["r"]
    row = means[(means["b_C"] == 2) & (means["b_L"] == 3)].iloc[0]
    assert row["mean"] == pytest.approx(one.mean()) and row["sem"] == pytest.approx(one.sem())
