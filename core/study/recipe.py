"""Study recipes (TOML), validated against a schema: an unknown key or a bad value is one line naming the
key and the reason (:class:`StudyError`).

::

    name = "demo"
    dataset = "demo"                 # a dataset path (relative to the recipe) or "demo" (the embedded one)
    preset = "paper"                 # optional: every analysis starts from this preset
    participants = "all"             # or ["M01", "M02"]
    models = ["minilm"]              # for encoding, quartiles and RSA
    paradigms = ["sentences", "word_clouds"]   # for encoding and quartiles
    device = "auto"

    [analyses.consistency]           # any installed plugin; its parameters as in `cbstudio run --set`
    n_permutations = 1000
    [analyses.encoding]
    targets = ["areas", "rois"]      # one task per target kind
    chunks = {voxels = 8}            # split a kind's targets into tasks (an int: voxels and areas)
    [analyses.quartiles]
    [analyses.rsa]

    [cluster]                        # optional; used with --cluster slurm
    queue = "normal"  cores = 8  memory = "32GB"  walltime = "04:00:00"  gpus = 0  job_extra = []
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.data.concepts import PARADIGMS
from core.errors import StudioError


class StudyError(StudioError):
    """A bad recipe, a study folder in use, or a failed study step (one line, with the file)."""


TOP_KEYS = {"name": str, "dataset": str, "preset": str, "participants": (str, list), "models": list,
            "paradigms": list, "device": str, "analyses": dict, "cluster": dict}
CLUSTER_KEYS = {"queue": str, "cores": int, "memory": str, "walltime": str, "gpus": int, "processes": int,
                "job_extra": list, "account": str, "jobs": int}
#: per-analysis keys the study sets itself (one task per value) rather than passing through
STUDY_SET = {"encoding": ("model", "paradigm", "participants", "target", "target_chunk"),
             "quartiles": ("model", "paradigm", "participants"),
             "rsa": ("model", "participants"), "consistency": ("participants",)}
DEVICES = ("auto", "cpu", "cuda", "mps")
TARGETS = ("voxels", "areas", "rois")
#: encoding target chunks per kind unless the recipe says otherwise (whole-brain voxels: several workers)
DEFAULT_CHUNKS = {"voxels": 8, "areas": 1, "rois": 1}
MAX_CHUNKS = 1024


@dataclass
class Recipe:
    """A validated recipe. ``analyses``: plugin name -> its parameters (strings, as ``--set``)."""

    path: Path
    name: str
    dataset: str
    preset: str | None = None
    participants: list[str] | None = None  # None = all
    models: list[str] = field(default_factory=lambda: ["minilm"])
    paradigms: list[str] = field(default_factory=lambda: ["sentences"])
    device: str = "auto"
    analyses: dict[str, dict[str, str]] = field(default_factory=dict)
    targets: list[str] = field(default_factory=lambda: ["areas", "rois"])
    #: target kind -> number of chunks its encoding tasks are split into (core.study.graph)
    chunks: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CHUNKS))
    cluster: dict = field(default_factory=dict)

    def dataset_path(self) -> Path | None:
        """The dataset folder (None for the embedded demo)."""
        if self.dataset == "demo":
            return None
        path = Path(self.dataset).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def _fail(path: Path, key: str, why: str) -> StudyError:
    return StudyError(f"{path}: {key}: {why}")


def _check_type(path: Path, key: str, value, kind) -> None:
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(path, key, f"expected {names}, got {type(value).__name__} {value!r}")


def _strings(path: Path, key: str, values: list) -> list[str]:
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise _fail(path, key, "expected a non-empty list of names")
    return [v.strip() for v in values]


def _chunks(path: Path, key: str, value) -> dict[str, int]:
    """``chunks = N`` (voxels and areas) or ``chunks = {voxels = N, areas = M, rois = K}``."""
    given = {"voxels": value, "areas": value} if isinstance(value, int) else value
    if not isinstance(given, dict):
        raise _fail(path, key, f"expected an integer or a table of target kinds, got {value!r}")
    out = dict(DEFAULT_CHUNKS)
    for kind, n in given.items():
        if kind not in TARGETS:
            raise _fail(path, f"{key}.{kind}", f"unknown target kind (known: {', '.join(TARGETS)})")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CHUNKS:
            raise _fail(path, f"{key}.{kind}", f"expected an integer from 1 to {MAX_CHUNKS}, got {n!r}")
        out[kind] = n
    return out


def _param_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def load_recipe(path: str | Path, validate_analysis=None) -> Recipe:
    """Read and validate a recipe.

    validate_analysis(name, params, preset) -> None raises for an unknown plugin or a bad parameter (the
    caller knows the plugins; core does not import them); its message is prefixed with the key.
    """
    path = Path(path).expanduser()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StudyError(f"{path}: cannot read the recipe ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: not valid TOML ({exc})") from None
    for key, value in raw.items():
        if key not in TOP_KEYS:
            raise _fail(path, key, f"unknown key (known: {', '.join(TOP_KEYS)})")
        _check_type(path, key, value, TOP_KEYS[key])
    for key in ("dataset", "analyses"):
        if key not in raw:
            raise _fail(path, key, "missing")
    recipe = Recipe(path.resolve(), raw.get("name", path.stem), raw["dataset"], raw.get("preset"))
    if isinstance(raw.get("participants"), list):
        recipe.participants = _strings(path, "participants", raw["participants"])
    elif raw.get("participants", "all") != "all":
        raise _fail(path, "participants", "expected 'all' or a list of participant ids")
    if "models" in raw:
        recipe.models = _strings(path, "models", raw["models"])
    if "paradigms" in raw:
        recipe.paradigms = _strings(path, "paradigms", raw["paradigms"])
        bad = [p for p in recipe.paradigms if p not in PARADIGMS]
        if bad:
            raise _fail(path, "paradigms", f"unknown paradigm {bad[0]!r} (known: {', '.join(PARADIGMS)})")
    recipe.device = raw.get("device", "auto")
    if recipe.device not in DEVICES:
        raise _fail(path, "device", f"expected one of {', '.join(DEVICES)}, got {recipe.device!r}")
    if not raw["analyses"]:
        raise _fail(path, "analyses", "no analysis listed")
    for name, params in raw["analyses"].items():
        key = f"analyses.{name}"
        _check_type(path, key, params, dict)
        params = dict(params)
        if name == "encoding" and "targets" in params:
            recipe.targets = _strings(path, f"{key}.targets", params.pop("targets"))
            bad = [t for t in recipe.targets if t not in TARGETS]
            if bad:
                raise _fail(path, f"{key}.targets", f"unknown target {bad[0]!r} (voxels, areas, rois)")
        if name == "encoding" and "chunks" in params:
            recipe.chunks = _chunks(path, f"{key}.chunks", params.pop("chunks"))
        for set_key in STUDY_SET.get(name, ()):
            if set_key in params:
                raise _fail(path, f"{key}.{set_key}", "set by the study (use the top-level models, "
                                                      "paradigms, participants or encoding targets)")
        text = {k: _param_text(v) for k, v in params.items()}
        if validate_analysis is not None:
            try:
                validate_analysis(name, text, recipe.preset)
            except StudioError as exc:
                raise _fail(path, key, str(exc)) from None
        recipe.analyses[name] = text
    cluster = raw.get("cluster", {})
    for key, value in cluster.items():
        if key not in CLUSTER_KEYS:
            raise _fail(path, f"cluster.{key}", f"unknown key (known: {', '.join(CLUSTER_KEYS)})")
        _check_type(path, f"cluster.{key}", value, CLUSTER_KEYS[key])
    recipe.cluster = dict(cluster)
    return recipe
