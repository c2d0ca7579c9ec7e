"""Running a study's task graph on Dask (``dask.distributed``): a ``LocalCluster`` of processes by
default, an existing scheduler by address, or SLURM through ``dask_jobqueue``. Scheduling, retries and
the recovery from a dead worker are Dask's; this module only submits the unfinished tasks with their
dependencies, logs what happens and holds the folder's lock.

Large arrays never travel through the scheduler: a task returns the path of its folder
(``DIR/tasks/<key>``) and reads its inputs from disk (the dataset, ``DIR/features``, upstream folders).
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from core.study.folder import append_log, is_done, staged_task_dir, study_lock, task_dir
from core.study.graph import Task, priorities
from core.study.recipe import StudyError

#: retries of a failed task (Dask ``retries``) before it is reported as failed
RETRIES = 2


def execute_task(runner: Callable, task: dict, study_dir: str, context: dict, *upstream: str) -> str:
    """Run one task on a worker into ``DIR/tasks/<key>`` (atomically) and return that folder.

    runner(task, staging_dir, context, upstream_dirs) does the work (the app's plugin runner); context
    holds the dataset path, device and preset. A finished copy is reused.
    """
    if is_done(study_dir, task["key"]):
        return str(task_dir(study_dir, task["key"]))
    os.environ.setdefault("CBS_FEATURE_CACHE", str(Path(study_dir) / "features"))
    start = time.perf_counter()
    with staged_task_dir(study_dir, task["key"]) as staging:
        runner(task, staging, context, dict(zip(task["upstream"], upstream, strict=True)))
        info = {"name": task["name"], "key": task["key"], "seconds": round(time.perf_counter() - start, 3),
                "pid": os.getpid(), "host": os.uname().nodename}
        (staging / "task.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return str(task_dir(study_dir, task["key"]))


#: module every worker imports as it starts (Dask ``preload``): the libraries the tasks need
WORKER_PRELOAD = "core.study.warm"
#: Dask settings for the scheduler a study starts (a ``--scheduler`` cluster's are the user's: start it
#: with ``DASK_DISTRIBUTED__SCHEDULER__UNKNOWN_TASK_DURATION=5s`` for the same effect). Every study task
#: has its own key prefix, so Dask never learns a duration and assumes its default 0.5 s; with that, work
#: stealing never moves a task queued behind a running one (it steals only when the victim's estimated
#: load exceeds 1.5 task durations), and a task placed on the worker that ran its upstream waited there
#: while the other worker sat idle (measured: up to 8.3 s of idle worker time in a 27 s quick study).
#: Study tasks take seconds to minutes.
SCHEDULER_CONFIG = {"distributed.scheduler.unknown-task-duration": "5s"}


def make_client(workers: int | None = None, scheduler: str | None = None, cluster: str = "local",
                cluster_options: dict | None = None):
    """A ``distributed.Client``: to ``scheduler`` if given; else a LocalCluster of ``workers`` processes
    with ``cores // workers`` threads each (BLAS threads set to match, so workers x threads <= cores),
    advertising one GPU per worker when CUDA is there; or a SLURMCluster from ``cluster_options``. Workers
    started here import :data:`WORKER_PRELOAD` first (a ``--scheduler`` cluster's workers are the
    user's: start them with ``--preload core.study.warm`` for the same effect)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="30s")
    if cluster == "slurm":
        from dask_jobqueue import SLURMCluster

        opts = dict(cluster_options or {})
        jobs = int(opts.pop("jobs", workers or 1))
        gpus = int(opts.pop("gpus", 0))
        extra = list(opts.pop("job_extra", []))
        worker_args = ["--preload", WORKER_PRELOAD]
        if gpus:
            extra.append(f"--gres=gpu:{gpus}")
            worker_args.append(f"--resources GPU={gpus}")
        opts["worker_extra_args"] = worker_args
        with dask.config.set(SCHEDULER_CONFIG):
            slurm = SLURMCluster(job_extra_directives=extra, **opts)
        slurm.scale(jobs=jobs)
        return Client(slurm)
    cores = os.cpu_count() or 1
    workers = max(1, min(workers or cores, cores))
    threads = max(1, cores // workers)
    blas = {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                      "NUMBA_NUM_THREADS")}
    resources = {"GPU": 1} if _has_cuda() else None
    with dask.config.set(SCHEDULER_CONFIG):
        local = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                             dashboard_address=None, resources=resources, env=blas,
                             silence_logs=logging.ERROR, preload=[WORKER_PRELOAD])
    return Client(local)


def _has_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - no torch or a broken CUDA: no GPU workers
        return False


def run_study(tasks: list[Task], study_dir: str | Path, runner: Callable, context: dict, client,
              progress: Callable[[int, int, str], None] = lambda done, total, msg: None) -> dict[str, str]:
    """Submit every unfinished task (dependencies as futures) and wait for all of them.

    Returns {task name: "done" | "cached" | "failed" | "blocked"}; every event is in ``DIR/log.jsonl``
    (failures with their traceback). Independent tasks complete even when one fails.
    """
    from distributed import as_completed

    study_dir = Path(study_dir)
    with study_lock(study_dir):
        gpu_workers = any((w.get("resources") or {}).get("GPU") for w in
                          client.scheduler_info().get("workers", {}).values())
        futures, states, by_future = {}, {}, {}
        priority = priorities(tasks)
        for task in tasks:
            if is_done(study_dir, task.key):
                states[task.name] = "cached"
                append_log(study_dir, task=task.name, key=task.key, state="cached")
                continue
            upstream = [futures.get(u) or str(task_dir(study_dir, _key(tasks, u))) for u in task.upstream]
            future = client.submit(execute_task, runner, task.to_dict(), str(study_dir), context, *upstream,
                                   key=f"{task.name}-{task.key}", retries=RETRIES, pure=False,
                                   priority=priority[task.name],
                                   resources={"GPU": 1} if task.gpu and gpu_workers else None)
            futures[task.name] = future
            by_future[future.key] = task
        total, done = len(tasks), len(states)
        progress(done, total, f"{done} task(s) already finished")
        errors = {}
        for future in as_completed(list(futures.values())):
            task = by_future[future.key]
            done += 1
            if future.status == "finished":
                info = _task_info(study_dir, task.key)
                states[task.name] = "done"
                append_log(study_dir, task=task.name, key=task.key, state="done", seconds=info.get("seconds"))
                progress(done, total, f"done {task.name} ({info.get('seconds', 0):.1f} s)")
            else:
                errors[task.name] = future.exception()
                progress(done, total, f"stopped {task.name}: {type(errors[task.name]).__name__}")
        for task in tasks:  # topological order: a task whose upstream failed is blocked, not failed
            if task.name not in errors:
                continue
            bad = [u for u in task.upstream if states.get(u) in ("failed", "blocked")]
            if bad:
                states[task.name] = "blocked"
                append_log(study_dir, task=task.name, key=task.key, state="blocked", by=bad)
                continue
            exc = errors[task.name]
            states[task.name] = "failed"
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            append_log(study_dir, task=task.name, key=task.key, state="failed",
                       error=f"{type(exc).__name__}: {exc}", traceback=tb)
        return states


def _key(tasks: list[Task], name: str) -> str:
    for task in tasks:
        if task.name == name:
            return task.key
    raise StudyError(f"task {name!r} is not in the graph")


def _task_info(study_dir: Path, key: str) -> dict:
    try:
        return json.loads((task_dir(study_dir, key) / "task.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
