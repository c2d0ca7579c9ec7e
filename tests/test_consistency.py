"""Semantic consistency C and its permutation test against direct per-voxel references (method.md §2)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from core.analyses.consistency.areas import area_consistency, area_frame
from core.analyses.consistency.maps import group_fraction, participant_consistency, probabilistic_map
from core.analyses.consistency.statistic import consistency, permutation_test, voxel_null, zscore_profiles
from core.backend import has_numba
from core.data.concepts import PARADIGMS, load_concepts
from core.data.dataset import ParticipantData
from core.data.geometry import VoxelGeometry
from core.errors import Cancelled
from core.stats.permutation import make_permutations
from tests.conftest import make_events

BACKENDS = ("numba", "numpy", "torch") if has_numba() else ("numpy", "torch")


def pandas_c(profiles: np.ndarray) -> float:
    """The paper's per-voxel computation: DataFrame.corr of the 180 x 3 matrix, mean of the upper triangle."""
    frame = pd.DataFrame(np.asarray(profiles, dtype=np.float64).T)
    if frame.isna().any().any():  # the paper needs all 180 concepts
        return np.nan
    corr = frame.corr().to_numpy()
    return float(corr[np.triu_indices(len(corr), 1)].mean())


def slow_null(profiles: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """C for each permutation: shuffle every paradigm column independently, DataFrame.corr again."""
    return np.array([pandas_c(np.stack([profiles[p][perm[p]] for p in range(len(perm))])) for perm in perms])


def profiles_with_signal(n_vox: int, n_signal: int, seed: int = 0, strength: float = 0.6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 180, n_vox)).astype(np.float32)
    x[:, :, :n_signal] += strength * rng.standard_normal((1, 180, n_signal)).astype(np.float32)
    x += rng.normal(0, 2, (3, 1, n_vox)).astype(np.float32)  # paradigm offsets do not matter
    return x


def test_c_equals_pandas_per_voxel():
    x = profiles_with_signal(200, 40)
    c = consistency(x, chunk_voxels=64)
    expected = np.array([pandas_c(x[:, :, v]) for v in range(x.shape[2])])
    np.testing.assert_allclose(c, expected, atol=1e-5)
    assert c[:40].mean() > 0.15 and abs(c[40:].mean()) < 0.02


def test_invalid_voxels_give_nan_without_warnings():
    x = profiles_with_signal(6, 0)
    x[1, 17, 0] = np.nan  # a missing concept
    x[:, :, 1] = 3.0  # constant everywhere
    x[2, :, 2] = -1.5  # one constant paradigm
    x[0, 5, 3] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = consistency(x)
        test = permutation_test(x, 19, seed=0, backend="numpy")
    assert np.isnan(c[:4]).all() and np.isfinite(c[4:]).all()
    assert np.isnan(test.p[:4]).all() and (test.counts[:4] == 0).all()
    np.testing.assert_array_equal(zscore_profiles(x)[1], [False] * 4 + [True] * 2)


@pytest.mark.parametrize(
    "backend", [pytest.param(b, marks=pytest.mark.slow) if b == "torch" else b for b in BACKENDS]
)  # torch: its import alone takes seconds
def test_p_values_equal_slow_reference_with_the_same_permutations(backend):
    x = profiles_with_signal(300, 3, seed=1, strength=0.25)
    k, seed = 99, 5
    test = permutation_test(x, k, seed, backend=backend, chunk_voxels=128)
    perms = make_permutations(180, 3, k, seed)
    for v in (0, 1, 2, 150, 299):
        null = slow_null(x[:, :, v], perms)
        c = pandas_c(x[:, :, v])
        assert test.C[v] == pytest.approx(c, abs=1e-5)
        assert test.counts[v] == (null >= c).sum()
        assert test.p[v] == (1 + (null >= c).sum()) / (1 + k)
    # the max-statistic null equals the direct maximum over voxels of the slow null
    sub = x[:, :, :40]
    direct_max = np.max([slow_null(sub[:, :, v], perms[:20]) for v in range(40)], axis=0)
    np.testing.assert_allclose(
        permutation_test(sub, 20, seed, backend=backend).max_null, direct_max, atol=1e-5
    )


