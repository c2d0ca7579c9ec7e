"""The study on Dask: sequential vs LocalCluster, a 17-participant study, and the paper study's projection.

Run: ``.venv/bin/python benchmarks/study.py [--recipe resources/studies/demo.toml] [--quick] [--no-write]``.

1. The recipe's study three ways in one run, each into a fresh folder (features extracted anew each time):
   sequential in this process (the tasks in topological order through the same ``execute_task``), a
   LocalCluster with 1 single-threaded worker and with 2. Printed: wall times, the scaling efficiency
   with 2 workers (wall_1 / (2 wall_2)), and the scheduler + serialisation overhead
   1 - (sum of task seconds) / (wall x workers) (with 2 workers it also holds the idle time the graph's
   dependencies force). ``--quick`` uses a tiny synthetic dataset (2 participants, one model, two
   paradigms) instead of the recipe's dataset.
2. A 17-participant study at the small demo size (one model; consistency, encoding on areas and ROIs,
   quartiles, RSA) on 2 workers: wall time and the peak RSS of each worker process.
3. The paper study at its real size (230k voxels, 900 trials a paradigm, 17 participants, 15 models,
   3 paradigms): seconds per task kind from ``core.cost`` (``resources/cost_model.json``, fitted on this
   kind of machine), and the projected wall time on 1 workstation (one task at a time on a machine like
   this one) and on a 16-node cluster (greedy longest-first list scheduling of the tasks over 16 such
   nodes, consistency before the area encodings; feature extraction is not modelled).
"""

from __future__ import annotations

import argparse
import heapq
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import append_results, machine_line  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUICK = """name = "quick"
dataset = "{data}"
models = ["minilm"]
paradigms = ["sentences", "word_clouds"]
[analyses.consistency]
n_permutations = 100
[analyses.encoding]
targets = ["areas", "rois"]
layer = 6
[analyses.quartiles]
layer = 6
pooling = "mean"
[analyses.rsa]
n_permutations = 100
"""


def _prepare(recipe_path: Path, out: Path):
    from app.plugins.study_task import dataset_location, plan, read_recipe
    from core.study.folder import write_study

    recipe = read_recipe(recipe_path)
    dataset = dataset_location(recipe)
    tasks = plan(recipe, dataset)
    write_study(out, recipe_path.read_text(encoding="utf-8"), [t.to_dict() for t in tasks])
    context = {"dataset": str(dataset), "device": "cpu", "preset": recipe.preset, "study_dir": str(out)}
    return tasks, context


def _task_seconds(out: Path, tasks) -> float:
    return sum(_seconds(out, tasks).values())


def _seconds(out: Path, tasks) -> dict[str, float]:
    import json

    from core.study.folder import task_dir

    return {t.name: json.loads((task_dir(out, t.key) / "task.json").read_text())["seconds"] for t in tasks}


def critical_path(out: Path, tasks) -> float:
    """Seconds of the longest dependency chain (task seconds summed along it): no number of workers
    finishes the study faster."""
    seconds, finish = _seconds(out, tasks), {}
    for t in tasks:  # topological order
        finish[t.name] = seconds[t.name] + max((finish[u] for u in t.upstream), default=0.0)
    return max(finish.values())


def run_sequential(recipe_path: Path, out: Path) -> dict:
    from app.plugins.study_task import run_task
    from core.study.engine import execute_task
    from core.study.folder import task_dir

    os.environ["CBS_FEATURE_CACHE"] = str(out / "features")
    tasks, context = _prepare(recipe_path, out)
    start = time.perf_counter()
    for task in tasks:
        execute_task(run_task, task.to_dict(), str(out), context,
                     *[str(task_dir(out, next(t.key for t in tasks if t.name == u))) for u in task.upstream])
    wall = time.perf_counter() - start
    return {"wall": wall, "tasks": _task_seconds(out, tasks), "n": len(tasks), "workers": 1}


def run_cluster(recipe_path: Path, out: Path, workers: int) -> dict:
    import dask
    from distributed import Client, LocalCluster

    from app.plugins.study_task import run_task
    from core.study.engine import SCHEDULER_CONFIG, WORKER_PRELOAD, run_study

    tasks, context = _prepare(recipe_path, out)
    env = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                            "NUMBA_NUM_THREADS")}
    up = time.perf_counter()
    with dask.config.set(SCHEDULER_CONFIG), LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, env=env,
        preload=[WORKER_PRELOAD],
    ) as cluster, Client(cluster) as client:
        client.run(lambda: None)  # workers up (their preload imported) before the clock starts
        start = time.perf_counter()
        startup = start - up
        states = run_study(tasks, out, run_task, context, client)
        wall = time.perf_counter() - start
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    bad = {n: s for n, s in states.items() if s not in ("done", "cached")}
    if bad:
        raise SystemExit(f"study tasks did not finish: {bad}")
    return {"wall": wall, "startup": startup, "tasks": _task_seconds(out, tasks), "n": len(tasks),
            "workers": workers,
            "peak_mb": sorted(peaks.values()), "critical": critical_path(out, tasks)}


def _overhead(r: dict) -> float:
    return 1.0 - r["tasks"] / (r["wall"] * r["workers"])


