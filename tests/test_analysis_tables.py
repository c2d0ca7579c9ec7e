"""Logic moved from the plugins into core (encoding tables, quartile cell codes), checked against
independent references: scipy's mode, pandas group statistics written out by hand, the cell-code formula."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analyses.encoding import group_layer_values, layer_curve_series, mode_per_column
from core.analyses.quartiles import cell_labels, decode_cells, encode_cells, roi_of_cell


def test_mode_per_column_matches_scipy_smallest_on_ties():
    rng = np.random.default_rng(1)
    values = rng.integers(3, 9, size=(5, 200))
    expected = stats.mode(values, axis=0, keepdims=False).mode  # scipy: the smallest of tied modes
    np.testing.assert_array_equal(mode_per_column(values), expected)
    np.testing.assert_array_equal(mode_per_column(np.array([[2, 1], [1, 2]])), [1, 1])


@pytest.mark.parametrize("n_targets", [3, 12])
def test_layer_curve_series_is_the_mean_and_sem_over_targets(n_targets):
    rng = np.random.default_rng(2)
    layers = np.array([0, 2, 4])
    rows = [{"participant": p, "paradigm": "sentences", "model": "m", "target": f"t{t}", "pooling": pool,
             "layer": layer, "r": rng.standard_normal()}
            for p in ("S1", "S2") for t in range(n_targets) for pool in ("mean", "last_tok")
            for layer in layers]
    curves = pd.DataFrame(rows)
    other = curves.assign(model="other", r=99.0)  # another run's rows never enter
    run = SimpleNamespace(model="m", paradigm="sentences", layers=layers)
    series, errors = layer_curve_series(pd.concat([curves, other]), run)
    per_target = n_targets <= 8
    assert len(series) == (2 * n_targets if per_target else 2)
    for pool in ("mean", "last_tok"):
        label = f"{pool} t1" if per_target else pool
        sub = curves[(curves["pooling"] == pool) & ((curves["target"] == "t1") if per_target else True)]
        for i, layer in enumerate(layers):
            r = sub.loc[sub["layer"] == layer, "r"].to_numpy()
            assert series[label][i] == pytest.approx(r.sum() / r.size, rel=1e-12)
            assert errors[label][i] == pytest.approx(np.std(r, ddof=1) / np.sqrt(r.size), rel=1e-12)
    assert layer_curve_series(curves, SimpleNamespace(model="m", paradigm="sentences", layers=[3])) is None


def test_group_layer_values_scatters_onto_the_grid():
    curves = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    keys = np.array([7, 1, 4, 9])
    run = SimpleNamespace(poolings=("mean", "last_tok"), layers=np.array([1, 2, 3]), group_keys=keys,
                          group_curves=SimpleNamespace(curves=lambda: curves))
    values = group_layer_values(run, 10)
    assert values.shape == (2, 3, 10) and values.dtype == np.float64
    for j, key in enumerate(keys):
        np.testing.assert_array_equal(values[:, :, key], curves[:, :, j])
    assert np.isnan(values[:, :, [0, 2, 3, 5, 6, 8]]).all()


def test_cell_codes_round_trip_and_formula():
    roi, b_c, b_l = np.meshgrid([1, 2, 37], [1, 2, 3, 4], [1, 2, 3, 4], indexing="ij")
    codes = encode_cells(roi.ravel(), b_c.ravel(), b_l.ravel())
    np.testing.assert_array_equal(codes, roi.ravel() * 100 + (b_c.ravel() - 1) * 4 + b_l.ravel())
    assert len(set(codes.tolist())) == codes.size  # one code per cell
    back = decode_cells(codes)
    for got, want in zip(back, (roi, b_c, b_l), strict=True):
        np.testing.assert_array_equal(got, want.ravel())
    np.testing.assert_array_equal(roi_of_cell(codes), roi.ravel())
    assert tuple(int(v) for v in decode_cells(37 * 100 + 2 * 4 + 3)) == (37, 3, 3)


def test_cell_labels_use_the_code():
    cells = pd.DataFrame({"voxel": [0, 3, 4], "roi": [1, 1, 2], "b_C": [1, 4, 2], "b_L": [4, 1, 3]})
    labels, table = cell_labels(cells, 6)
    np.testing.assert_array_equal(labels, [104, 0, 0, 113, 207, 0])
    roi, b_c, b_l = decode_cells(labels[[0, 3, 4]])
    np.testing.assert_array_equal(roi, cells["roi"])
    np.testing.assert_array_equal(b_c, cells["b_C"])
    np.testing.assert_array_equal(b_l, cells["b_L"])
    assert table["n_voxels"].tolist() == [1, 1, 1]


def test_union_events_and_reported_layers():
    from core.analyses.rsa import reported_layers, union_events

    ev1 = {"sentences": pd.DataFrame({"concept": ["a", "a", "b"], "stimulus_idx": [1, 1, 2], "x": 0})}
    ev2 = {"sentences": pd.DataFrame({"concept": ["b", "c"], "stimulus_idx": [2, 1]}),
           "pictures": pd.DataFrame({"concept": ["a"], "stimulus_idx": [3]})}
    union = union_events([ev1, ev2])
    assert sorted(union) == ["pictures", "sentences"]
    assert list(map(tuple, union["sentences"].to_numpy())) == [("a", 1), ("b", 2), ("c", 1)]
    scores = pd.DataFrame({"model": ["m", "m", "m", "m", "n"], "condition": "text",
                           "pooling": ["mean", "mean", "mean", "last_tok", "mean"],
                           "layer": [4, 2, 4, 1, 7], "selected_paper": [True, False, True, True, True]})
    assert reported_layers(scores, "m", "text", "mean", selected_only=True) == [4]
    assert reported_layers(scores, "m", "text", "mean", selected_only=False) == [2, 4]
    assert reported_layers(scores, "m", "text+image", "mean", selected_only=False) == []


def test_raw_area_c_of_run_reuses_the_consistency_table_only_when_it_fits(tmp_path):
    from core.analyses.wholebrain import raw_area_c_of_run

    pd.DataFrame({"area": ["L_V1", "L_V2", "R_V1"], "C_area": [0.1, np.nan, 0.3], "n": 1}).to_csv(
        tmp_path / "consistency_areas.csv", index=False)
    voxels = pd.DataFrame({"participant": ["S1", "S2", "S2"]})
    one_paradigm = SimpleNamespace(paradigms=("sentences",))
    table, source = raw_area_c_of_run(tmp_path, voxels, one_paradigm, ["S1", "S2"], atlas=None,
                                      areas={"L_V1", "R_V1"})
    assert source == "consistency_areas.csv" and table["area"].tolist() == ["L_V1", "L_V2", "R_V1"]
    np.testing.assert_array_equal(table["C_area"].to_numpy(), [0.1, np.nan, 0.3])
    for pids, areas in ((["S1"], {"L_V1"}), (["S1", "S2"], {"L_V1", "L_V9"})):  # other people / areas
        assert raw_area_c_of_run(tmp_path, voxels, one_paradigm, pids, atlas=None, areas=areas) == (None, "")
