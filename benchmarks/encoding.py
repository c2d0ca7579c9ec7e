"""Benchmark: per-target ridge encoding, ours vs scikit-learn RidgeCV vs himalaya RidgeCV / KernelRidgeCV.

Problem (issue 5): X 180 x 768, Y 180 x 50,000, 5 shuffled folds, the paper's 60 alphas, one alpha per
target, Pearson r on each held-out fold. Ours runs on the full problem; the peers run on the first
``--peer-targets`` targets and their time is scaled linearly per target (their cost is linear in the
number of targets; stated in the output); himalaya runs on all targets by default (its per-call
costs do not scale with targets). Also reports the float32 GEMM rate of this machine and the
fraction of it our solver reaches.

Usage: python benchmarks/encoding.py [--targets 50000] [--peer-targets 5000] [--device cpu]

``--stimulus VOXELS`` instead runs the voxelwise stimulus-level case (issue 12): X 900 x 384 (a decaying,
LM-like spectrum), Y 900 x VOXELS, 5 folds, one layer; it reports the fraction of the float32 GEMM rate
(measured before and after ours, the mean used) that our solver reaches, counting the FLOP model of
core/analyses/encoding/ridge.py, and where the time goes on fold 1 (decomposition, GEMMs, scoring, refit and
prediction, Pearson r).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import append_results  # noqa: E402

from core.analyses.encoding import ridge as R  # noqa: E402
from core.analyses.encoding.cv import make_folds  # noqa: E402


def gemm_rate(n: int = 2048, repeats: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    t = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def problem(n_targets: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((180, 768)).astype(np.float32)
    amp = rng.uniform(0.0, 1.0, n_targets).astype(np.float32)
    amp[rng.random(n_targets) < 0.3] = 0.0  # 30% pure-noise targets
    W = rng.standard_normal((768, n_targets)).astype(np.float32) / np.sqrt(768)
    Y = (X @ W) * amp + rng.standard_normal((180, n_targets)).astype(np.float32)
    return X, Y, amp


def ours(X, Y, folds, device):
    t = time.perf_counter()
    res = R.ridge_cv_scores(X, Y, folds, R.PAPER_ALPHAS, device=device)
    elapsed = time.perf_counter() - t
    flops = 0.0
    for train, test in folds:  # useful GEMM work actually done (deduplicated alphas)
        dec = R.decompose(X[train])
        prep = R._prepare(dec, R.PAPER_ALPHAS, R._namespace("numpy", "cpu", "float32"))
        n, r = dec.U.shape
        flops += 2.0 * Y.shape[1] * r * (n * prep.n_unique + n + len(test))
    return elapsed, res, flops


def sklearn_r(X, Y, folds):
    from sklearn.linear_model import RidgeCV

    r = np.full((len(folds), Y.shape[1]), np.nan)
    alpha = np.full_like(r, np.nan)
    t = time.perf_counter()
    for f, (train, test) in enumerate(folds):
        model = RidgeCV(alphas=R.PAPER_ALPHAS, alpha_per_target=True).fit(X[train], Y[train])
        r[f] = R.pearson_columns(model.predict(X[test]), Y[test])
        alpha[f] = model.alpha_
    return time.perf_counter() - t, r, alpha


def himalaya_r(X, Y, folds, kernel: bool, backend: str):
    from himalaya.backend import set_backend

    set_backend(backend, on_error="warn")
    if kernel:
        from himalaya.kernel_ridge import KernelRidgeCV as Model
    else:
        from himalaya.ridge import RidgeCV as Model
    from himalaya.backend import get_backend

    b = get_backend()
    r = np.full((len(folds), Y.shape[1]), np.nan)
    t = time.perf_counter()
    for f, (train, test) in enumerate(folds):
        model = Model(alphas=R.PAPER_ALPHAS, cv=5).fit(X[train], Y[train])
        r[f] = R.pearson_columns(b.to_numpy(model.predict(X[test])), Y[test])
    return time.perf_counter() - t, r


def stimulus_problem(n_voxels: int, seed: int = 0):
    """900 items x 384 features with singular values decaying as k^-0.7, voxels = 30% signal."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((384, 384)))[0]
    X = ((rng.standard_normal((900, 384)) * np.arange(1, 385) ** -0.7) @ basis).astype(np.float32)
    X /= X.std()
    Y = rng.standard_normal((900, n_voxels), dtype=np.float32)
    k = n_voxels // 3
    Y[:, :k] += 0.3 * (X @ rng.standard_normal((384, k), dtype=np.float32)) / np.sqrt(384)
    return X, Y


