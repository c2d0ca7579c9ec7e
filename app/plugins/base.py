"""The plugin contract.

A plugin is an :class:`AnalysisPlugin` subclass with a declaration (``name``, ``title``,
``description``, ``params`` (a tuple of :class:`Param`), ``inputs``, ``requires``/``accepts`` (prior
results by analysis name), ``outputs`` (output kinds it returns)) and a method
``run(inputs, params, progress, cancel) -> RunResult``. Built-in plugins take their declaration from a
TOML manifest (:mod:`app.plugins.manifest`), readable without importing the plugin module; a plugin
without one sets the class attributes. ``presets`` (preset name -> {parameter: value}) live in
:mod:`app.plugins.presets`. The numbers are computed in ``core.analyses``; a plugin adapts parameters in
and typed outputs out, and the runner (:mod:`app.plugins.runner`) checks the outputs against the
declared kinds. Parameters used by several plugins are declared once in :data:`SHARED_PARAMS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from app.plugins.params import SHARED_PARAMS, Param, find_param
from core.errors import ParameterError
from core.names import OUTPUT_KINDS
from core.progress import CancelToken, ProgressFn

__all__ = ["SHARED_PARAMS", "AnalysisPlugin", "Param", "RunInputs", "RunResult", "choose_paradigms",
           "choose_participants", "method_params", "split_list"]


def split_list(text: str, what: str) -> list[str]:
    """Comma-separated values of a ``str`` parameter; ParameterError when there are none."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ParameterError(f"{what}: give at least one value")
    return items


def choose_participants(choice: str, available: tuple[str, ...]) -> tuple[str, ...]:
    """The ``participants`` parameter: ``all`` or a comma-separated list of ids present in the dataset."""
    if str(choice).strip().lower() in ("", "all"):
        return tuple(available)
    wanted = tuple(split_list(choice, "participants"))
    unknown = [p for p in wanted if p not in available]
    if unknown:
        raise ParameterError(f"participants: unknown {', '.join(unknown)}; available: {', '.join(available)}")
    return wanted


def method_params(params: dict) -> dict:
    """The encoding method's keyword arguments (layer, pooling, selection, cv_folds, cv_groups, seed) from a
    plugin's resolved parameters (the shared Params of the same names)."""
    return {k: params[k] for k in ("layer", "pooling", "selection", "cv_folds", "cv_groups", "seed")}


def choose_paradigms(choice: str, available: tuple[str, ...]) -> list[str]:
    """The ``paradigm`` parameter: one paradigm, or ``all`` (every paradigm of the dataset in turn)."""
    wanted = list(available) if choice == "all" else [choice]
    missing = [p for p in wanted if p not in available]
    if missing:
        raise ParameterError(f"paradigm {missing[0]!r} is not in this dataset ({', '.join(available)})")
    return wanted


@dataclass(init=False)
class RunInputs:
    """What a run gets besides its parameters.

    dataset_path : the dataset folder or file (plugins open it with ``core.data.open_dataset``).
    device : the concrete device (``cpu``, ``cuda``, ``mps``), already resolved.
    prior : earlier results by analysis name (``{"consistency": Path(...)}``), the plugin's ``requires``
        always present, its ``accepts`` when the user gave them.
    results_dir : the older spelling of ``prior={"consistency": results_dir}`` (kept for callers that
        still pass it; an explicit ``prior["consistency"]`` wins).
    """

    dataset_path: Path | None
    device: str = "cpu"
    prior: dict[str, Path] = field(default_factory=dict)

    def __init__(self, dataset_path: Path | None, device: str = "cpu",
                 prior: dict[str, Path] | None = None, results_dir: Path | None = None) -> None:
        self.dataset_path = dataset_path
        self.device = device
        self.prior = {str(k): Path(v) for k, v in (prior or {}).items()}
        if results_dir is not None:
            self.prior.setdefault("consistency", Path(results_dir))

    @property
    def results_dir(self) -> Path | None:
        """The prior consistency results folder, or None (RSA's significant voxels, the whole-brain
        comparison)."""
        return self.prior.get("consistency")

    def open_dataset(self):
        from core.data.readers import open_dataset

        if self.dataset_path is None:
            raise ParameterError("this analysis needs a dataset (--data)")
        return open_dataset(self.dataset_path)


@dataclass
class RunResult:
    """What ``run()`` returns: the typed outputs (:mod:`core.outputs`) and what the plugin adds to the
    run's provenance (model ids and revisions, seeds, notes)."""

    outputs: list
    provenance: dict = field(default_factory=dict)


class AnalysisPlugin:
    """Base class for analysis plugins (subclass and set the class attributes)."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ("dataset",)
    #: prior results (analysis names) a run must be given / uses when given
    requires: ClassVar[tuple[str, ...]] = ()
    accepts: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    #: ``package:file.toml`` of the manifest this class takes its declaration from (None: class attributes)
    manifest: ClassVar[str | None] = None
    #: named sets of parameter values (``cbstudio run --preset NAME``); every key a declared parameter
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("manifest"):
            from app.plugins.manifest import read_manifest

            declared = read_manifest(cls.manifest)
            cls.name, cls.title, cls.description = declared.name, declared.title, declared.description
            cls.params, cls.inputs, cls.outputs = declared.params, declared.inputs, declared.outputs
            cls.requires, cls.accepts = declared.requires, declared.accepts

    def run(self, inputs: RunInputs, params: dict, progress: ProgressFn, cancel: CancelToken) -> RunResult:
        raise NotImplementedError

    def finish_merge(self, folder: Path, inputs: RunInputs, params: dict) -> RunResult | None:
        """After a study merged the parts of a split run into ``folder`` (tables concatenated, maps
        filled): the outputs that need every part (e.g. curves over all targets), or None."""
        return None

    @classmethod
    def param(cls, name: str) -> Param:
        return find_param(cls.name, cls.params, name)

    @classmethod
    def defaults(cls) -> dict:
        return {p.name: p.default for p in cls.params}

    @classmethod
    def resolve_params(cls, overrides: dict[str, Any] | None = None) -> dict:
        """Defaults updated with ``overrides`` (strings or typed values), each parsed and validated."""
        values = cls.defaults()
        for key, raw in (overrides or {}).items():
            values[key] = cls.param(key).parse(raw)
        return values

    @classmethod
    def check_declaration(cls) -> None:
        """Raise ValueError if the class does not satisfy the contract."""
        for attr in ("name", "title"):
            if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
                raise ValueError(f"plugin {cls.__name__} lacks a '{attr}'")
        unknown = [k for k in cls.outputs if k not in OUTPUT_KINDS]
        if unknown:
            raise ValueError(f"plugin {cls.name}: unknown output kind(s) {unknown}")
        if not callable(getattr(cls, "run", None)) or cls.run is AnalysisPlugin.run:
            raise ValueError(f"plugin {cls.name} does not implement run()")
        from app.plugins.presets import check_presets

        check_presets(cls)
