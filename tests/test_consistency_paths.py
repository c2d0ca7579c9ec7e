"""The whole-brain consistency run's fast paths against the paths they replaced, on the same inputs:
sparse concept means (one read per chunk for all trials and both halves) against the dense averaging
matrices, and the bincount group map against ``np.add.at``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from core.analyses.consistency.maps import (
    _concept_mean_loader,
    average_trials,
    group_fraction,
    participant_consistency,
    union_geometry,
)
from core.analyses.consistency.statistic import permutation_test
from core.data.geometry import VoxelGeometry
from core.data.readers import open_dataset
from tests.tolerance import assert_f32_close


def _dense_average(weights: np.ndarray, block: np.ndarray) -> np.ndarray:
    """The replaced dense path: weights @ block, and with NaN the hit-matrix ratio (float64 reference)."""
    block = np.asarray(block, dtype=np.float64)
    finite = np.isfinite(block)
    hit = (weights > 0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if finite.all():
            return weights.astype(np.float64) @ block
        return (hit @ np.where(finite, block, 0.0)) / (hit @ finite)


@pytest.fixture
def nan_participant(tiny_native):
    """S1 of tiny_native with scattered NaN betas and one voxel NaN in every sentences trial."""
    path, truth = tiny_native
    data = open_dataset(path).participant("S1")
    rng = np.random.default_rng(5)
    betas = {}
    for p in data.paradigms:
        b = np.array(truth["S1"]["betas"][p])
        b[rng.random(b.shape) < 0.03] = np.nan
        betas[p] = b
    betas["sentences"][:, 4] = np.nan
    data.betas_source = {p: (lambda b=b: b) for p, b in betas.items()}
    data.release()
    return data, betas


def test_average_trials_sparse_equals_dense(nan_participant):
    data, betas = nan_participant
    w = np.concatenate([data.trial_weights("pictures", s) for s in (None, 1, 2)])
    for block in (betas["pictures"], np.nan_to_num(betas["pictures"])):  # with and without NaN
        got = average_trials(sparse.csr_matrix(w), block)
        assert got.dtype == np.float32
        assert_f32_close(got, average_trials(w, block))
        assert_f32_close(got, _dense_average(w, block))


def test_loader_equals_dense_concept_means_for_every_run(nan_participant):
    data, betas = nan_participant
    runs = (None, 1, 2)
    load = _concept_mean_loader(data, runs, None)
    for start, stop in ((0, data.n_voxels), (3, 11)):
        got = load(start, stop)
        assert len(got) == 3
        for run, means in zip(runs, got, strict=True):
            expected = []
            for p in data.paradigms:
                w = data.trial_weights(p, run)
                m = _dense_average(w, betas[p][:, start:stop])
                m[w.sum(axis=1) == 0] = np.nan
                expected.append(m)
            assert means.shape == (3, 180, stop - start)
            assert_f32_close(means, np.stack(expected))
    assert np.isnan(load(0, data.n_voxels)[0][0, :, 4]).all()  # sentences voxel 4: no finite trial


def test_participant_run_equals_tests_on_dense_concept_means(nan_participant):
    data, betas = nan_participant
    result = participant_consistency(data, 199, seed=3, split_halves=True, backend="numpy")
    for run, test in ((None, result), (1, result.splits[0]), (2, result.splits[1])):
        means = []
        for p in data.paradigms:
            w = data.trial_weights(p, run)
            m = _dense_average(w, betas[p])
            m[w.sum(axis=1) == 0] = np.nan
            means.append(m)
        ref = permutation_test(np.stack(means).astype(np.float32), 199, seed=3, backend="numpy")
        assert_f32_close(test.C, ref.C)
        np.testing.assert_array_equal(np.isnan(test.p), np.isnan(ref.p))
        assert_f32_close(test.p, ref.p)


def test_group_fraction_equals_add_at():
    rng = np.random.default_rng(0)
    masks = [rng.random((5, 6, 4)) < 0.6 for _ in range(3)]
    geoms = [VoxelGeometry(m, np.eye(4)) for m in masks]
    flags = [(g, rng.random(g.n_voxels) < 0.5) for g in geoms]
    geom, frac = group_fraction(flags)
    union = union_geometry(geoms)
    total = np.zeros(union.n_voxels)
    for g, f in flags:
        np.add.at(total, union.index_of(g.ijk), f.astype(float))
    np.testing.assert_array_equal(frac, (total / 3).astype(np.float32))
    same = group_fraction([(geoms[0], flags[0][1]), (geoms[0], ~flags[0][1])], geoms[0])[1]
    np.testing.assert_array_equal(same, np.full(geoms[0].n_voxels, 0.5, np.float32))
