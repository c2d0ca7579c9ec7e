"""Permutation tables, p-values and multiple-comparison corrections against direct references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from core.backend import chunk_size, select_backend
from core.errors import ParameterError
from core.stats.correction import corrected_p, fdr_bh, maxstat_p, significant
from core.stats.permutation import (
    exceedance_counts,
    make_permutations,
    p_from_counts,
    relative_permutations,
)


def test_permutations_are_reproducible_independent_shuffles():
    perms = make_permutations(180, 3, 50, seed=7)
    assert perms.shape == (50, 3, 180) and perms.dtype == np.int32
    assert (np.sort(perms, axis=2) == np.arange(180)).all()  # every row is a permutation
    np.testing.assert_array_equal(perms, make_permutations(180, 3, 50, seed=7))
    assert not np.array_equal(perms, make_permutations(180, 3, 50, seed=8))
    # groups are shuffled independently: two groups' shuffles agree at about 1 of 180 positions
    assert (perms[:, 0] == perms[:, 1]).mean() < 0.02
    with pytest.raises(ParameterError):
        make_permutations(180, 3, 0)


def test_relative_permutations_keep_every_pairwise_sum():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 30))
    perms = make_permutations(30, 3, 20, seed=1)
    rel = relative_permutations(perms)
    np.testing.assert_array_equal(rel[:, 0], np.broadcast_to(np.arange(30), (20, 30)))
    for k in range(20):
        for a, b in ((0, 1), (0, 2), (1, 2)):
            direct = (x[a][perms[k, a]] * x[b][perms[k, b]]).sum()
            relative = (x[a][rel[k, a]] * x[b][rel[k, b]]).sum()
            assert direct == pytest.approx(relative, rel=1e-12)


def test_p_values_and_exceedance_counts():
    null = np.array([0.1, 0.5, 0.5, np.nan, 0.9])
    stat = np.array([0.5, 0.95, -1.0, np.nan])
    np.testing.assert_array_equal(exceedance_counts(stat, null), [3, 0, 4, 4])
    np.testing.assert_allclose(p_from_counts([0, 49, 999], 999), [1 / 1000, 50 / 1000, 1.0])


def test_fdr_matches_scipy_with_ties_and_nan():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=500), rng.uniform(0, 0.01, 50), [0.2, 0.2, 0.2]])
    p = np.round(p, 3)  # ties
    expected = stats.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(fdr_bh(p), expected, rtol=1e-12)
    with_nan = np.concatenate([p, [np.nan, np.nan]])
    q = fdr_bh(with_nan)
    np.testing.assert_allclose(q[:-2], expected, rtol=1e-12)
    assert np.isnan(q[-2:]).all()
    assert not significant(with_nan, 0.05, "fdr_bh")[-2:].any()
    np.testing.assert_array_equal(significant(p, 0.05, "fdr_bh"), expected <= 0.05)


def test_maxstat_matches_direct_count():
    rng = np.random.default_rng(4)
    max_null = rng.normal(0.3, 0.05, 199)
    stat = np.concatenate([rng.normal(0.2, 0.1, 300), [np.nan]])
    direct = np.array([(1 + (max_null >= s).sum()) / 200 for s in stat[:-1]])
    p = maxstat_p(stat, max_null)
    np.testing.assert_allclose(p[:-1], direct)
    assert np.isnan(p[-1])
    np.testing.assert_array_equal(
        significant(np.full(301, 0.001), 0.05, "maxstat", stat, max_null)[:-1], direct <= 0.05
    )


def test_alpha_rule_matches_the_paper_count_rule():
    # the paper: significant when fewer than round(0.05 * 1000) = 50 permutations reach the true value
    counts = np.arange(1001)
    sig = significant(p_from_counts(counts, 1000), 0.05)
    np.testing.assert_array_equal(sig, counts < 50)


def test_correction_errors():
    with pytest.raises(ParameterError):
        corrected_p(np.array([0.1]), "bonferroni")
    with pytest.raises(ParameterError):
        corrected_p(np.array([0.1]), "maxstat")
    with pytest.raises(ParameterError):
        significant(np.array([0.1]), alpha=1.5)


def test_backend_selection_and_chunking():
    assert select_backend("auto", "cuda") == "torch"
    assert select_backend("numpy", "cpu") == "numpy"
    assert select_backend("auto", "cpu") in ("numba", "numpy")
    with pytest.raises(ParameterError):
        select_backend("numba", "cuda")
    with pytest.raises(ParameterError):
        select_backend("jax")
    assert chunk_size(1000, budget=10_000_000) == 10_000
    assert chunk_size(1000, budget=10, minimum=5) == 5
    assert chunk_size(8, maximum=100) == 100


def test_seeded_relative_permutations_are_made_once_and_equal_the_direct_table():
    from core.stats.permutation import make_permutations, relative_permutations, seeded_relative_permutations

    table = seeded_relative_permutations(180, 3, 200, 7)
    np.testing.assert_array_equal(table, relative_permutations(make_permutations(180, 3, 200, 7)))
    assert seeded_relative_permutations(180, 3, 200, 7) is table and not table.flags.writeable
    assert not np.array_equal(seeded_relative_permutations(180, 3, 200, 8), table)
