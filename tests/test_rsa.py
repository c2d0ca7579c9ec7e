"""RSA core: RDMs, comparisons and permutation nulls against scipy / direct formulas / rsatoolbox;
null p-values uniform (KS); planted structure recovered; layer selection; group tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from core.analyses.rsa.pipeline import ParticipantRDMs, run_rsa
from core.analyses.rsa.rdm import (
    brain_concept_patterns,
    compare_many,
    compare_rdms,
    concept_vectors,
    kendall_tau_a,
    rdm,
    square,
)
from core.analyses.rsa.stats import (
    group_wilcoxon,
    make_concept_permutations,
    paper_shuffle,
    permutation_null,
    permutation_p,
    permute_condensed,
    select_leave_one_out,
    select_paper,
)
from core.errors import ParameterError
from tests.tolerance import assert_f32_close


def _tau_a_direct(x, y):
    s = np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])
    m = len(x)
    return s[np.triu_indices(m, 1)].sum() / (m * (m - 1) / 2)


@pytest.mark.parametrize("distance", ["correlation", "cosine", "euclidean"])
def test_rdm_matches_pdist(distance):
    x = np.random.default_rng(1).normal(3.0, 2.0, (40, 25))
    np.testing.assert_allclose(rdm(x, distance), pdist(x, distance), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(square(pdist(x, distance)), squareform(pdist(x, distance)))


def test_rdm_rejects_bad_input():
    with pytest.raises(ParameterError):
        rdm(np.ones((1, 3)))
    with pytest.raises(ParameterError):
        rdm(np.ones((4, 3)), "mahalanobis")


def test_comparisons_match_scipy_and_direct_formulas():
    rng = np.random.default_rng(2)
    a, b = rdm(rng.standard_normal((60, 20))), rdm(rng.standard_normal((60, 30)))
    b = 0.3 * a + b  # some real correlation
    assert abs(compare_rdms(a, b) - stats.spearmanr(a, b).statistic) < 1e-6
    assert abs(compare_rdms(a, b, "pearson") - stats.pearsonr(a, b).statistic) < 1e-9
    # ties: rounding makes many tied distances
    ar, br = np.round(a, 1)[:400], np.round(b, 1)[:400]
    assert abs(compare_rdms(ar, br) - stats.spearmanr(ar, br).statistic) < 1e-9
    assert abs(kendall_tau_a(ar, br) - _tau_a_direct(ar, br)) < 1e-12
    assert kendall_tau_a(np.ones(10), np.arange(10.0)) == 0.0
    many = compare_many(np.stack([a, b]), np.stack([b, a, b]))
    assert many.shape == (2, 3) and abs(many[0, 0] - stats.spearmanr(a, b).statistic) < 1e-9


def test_comparisons_match_rsatoolbox():
    rsr = pytest.importorskip("rsatoolbox")
    rng = np.random.default_rng(3)
    a, b = rdm(rng.standard_normal((30, 10))), rdm(rng.standard_normal((30, 12)))
    b = a + 2 * b
    r1, r2 = rsr.rdm.RDMs(a[None]), rsr.rdm.RDMs(b[None])
    assert abs(compare_rdms(a, b) - rsr.rdm.compare(r1, r2, method="spearman")[0, 0]) < 1e-9
    assert abs(compare_rdms(a, b, "kendall_tau_a") - rsr.rdm.compare(r1, r2, method="tau-a")[0, 0]) < 1e-9


@pytest.mark.parametrize("scheme", ["product", "independent"])
@pytest.mark.parametrize("comparison", ["spearman", "pearson", "kendall_tau_a"])
def test_permutation_null_equals_direct_relabelling(scheme, comparison):
    rng = np.random.default_rng(4)
    n = 15
    brain = np.stack([rdm(rng.standard_normal((n, 8))) for _ in range(2)])
    models = np.stack([rdm(rng.standard_normal((n, 6))) for _ in range(3)])
    perms = make_concept_permutations(n, 40 if comparison != "kendall_tau_a" else 12, seed=7, scheme=scheme)
    null = permutation_null(brain, models, perms, comparison)
    mats = perms.materialize()
    assert len(np.unique(mats, axis=0)) == perms.n_permutations
    for k, perm in enumerate(mats[:12]):
        for r in range(2):
            sq = squareform(brain[r])[np.ix_(perm, perm)]  # relabel the square matrix directly
            relabelled = squareform(sq, checks=False)
            np.testing.assert_array_equal(relabelled, permute_condensed(brain[r], perm))
            for j in range(3):
                want = compare_rdms(relabelled, models[j], comparison)
                assert abs(null[r, k, j] - want) < 1e-5


def test_paper_shuffle_is_pandas_sample():
    frame = pd.DataFrame({"x": np.arange(180)})
    np.testing.assert_array_equal(paper_shuffle(180, 0), frame.sample(frac=1, random_state=0)["x"].to_numpy())


@pytest.mark.parametrize("scheme", ["product", "independent"])
def test_null_p_values_are_uniform(scheme):
    """Independent brain and model patterns: the permutation p-values are uniform (KS, fixed seeds)."""
    rng = np.random.default_rng(5)
    n, n_perm, n_datasets = 12, 499, 300
    perms = make_concept_permutations(n, n_perm, seed=11, scheme=scheme)
    pvals = []
    for _ in range(n_datasets):
        perm_set = perms if scheme == "product" else make_concept_permutations(
            n, n_perm, seed=int(rng.integers(1 << 30)), scheme=scheme)
        a = rdm(rng.standard_normal((n, 5)))
        b = rdm(rng.standard_normal((n, 5)))
        null = permutation_null(a[None], b[None], perm_set)
        pvals.append(permutation_p(np.array([[compare_rdms(a, b)]]), null)[0, 0])
    pvals = np.array(pvals)
    # p has steps of 1/(N+1); jitter within a step so that the continuous KS test applies
    jittered = pvals - rng.uniform(0, 1 / (n_perm + 1), pvals.size)
    assert stats.kstest(jittered, "uniform").pvalue > 0.01
    assert abs(np.mean(pvals <= 0.05) - 0.05) < 0.04


def test_selection_rules():
    rho = np.array([[0.1, 0.5, 0.2], [0.2, 0.4, 0.6], [0.0, 0.3, 0.7]])
    assert select_paper(rho) == 2  # means .1, .4, .5
    # leave out 0: means of others .1 .35 .65 -> 2; out 1: .05 .4 .45 -> 2; out 2: .15 .45 .4 -> 1
    np.testing.assert_array_equal(select_leave_one_out(rho), [2, 2, 1])
    with pytest.raises(ParameterError):
        select_leave_one_out(rho[:1])


def test_group_wilcoxon_matches_scipy():
    x, ref = np.array([0.3, 0.1, 0.25, 0.4, -0.05]), np.array([0.01, 0.0, -0.02, 0.01, 0.0])
    res = stats.wilcoxon(x - ref, alternative="greater")
    assert group_wilcoxon(x, ref) == (pytest.approx(res.statistic), pytest.approx(res.pvalue))
    assert np.isnan(group_wilcoxon(np.array([0.2]))[1])


def test_brain_patterns_average_all_trials_of_all_paradigms(tiny_native):
    from core.data.readers import open_dataset

    path, truth = tiny_native
    part = open_dataset(path).participant("S1")
    got = brain_concept_patterns(part, voxels=np.array([0, 5, 7]))
    sub = truth["S1"]
    frames = [(sub["events"][p], sub["betas"][p][:, [0, 5, 7]]) for p in sub["events"]]
    events = pd.concat([f[0] for f in frames], ignore_index=True)
    betas = np.concatenate([f[1] for f in frames])
    want = pd.DataFrame(betas).groupby(events["concept"].to_numpy()).mean()
    want = want.reindex(list(open_dataset(path).concepts)).to_numpy()
    assert_f32_close(got, want)


def test_concept_vectors_mean_of_seen_stimuli():
    keys = pd.DataFrame({"concept": ["A", "B", "A", "A", "Z"]})
    hidden = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    out = concept_vectors(keys, hidden, ("A", "B", "C"))
    assert_f32_close(out[0], hidden[[0, 2, 3]].mean(axis=0))  # float32, other path
    assert_f32_close(out[1], hidden[1])
    assert np.isnan(out[2]).all()


def test_concept_vectors_use_the_papers_arithmetic():
    """rsa.py of the paper: ``np.array(per_concept_list).mean(axis=0)`` in stimulus order, bit for bit; the
    same embeddings in the same order give exactly equal concept vectors."""
    rng = np.random.default_rng(9)
    states = rng.standard_normal((4, 3, 50)).astype(np.float32)
    picks = [[0, 1, 2], [3, 1], [0, 1, 2], [2, 0, 1], [3]]
    keys = pd.DataFrame({"concept": [c for c, p in zip("ABCDE", picks, strict=True) for _ in p]})
    hidden = states[[i for p in picks for i in p]]
    out = concept_vectors(keys.sample(frac=1, random_state=1).sort_index(), hidden, tuple("ABCDE"))
    for c, p in enumerate(picks):
        np.testing.assert_array_equal(out[c], np.array([states[i] for i in p]).mean(axis=0))
    np.testing.assert_array_equal(out[0], out[2])


def _planted_participants(n_participants=4, n=60, planted_layer=2, seed=0):
    """ROI 'planted' = linear map of layer `planted_layer`'s concept features + noise; 'null' = noise."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((4, n, 20))  # 4 layers of model features
    models = {("toy", "text", "mean"): np.stack([rdm(f) for f in feats])}
    parts = []
    for p in range(n_participants):
        w = rng.standard_normal((20, 50))
        planted = feats[planted_layer] @ w + 2.0 * rng.standard_normal((n, 50))
        noise = rng.standard_normal((n, 50))
        parts.append(ParticipantRDMs(f"P{p}", tuple(f"c{i}" for i in range(n)),
                                     {"planted": rdm(planted), "null": rdm(noise)}, models,
                                     {"planted": 50, "null": 50}))
    return parts


