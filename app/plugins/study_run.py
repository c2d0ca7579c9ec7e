"""Run a study recipe end to end (Qt-free): validate, plan, write the study folder, execute on a Dask
client, copy the report. Shared by ``cbstudio study run`` and the GUI's Study panel."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from core.errors import Cancelled


def run_recipe(recipe_path: str | Path, out: str | Path, *, workers: int | None = None,
               scheduler: str | None = None, cluster: str = "local", device: str | None = None,
               progress: Callable[[int, int, str], None] = lambda done, total, msg: None,
               cancel=None) -> dict[str, str]:
    """Run (or resume) the study of ``recipe_path`` into ``out``; returns {task name: state}.

    Finished tasks are skipped (their keyed folders exist). ``cancel`` (anything with ``is_set()``) is
    checked at every progress event: a cancelled study stops its cluster and raises Cancelled, keeping
    every task that had finished. A second run on a folder that one holds raises StudyError (the lock).
    """
    from app.plugins.study_task import dataset_location, plan, read_recipe, run_task
    from core.study.engine import make_client, run_study
    from core.study.folder import study_lock, task_dir, write_study

    recipe = read_recipe(recipe_path)
    out = Path(out)
    with study_lock(out):  # fail early (and before planning) when another run holds the folder
        pass
    dataset = dataset_location(recipe)
    tasks = plan(recipe, dataset)
    write_study(out, recipe.path.read_text(encoding="utf-8"), [t.to_dict() for t in tasks])
    context = {"dataset": str(dataset), "device": device or recipe.device, "preset": recipe.preset,
               "study_dir": str(out.resolve())}

    def report(done: int, total: int, message: str) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("study cancelled; finished tasks are kept (run again to resume)")
        progress(done, total, message)

    client = make_client(workers, scheduler, cluster, recipe.cluster)
    try:
        states = run_study(tasks, out, run_task, context, client, report)
    finally:
        local = getattr(client, "cluster", None)
        client.close()
        if local is not None and not scheduler:
            local.close()
    final = next(t for t in tasks if t.kind == "report")
    if states.get(final.name) in ("done", "cached"):
        shutil.copyfile(task_dir(out, final.key) / "report.html", out / "report.html")
    return states


def recipe_text(dataset: str | Path, analyses: dict[str, dict], models: list[str],
                paradigms: list[str] | None = None, name: str = "study") -> str:
    """A study recipe (TOML) for ``dataset`` and the analyses' parameter values (``{plugin: {key: value}}``;
    the keys a study sets itself — model, paradigm, participants, target — are left out)."""
    import json

    from core.study.recipe import STUDY_SET

    def value(v) -> str:
        return json.dumps(v) if isinstance(v, (bool, int, float, str)) else json.dumps(str(v))

    lines = [f"# written by Concept Brain Studio for {dataset}", f"name = {value(name)}",
             f"dataset = {value(str(dataset))}", 'participants = "all"',
             f"models = {json.dumps(list(models))}"]
    if paradigms:
        lines.append(f"paradigms = {json.dumps(list(paradigms))}")
    for plugin, params in analyses.items():
        lines += ["", f"[analyses.{plugin}]"]
        skip = {*STUDY_SET.get(plugin, ()), "target"}
        lines += [f"{k} = {value(v)}" for k, v in params.items() if k not in skip]
    return "\n".join(lines) + "\n"