def flop_model(X, n_targets, folds) -> float:
    """FLOPs of the solver's GEMM work (docstring of core/analyses/encoding/ridge.py), distinct alphas."""
    total = 0.0
    for train, test in folds:
        dec = R.decompose(X[train])
        prep = R._prepare(dec, R.PAPER_ALPHAS, R._namespace("numpy", "cpu", "float32"))
        n, r = dec.U.shape
        total += 2.0 * n_targets * r * (n * prep.n_unique + n + len(test))
    return total


def stage_profile(X, Y, train, test) -> dict[str, float]:
    """Seconds per stage of ridge_cv_scores on one fold (same calls, timed one by one)."""
    clock = {k: 0.0 for k in ("decomposition", "Z GEMM", "LOO GEMM", "alpha scoring",
                              "choice", "refit + prediction", "Pearson r", "target copies")}
    t = time.perf_counter()
    xp = R._namespace("numpy", "cpu", "float32")
    dec = R.decompose(X[train])
    prep = R._prepare(dec, R.PAPER_ALPHAS, xp)
    LU = xp.asarray(((np.asarray(X[test], np.float64) - dec.x_mean) @ dec.Xc.T) @ dec.U)
    clock["decomposition"] += time.perf_counter() - t
    T = Y.shape[1]
    chunk = R._chunk_size(prep.n_unique, dec.n, 4, R.DEFAULT_CHUNK_BYTES, T)
    for start in range(0, T, chunk):
        cols = slice(start, min(T, start + chunk))
        t0 = time.perf_counter()
        Ytr = np.asarray(Y[train, cols], np.float64)
        y_mean = Ytr.mean(axis=0)
        Yc = xp.asarray(Ytr - y_mean)
        t1 = time.perf_counter()
        Z = R._project(prep, Yc)
        t2 = time.perf_counter()
        N = xp.matmul(prep.M, Z, out=xp.workspace((prep.M.shape[0], Z.shape[1])))
        t3 = time.perf_counter()
        mse = R._loo_scores(prep, N, Yc, xp)
        t4 = time.perf_counter()
        best = R._select(mse)
        t5 = time.perf_counter()
        pred = R._fit_weights(prep, best, Z, xp, LU)
        t6 = time.perf_counter()
        R.pearson_columns(pred, Y[test, cols])
        t7 = time.perf_counter()
        for key, dt in zip(list(clock)[1:], (t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t1 - t0),
                           strict=True):
            clock[key] += dt
    return clock


