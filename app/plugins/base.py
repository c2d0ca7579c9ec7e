"""The plugin contract.

A plugin is a class with class attributes ``name``, ``title``, ``description``, ``params`` (a tuple of
:class:`Param`), ``inputs`` (what it needs, e.g. ``("dataset",)``), ``outputs`` (output kinds it
returns) and optionally ``presets`` (preset name -> {parameter: value}, e.g. ``{"fast": {"n": 10}}``;
see :mod:`app.plugins.presets`), and a method ``run(inputs, params, progress, cancel) -> list[Output]``.
The numbers are computed in ``core.analyses``; a plugin only adapts parameters in and typed outputs out.
Listing plugins (``cbstudio plugins``, the analysis panel) imports each plugin module through its entry
point, so a plugin module keeps its top-level imports light: pandas, numba, torch and the analysis
modules are imported inside ``run()``, and parameter choices come from :mod:`core.names`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.errors import ParameterError
from core.names import OUTPUT_KINDS
from core.progress import CancelToken, ProgressFn

PARAM_TYPES = ("int", "float", "bool", "str", "choice", "path")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """A declared parameter: enough to build a form and to parse ``--set name=value``.

    type : one of ``int``, ``float``, ``bool``, ``str``, ``choice``, ``path``.
    bounds : inclusive (low, high) for numbers; either may be None.
    choices : allowed values for ``choice``.
    special : extra string values a numeric parameter also accepts (e.g. ``("select",)`` for a layer).
    label : a few words for a form (``"Permutations"``); the key ``name`` stays the CLI/recipe key.
    help : one sentence saying what the value does.
    units : the unit of a number (``"voxels"``, ``"s"``, ``""`` when unitless).
    decimals : digits after the point when a float is shown (None: as many as needed).
    choice_help : one short description per entry of ``choices`` (same order), or empty.
    """

    name: str
    type: str
    default: Any
    help: str = ""
    bounds: tuple[float | None, float | None] | None = None
    choices: tuple[Any, ...] | None = None
    special: tuple[str, ...] = ()
    label: str = ""
    units: str = ""
    decimals: int | None = None
    choice_help: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The form label: ``label`` or, when none is declared, the key in words."""
        return self.label or self.name.replace("_", " ").capitalize()

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name}: unknown type {self.type!r}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"parameter {self.name}: a choice needs choices")

    def parse(self, text: Any) -> Any:
        """Convert a string (or an already-typed value) and validate it; raise ParameterError."""
        if isinstance(text, str) and text in self.special:
            return text
        try:
            if self.type == "int":
                value = int(text) if not isinstance(text, bool) else _raise()
            elif self.type == "float":
                value = float(text)
            elif self.type == "bool":
                value = _parse_bool(text)
            elif self.type == "path":
                value = str(Path(str(text)).expanduser())
            else:
                value = str(text) if not isinstance(text, (int, float)) or self.type == "str" else text
        except (TypeError, ValueError):
            raise ParameterError(f"{self.name}: cannot read {text!r} as {self.type}") from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        if self.choices is not None:
            match = [c for c in self.choices if c == value or str(c) == str(value)]
            if not match:
                options = ", ".join(map(str, self.choices))
                raise ParameterError(f"{self.name}: {value!r} is not one of {options}")
            value = match[0]
        if self.bounds and self.type in ("int", "float"):
            low, high = self.bounds
            if (low is not None and value < low) or (high is not None and value > high):
                raise ParameterError(f"{self.name}: {value} is outside [{low}, {high}]")
        return value


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


def _raise():
    raise ValueError


def _parse_bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError


@dataclass
class RunInputs:
    """What a run gets besides its parameters.

    dataset_path : the dataset folder or file (plugins open it with ``core.data.open_dataset``).
    device : the concrete device (``cpu``, ``cuda``, ``mps``), already resolved.
    results_dir : optional folder of earlier results (e.g. consistency outputs for quartiles).
    provenance : a dict the plugin may add to (model ids and revisions, seeds, ...).
    """

    dataset_path: Path | None
    device: str = "cpu"
    results_dir: Path | None = None
    provenance: dict = field(default_factory=dict)

    def open_dataset(self):
        from core.data.readers import open_dataset

        if self.dataset_path is None:
            raise ParameterError("this analysis needs a dataset (--data)")
        return open_dataset(self.dataset_path)


class AnalysisPlugin:
    """Base class for analysis plugins (subclass and set the class attributes)."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ("dataset",)
    outputs: ClassVar[tuple[str, ...]] = ()
    #: named sets of parameter values (``cbstudio run --preset NAME``); every key a declared parameter
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def run(self, inputs: RunInputs, params: dict, progress: ProgressFn, cancel: CancelToken) -> list:
        raise NotImplementedError

    @classmethod
    def param(cls, name: str) -> Param:
        for p in cls.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in cls.params)
        raise ParameterError(f"{cls.name}: unknown parameter {name!r}; known: {known}")

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