def test_backends_chunks_and_sources_agree_and_seed_reproduces():
    x = profiles_with_signal(700, 50, seed=2)
    ref = permutation_test(x, 49, seed=11, backend=BACKENDS[0], chunk_voxels=256)
    for backend in BACKENDS[1:]:
        other = permutation_test(x, 49, seed=11, backend=backend)
        assert (other.counts != ref.counts).sum() <= 1  # float32 summation order may flip an exact near-tie
        np.testing.assert_allclose(other.max_null, ref.max_null, atol=1e-5)
    again = permutation_test(lambda a, b: x[:, :, a:b], 49, seed=11, n_voxels=700, chunk_voxels=300)
    np.testing.assert_array_equal(again.p, ref.p)
    np.testing.assert_array_equal(again.C, ref.C)
    assert not np.array_equal(permutation_test(x, 49, seed=12).counts, ref.counts)


def test_voxel_null_matches_the_map():
    x = profiles_with_signal(64, 8, seed=3)
    test = permutation_test(x, 199, seed=4)
    for v in (0, 9, 63):
        null = voxel_null(x[:, :, v], 199, seed=4)
        assert null.shape == (199,)
        np.testing.assert_allclose(null, slow_null(x[:, :, v], make_permutations(180, 3, 199, 4)), atol=1e-5)
        assert (1 + (null >= test.C[v] - 1e-7).sum()) / 200 == pytest.approx(test.p[v], abs=1 / 200 + 1e-12)
    both = voxel_null(x[:, :, :3], 199, seed=4)
    assert both.shape == (199, 3)


def test_null_data_rejection_rate_is_alpha():
    # 6000 null voxels, 199 permutations: the rejection rate at 0.05 within 4 binomial SEs of 0.05
    x = profiles_with_signal(6000, 0, seed=9)
    test = permutation_test(x, 199, seed=1)
    rate = float((test.p <= 0.05).mean())
    se = np.sqrt(0.05 * 0.95 / 6000)
    assert abs(rate - 0.05) < 4 * se, rate
    # p is uniform on its 200 levels: mean near 0.5 * (1 + 1/200)
    assert abs(test.p.mean() - 0.5025) < 0.02


def test_progress_and_cancel():
    x = profiles_with_signal(1000, 0)
    seen = []
    permutation_test(x, 9, chunk_voxels=250, progress=lambda f, m: seen.append(f))
    assert seen == [0.25, 0.5, 0.75, 1.0]

    class CancelAfterFirst:
        calls = 0

        def is_set(self):
            self.calls += 1
            return self.calls > 1

    with pytest.raises(Cancelled):
        permutation_test(x, 9, chunk_voxels=250, cancel=CancelAfterFirst())


# --- participant level -----------------------------------------------------------------------------


def planted_participant(n_vox=400, n_signal=40, seed=0, strength=1.5, pid="P1", mask=None):
    """A participant whose first ``n_signal`` voxels share one concept profile across paradigms."""
    rng = np.random.default_rng(seed)
    concepts = load_concepts()
    if mask is None:
        mask = np.zeros((10, 10, 8), bool)
        mask.reshape(-1)[:n_vox] = True
    geom = VoxelGeometry(mask, np.diag([2.0, 2.0, 2.0, 1.0]))
    n_vox = geom.n_voxels
    profile = rng.standard_normal((180, n_signal)).astype(np.float32)
    events, betas = {}, {}
    for p in PARADIGMS:
        ev = make_events(rng, concepts, n_stim=4)
        rows = ev["concept"].map({c: i for i, c in enumerate(concepts)}).to_numpy()
        b = rng.standard_normal((len(ev), n_vox)).astype(np.float32)
        b[:, :n_signal] += strength * profile[rows]
        events[p], betas[p] = ev, b
    sources = {p: (lambda b=b: b) for p, b in betas.items()}
    return ParticipantData(pid, geom, events, sources), betas, events