def paper_projection(nodes: int = 16) -> tuple[list[str], float, float]:
    """Cost table per task kind at the paper's size and the projected wall times (seconds)."""
    from app.plugins.presets import PRESETS
    from core.cost import estimate_analysis, format_seconds

    info = {"participants": [{"participant": f"P{i:02d}", "voxels": 230_000,
                              "trials": {"sentences": 900, "pictures": 900, "word_clouds": 900}}
                             for i in range(17)], "n_concepts": 180}
    models, paradigms = 15, 3
    enc = {**PRESETS["paper"]["encoding"], "model": "gpt2", "paradigm": "sentences"}
    kinds = {  # task kind -> (tasks, seconds per task)
        "consistency (17 participants)": (1, estimate_analysis("consistency", PRESETS["paper"]["consistency"],
                                                               info)),
        "encoding areas (model x paradigm, 17 participants)": (
            models * paradigms, estimate_analysis("encoding", {**enc, "target": "areas"}, info)),
        "encoding rois (model x paradigm, 17 participants)": (
            models * paradigms, estimate_analysis("encoding", {**enc, "target": "rois"}, info)),
        "rsa (model, 17 participants)": (models, estimate_analysis(
            "rsa", {**PRESETS["paper"]["rsa"], "model": "gpt2", "n_permutations": 1000}, info)),
    }
    lines, durations = [], []
    for kind, (n, est) in kinds.items():
        seconds = est.total_seconds
        durations += [seconds] * n
        lines.append(f"paper size, {kind}: {n} task(s) x {format_seconds(seconds)} each, peak "
                     f"{est.peak_mb:.0f} MB a task (core.cost)")
    # quartiles: one encoding of the 3 ROIs x 16 quartile cells (48 targets) per participant; no cost model
    # of its own, so the ROI encoding's estimate (AREA_TARGETS targets) scaled by the voxel exponent
    from core.cost import AREA_TARGETS, load_model

    exponent = load_model()["analyses"]["encoding"]["seconds"]["exponents"]["voxels"]
    rois = kinds["encoding rois (model x paradigm, 17 participants)"][1].total_seconds
    quart = rois * (48 / AREA_TARGETS) ** exponent
    durations += [quart] * models * paradigms
    lines.append(f"paper size, quartiles (model x paradigm): {models * paradigms} task(s) x "
                 f"{format_seconds(quart)} each (modelled as an encoding of 48 targets; no own cost model)")
    workstation = sum(durations)
    first = durations[0]  # consistency runs first; the area encodings wait for it
    loads = [0.0] * nodes
    loads[0] = first
    heapq.heapify(loads)
    for d in sorted(durations[1:], reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + d)
    cluster = max(max(loads), first + max(durations[1:]))
    return lines, workstation, cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(REPO / "resources" / "studies" / "demo.toml"))
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic dataset instead")
    parser.add_argument("--participants", type=int, default=17, help="of the larger study (part 2)")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    from core.cost import format_seconds
    from core.demo.synthetic import make_demo

    print(machine_line(), flush=True)
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-study-") as tmp:
        tmp = Path(tmp)
        recipe = Path(args.recipe)
        if args.quick:
            data = make_demo(tmp / "data", n_participants=2, seed=0, size="tiny")
            recipe = tmp / "quick.toml"
            recipe.write_text(QUICK.format(data=data))
        seq = run_sequential(recipe, tmp / "seq")
        one = run_cluster(recipe, tmp / "one", 1)
        two = run_cluster(recipe, tmp / "two", 2)
        load = os.getloadavg()[0]
        from core.study.engine import WORKER_PRELOAD

        eff = one["wall"] / (2 * two["wall"])
        name = "quick (tiny synthetic)" if args.quick else recipe.stem
        lines += [
            f"study {name}, {seq['n']} tasks: sequential {seq['wall']:.1f} s, LocalCluster 1 worker "
            f"{one['wall']:.1f} s, 2 workers {two['wall']:.1f} s (1 thread each; timed from the workers "
            f"being up, which took {one['startup']:.1f} s / {two['startup']:.1f} s with their preload "
            f"{WORKER_PRELOAD})",
            f"scaling efficiency with 2 workers: {eff:.2f} (goal >= 0.85); speed-up over sequential "
            f"{seq['wall'] / two['wall']:.2f}x; the graph's critical path is {two['critical']:.1f} s of "
            f"{two['tasks']:.1f} task-seconds, so 2 workers reach at most "
            f"{min(1.0, two['tasks'] / (2 * max(two['critical'], two['tasks'] / 2))):.2f}",
            f"scheduler + serialisation overhead: 1 worker {100 * _overhead(one):.1f}% (goal <= 5%), "
            f"2 workers {100 * _overhead(two):.1f}% (includes dependency idle time); sequential "
            f"{100 * _overhead(seq):.1f}%",
            f"load average after the three runs: {load:.1f} (2 cores shared with other sessions)",
        ]
        for line in lines:
            print(line, flush=True)
        if not args.skip_large:
            data = make_demo(tmp / "data17", n_participants=args.participants, seed=0, size="tiny")
            big = tmp / "big.toml"
            big.write_text(QUICK.format(data=data).replace('"sentences", "word_clouds"', '"sentences"'))
            res = run_cluster(big, tmp / "big", 2)
            line = (f"{args.participants}-participant study (tiny demo size, minilm, sentences; consistency, "
                    f"encoding areas + ROIs, quartiles, RSA; {res['n']} tasks) on 2 workers: wall "
                    f"{res['wall']:.1f} s, peak RSS per worker "
                    f"{', '.join(f'{m:.0f}' for m in res['peak_mb'])} MB")
            print(line, flush=True)
            lines.append(line)
    cost, workstation, cluster = paper_projection()
    lines += cost
    lines.append(f"paper study projected (analysis tasks; feature extraction not modelled): 1 workstation "
                 f"{format_seconds(workstation)}, 16-node cluster {format_seconds(cluster)}")
    for line in cost + lines[-1:]:
        print(line, flush=True)
    if not args.no_write:
        append_results("Study on Dask, benchmarks/study.py", lines)


if __name__ == "__main__":
    main()
