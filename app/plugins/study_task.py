"""The app side of a study (Qt-free; runs on Dask workers): recipe validation against the installed
plugins, the task runner (the same :func:`app.plugins.runner.run_analysis` code path as ``cbstudio run``)
and the study's graph, keys and execution."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.study.recipe import Recipe, StudyError, load_recipe


def code_version() -> str:
    """SHA-256 (16 hex) over the sources that compute results (``core`` and ``app/plugins``; not the GUI
    or the CLI): a change there recomputes the study's tasks."""
    import core

    digest = hashlib.sha256()
    for root in (Path(core.__file__).parent, Path(__file__).parent):
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _plugin(name: str):
    from app.plugins.registry import Registry

    return Registry().load(name)


def resolved_params(name: str, params: dict, preset: str | None) -> dict:
    """A plugin's final typed parameters: the preset's values, then ``params`` (raises on bad input)."""
    from app.plugins.presets import apply_preset

    cls = _plugin(name)
    values, _ = apply_preset(cls, preset, dict(params))
    return cls.resolve_params(values)


def read_recipe(path: str | Path) -> Recipe:
    """Load and validate a recipe, its analyses against the installed plugins."""
    def validate(name, params, preset):
        resolved_params(name, params, preset)

    recipe = load_recipe(path, validate)
    dataset = recipe.dataset_path()
    if dataset is not None and not dataset.exists():
        raise StudyError(f"{recipe.path}: dataset: {dataset} does not exist")
    from core.features.registry import resolve_model

    for model in recipe.models:
        try:
            resolve_model(model)
        except Exception as exc:  # noqa: BLE001 - reported as one line naming the key
            raise StudyError(f"{recipe.path}: models: {exc}") from None
    return recipe


def dataset_location(recipe: Recipe, progress=None) -> Path:
    """The recipe's dataset folder (``demo``: the embedded demo, generated on first use)."""
    path = recipe.dataset_path()
    if path is not None:
        return path
    from core.demo.cache import ensure_demo

    return ensure_demo(progress)


def plan(recipe: Recipe, dataset: Path):
    """The recipe's task graph with keys (core.study.graph)."""
    from core.export.provenance import dataset_hash
    from core.features.registry import resolve_model
    from core.study.graph import build_graph

    return build_graph(
        recipe,
        resolved=lambda name, params: resolved_params(name, params, recipe.preset),
        select_poolings=lambda model: resolve_model(model).select_poolings,
        hidden_size=lambda model: resolve_model(model).hidden,
        dataset_fingerprint=dataset_hash(dataset),
        code_version=code_version(),
        participant_ids=_participant_ids(dataset),
        model_cost=_model_cost,
    )


def _model_cost(model: str) -> float:
    """Relative cost of a model per stimulus (layers x hidden size^2; minilm = 1), for priorities."""
    from core.features.registry import resolve_model

    spec = resolve_model(model)
    return (spec.n_layers or 12) * (spec.hidden or 768) ** 2 / (6 * 384**2)


def _participant_ids(dataset: Path) -> list[str]:
    from core.data.readers import open_dataset

    return list(open_dataset(dataset).participants)


def run_task(task: dict, staging: Path, context: dict, upstream: dict[str, str]) -> None:
    """Do one task into ``staging`` (called on a worker by :func:`core.study.engine.execute_task`)."""
    if task["kind"] == "features":
        _features(task, staging, context)
    elif task["kind"] == "report":
        from core.study.folder import read_study
        from core.study.report import build_report

        study = read_study(context["study_dir"])
        build_report(context["study_dir"], study, staging / "report.html",
                     settings_table(study["tasks"], context.get("preset")))
    elif task["kind"] == "merge":
        _merge(task, staging, context, upstream)
    elif task["kind"] == "figures":
        from core.figures.study_figures import study_figures

        groups: dict[str, list[str]] = {}
        for t in read_tasks(context["study_dir"]):
            if t["name"] in upstream and t.get("group"):
                groups.setdefault(t["group"], []).append(upstream[t["name"]])
        study_figures(groups, staging)
    else:
        from app.plugins.runner import run_analysis

        results = upstream.get(task["results_from"]) if task.get("results_from") else None
        run_analysis(_plugin(task["plugin"]), context["dataset"], task["params"], staging,
                     device=context["device"], results_dir=results, preset=context.get("preset"))