def test_participant_consistency_recovers_planted_voxels_and_replicates():
    data, betas, events = planted_participant()
    result = participant_consistency(data, 199, seed=0, alpha=0.05, chunk_voxels=150)
    truth = np.arange(data.n_voxels) < 40
    assert result.significant[truth].mean() == 1.0  # sensitivity
    assert result.significant[~truth].mean() < 0.1  # false positives near alpha
    assert result.replicated is not None and result.replicated[truth].mean() == 1.0
    assert result.replicated[~truth].mean() < 0.02  # both halves: about alpha squared
    # C on all trials equals pandas on the concept means computed independently with groupby
    for v in (0, 100):
        means = np.stack([
            pd.DataFrame({"c": events[p]["concept"], "b": betas[p][:, v]}).groupby("c")["b"].mean()
            .reindex(load_concepts()).to_numpy() for p in PARADIGMS
        ])  # fmt: skip
        assert result.C[v] == pytest.approx(pandas_c(means), abs=1e-5)
    # each split half uses only its own trials
    for half, test in enumerate(result.splits, start=1):
        for v in (3, 200):
            means = np.stack([
                pd.DataFrame({"c": events[p]["concept"], "b": betas[p][:, v]})[events[p]["split"] == half]
                .groupby("c")["b"].mean().reindex(load_concepts()).to_numpy() for p in PARADIGMS
            ])  # fmt: skip
            assert test.C[v] == pytest.approx(pandas_c(means), abs=1e-5)
    frame = result.frame()
    assert list(frame.columns[:10]) == ["participant", "i", "j", "k", "x", "y", "z", "C", "p", "significant"]
    assert {"C_split1", "p_split1", "C_split2", "p_split2", "replicated"} <= set(frame.columns)
    np.testing.assert_array_equal(frame[["i", "j", "k"]].to_numpy(), data.geometry.ijk)


def test_corrections_are_nested_and_control_false_positives():
    data, _b, _e = planted_participant(n_vox=600, n_signal=30, strength=1.2, seed=1)
    truth = np.arange(data.n_voxels) < 30
    runs = {
        c: participant_consistency(data, 999, seed=0, correction=c, split_halves=False)
        for c in ("none", "fdr_bh", "maxstat")
    }
    assert runs["none"].replicated is None
    assert runs["none"].significant[~truth].sum() > 10  # uncorrected: about alpha of 570 null voxels
    for name in ("fdr_bh", "maxstat"):
        sig = runs[name].significant
        assert (sig <= runs["none"].significant).all() and sig[truth].mean() > 0.9, name
    fdr = runs["fdr_bh"].significant
    assert fdr[~truth].sum() / fdr.sum() < 0.2  # false discovery proportion (expected <= 0.05)
    assert runs["maxstat"].significant[~truth].sum() == 0  # family-wise error control
    from core.stats.correction import fdr_bh, maxstat_p

    np.testing.assert_allclose(runs["fdr_bh"].p_corrected, fdr_bh(runs["none"].p))
    np.testing.assert_allclose(runs["maxstat"].p_corrected, maxstat_p(runs["none"].C, runs["none"].max_null))


def test_group_map_on_the_union_of_masks():
    m1 = np.zeros((4, 4, 4), bool)
    m1[:2] = True
    m2 = np.zeros((4, 4, 4), bool)
    m2[1:3] = True
    g1, g2 = VoxelGeometry(m1, np.eye(4)), VoxelGeometry(m2, np.eye(4))
    f1 = np.ones(g1.n_voxels, bool)
    f2 = np.zeros(g2.n_voxels, bool)
    f2[g2.index_of(np.array([[2, 0, 0]]))] = True
    geom, frac = group_fraction([(g1, f1), (g2, f2)])
    assert geom.n_voxels == 48
    vol = geom.to_volume(frac)
    assert vol[0, 0, 0] == 0.5 and vol[1, 0, 0] == 0.5 and vol[2, 0, 0] == 0.5 and vol[2, 1, 0] == 0.0


