"""Benchmark: per-target ridge encoding, ours vs scikit-learn RidgeCV vs himalaya RidgeCV / KernelRidgeCV.

Problem (issue 5): X 180 x 768, Y 180 x 50,000, 5 shuffled folds, the paper's 60 alphas, one alpha per
target, Pearson r on each held-out fold. Ours runs on the full problem; the peers run on the first
``--peer-targets`` targets and their time is scaled linearly per target (their cost is linear in the
number of targets; stated in the output); himalaya runs on all targets by default (its per-call
costs do not scale with targets). Also reports the float32 GEMM rate of this machine and the
fraction of it our solver reaches.

Usage: python benchmarks/encoding.py [--targets 50000] [--peer-targets 5000] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import append_results  # noqa: E402

from core.analyses import ridge as R  # noqa: E402
from core.analyses.cv import make_folds  # noqa: E402


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
        prep = R._prepare(dec, R.PAPER_ALPHAS, R._Ops("numpy", "cpu", "float32"))
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=50_000)
    ap.add_argument("--peer-targets", type=int, default=5_000, help="targets sklearn is timed on")
    ap.add_argument("--himalaya-targets", type=int, default=0, help="targets himalaya is timed on (0 = all)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--himalaya-backend", default="numpy")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
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