def stimulus(n_voxels: int, no_append: bool) -> None:
    X, Y = stimulus_problem(n_voxels)
    folds = make_folds(np.arange(900), 5, 0)
    flops = flop_model(X, n_voxels, folds)
    rate0 = gemm_rate()
    t = time.perf_counter()
    R.ridge_cv_scores(X, Y, folds, R.PAPER_ALPHAS)
    t_ours = time.perf_counter() - t
    rate1 = gemm_rate()
    rate = (rate0 + rate1) / 2
    share = flops / t_ours / 1e9 / rate
    clock = stage_profile(X, Y, *folds[0])
    total = sum(clock.values())
    stages = ", ".join(f"{k} {v / total:.0%}" for k, v in clock.items())
    lines = [f"stimulus-level voxelwise ridge, 900 items x 384 features x {n_voxels} voxels, 5 folds, one "
             f"layer, 60 alphas: ours {t_ours:.1f} s, {flops / 1e12:.2f} TFLOP by the FLOP model = "
             f"{flops / t_ours / 1e9:.0f} GFLOP/s; float32 GEMM {rate0:.0f} / {rate1:.0f} GFLOP/s "
             f"(before / after): ours reaches {share:.0%} of it",
             f"where the time goes (fold 1, {total:.1f} s): {stages}"]
    for line in lines:
        print(line)
    if not no_append:
        append_results("encoding at stimulus level", lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=50_000)
    ap.add_argument("--peer-targets", type=int, default=5_000, help="targets sklearn is timed on")
    ap.add_argument("--himalaya-targets", type=int, default=0, help="targets himalaya is timed on (0 = all)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--himalaya-backend", default="numpy")
    ap.add_argument("--no-append", action="store_true")
    ap.add_argument("--stimulus", type=int, default=0, metavar="VOXELS",
                    help="run the stimulus-level case (900 items x 384 features x VOXELS) instead")
    args = ap.parse_args()
    if args.stimulus:
        stimulus(args.stimulus, args.no_append)
        return
    X, Y, amp = problem(args.targets)
    folds = make_folds(np.arange(180), 5, 0)
    rate = gemm_rate()
    print(f"float32 GEMM: {rate:.0f} GFLOP/s")
    t_ours, res, flops = ours(X, Y, folds, args.device)
    print(f"ours: {t_ours:.2f} s for {args.targets} targets ({flops / 1e9:.0f} GFLOP of GEMM work, "
          f"{flops / t_ours / 1e9:.0f} GFLOP/s = {flops / t_ours / 1e9 / rate:.0%} of the GEMM rate)")
    k = min(args.peer_targets, args.targets)
    scale = args.targets / k
    t_sk, r_sk, alpha_sk = sklearn_r(X, Y[:, :k], folds)
    t_sk *= scale
    lam_max = max(R.decompose(X[tr]).lam[-1] for tr, _ in folds)
    informative = (amp[:k] > 0) & np.all((alpha_sk > 1e-8) & (alpha_sk < 1e6 * lam_max), axis=0)
    diff = np.abs(res.r[:, :k] - r_sk)[:, informative]
    print(f"r vs sklearn on {informative.sum()} signal targets: max |diff| {diff.max():.2e}, "
          f"fraction within 1e-3 {np.mean(diff <= 1e-3):.4f}; "
          f"alphas equal {np.mean(res.alpha[:, :k] == alpha_sk):.3f}")
    lines = [f"encoding ridge vs sklearn: ours {t_ours:.2f} s, peer {t_sk:.1f} s, ratio {t_sk / t_ours:.1f}"
             f" (sklearn timed on {k} targets x {scale:.0f})"]
    kh = min(args.himalaya_targets or args.targets, args.targets)
    for kernel in (False, True):
        name = "himalaya KernelRidgeCV" if kernel else "himalaya RidgeCV"
        t_h, r_h = himalaya_r(X, Y[:, :kh], folds, kernel, args.himalaya_backend)
        t_h *= args.targets / kh
        both = min(k, kh)
        agree = np.nanmean(np.abs(r_h[:, :both] - res.r[:, :both])[:, informative[:both]])
        lines.append(f"encoding ridge vs {name} ({args.himalaya_backend}, inner cv=5): "
                     f"ours {t_ours:.2f} s, "
                     f"peer {t_h:.1f} s, ratio {t_h / t_ours:.1f} (timed on {kh} targets; "
                     f"mean |r diff| {agree:.3f}: different alpha criterion)")
    for line in lines:
        print(line)
    if not args.no_append:
        share = flops / t_ours / 1e9 / rate
        gemm = f"float32 GEMM {rate:.0f} GFLOP/s; ours reaches {share:.0%} of it"
        append_results("encoding", [gemm, *lines])


if __name__ == "__main__":
    main()