def test_planted_structure_recovered_only_where_planted():
    result = run_rsa(_planted_participants(), n_permutations=999, seed=3)
    s = result.scores
    best = s[s["selected_paper"]]
    assert set(best.loc[best["roi"] == "planted", "layer"]) == {2}
    assert (best.loc[best["roi"] == "planted", "p_perm"] <= 0.002).all()
    assert (best.loc[best["roi"] == "planted", "rho"] > 0.3).all()
    # the selected-layer null ROI: no participant significant after Bonferroni over 4 layers x 2 ROIs
    assert (s.loc[s["roi"] == "null", "p_perm"] > 0.05 / 8).all()
    g = result.group.set_index(["roi", "selection"])
    assert g.loc[("planted", "paper"), "p_vs_null"] == pytest.approx(1 / 16)  # 4 participants, all above
    assert g.loc[("planted", "paper"), "p_perm_group"] <= 0.002
    assert g.loc[("null", "paper"), "p_perm_group"] > 0.05  # selection-aware (max over layers) null
    assert g.loc[("planted", "cv"), "layer"] == "2"
    # the paper's single shuffle is near 0 for the planted ROI
    assert abs(g.loc[("planted", "paper"), "mean_rho_shuffled"]) < 0.1


def test_fixed_layer_and_single_shuffle_mode():
    result = run_rsa(_planted_participants(n_participants=3), layer=1, baseline="single_shuffle")
    assert set(result.scores["layer"]) == {1}
    assert result.scores["p_perm"].isna().all()
    assert result.group["selection"].tolist() == ["layer 1, mean"] * 2
    with pytest.raises(ParameterError):
        run_rsa(_planted_participants(n_participants=2), layer=9)