def test_probabilistic_map_is_the_fraction_replicated():
    runs = [participant_consistency(planted_participant(seed=s, pid=f"P{s}")[0], 99, split_halves=True)
            for s in (0, 1)]  # fmt: skip
    geom, frac = probabilistic_map(runs)
    np.testing.assert_allclose(frac, (runs[0].replicated.astype(float) + runs[1].replicated) / 2)


def test_area_consistency_and_table_against_direct_computation():
    data, betas, events = planted_participant(n_vox=300, n_signal=60, seed=2)
    labels = np.zeros(data.n_voxels, np.int32)
    labels[:60] = 1  # the planted voxels
    labels[60:160] = 2
    labels[160:170] = 201
    ids = np.array([1, 2, 201, 7])
    c_area = area_consistency(data, labels, ids)
    concepts = load_concepts()
    for n, lab in enumerate(ids[:3]):
        means = np.stack([
            pd.DataFrame({"c": events[p]["concept"], "b": betas[p][:, labels == lab].mean(axis=1)})
            .groupby("c")["b"].mean().reindex(concepts).to_numpy() for p in PARADIGMS
        ])  # fmt: skip
        assert c_area[n] == pytest.approx(pandas_c(means), abs=1e-5)
    assert c_area[0] > 0.5 and np.isnan(c_area[3])
    table = pd.DataFrame({"label": [1, 2, 201, 7], "name": ["L_A", "L_B", "R_A", "L_none"],
                          "hemisphere": ["L", "L", "R", "L"]})  # fmt: skip
    group = np.linspace(0, 1, data.n_voxels)
    sig = (np.arange(data.n_voxels) % 4 == 0).astype(float)
    frame = area_frame(table, labels, group, sig, dict(zip([1, 2, 201], c_area[:3].tolist(), strict=True)))
    assert frame["area"].tolist() == ["L_A", "L_B", "R_A"]  # areas without voxels are left out
    row = frame.set_index("area").loc["L_B"]
    assert row["n_voxels"] == 100
    assert row["mean_group"] == pytest.approx(group[60:160].mean())
    assert row["fraction_significant"] == pytest.approx(sig[60:160].mean())
    assert row["C_area"] == pytest.approx(c_area[1])


def test_voxel_card_matches_the_map():
    from core.analyses.consistency.maps import voxel_card

    data, _b, _e = planted_participant(n_vox=120, n_signal=10, seed=5, strength=0.4)
    result = participant_consistency(data, 199, seed=2, split_halves=True)
    for v in (0, 5, 60, 119):
        c, p, null = voxel_card(data, v, 199, seed=2)
        assert c == pytest.approx(result.C[v], abs=1e-6)
        assert p == pytest.approx(result.p[v], abs=1 / 200 + 1e-12)
        assert null.shape == (199,) and np.isfinite(null).all()
        c1, p1, _null = voxel_card(data, v, 199, seed=2, split=1)
        assert c1 == pytest.approx(result.splits[0].C[v], abs=1e-6)
        assert p1 == pytest.approx(result.splits[0].p[v], abs=1 / 200 + 1e-12)


def test_nan_betas_are_skipped_like_pandas_groupby():
    data, betas, events = planted_participant(n_vox=50, n_signal=5, seed=6)
    betas["pictures"][:7, 2] = np.nan  # a few trials of voxel 2
    first = events["word_clouds"]["concept"].iloc[0]
    rows = np.flatnonzero(events["word_clouds"]["concept"] == first)
    betas["word_clouds"][rows, 4] = np.nan  # every trial of one concept in voxel 4
    result = participant_consistency(data, 19, seed=0, split_halves=False)
    means = np.stack([
        pd.DataFrame({"c": events[p]["concept"], "b": betas[p][:, 2]}).groupby("c")["b"].mean()
        .reindex(load_concepts()).to_numpy() for p in PARADIGMS
    ])  # fmt: skip
    assert result.C[2] == pytest.approx(pandas_c(means), abs=1e-5)
    assert np.isnan(result.C[4]) and np.isnan(result.p[4]) and np.isfinite(result.C[5])


