"""``cbstudio study run|status|report``: the whole study as one resumable job on Dask."""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_TASKS_FAILED = 1


def register(sub) -> None:
    p = sub.add_parser("study", help="run a whole study (recipe) on Dask; resumable")
    ssub = p.add_subparsers(dest="study_command", required=True)
    r = ssub.add_parser("run", help="run (or resume) the study of a recipe into DIR")
    r.add_argument("recipe", help="study recipe (TOML), e.g. resources/studies/demo.toml")
    r.add_argument("--out", required=True, help="study folder (tasks, log, report)")
    r.add_argument("--workers", type=int, default=None, help="local worker processes (default: cores)")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://host:8786)")
    where.add_argument("--cluster", choices=("local", "slurm"), default="local",
                       help="start a LocalCluster (default) or a SLURMCluster from the recipe's [cluster]")
    r.add_argument("--device", default=None, help="auto|cpu|cuda (default: the recipe's device)")
    r.set_defaults(func=cmd_study_run)
    s = ssub.add_parser("status", help="what a study folder holds: finished, failed, pending tasks")
    s.add_argument("dir")
    s.set_defaults(func=cmd_study_status)
    t = ssub.add_parser("report", help="(re)write DIR/report.html from the finished tasks")
    t.add_argument("dir")
    t.set_defaults(func=cmd_study_report)


def cmd_study_run(args) -> int:
    from app.plugins.study_run import run_recipe

    out = Path(args.out)

    def progress(done, total, message):
        print(f"[{done}/{total}] {message}", file=sys.stderr, flush=True)

    states = run_recipe(args.recipe, out, workers=args.workers, scheduler=args.scheduler,
                        cluster=args.cluster, device=args.device, progress=progress)
    failed = [n for n, s in states.items() if s == "failed"]
    blocked = [n for n, s in states.items() if s == "blocked"]
    print(f"study: {sum(s == 'done' for s in states.values())} done, "
          f"{sum(s == 'cached' for s in states.values())} already finished, {len(failed)} failed, "
          f"{len(blocked)} blocked; folder {out}", file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)} (details: cbstudio study status {out})", file=sys.stderr)
        return EXIT_TASKS_FAILED
    return 0


def study_states(study_dir: Path) -> list[dict]:
    """One row per task: name, state (finished / failed / blocked / pending), seconds, key, error."""
    import json

    from core.study.folder import read_log, read_study, task_dir

    study = read_study(study_dir)
    last = {}
    for event in read_log(study_dir):
        if event.get("state") in ("failed", "blocked"):
            last[event.get("key")] = event
        elif event.get("state") in ("done", "cached"):
            last.pop(event.get("key"), None)
    rows = []
    for t in study["tasks"]:
        done = task_dir(study_dir, t["key"]) / "task.json"
        if done.is_file():
            info = json.loads(done.read_text(encoding="utf-8"))
            rows.append({"task": t["name"], "state": "finished", "seconds": info.get("seconds"),
                         "key": t["key"]})
            continue
        event = last.get(t["key"], {})
        rows.append({"task": t["name"], "state": event.get("state", "pending"), "seconds": None,
                     "key": t["key"], "error": event.get("error") or (
                         f"blocked by {', '.join(event['by'])}" if event.get("by") else None),
                     "traceback": event.get("traceback")})
    return rows


def cmd_study_status(args) -> int:
    rows = study_states(Path(args.dir))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
        seconds = f"{row['seconds']:.1f} s" if row.get("seconds") is not None else ""
        print(f"{row['state']:<9} {row['task']:<48} {seconds:>10}  {row['key']}")
        if row.get("error"):
            print(f"          {row['error']}")
        if row.get("traceback"):
            print("          " + row["traceback"].rstrip().replace("\n", "\n          "))
    print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    return 0


def cmd_study_report(args) -> int:
    import tomllib

    from app.plugins.study_task import settings_table
    from core.study.folder import read_study
    from core.study.report import build_report

    study_dir = Path(args.dir)
    study = read_study(study_dir)
    try:
        preset = tomllib.loads(study.get("recipe", "")).get("preset")
    except tomllib.TOMLDecodeError:
        preset = None
    out = build_report(study_dir, study, study_dir / "report.html", settings_table(study["tasks"], preset))
    print(out)
    return 0