def test_bar_figure_draws_the_group_means():
    from core.analyses.rsa.pipeline import public_scores
    from core.figures.rsa_figure import rsa_bar_figure

    result = run_rsa(_planted_participants(n_participants=3), n_permutations=99)
    fig = rsa_bar_figure(public_scores(result.scores), result.group)
    axes = fig.get_axes()
    assert [a.get_title() for a in axes] == ["planted", "null"]
    paper = result.group[result.group["selection"] == "paper"].set_index("roi")
    for ax, roi in zip(axes, ["planted", "null"], strict=True):
        heights = [p.get_height() for p in ax.patches]
        assert heights[0] == pytest.approx(paper.loc[roi, "mean_rho"])
        assert heights[1] == pytest.approx(paper.loc[roi, "mean_null"])


def test_roi_missing_for_one_participant():
    parts = _planted_participants()
    del parts[0].brain["null"]
    result = run_rsa(parts, n_permutations=199, seed=2)
    g = result.group[result.group["selection"] == "paper"].set_index("roi")
    assert g.loc["planted", "n_participants"] == 4 and g.loc["null", "n_participants"] == 3
    assert np.isfinite(g["p_perm_group"]).all() and g.loc["planted", "p_perm_group"] == pytest.approx(1 / 200)


@pytest.mark.parametrize("comparison", ["kendall_tau_a", "pearson"])
def test_other_comparisons_through_the_pipeline(comparison):
    parts = _planted_participants(n_participants=2, n=20)
    result = run_rsa(parts, comparison=comparison, n_permutations=19, seed=1)
    row = result.scores.iloc[0]
    want = compare_rdms(parts[0].brain[row["roi"]], parts[0].models[("toy", "text", "mean")][row["layer"]],
                        comparison)
    assert row["rho"] == pytest.approx(want) and 0.05 <= row["p_perm"] <= 1


