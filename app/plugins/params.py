"""Declared parameters: :class:`Param` (enough to build a form and to parse ``--set key=value``) and the
parameters several plugins share, defined once (:data:`SHARED_PARAMS`). Standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ParameterError
from core.names import CV_GROUPS, PARADIGMS, SELECTIONS

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


#: ``pooling`` choices: the model poolings (:mod:`core.features.registry`, light) and ``select``
POOLINGS = ("mean", "last_tok", "first_tok", "select")
_LABEL_TABLE = "; empty reads the TSV beside the NIfTI file (same name, .tsv)."

#: parameters several plugins declare, defined once; a manifest uses them with ``shared = "name"``
SHARED_PARAMS: dict[str, Param] = {p.name: p for p in (
    Param("participants", "str", "all", "Participants to analyse: 'all' or their ids separated by commas.",
          label="Participants"),
    Param("model", "str", "minilm", "Language model: a registry key (minilm, smollm2-135m, ...), a local "
          "folder or a Hugging Face id; several separated by commas.", label="Model(s)"),
    Param("paradigm", "choice", "sentences", "Which stimuli the brain responses and features come from; "
          "'all' runs each paradigm in turn.", label="Paradigm", choices=(*PARADIGMS, "all"),
          choice_help=("sentences about the concept", "pictures of the concept",
                       "word clouds around the concept word", "each paradigm in turn")),
    Param("layer", "int", "select", "Hidden-state layer of the model (0 = the embeddings), or 'select' to "
          "choose the best layer.", label="Layer", units="layer index", bounds=(0, None),
          special=("select",)),
    Param("pooling", "choice", "mean", "How token hidden states become one vector per stimulus.",
          label="Token pooling", choices=POOLINGS,
          choice_help=("mean over the stimulus tokens", "the last token", "the first token",
                       "chosen with the layer among the model's candidates (last_tok, mean; FLAVA also "
                       "first_tok)")),
    Param("selection", "choice", "paper", "How the layer and pooling are chosen when set to 'select'.",
          label="Layer selection", choices=SELECTIONS,
          choice_help=("the paper's: on participant-averaged scores, outside cross-validation",
                       "inside each training fold (no selection leak)")),
    Param("cv_folds", "int", 5, "Number of cross-validation folds for the ridge scores.", label="CV folds",
          units="folds", bounds=(2, 50)),
    Param("cv_groups", "choice", "stimulus", "What a fold holds out.", label="Fold unit", choices=CV_GROUPS,
          choice_help=("single stimuli, as the paper (a concept's other stimuli can be in training)",
                       "all stimuli of a concept together (no concept seen in training and test)")),
    Param("seed", "int", 0, "Seed of the fold shuffling; 0 gives the paper's folds.", label="Fold seed",
          bounds=(0, None)),
    Param("noise_ceiling", "bool", False, "Also compute an NSD-style noise ceiling per target and report "
          "r divided by it.", label="Noise ceiling"),
    Param("rois", "str", "paper", "Regions of interest: 'paper' (the published ROI map), "
          "'glasser-surface' (rebuilt from Glasser areas), 'none' or a label NIfTI path.", label="ROIs"),
    Param("roi_table", "str", "", "Label table (TSV: label, name) for a NIfTI ROI map" + _LABEL_TABLE,
          label="ROI label table"),
    Param("atlas", "str", "glasser", "Parcellation for area summaries: 'glasser' (HCP-MMP1, 360 areas), "
          "'none' or a label NIfTI path.", label="Atlas"),
    Param("atlas_table", "str", "", "Label table (TSV: label, name[, hemisphere]) for a NIfTI atlas"
          + _LABEL_TABLE, label="Atlas label table"),
)}


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


def find_param(owner: str, params: tuple[Param, ...], name: str) -> Param:
    """The parameter ``name`` of plugin ``owner``; ParameterError naming the known ones otherwise."""
    for p in params:
        if p.name == name:
            return p
    known = ", ".join(p.name for p in params)
    raise ParameterError(f"{owner}: unknown parameter {name!r}; known: {known}")
