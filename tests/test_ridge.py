"""The LOO ridge solver and the folds against scikit-learn on the same data and folds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from core.analyses.encoding.cv import group_kfold_labels, kfold_labels, make_folds
from core.analyses.encoding.ridge import PAPER_ALPHAS, RidgeLOO, ridge_cv_scores
from core.analyses.encoding.scores import pearson_columns
from tests.tolerance import assert_f32_close


def _problem(n, p, t, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    signal = np.linspace(0.0, 0.4, t)
    signal[: t // 8] = 0.0  # some pure-noise targets
    Y = (X @ rng.standard_normal((p, t))) * signal / np.sqrt(p) * 3 + rng.standard_normal((n, t))
    return X, Y


def _informative(alpha, lam_max):
    """Targets whose sklearn alpha lies where the LOO curve is not flat (well-defined choice)."""
    return (alpha > 1e-8 * lam_max) & (alpha < 1e6 * lam_max)


def test_paper_alphas():
    assert len(PAPER_ALPHAS) == 60 and PAPER_ALPHAS[0] == 1e-30 and PAPER_ALPHAS[-1] == 1e29


@pytest.mark.parametrize("n,p", [(144, 300), (150, 40)])
@pytest.mark.parametrize("dtype,backend", [("float64", "numpy"), ("float32", "numpy"), ("float32", "torch")])
def test_fit_matches_sklearn(n, p, dtype, backend):
    X, Y = _problem(n, p, 48)
    sk = RidgeCV(alphas=PAPER_ALPHAS, alpha_per_target=True).fit(X, Y)
    ours = RidgeLOO(dtype=dtype, backend=backend).fit(X, Y)
    lam_max = np.linalg.eigvalsh((X - X.mean(0)).T @ (X - X.mean(0)))[-1]
    ok = _informative(sk.alpha_, lam_max)
    assert ok.sum() > 30
    rtol = 1e-9 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(ours.best_score_[ok], sk.best_score_[ok], rtol=rtol)
    assert np.mean(ours.alpha_[ok] == sk.alpha_[ok]) >= (1.0 if dtype == "float64" else 0.95)
    same = ok & (ours.alpha_ == sk.alpha_)
    atol = 1e-9 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(ours.coef_[same], sk.coef_[same], atol=atol * np.abs(sk.coef_).max())
    np.testing.assert_allclose(ours.predict(X)[:, same], sk.predict(X)[:, same], atol=1e-4)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_cv_r_matches_sklearn_on_same_folds():
    X, Y = _problem(180, 256, 40, seed=1)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    res = ridge_cv_scores(X.astype(np.float32), Y.astype(np.float32), folds, return_predictions=True)
    for f, (train, test) in enumerate(folds):
        sk = RidgeCV(alphas=PAPER_ALPHAS, alpha_per_target=True).fit(X[train], Y[train])
        pred = sk.predict(X[test])
        for t in range(Y.shape[1]):
            if not (1e-2 < sk.alpha_[t] < 1e8):  # flat LOO curve: the choice is rounding noise
                continue
            r_sk = pearsonr(pred[:, t], Y[test, t])[0]
            assert abs(res.r[f, t] - r_sk) < 1e-3, (f, t)
        np.testing.assert_allclose(res.predictions[test][:, sk.alpha_ < 1e8], pred[:, sk.alpha_ < 1e8],
                                   atol=2e-3)


def test_constant_fit_gives_nan():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 100))
    Y = rng.standard_normal((60, 30))  # noise: LOO prefers the mean for many targets
    folds = make_folds(np.arange(60), 5, 0)
    res = ridge_cv_scores(X, Y, folds, alphas=np.array([1.0, 1e29]))
    huge = res.alpha == 1e29
    assert huge.any()
    assert np.all(np.isnan(res.r[huge])) and np.all(np.isfinite(res.r[~huge]))
    assert np.isfinite(res.mean_r).sum() >= np.any(~huge, axis=0).sum()


def test_pearson_columns():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    b[:, 2] = 1.0
    r = pearson_columns(a, b)
    assert r[0] == pytest.approx(pearsonr(a[:, 0], b[:, 0])[0])
    assert np.isnan(r[2])


@pytest.mark.parametrize("n,k,seed", [(180, 5, 0), (1080, 5, 0), (37, 4, 7)])
def test_kfold_equals_sklearn(n, k, seed):
    labels = kfold_labels(n, k, seed)
    for f, (_train, test) in enumerate(KFold(k, shuffle=True, random_state=seed).split(np.zeros(n))):
        np.testing.assert_array_equal(np.flatnonzero(labels == f), np.sort(test))
    for f, (train, test) in enumerate(make_folds(np.arange(n), k, seed)):
        np.testing.assert_array_equal(test, np.flatnonzero(labels == f))
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == n


def test_concept_folds_keep_concepts_together():
    rng = np.random.default_rng(0)
    concepts = rng.permutation(np.repeat([f"c{i}" for i in range(30)], 5))
    labels = group_kfold_labels(concepts, 5, seed=0)
    for c in np.unique(concepts):
        assert len(set(labels[concepts == c])) == 1
    assert np.bincount(labels).tolist() == [30] * 5
    assert not np.array_equal(labels, group_kfold_labels(concepts, 5, seed=1))


def test_cancel_and_progress():
    import threading

    from core.errors import Cancelled

    X, Y = _problem(60, 80, 10)
    folds = make_folds(np.arange(60), 3, 0)
    seen = []
    ridge_cv_scores(X, Y, folds, progress=lambda f, m: seen.append(f))
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    token = threading.Event()
    token.set()
    with pytest.raises(Cancelled):
        ridge_cv_scores(X, Y, folds, cancel=token)


def test_torch_backend_equals_numpy():
    X, Y = _problem(90, 120, 25, seed=4)
    folds = make_folds(np.arange(90), 5, 0)
    a = ridge_cv_scores(X, Y, folds, backend="numpy")
    b = ridge_cv_scores(X, Y, folds, backend="torch")
    informative = a.alpha < 1e7  # above, the LOO curve is flat and the choice is rounding noise
    assert np.mean(a.alpha[informative] == b.alpha[informative]) > 0.95
    ok = informative & (a.alpha == b.alpha)
    np.testing.assert_allclose(a.r[ok], b.r[ok], atol=1e-4)


@pytest.mark.parametrize("n,p", [(120, 300), (150, 40)])
def test_fused_scoring_equals_numpy_passes(n, p, monkeypatch):
    """The numba-fused LOO scoring against the plain numpy passes it replaces, same inputs."""
    import core.backend

    X, Y = _problem(n, p, 30, seed=5)
    folds = make_folds(np.arange(n), 5, 0)
    fused = ridge_cv_scores(X, Y, folds, max_chunk_bytes=2**20)
    monkeypatch.setattr(core.backend, "has_numba", lambda: False)
    plain = ridge_cv_scores(X, Y, folds, max_chunk_bytes=2**20)
    informative = fused.alpha < 1e7  # above, the LOO curve is flat and the choice is rounding noise
    assert np.mean(fused.alpha[informative] == plain.alpha[informative]) > 0.95
    ok = informative & (fused.alpha == plain.alpha)
    assert_f32_close(fused.loo_mse[ok], plain.loo_mse[ok])
    assert_f32_close(fused.r[ok], plain.r[ok])


def test_an_alpha_without_a_loo_residual_is_never_chosen():
    """An item with d = 0 at an alpha (all its leverage in directions that alpha leaves unshrunk, exactly
    zero complement) has no LOO residual there: that alpha's LOO error is infinite, without warnings, and
    a NaN error never wins the choice (np.argmin would pick it)."""
    import warnings

    from core.analyses.encoding.ridge import _loo_chunk, _namespace, _prepare, _select, decompose

    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 12))
    dec = decompose(X)
    assert dec.complement is not None
    dec.complement[0] = 0.0  # item 0: nothing outside the span of Xc
    xp = _namespace(None, "cpu", "float32")
    Y = rng.standard_normal((60, 7)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prep = _prepare(dec, PAPER_ALPHAS, xp)
        mse, _ = _loo_chunk(prep, xp.asarray(Y - Y.mean(0)), xp)
    tiny = PAPER_ALPHAS < 1e-12  # shrinkage flushed to zero: d_0 = 0
    assert prep.undefined[tiny].all() and not prep.undefined[PAPER_ALPHAS > 1e-3].any()
    assert np.isinf(mse[prep.undefined]).all() and np.isfinite(mse[~prep.undefined]).all()
    best = _select(mse, np.float32)
    assert not prep.undefined[best].any()
    cols = np.arange(mse.shape[1])  # the lowest error, up to the float32 tie tolerance (84 eps)
    assert (mse[best, cols] <= mse.min(axis=0) * (1 + 84 * np.finfo(np.float32).eps)).all()
    assert (mse[:best.min()] > mse.min(axis=0) * (1 + 84 * np.finfo(np.float32).eps)).all()
    mse[5, :] = np.nan
    assert (_select(mse, np.float32) != 5).all()
