"""Benchmark: semantic consistency permutation test, 230,000 voxels x 180 concepts x 3 paradigms x 1000
permutations, against a straightforward per-voxel implementation of the paper's procedure.

Peer (the paper's ``voxel_consistency_permutation_test``): per voxel, a 180 x 3 DataFrame of concept means,
``DataFrame.corr()`` for the true C, then a loop of permutations, each shuffling every column with
``np.random.permutation`` and calling ``DataFrame.corr()`` again, stopping early once
``round(0.05 * 1000) = 50`` permutations reach the true value (the paper's early rejection). It is timed
on a random voxel subset of the same data and scaled per voxel. The early stop only makes the peer
faster; it then yields a pass/fail, while ours gives every voxel its exact p-value and the max-statistic
null. (The paper also rebuilds each voxel's concept means with a groupby/pivot; the peer here is given
them, so the ratio is conservative.)

Ours: :func:`core.analyses.consistency.statistic.permutation_test`
(numba kernel by default), compile time excluded
(numba caches it on disk). Peak memory = the process's peak resident memory above its level before the
call (sampled every 5 ms), besides the 497 MB input.

Whole run (``--whole-run [DIR]``): ``run_analysis(ConsistencyPlugin)`` as ``cbstudio run consistency``
does it (split halves, 1000 permutations, Glasser areas and paper ROIs, outputs written) on a native
dataset of one participant (default: ``cbstudio demo --size full --participants 1``, 204,492 voxels,
1,080 / 900 / 1,080 trials, generated into a temporary folder), against the time of its three kernel runs
(all trials + 2 halves: every ``counts_and_max`` call, timed inside the same run). Peak memory is the
resident-memory peak above the level before the run (memory-mapped pages count) against the size of the
memory-mapped betas.

Usage: python benchmarks/consistency.py [--voxels 230000] [--peer-voxels 120] [--backends]
       python benchmarks/consistency.py --whole-run [DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import PeakRSS, append_results  # noqa: E402

from core.analyses.consistency.statistic import permutation_test  # noqa: E402

N_CONCEPTS, N_PARADIGMS, N_PERM = 180, 3, 1000


def synthetic(n_vox: int, seed: int = 0, signal_fraction: float = 0.1) -> np.ndarray:
    """Concept means float32 (3, 180, V): noise plus a shared concept profile in 10% of the voxels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_PARADIGMS, N_CONCEPTS, n_vox), dtype=np.float32)
    n_sig = int(n_vox * signal_fraction)
    idx = rng.choice(n_vox, n_sig, replace=False)
    shared = rng.standard_normal((N_CONCEPTS, n_sig), dtype=np.float32)
    strength = rng.uniform(0.1, 0.6, n_sig).astype(np.float32)
    x[:, :, idx] += shared * strength
    return x


def paper_voxel_test(profiles: np.ndarray, n_permutations: int = N_PERM, p_threshold: float = 0.05) -> int:
    """The paper's per-voxel test on a (3, 180) concept-mean matrix: 1 if significant, else 0."""
    df = pd.DataFrame(profiles.T, columns=["sentences", "pictures", "word_clouds"])
    corrs = df.corr().values
    true_corr = corrs[np.triu_indices_from(corrs, 1)].mean()
    permuted = df.copy()
    at_or_above = 0
    for _ in range(n_permutations):
        for col in df.columns:
            permuted[col] = np.random.permutation(df[col].values)
        corrs = permuted.corr().values
        if not corrs[np.triu_indices_from(corrs, 1)].mean() < true_corr:
            at_or_above += 1
        if at_or_above == np.round(p_threshold * n_permutations):
            return 0
    return 1