def _merge(task: dict, staging: Path, context: dict, upstream: dict[str, str]) -> None:
    """Merge a split run's parts (core.study.merge), then let the plugin add what needs every part."""
    from app.plugins.base import RunInputs
    from app.plugins.runner import checked_outputs
    from core.export.writers import write_outputs
    from core.study.merge import merge_parts

    results_from = task.get("results_from")
    merge_parts([upstream[name] for name in task["upstream"] if name != results_from], staging)
    cls = _plugin(task["plugin"])
    prior = {"consistency": Path(upstream[results_from])} if results_from else None
    inputs = RunInputs(Path(context["dataset"]), context["device"], prior=prior)
    result = cls().finish_merge(staging, inputs, resolved_params(task["plugin"], task["params"],
                                                                 context.get("preset")))
    if result is not None:
        write_outputs(checked_outputs(cls, result), staging)


def leakage(values: dict) -> str:
    """Whether a run's layer/pooling choice can see its own test data (method.md: the paper selects on
    all folds of the participant-pooled data; ``selection=nested`` or a fixed layer and pooling do not)."""
    selecting = values.get("layer") == "select" or values.get("pooling") == "select"
    if not selecting:
        return "leakage-free (fixed layer and pooling)"
    if values.get("selection") == "nested":
        return "leakage-free (nested selection)"
    if "selection" in values:
        return "selection on all folds (the paper's; optimistic)"
    return "reports both: max over layers (paper) and cross-validated selection"


def settings_table(tasks: list[dict], preset: str | None):
    """One row per analysis task and method parameter: the value used, the paper's value, whether it
    follows the paper, and the task's leakage status (for the report's "Settings" table)."""
    import pandas as pd

    from app.plugins.presets import matching_presets, preset_values

    rows = []
    for task in tasks:
        if task["kind"] not in ("plugin", "merge") or task.get("part_of"):
            continue
        cls = _plugin(task["plugin"])
        values = resolved_params(task["plugin"], task["params"], preset)
        try:
            paper = preset_values(cls, "paper")
        except Exception:  # noqa: BLE001 - a plugin without the paper preset: nothing to compare
            paper = {}
        status = leakage(values)
        matched = ", ".join(matching_presets(cls, values)) or "-"
        for name, value in values.items():
            if name not in paper:
                continue
            rows.append({"task": task["name"], "parameter": name, "value": value, "paper": paper[name],
                         "follows_paper": "yes" if value == paper[name] else "no", "presets": matched,
                         "leakage": status})
    return pd.DataFrame(rows)


def read_tasks(study_dir: str | Path) -> list[dict]:
    """The planned tasks of a study folder (study.json)."""
    from core.study.folder import read_study

    return read_study(study_dir)["tasks"]


def _features(task: dict, staging: Path, context: dict) -> None:
    from core.data.readers import open_dataset
    from core.features.dataset import dataset_poolings

    dataset = open_dataset(context["dataset"])
    params = task["params"]
    record = {"model": params["model"], "paradigm": params["paradigm"], "poolings": {}}
    poolings = tuple(params["poolings"].split(","))  # one forward pass for all of them
    for pooling, feats in dataset_poolings(dataset, params["model"], params["paradigm"], poolings,
                                           context["device"]).items():
        record["poolings"][pooling] = {"model_id": feats.model_id, "revision": feats.revision,
                                       "n_layers": int(feats.n_layers)}
    (staging / "features.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
