"""Benchmark: how the time and peak memory of the three analysis kernels grow with the size of a run.

Each kernel is timed directly through the core functions on synthetic float32 arrays:

- ``consistency``: :func:`core.analyses.consistency.statistic.permutation_test`
  on (3 paradigms, items, voxels)
  concept means (one kernel run; a participant with split halves needs three).
- ``encoding``: :func:`core.analyses.encoding.ridge.ridge_cv_scores` (5 folds, the paper's 60 alphas) of
  (items, voxels) responses from (items, 384) features, once per layer.
- ``rsa``: the brain RDM of (items, voxels) patterns, the model RDMs of (layers, items, 384) features
  and :func:`core.analyses.rsa.stats.permutation_null` (independent scheme) of one brain RDM against
  every layer's RDM.

One axis is varied at a time (voxels 10k -> 230k, items 180 -> 1,080, layers 7 -> 33, permutations
100 -> 10,000), the others held at the reference (10k voxels, 180 items, 7 layers, 100 permutations;
encoding: 1 layer, so that its points stay short); axes a kernel does not depend on (consistency: layers;
encoding: permutations) are not measured and get exponent 0. Time: the kernel call only (the numba
kernels are compiled before, at the reference size), as wall-clock and as the process's CPU time (all
threads), with the 1-minute load average; the best of 2 calls below 0.5 s. The machine is shared, so the
exponents are fitted on CPU time (insensitive to other processes' load) and the wall-clock constant is
the best of 3 runs at the reference size: predicted wall seconds = reference wall x prod (size /
reference)^exponent. Peak memory: the larger of the tracemalloc peak (numpy arrays) and the
peak resident memory above the level before the call (sampled every 5 ms), from just before the inputs
are made (so inputs count). The fit (:func:`core.cost.fit_model`) goes to resources/cost_model.json, the
table is appended to BENCHMARKS.md.

Usage: python benchmarks/scaling.py [--small] [--json PATH] [--no-markdown] [--analyses consistency,rsa]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import PeakRSS, machine_line  # noqa: E402

from core.analyses.consistency.statistic import permutation_test  # noqa: E402
from core.analyses.encoding.cv import kfold_labels  # noqa: E402
from core.analyses.encoding.ridge import ridge_cv_scores  # noqa: E402
from core.analyses.rsa.rdm import rdm, rdms  # noqa: E402
from core.analyses.rsa.stats import make_concept_permutations, permutation_null  # noqa: E402
from core.cost import MODEL_PATH, fit_model, predict  # noqa: E402

REFERENCE = {"voxels": 10_000, "items": 180, "layers": 7, "permutations": 100}
GRID = {
    "voxels": [10_000, 40_000, 100_000, 230_000],
    "items": [180, 360, 720, 1080],
    "layers": [7, 13, 25, 33],
    "permutations": [100, 1000, 3000, 10_000],
}
SMALL_GRID = {"voxels": [2000, 4000, 8000], "items": [60, 90, 120], "layers": [2, 3, 4],
              "permutations": [20, 40, 80]}  # fmt: skip
SMALL_REFERENCE = {"voxels": 2000, "items": 60, "layers": 2, "permutations": 20}
REFERENCE_OF = {"encoding": {"layers": 1}}  # per-analysis changes to the reference
AXES_OF = {
    "consistency": ("voxels", "items", "permutations"),
    "encoding": ("voxels", "items", "layers"),
    "rsa": ("voxels", "items", "layers", "permutations"),
}
HIDDEN = 384


def consistency_case(s: dict, rng: np.random.Generator):
    means = rng.standard_normal((3, s["items"], s["voxels"]), dtype=np.float32)
    return lambda: permutation_test(means, s["permutations"], seed=0)


def encoding_case(s: dict, rng: np.random.Generator):
    n = s["items"]
    X = rng.standard_normal((s["layers"], n, HIDDEN), dtype=np.float32)
    Y = rng.standard_normal((n, s["voxels"]), dtype=np.float32)
    labels = kfold_labels(n, 5, 0)
    folds = [(np.flatnonzero(labels != f), np.flatnonzero(labels == f)) for f in range(5)]
    return lambda: [ridge_cv_scores(X[k], Y, folds) for k in range(s["layers"])]


def rsa_case(s: dict, rng: np.random.Generator):
    patterns = rng.standard_normal((s["items"], s["voxels"]), dtype=np.float32)
    layers = rng.standard_normal((s["layers"], s["items"], HIDDEN), dtype=np.float32)
    perms = make_concept_permutations(s["items"], s["permutations"], seed=0)

    def run():
        brain = rdm(patterns)[None, :]
        return permutation_null(brain, rdms(layers), perms)

    return run


CASES = {"consistency": consistency_case, "encoding": encoding_case, "rsa": rsa_case}



def _timed(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) of ``run()``."""
    cpu0, t0 = psutil.Process().cpu_times(), time.perf_counter()
    run()
    wall, cpu1 = time.perf_counter() - t0, psutil.Process().cpu_times()
    return wall, (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)


