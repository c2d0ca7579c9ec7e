"""The study's task graph: which plugin runs with which parameters, in which order, under which key.

Tasks (in topological order):

* ``features/<model>/<paradigm>``: hidden states of every stimulus for the poolings the analyses need,
  into the study's feature cache (``DIR/features``), so that no two tasks extract the same features;
  big models ask for a GPU.
* ``consistency``: the consistency plugin over the study's participants (group map, areas, ROIs).
* ``encoding/<model>/<paradigm>/<target>``: one per model x paradigm x target kind (areas get the
  consistency results for the whole-brain comparison). Its targets are split into the recipe's
  ``chunks`` for that kind (``.../<target>/chunk-<i>of<n>``, parameter ``target_chunk=i/n``: every
  per-target result, the paper's group selection and noise ceiling included, depends on that target
  alone); where each participant's scores also depend on that participant alone (no noise ceiling, no
  layer/pooling selection on the participant-pooled data: see :func:`splittable`), each part is split
  further into one task per participant (``.../sub-<ID>``). The parts run on different workers and
  this task merges them (``kind="merge"``; the plugin's ``finish_merge`` adds the curves over all
  targets and, for areas, the whole-brain comparison).
* ``quartiles/<model>/<paradigm>`` and ``rsa/<model>``; any other (third-party) plugin: one task.
* ``report``: the HTML report over everything.

A task's key is a SHA-256 over its kind, plugin, parameters, preset, the dataset's fingerprint, the code
version and the keys of its upstream tasks, so a changed parameter changes exactly the keys downstream
of it and a rerun recomputes only those.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

MODEL_ANALYSES = ("encoding", "quartiles", "rsa")
#: sentences per concept (the other paradigms: one input per concept), for the tasks' weights
SENTENCES_PER_CONCEPT = 6
#: task cost relative to an ROI encoding of the same model and paradigm (measured on the demo study:
#: smollm2-135m sentences features 55 s, ROI encoding 47 s, quartiles 54 s, area encoding 169 s, RSA 6 s)
RELATIVE_COST = {"features": 1.2, "rois": 1.0, "areas": 3.5, "voxels": 3.5, "quartiles": 1.1, "rsa": 0.2}
#: weights of the tasks that belong to no model, in the same units (minilm's sentence ROI encoding = 6,
#: 7.7 s in the demo study): consistency 16.6 s, the figures of each analysis group 3.1 / 7.1 / 3.6 /
#: 0.6 s, the report 0.9 s. Without them (weight 1) consistency started after most encodings and every
#: figures task waited for the end, where they ran one after another on one worker.
FIXED_WEIGHT = {"consistency": 13.0, "figures/consistency": 2.4, "figures/encoding": 5.4,
                "figures/quartiles": 2.8, "figures/rsa": 0.5, "report": 0.7}
#: models of this size or larger ask for a GPU (hidden size; the paper's 7B-class models)
GPU_HIDDEN = 3000
RSA_PARADIGMS = {"text": ("sentences", "word_clouds"), "text+image": ("sentences", "word_clouds", "pictures"),
                 "both": ("sentences", "word_clouds", "pictures")}


@dataclass
class Task:
    """One unit of work. ``results_from``: the upstream task whose folder is the plugin's results input."""

    name: str
    kind: str  # "features", "plugin", "merge" (of parts), "figures" (of one analysis group) or "report"
    plugin: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    results_from: str | None = None
    gpu: bool = False
    key: str = ""
    group: str = ""  # the figure/report group: "encoding", "quartiles", ... ("" = none)
    part_of: str = ""  # the merge task this task is a part of ("" = none)
    weight: float = 1.0  # rough relative cost, for the scheduling priorities (not part of the key)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def task_key(task: Task, preset: str | None, dataset_fingerprint: str, code_version: str,
             upstream_keys: list[str]) -> str:
    payload = {"kind": task.kind, "plugin": task.plugin, "params": sorted(task.params.items()),
               "preset": preset, "dataset": dataset_fingerprint, "code": code_version,
               "upstream": sorted(upstream_keys)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def splittable(values: dict) -> bool:
    """Whether an encoding run's per-participant scores are independent of the other participants: no
    noise ceiling and no paper-style selection of layer/pooling on the participant-pooled responses (the
    paper preset has both, so its encoding stays one task per model x paradigm x target)."""
    selecting = values.get("layer") == "select" or values.get("pooling") == "select"
    return not values.get("noise_ceiling") and not (selecting and values.get("selection") == "paper")


def split_parts(task: Task, n_chunks: int, pids: list[str]) -> list[Task]:
    """The parts of a split encoding ``task``: ``n_chunks`` target chunks (``.../chunk-<i>of<n>``,
    parameter ``target_chunk``), each split per participant (``.../sub-<ID>``) when ``pids`` are given;
    [] when nothing splits."""
    if n_chunks <= 1 and not pids:
        return []
    chunks = [(f"/chunk-{i}of{n_chunks}", f"{i}/{n_chunks}") for i in range(1, n_chunks + 1)]
    parts = []
    for tag, chunk in chunks if n_chunks > 1 else [("", "")]:
        extra = {"target_chunk": chunk} if chunk else {}
        for pid in pids or [None]:
            name = f"{task.name}{tag}" + (f"/sub-{pid}" if pid else "")
            params = {**task.params, **extra, **({"participants": pid} if pid else {})}
            parts.append(Task(name, "plugin", task.plugin, params, list(task.upstream), part_of=task.name))
    return parts


def build_graph(recipe, resolved: Callable[[str, dict], dict], select_poolings: Callable[[str], tuple],
                hidden_size: Callable[[str], int | None], dataset_fingerprint: str,
                code_version: str, participant_ids: list[str] | None = None,
                model_cost: Callable[[str], float] | None = None) -> list[Task]:
    """Tasks of ``recipe`` in topological order, keyed.

    resolved(plugin, params) -> the plugin's final typed parameter values (preset applied);
    select_poolings(model) -> the model's candidates for ``pooling=select``; hidden_size(model) -> int
    or None; participant_ids: the dataset's participants (for per-participant encoding tasks; None:
    no split); model_cost(model) -> its relative cost per stimulus (for the tasks' ``weight``).
    """
    participants = ",".join(recipe.participants) if recipe.participants else "all"
    tasks: list[Task] = []
    needed: dict[tuple[str, str], set[str]] = {}
    plan: list[Task] = []
    analyses = recipe.analyses
    if "consistency" in analyses:
        plan.append(Task("consistency", "plugin", "consistency", {**analyses["consistency"],
                                                                   "participants": participants},
                         group="consistency"))
    has_consistency = "consistency" in analyses

    def want(model: str, paradigms, values: dict) -> list[str]:
        pool = values.get("pooling", "mean")
        poolings = select_poolings(model) if pool == "select" else (pool,)
        names = []
        for paradigm in paradigms:
            needed.setdefault((model, paradigm), set()).update(poolings)
            names.append(f"features/{model}/{paradigm}")
        return names

    for model in recipe.models:
        for paradigm in recipe.paradigms:
            if "encoding" in analyses:
                for target in recipe.targets:
                    params = {**analyses["encoding"], "model": model, "paradigm": paradigm, "target": target,
                              "participants": participants}
                    values = resolved("encoding", params)
                    name = f"encoding/{model}/{paradigm}/{target}"
                    pids = recipe.participants or participant_ids or []
                    task = Task(name, "plugin", "encoding", params, want(model, [paradigm], values),
                                group="encoding")
                    parts = split_parts(task, recipe.chunks.get(target, 1),
                                        pids if len(pids) > 1 and splittable(values) else [])
                    if parts:
                        plan += parts
                        task = Task(name, "merge", "encoding", params, [t.name for t in parts],
                                    group="encoding")
                    if target == "areas" and has_consistency:
                        task.upstream.append("consistency")
                        task.results_from = "consistency"
                    plan.append(task)
            if "quartiles" in analyses:
                params = {**analyses["quartiles"], "model": model, "paradigm": paradigm,
                          "participants": participants}
                values = resolved("quartiles", params)
                plan.append(Task(f"quartiles/{model}/{paradigm}", "plugin", "quartiles", params,
                                 want(model, [paradigm], values), group="quartiles"))
        if "rsa" in analyses:
            params = {**analyses["rsa"], "model": model, "participants": participants}
            values = resolved("rsa", params)
            paradigms = RSA_PARADIGMS.get(values.get("condition", "text"), ("sentences",))
            task = Task(f"rsa/{model}", "plugin", "rsa", params, want(model, paradigms, values), group="rsa")
            if values.get("sig_voxels_only") and has_consistency:
                task.upstream.append("consistency")
                task.results_from = "consistency"
            plan.append(task)
    for name, params in analyses.items():
        if name not in ("consistency", *MODEL_ANALYSES):
            plan.append(Task(name, "plugin", name, {**params, "participants": participants}))
    for (model, paradigm), poolings in needed.items():
        hidden = hidden_size(model)
        tasks.append(Task(f"features/{model}/{paradigm}", "features", None,
                          {"model": model, "paradigm": paradigm, "poolings": ",".join(sorted(poolings))},
                          gpu=bool(hidden and hidden >= GPU_HIDDEN)))
    tasks += plan
    groups: dict[str, list[str]] = {}
    for t in plan:
        if t.group:
            groups.setdefault(t.group, []).append(t.name)
    for group, members in groups.items():  # the group steps and the paper's figures of one analysis
        # (core.figures.study_figures), each as soon as its analysis is done: Fig. 2 runs early
        tasks.append(Task(f"figures/{group}", "figures", None, {"group": group}, members))
    tasks.append(Task("report", "report", None, {}, [t.name for t in tasks]))
    parts_of = Counter(t.part_of for t in tasks if t.part_of)
    costs = {m: model_cost(m) for m in recipe.models} if model_cost is not None else {}
    for task in tasks:
        model = task.params.get("model")
        if model in costs:
            paradigm = task.params.get("paradigm", "sentences")  # RSA: its sentence features dominate
            kind = task.params.get("target") if task.plugin == "encoding" else (task.plugin or task.kind)
            n_parts = parts_of.get(task.part_of, 1)
            task.weight = (costs[model] * (SENTENCES_PER_CONCEPT if paradigm == "sentences" else 1)
                           * RELATIVE_COST.get(kind, 1.0) / n_parts)
        elif costs and task.name in FIXED_WEIGHT:
            task.weight = FIXED_WEIGHT[task.name]
    keys: dict[str, str] = {}
    for task in tasks:
        task.key = task_key(task, recipe.preset, dataset_fingerprint, code_version,
                            [keys[u] for u in task.upstream])
        keys[task.name] = task.key
    return tasks


def priorities(tasks: list[Task]) -> dict[str, int]:
    """Scheduling priority per task (higher runs first among ready tasks): its bottom level, the
    heaviest path from it to the end of the graph (the tasks' ``weight``), so that the critical path
    (e.g. the largest model's sentence features, then its encodings) starts first."""
    level: dict[str, float] = {}
    below: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for u in t.upstream:
            below.setdefault(u, []).append(t.name)
    for t in reversed(tasks):  # topological order reversed: every dependant first
        level[t.name] = t.weight + max((level[d] for d in below[t.name]), default=0.0)
    return {name: int(round(100 * value)) for name, value in level.items()}


def downstream(tasks: list[Task], name: str) -> set[str]:
    """Names of the tasks that depend on ``name``, directly or not."""
    out: set[str] = set()
    frontier = {name}
    while frontier:
        frontier = {t.name for t in tasks if set(t.upstream) & frontier} - out
        out |= frontier
    return out