class StageTimes:
    """Accumulate the wall time of calls to module attributes (replaced by timed wrappers) per stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._undo = []

    def wrap(self, module, attr: str, stage: str) -> None:
        original = getattr(module, attr)

        def timed(*a, **k):
            start = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

        self.patch(module, attr, timed)

    def patch(self, owner, attr: str, value) -> None:
        self._undo.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, value)

    def restore(self) -> None:
        for module, attr, original in reversed(self._undo):
            setattr(module, attr, original)


def whole_run(path: str | None) -> list[str]:
    """Time ``cbstudio run consistency`` (one participant) against its three kernel runs."""
    import tempfile

    from app.plugins.consistency import ConsistencyPlugin
    from app.plugins.runner import run_analysis
    from core.data.readers import open_dataset

    tmp = tempfile.TemporaryDirectory(prefix="cbs-whole-")
    if path is None:
        from core.demo.synthetic import make_demo

        path = str(make_demo(Path(tmp.name) / "demo", n_participants=1, size="full"))
    ds = open_dataset(path)
    data = ds.participant(ds.participants[0])
    input_mb = sum(data.betas(p).nbytes for p in data.paradigms) / 2**20
    shape = f"{data.n_voxels:,} voxels, trials {'/'.join(str(len(data.events[p])) for p in data.paradigms)}"
    data.release()
    del data
    params = {"participants": ds.participants[0], "n_permutations": N_PERM, "split_halves": True}
    run_analysis(ConsistencyPlugin, path, {**params, "n_permutations": 10})  # warm: numba, atlases, cache
    peer = _timed_run(run_analysis, ConsistencyPlugin, path, params, Path(tmp.name) / "peer", replaced=True)
    ours = _timed_run(run_analysis, ConsistencyPlugin, path, params, Path(tmp.name) / "out", replaced=False)
    tmp.cleanup()
    lines = []
    for who, (wall, t, extra) in (("ours", ours), ("replaced paths", peer)):
        kernels = t["kernels"]
        breakdown = ", ".join(f"{k} {v:.1f} s" for k, v in t.items() if k != "writing")
        lines.append(
            f"whole run, {who}, 1 participant ({shape}, split halves, {N_PERM} permutations, Glasser areas + "
            f"paper ROIs, outputs written): {wall:.1f} s, its three kernel runs {kernels:.1f} s, ratio "
            f"{wall / kernels:.2f}{' (goal <= 1.3)' if who == 'ours' else ''}; peak memory +{extra:.0f} MB "
            f"over the start, {extra - input_mb:+.0f} MB beyond the {input_mb:.0f} MB memory-mapped input"
            f"{' (goal <= +500)' if who == 'ours' else ''}"
            f"\n  {breakdown}")
        print(lines[-1])
    lines[-1] += ("\n  replaced paths = dense averaging matrices for the concept means, pandas to_csv, "
                  f"label means by per-label column gathers; ours / replaced wall {ours[0] / peer[0]:.2f}")
    print(lines[-1].splitlines()[-1])
    return lines


def _old_label_means(self, paradigm, labels, label_ids=None):
    """ParticipantData.label_means before the one-pass sparse version: per label, gather its columns."""
    labels = np.asarray(labels)
    label_ids = np.unique(labels[labels != 0]) if label_ids is None else label_ids
    betas = self.betas(paradigm)
    out = np.full((betas.shape[0], len(label_ids)), np.nan, dtype=np.float32)
    for n, lab in enumerate(label_ids):
        cols = np.flatnonzero(labels == lab)
        if len(cols):
            block = np.asarray(betas[:, cols], dtype=np.float32)
            finite = np.isfinite(block)
            counts = finite.sum(axis=1)
            out[:, n] = np.where(counts > 0, np.where(finite, block, 0).sum(axis=1) / np.maximum(counts, 1),
                                 np.nan)
    return out


def _timed_run(run_analysis, plugin, path, params, out, replaced: bool):
    """(wall s, stage seconds, peak MB above the start) of one run; ``replaced`` swaps in the old paths."""
    import app.plugins.runner as runner_mod
    import core.analyses.consistency.areas as areas_mod
    import core.analyses.consistency.maps as maps_mod
    import core.analyses.consistency.statistic as cons_mod
    import core.data.dataset as dataset_mod
    import core.export.writers as writers_mod

    stages = StageTimes()
    if replaced:
        average = maps_mod.average_trials
        stages.patch(maps_mod, "average_trials", lambda w, b: average(w.toarray() if hasattr(w, "toarray")
                                                                      else w, b))  # fmt: skip
        stages.patch(writers_mod, "write_table", lambda frame, stem, fmt="csv": frame.to_csv(
            f"{stem}.csv", index=False) or Path(f"{stem}.csv"))  # fmt: skip
        stages.patch(dataset_mod.ParticipantData, "label_means", _old_label_means)
    stages.wrap(cons_mod, "counts_and_max", "kernels")
    stages.wrap(cons_mod, "zscore_profiles", "z-scores")
    stages.wrap(maps_mod, "average_trials", "concept means")
    stages.wrap(areas_mod, "area_consistency", "area/ROI means")
    stages.wrap(runner_mod, "write_outputs", "writing")
    stages.wrap(writers_mod, "write_table", "tables (CSV)")
    try:
        with PeakRSS() as mem:
            start = time.perf_counter()
            run_analysis(plugin, path, params, out)
            wall = time.perf_counter() - start
    finally:
        stages.restore()
    t = stages.seconds
    t["maps (NIfTI)"] = t["writing"] - t["tables (CSV)"]
    t["rest (reads, loading, frames)"] = wall - t["kernels"] - sum(
        t[k] for k in ("z-scores", "concept means", "area/ROI means", "writing"))
    return wall, t, (mem.peak - mem.base) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voxels", type=int, default=230_000)
    parser.add_argument("--peer-voxels", type=int, default=120)
    parser.add_argument("--backends", action="store_true", help="also time numpy and torch on 8,192 voxels")
    parser.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("--whole-run", nargs="?", const="", default=None, metavar="DIR",
                        help="time cbstudio run consistency on DIR (default: a generated full-size demo)")
    args = parser.parse_args()
    if args.whole_run is not None:
        lines = whole_run(args.whole_run or None)
        if not args.no_append:
            append_results("consistency, whole run", lines)
        return

    x = synthetic(args.voxels)
    permutation_test(x[:, :, :256], 10, seed=0)  # load / compile the kernel once
    with PeakRSS() as mem:
        start, cpu = time.perf_counter(), time.process_time()
        result = permutation_test(x, N_PERM, seed=0)
        ours = time.perf_counter() - start
        cpu = time.process_time() - cpu
    extra_mb = (mem.peak - mem.base) / 2**20
    print(f"ours ({result.backend}): {ours:.2f} s for {args.voxels:,} voxels x {N_PERM} permutations; "
          f"{cpu:.1f} s CPU; peak memory +{extra_mb:.0f} MB over the {x.nbytes / 2**20:.0f} MB input; "
          f"{(result.p <= 0.05).mean():.3f} of voxels p <= 0.05")  # fmt: skip

    lines = []
    if args.backends:
        sub = x[:, :, :8192]
        for backend in ("numba", "torch", "numpy"):
            start = time.perf_counter()
            permutation_test(sub, N_PERM, seed=0, backend=backend)
            scaled = (time.perf_counter() - start) / sub.shape[2] * args.voxels
            print(f"  backend {backend}: {scaled:.1f} s scaled to {args.voxels:,} voxels")
            lines.append(f"  backend {backend}: {scaled:.1f} s (8,192 voxels, scaled)")

    rng = np.random.default_rng(1)
    voxels = rng.choice(args.voxels, args.peer_voxels, replace=False)
    np.random.seed(0)
    start, peer_cpu = time.perf_counter(), time.process_time()
    passed = [paper_voxel_test(x[:, :, v].astype(np.float64)) for v in voxels]
    per_voxel = (time.perf_counter() - start) / len(voxels)
    peer_cpu = (time.process_time() - peer_cpu) / len(voxels) * args.voxels
    peer = per_voxel * args.voxels
    agree = np.mean(np.asarray(passed, bool) == (result.p[voxels] <= 0.05))
    ratio = peer / ours
    line = (f"consistency ({args.voxels:,} voxels x 180 concepts x 3 paradigms x 1000 permutations): "
            f"ours {ours:.2f} s, peer {peer:.0f} s, ratio {ratio:.0f}")  # fmt: skip
    print(line)
    cpu_line = (
        f"  CPU time (less sensitive to other jobs): ours {cpu:.1f} s, peer {peer_cpu:.0f} s, "
        f"ratio {peer_cpu / cpu:.0f}"
    )
    print(cpu_line)
    print(
        f"  peer: {per_voxel * 1e3:.1f} ms per voxel on {len(voxels)} voxels (paper's early stop), "
        f"scaled per voxel; pass/fail agreement with ours {agree:.3f}; ours peak memory +{extra_mb:.0f} MB"
    )
    if not args.no_append:
        detail = (
            f"  peer = the paper's per-voxel pandas procedure with its early stop, "
            f"{per_voxel * 1e3:.1f} ms per voxel on {len(voxels)} voxels, scaled; ours peak memory "
            f"+{extra_mb:.0f} MB over the {x.nbytes / 2**20:.0f} MB input; backend {result.backend}, "
            f"{cpu:.1f} s CPU time for ours (all threads)"
        )
        append_results("consistency", [line + "\n" + detail + "\n" + cpu_line, *lines])


if __name__ == "__main__":
    main()