def _position_layer(n=180, h=96, seed=0):
    """Concept vectors of a layer whose state depends only on the token position: each concept is the mean
    of 3 of 12 position states. Concepts with the same positions in the same order are exactly equal rows
    (thousands of exactly tied distances); the same positions in another order differ by rounding
    only; 20 concepts are distinct."""
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((12, h)).astype(np.float32) + 0.5
    picks = rng.integers(0, 5, (n, 3))
    x = states[picks].mean(axis=1)
    x[:20] = rng.standard_normal((20, h))
    return x, rng


@pytest.mark.parametrize("distance", ["correlation", "cosine", "euclidean"])
def test_rdm_ties_equal_pdist_ties_on_a_position_only_layer(distance):
    x, rng = _position_layer()
    assert len(np.unique(x, axis=0)) < 100  # many exactly equal rows
    ours, want = rdm(x, distance), pdist(x.astype(np.float64), distance)
    ties = np.unique(want, return_counts=True)[1]
    assert ties.max() > 100  # thousands of tied entries
    np.testing.assert_array_equal(stats.rankdata(ours), stats.rankdata(want))
    np.testing.assert_allclose(ours, want, rtol=1e-12, atol=1e-14)
    brain = pdist(rng.standard_normal((180, 50)), "correlation")
    assert abs(compare_rdms(brain, ours) - stats.spearmanr(brain, want).statistic) < 1e-12
    # equal rows give exactly equal distances to every row of another group
    sq = squareform(ours)
    _, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    rep = first[inverse.ravel()]
    other = inverse.ravel()[:, None] != inverse.ravel()[None, :]
    np.testing.assert_array_equal(sq[other], sq[np.ix_(rep, rep)][other])


def test_pdist_of_a_row_subset_is_bit_identical():
    """What rdm() relies on: scipy computes each pair from its two rows only."""
    x, _ = _position_layer(60, 40, seed=3)
    rows = np.array([2, 5, 11, 30, 59])
    full = squareform(pdist(x.astype(np.float64), "correlation"))
    np.testing.assert_array_equal(pdist(x[rows].astype(np.float64), "correlation"),
                                  squareform(full[np.ix_(rows, rows)], checks=False))


def _reference_null(brain, model, perms):
    """Direct reference: relabel the square brain RDM and call scipy's spearmanr, one permutation at a
    time."""
    sq = squareform(brain)
    return np.array([stats.spearmanr(squareform(sq[np.ix_(p, p)], checks=False), model).statistic
                     for p in perms])


@pytest.mark.parametrize("backend, n_models", [("numba", 1), ("numba", 3), ("numba", 6), ("numpy", 2),
                                               ("torch", 2)])
def test_independent_null_and_p_equal_a_direct_reference(backend, n_models):
    if backend == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    n, n_perm = 30, 600
    latent = rng.standard_normal((n, 4))
    brain = np.stack([rdm(latent @ rng.standard_normal((4, 20)) + 2 * rng.standard_normal((n, 20)))
                      for _ in range(2)])
    models = np.stack([rdm(latent @ rng.standard_normal((4, 15)) + s * rng.standard_normal((n, 15)))
                       for s in np.linspace(9, 5, n_models)])  # weak signal: p-values inside (0, 1)
    perms = make_concept_permutations(n, n_perm, seed=5, scheme="independent")
    null = permutation_null(brain, models, perms, backend=backend, device="cpu")
    assert null.shape == (2, n_perm, n_models) and null.dtype == np.float32
    observed = compare_many(brain, models)
    p = permutation_p(observed, null)
    assert np.any((p > 0.01) & (p < 0.9))  # not only the smallest possible p
    for r in range(2):
        for k in range(n_models):
            ref = _reference_null(brain[r], models[k], perms.materialize())
            np.testing.assert_allclose(null[r, :, k], ref, atol=2e-6)
            want = (1 + np.sum(ref >= stats.spearmanr(brain[r], models[k]).statistic)) / (1 + n_perm)
            assert p[r, k] == want


def test_independent_is_the_default_scheme():
    perms = make_concept_permutations(10, 20)
    assert perms.scheme == "independent" and perms.right is None
    assert run_rsa(_planted_participants(n_participants=2, n=12), n_permutations=9).scheme == "independent"
