"""Encoding analysis pieces against direct computations and planted ground truth (no model needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analyses.encoding.cv import make_folds
from core.analyses.encoding.model import layer_scores, make_items, score_with_choice
from core.analyses.encoding.ridge import ridge_cv_scores
from core.analyses.encoding.selection import group_average, nested_scores, paper_selection
from core.data.concepts import load_concepts
from core.stats.noise_ceiling import ceiling_normalise, nsd_from_moments, nsd_noise_ceiling
from tests.conftest import make_events
from tests.tolerance import assert_f32_close


def test_items_are_in_paper_order_and_average_trials():
    rng = np.random.default_rng(0)
    concepts = load_concepts()
    events = make_events(rng, concepts[:20], n_stim=3)
    events = pd.concat([events, events.iloc[:5]], ignore_index=True)  # repeated stimuli are averaged
    items = make_items(events, per_concept=False)
    order = {c: i for i, c in enumerate(concepts)}
    keys = zip(items.keys["concept"], items.keys["stimulus_idx"], strict=True)
    ranks = [order[c] * 10 + s for c, s in keys]
    assert ranks == sorted(ranks) and items.n == 60
    values = rng.standard_normal((len(events), 4)).astype(np.float32)
    got = items.responses(values)
    frame = pd.DataFrame(values).assign(c=events["concept"].map(order), s=events["stimulus_idx"])
    want = frame.groupby(["c", "s"]).mean().to_numpy()
    assert_f32_close(got, want)
    per_concept = make_items(events, per_concept=True)
    assert per_concept.n == 20 and per_concept.keys["stimulus_idx"].isna().all()


def _layered(seed=0, n=150, hidden=40, n_layers=4, signal_layer=2, T=30):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_layers, hidden)).astype(np.float32)
    w = rng.standard_normal((hidden, T))
    amp = np.r_[np.zeros(T // 3), np.linspace(0.5, 1.5, T - T // 3)]
    Y = (X[:, signal_layer] @ w) / np.sqrt(hidden) * amp + rng.standard_normal((n, T))
    return {"mean": X}, Y.astype(np.float32), amp


def test_layer_selection_finds_the_planted_layer():
    X, Y, amp = _layered()
    folds = make_folds(np.arange(len(Y)), 5, 0)
    scores = layer_scores(X, Y, folds)
    pi, li = scores.best()
    signal = amp > 0
    assert np.all(li[signal] == 2) and np.all(pi == 0)
    curves = scores.curves()
    assert curves.shape == (1, 4, Y.shape[1])
    np.testing.assert_allclose(curves[0, 2], np.nanmean(scores.r[0, 2], axis=0))
    # the same numbers as a direct ridge run on the chosen layer
    direct = ridge_cv_scores(X["mean"][:, 2], Y, folds)
    assert_f32_close(scores.r[0, 2], direct.r)
    # paper selection == best on the given (group) data; scoring with that choice reproduces it
    _, p_idx, layer = paper_selection(X, Y, folds)
    chosen = score_with_choice(X, Y, folds, p_idx, layer)
    assert_f32_close(chosen.r[:, signal], scores.r[0, 2][:, signal])
    # null targets: r near 0 on average
    assert abs(np.nanmean(scores.r[0, :, :, ~signal])) < 0.05


def test_nested_selection_uses_training_folds_only():
    X, Y, amp = _layered(seed=1, n=160)
    concepts = np.arange(len(Y))
    folds = make_folds(concepts, 4, 0)
    res = nested_scores(X, Y, folds, lambda train: make_folds(concepts[train], 4, 0))
    signal = amp > 0.9
    assert np.all(res.layer[:, signal] == 2)
    assert res.curves.shape == (1, 4, Y.shape[1])
    # the outer score of fold f equals a plain fit on fold f's training items with the chosen layer
    direct = ridge_cv_scores(X["mean"][:, 2], Y[:, signal], [folds[0]])
    assert_f32_close(res.r[0, signal], direct.r[0])
    # test items never influence the choice: changing test responses leaves the choice unchanged
    Y2 = Y.copy()
    Y2[folds[0][1]] = np.random.default_rng(5).standard_normal((len(folds[0][1]), Y.shape[1]))
    res2 = nested_scores(X, Y2, folds[:1], lambda train: make_folds(concepts[train], 4, 0))
    np.testing.assert_array_equal(res2.layer[0], res.layer[0])


def test_group_average_matches_pandas():
    rng = np.random.default_rng(2)
    concepts = load_concepts()
    keys, vals, rows = [], [], []
    for s in range(3):
        ev = make_events(rng, concepts[: 10 + 3 * s], n_stim=2)[["concept", "stimulus_idx"]]
        v = rng.standard_normal((len(ev), 5)).astype(np.float32)
        v[0, 1] = np.nan
        keys.append(ev.astype({"stimulus_idx": "Int64"}))
        vals.append(v)
        frame = pd.DataFrame(v).assign(concept=ev["concept"].to_numpy(), idx=ev["stimulus_idx"].to_numpy())
        rows.append(frame)
    got_keys, got = group_average(keys, vals)
    want = pd.concat(rows).groupby(["concept", "idx"]).mean()
    want = want.loc[list(zip(got_keys["concept"], got_keys["stimulus_idx"].astype(int), strict=True))]
    assert_f32_close(got, want.to_numpy())


def test_noise_ceiling_recovers_planted_snr():
    rng = np.random.default_rng(3)
    n_sub, n_items, T = 17, 1000, 4
    sd_signal = np.array([0.0, 0.2, 0.5, 1.0])
    signal = rng.standard_normal((n_items, T)) * sd_signal
    y = signal[None] + rng.standard_normal((n_sub, n_items, T))
    nc = nsd_noise_ceiling(y)
    np.testing.assert_allclose(nc.ncsnr[1:], sd_signal[1:], rtol=0.15)
    assert nc.ncsnr[0] < 0.1
    want = np.sqrt(nc.ncsnr**2 / (nc.ncsnr**2 + 1 / n_sub))
    np.testing.assert_allclose(nc.nc, want)
    # direct formula (method.md §3.5) on one target
    t = 2
    sd_noise = np.sqrt(np.mean(np.var(y[:, :, t], axis=0, ddof=1)))
    sd_sig = np.sqrt(np.var(y[:, :, t].mean(0), ddof=1) - sd_noise**2 / n_sub)
    assert nc.ncsnr[t] == pytest.approx(sd_sig / sd_noise, rel=1e-9)
    # moments form with missing data equals the array form
    y[0, :10] = np.nan
    a = nsd_noise_ceiling(y)
    f = np.isfinite(y)
    v = np.where(f, y, 0)
    b = nsd_from_moments(v.sum(0), (v**2).sum(0), f.sum(0))
    assert_f32_close(a.nc, b.nc)
    np.testing.assert_allclose(ceiling_normalise([0.1, 0.2], [0.5, 0.0]), [0.2, np.nan])