def test_area_table_reproduces_published_roi_consistency(shared_data):
    """Mean of the paper's probabilistic map over its three ROIs (method.md §2.4: 975 / 675 / 646 voxels,
    0.083 / 0.074 / 0.097)."""
    import nibabel as nib

    out = shared_data / "outputs"
    group_img = nib.load(out / "semantic_consistency" / "probabilistic_consistency_map.nii.gz")
    rois = np.rint(np.asarray(nib.load(out / "roi_map.nii.gz").get_fdata())).astype(np.int32)
    geom = VoxelGeometry(np.ones(group_img.shape, bool), group_img.affine)
    group = geom.from_volume(np.asarray(group_img.get_fdata()))
    table = pd.DataFrame({"label": [1, 2, 3], "name": ["ROI1", "ROI2", "ROI3"], "hemisphere": ["L"] * 3})
    frame = area_frame(table, geom.from_volume(rois), group, (group > 0).astype(float))
    assert frame["n_voxels"].tolist() == [975, 675, 646]
    np.testing.assert_allclose(frame["mean_group"], [0.083, 0.074, 0.097], atol=5e-4)


def test_large_offsets_keep_precision():
    x = profiles_with_signal(50, 10, seed=8).astype(np.float64)
    shifted = x + 1e5  # means 10^5 SDs from zero: float32 centring alone would keep 2-3 digits
    np.testing.assert_allclose(consistency(shifted), [pandas_c(x[:, :, v]) for v in range(50)], atol=1e-5)


@pytest.mark.skipif(not has_numba(), reason="numba not installed")
def test_ctrl_c_during_the_numba_kernel_waits_for_it(monkeypatch):
    """Regression: Ctrl-C while the numba kernel loaded from its cache or ran ended the CLI run as
    'SystemError: CPUDispatcher(...) returned a result with an exception set', or segfaulted. The
    interrupt is now held until the kernel returns, then raised as KeyboardInterrupt."""
    import os
    import signal

    import core.analyses.consistency._numba as kernels
    from core.analyses.consistency.kernels import counts_and_max
    from core.backend import get_backend

    finished = []
    real = kernels.perm_counts_max

    def kernel_hit_by_ctrl_c(z, rel, valid):
        os.kill(os.getpid(), signal.SIGINT)
        out = real(z, rel, valid)
        for _ in range(1000):  # the interpreter checks for signals here; nothing may be raised yet
            pass
        finished.append(True)
        return out

    monkeypatch.setattr(kernels, "perm_counts_max", kernel_hit_by_ctrl_c)
    z = np.random.default_rng(0).standard_normal((3, 20, 7)).astype(np.float32)
    rel = np.zeros((4, 3, 20), dtype=np.int32) + np.arange(20, dtype=np.int32)
    original = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(KeyboardInterrupt):
            counts_and_max(z, rel, np.ones(7, bool), get_backend("numba"))
        assert finished == [True]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, original)


def test_voxel_test_is_the_maps_test_for_one_voxel():
    """The voxel card's (C, null, p) equal the map's permutation test of the same voxel."""
    from core.analyses.consistency.statistic import permutation_test, voxel_test

    rng = np.random.default_rng(11)
    shared = rng.standard_normal(180)
    profiles = np.stack([shared + rng.standard_normal(180) for _ in range(3)])  # (P, n)
    c, null, p = voxel_test(profiles, 199, seed=4, backend="numpy")
    ref = permutation_test(profiles[:, :, None], 199, seed=4, backend="numpy")
    assert c == pytest.approx(float(ref.C[0]), rel=1e-6) and p == pytest.approx(float(ref.p[0]))
    assert null.shape == (199,) and p == (1 + np.sum(null >= c)) / 200
    c_bad, _, p_bad = voxel_test(np.zeros((3, 180)), 19)
    assert np.isnan(c_bad) and np.isnan(p_bad)