def measure(analysis: str, sizes: dict, repeats: int = 1) -> dict:
    """Wall seconds, CPU seconds, peak MB and load average of one kernel run at ``sizes`` (the best of
    ``repeats`` calls, or of 2 below 0.5 s; memory from the first)."""
    gc.collect()
    load = os.getloadavg()[0]
    tracemalloc.start()
    with PeakRSS() as rss:
        run = CASES[analysis](sizes, np.random.default_rng(0))
        wall, cpu = _timed(run)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    for _ in range(max(repeats, 2 if wall < 0.5 else 1) - 1):  # untraced: the best
        w, c = _timed(run)
        wall, cpu = min(wall, w), min(cpu, c)
    del run
    gc.collect()
    mb = max(traced, rss.delta) / 1e6
    return {"seconds": round(wall, 5), "cpu_seconds": round(cpu, 5), "peak_mb": round(mb, 2),
            "load": round(load, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="tiny sizes (a smoke run, seconds)")
    ap.add_argument("--json", default=str(MODEL_PATH), help="where to write the fitted model")
    ap.add_argument("--no-markdown", action="store_true", help="do not append the table to BENCHMARKS.md")
    ap.add_argument("--analyses", default=",".join(CASES))
    args = ap.parse_args()
    grid, base = (SMALL_GRID, SMALL_REFERENCE) if args.small else (GRID, REFERENCE)
    machine = machine_line()
    points: dict[str, list[dict]] = {}
    references: dict[str, dict] = {}
    for analysis in args.analyses.split(","):
        reference = dict(base, **({} if args.small else REFERENCE_OF.get(analysis, {})))
        references[analysis] = reference
        measure(analysis, reference)  # compile / warm up
        rows = []
        for axis in ("reference", *AXES_OF[analysis]):
            for size in [reference["voxels"]] if axis == "reference" else grid[axis]:
                if axis != "reference" and size == reference[axis]:
                    continue  # the reference point is measured once
                sizes = dict(reference, **({} if axis == "reference" else {axis: size}))
                m = measure(analysis, sizes, repeats=3 if axis == "reference" else 1)
                rows.append({"axis": axis, **sizes, **m})
                print(f"{analysis:12s} {axis:12s} {sizes} {m['seconds']:8.3f} s wall "
                      f"{m['cpu_seconds']:8.3f} s cpu {m['peak_mb']:9.1f} MB (load {m['load']:.1f})",
                      flush=True)
        points[analysis] = rows
    model = fit_model(points, base, per_analysis=references)
    model["machine"] = machine
    model["measured"] = points
    model["notes"] = ("kernels only, synthetic float32 inputs (counted in peak_mb); benchmarks/scaling.py; "
                      "seconds = constant * prod (size / reference) ** exponent")  # fmt: skip
    Path(args.json).write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    worst = max(max(p.cpu_seconds / r["cpu_seconds"], r["cpu_seconds"] / p.cpu_seconds)
                for a, rows in points.items() for r in rows for p in [predict(a, r, model)])  # fmt: skip
    print(f"wrote {args.json}; worst prediction of a measured CPU time: factor {worst:.2f}")
    if not args.no_markdown:
        write_markdown(model, machine, worst)


def write_markdown(model: dict, machine: str, worst: float) -> None:
    out = [f"\n### Scaling of the analysis kernels ({machine})\n",
           "Reference: 10,000 voxels, 180 items, 7 layers (encoding: 1), 100 permutations; one axis varied "
           "at a time. Consistency = one permutation-test run (3 paradigms; a participant with split halves "
           "needs three); encoding = 5-fold ridge, 60 alphas, 384 features, once per layer; RSA = brain RDM "
           "+ layer RDMs + independent permutation null. Model: cost = constant x prod (size / reference)^"
           "exponent, exponents by log-log least squares per axis on CPU time (the machine is shared; "
           "wall = best reference wall time x the same factors); resources/cost_model.json, read by "
           f"core/cost.py (worst measured CPU time off its prediction: factor {worst:.2f}). Wall / CPU "
           "seconds and peak MB (inputs included) per size; load = 1-minute load average at each point.\n",
           "| analysis | axis | sizes | wall s | CPU s | peak MB | load | time exp. | memory exp. |",
           "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for analysis, rows in model["measured"].items():
        fits = model["analyses"][analysis]
        base = next(r for r in rows if r["axis"] == "reference")
        for axis in AXES_OF[analysis]:
            line = sorted([base] + [r for r in rows if r["axis"] == axis], key=lambda r: r[axis])

            def col(key, fmt, line=line):
                return " / ".join(format(r[key], fmt) for r in line)

            e_t = fits["cpu_seconds"]["exponents"].get(axis, 0)
            e_m = fits["peak_mb"]["exponents"].get(axis, 0)
            out.append(f"| {analysis} | {axis} | {col(axis, ',')} | {col('seconds', '.3g')} | "
                       f"{col('cpu_seconds', '.3g')} | {col('peak_mb', '.0f')} | {col('load', '.1f')} | "
                       f"{e_t:.2f} | {e_m:.2f} |")  # fmt: skip
    with open(REPO / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
