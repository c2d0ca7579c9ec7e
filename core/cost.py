"""Predict the run time and peak memory of an analysis kernel from the sizes of its inputs.

The model, measured by ``benchmarks/scaling.py`` on one machine and stored in
``resources/cost_model.json``, is a product of power laws around a reference size::

    seconds(sizes) = constant * prod_a (sizes[a] / reference[a]) ** exponent[a]

per analysis (``consistency``, ``encoding``, ``rsa``) and per quantity (``seconds`` wall-clock,
``cpu_seconds`` of all threads, ``peak_mb``), over the axes ``voxels``, ``items``, ``layers`` and
``permutations``. Each exponent is the least-squares slope of log(cost) on log(size) along one axis with
the others held at the analysis's reference (:func:`fit_exponent`); an axis an analysis does not depend on
has exponent 0. Wall seconds use the CPU-time exponents (robust to other processes on a shared machine)
and the best wall time measured at the reference. Qt-free and cheap (no file reads after the first
:func:`load_model`), so the GUI can call it on every parameter change.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import DataError, ParameterError

AXES = ("voxels", "items", "layers", "permutations")
QUANTITIES = ("seconds", "cpu_seconds", "peak_mb")
MODEL_PATH = Path(__file__).resolve().parents[1] / "resources" / "cost_model.json"


def fit_exponent(sizes, values) -> tuple[float, float]:
    """Least-squares fit of ``log(values) = log(c) + e * log(sizes)``.

    Parameters
    ----------
    sizes, values : positive floats (k,), k >= 2 distinct sizes (e.g. voxels and seconds).

    Returns
    -------
    (e, c): the exponent and the constant (value at size 1).
    """
    x = np.log(np.asarray(sizes, dtype=np.float64))
    y = np.log(np.asarray(values, dtype=np.float64))
    if x.size < 2 or np.ptp(x) == 0 or not np.all(np.isfinite(y)):
        raise ParameterError("a power-law fit needs >= 2 distinct positive sizes and positive values")
    e, log_c = np.polyfit(x, y, 1)
    return float(e), float(math.exp(log_c))


@dataclass(frozen=True)
class Estimate:
    """Predicted cost of one kernel run (``seconds``) or of ``repeats`` runs in a row (``total_seconds``);
    ``peak_mb`` is the peak traced memory of one run (runs are sequential, so it does not add up)."""

    seconds: float
    peak_mb: float
    repeats: float = 1.0
    cpu_seconds: float = float("nan")

    @property
    def total_seconds(self) -> float:
        return self.seconds * self.repeats

    def text(self) -> str:
        """e.g. ``about 2 min, 1.2 GB``."""
        return f"about {format_seconds(self.total_seconds)}, {format_mb(self.peak_mb)}"


def format_seconds(s: float) -> str:
    """Human duration: ``0.4 s``, ``12 s``, ``2 min``, ``1.5 h``."""
    if s < 10:
        return f"{s:.1f} s"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def format_mb(mb: float) -> str:
    """``350 MB`` or ``1.2 GB``."""
    return f"{mb:.0f} MB" if mb < 1000 else f"{mb / 1000:.1f} GB"


@lru_cache(maxsize=4)
def load_model(path: str | Path = MODEL_PATH) -> dict:
    """The fitted model (JSON written by ``benchmarks/scaling.py``); cached, read once per path."""
    path = Path(path)
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read the cost model ({exc})") from exc
    if "reference" not in model or "analyses" not in model:
        raise DataError(path, "not a cost model (no 'reference' or 'analyses')")
    return model


def predict(analysis: str, sizes: dict[str, float], model: dict | None = None, repeats: int = 1) -> Estimate:
    """Predicted seconds and peak MB of one ``analysis`` kernel run at ``sizes``.

    Parameters
    ----------
    analysis : ``consistency``, ``encoding`` or ``rsa``.
    sizes : any of ``voxels``, ``items``, ``layers``, ``permutations``; missing axes take the reference.
    model : a loaded model (default: :func:`load_model`).
    repeats : how many such runs in a row (participants, split halves, models, folds / 5), for
        ``total_seconds``.
    """
    model = model or load_model()
    if analysis not in model["analyses"]:
        raise ParameterError(f"no cost model for {analysis!r} (have {', '.join(model['analyses'])})")
    entry = model["analyses"][analysis]
    ref = entry.get("reference", model.get("reference"))
    out = {}
    for quantity in QUANTITIES:
        fit = entry.get(quantity)
        if fit is None:
            out[quantity] = float("nan")
            continue
        value = float(fit["constant"])
        for axis, e in fit["exponents"].items():
            size = float(sizes.get(axis, ref[axis]))
            if size <= 0:
                raise ParameterError(f"{axis} must be positive, got {size}")
            value *= (size / float(ref[axis])) ** float(e)
        out[quantity] = value
    return Estimate(out["seconds"], out["peak_mb"], max(float(repeats), 1.0), out["cpu_seconds"])


def fit_model(points: dict[str, list[dict]], reference: dict[str, float],
              per_analysis: dict[str, dict] | None = None) -> dict:
    """Fit constants and exponents from measured points.

    Parameters
    ----------
    points : per analysis, a list of ``{"axis": name, "voxels": .., "items": .., "layers": ..,
        "permutations": .., "seconds": .., "peak_mb": ..}`` and optionally ``"cpu_seconds"`` (one axis
        varied, the others at the reference; ``axis`` is ``"reference"`` for the reference point itself).
    reference : the reference size of every axis; per_analysis : an analysis's own reference, if any.

    Returns
    -------
    ``{"reference": .., "analyses": {name: {"reference": .., quantity: {"constant": c, "exponents":
    {axis: e}}}}}``: the constant is the geometric mean over axes of each axis fit's value at the
    reference (so every axis line passes near it); axes without >= 2 distinct sizes get exponent 0. With
    ``cpu_seconds`` measured, ``seconds`` takes its exponents and the reference point's wall time.
    """
    analyses = {}
    for name, rows in points.items():
        ref = dict(reference, **(per_analysis or {}).get(name, {}))
        entry: dict = {"reference": ref}
        for quantity in QUANTITIES:
            if not all(quantity in r for r in rows):
                continue
            exponents, at_ref = {}, []
            for axis in AXES:
                use = [r for r in rows if r["axis"] in (axis, "reference")]
                xs = [float(r[axis]) for r in use]
                if len(set(xs)) < 2:
                    continue
                e, c = fit_exponent(xs, [max(float(r[quantity]), 1e-9) for r in use])
                exponents[axis] = round(e, 4)
                at_ref.append(math.log(c * float(ref[axis]) ** e))
            if not at_ref:
                at_ref = [math.log(max(float(r[quantity]), 1e-9)) for r in rows if r["axis"] == "reference"]
            entry[quantity] = {"constant": float(math.exp(np.mean(at_ref))), "exponents": exponents}
        if "cpu_seconds" in entry:
            wall = min(float(r["seconds"]) for r in rows if r["axis"] == "reference")
            entry["seconds"] = {"constant": wall, "exponents": dict(entry["cpu_seconds"]["exponents"])}
        analyses[name] = entry
    return {"reference": dict(reference), "analyses": analyses}


#: sizes assumed when no dataset is open (a release-size participant)
DEFAULT_VOXELS = 230_000
DEFAULT_LAYERS = 13
AREA_TARGETS = 400  # encoding target=areas / rois: a few hundred targets at most


def run_sizes(info: dict | None, participants: str = "all") -> tuple[int, int, dict[str, int]]:
    """(voxels, n_participants, trials per paradigm) of a run from ``Dataset.describe()`` (None: defaults).

    voxels is the largest chosen participant's count (participants run one at a time, so it bounds the peak);
    trials per paradigm is that participant's.
    """
    parts = list((info or {}).get("participants") or [])
    if participants and participants != "all":
        wanted = {p.strip() for p in str(participants).split(",") if p.strip()}
        parts = [p for p in parts if str(p.get("participant")) in wanted] or parts
    if not parts:
        return DEFAULT_VOXELS, 1, {}
    big = max(parts, key=lambda p: int(p.get("voxels") or 0))
    trials = {k: int(v) for k, v in (big.get("trials") or {}).items()}
    return int(big.get("voxels") or DEFAULT_VOXELS), len(parts), trials


def _layers(params: dict) -> tuple[int, int]:
    """(layers per model, number of models) from the ``model`` and ``layer`` parameters."""
    from core.features.registry import MODELS  # a static table: no file reads

    models = [m.strip() for m in str(params.get("model", "")).split(",") if m.strip()] or ["?"]
    if str(params.get("layer", "select")).strip().isdigit():
        return 1, len(models)
    counts = [(MODELS[m].n_layers if m in MODELS and MODELS[m].n_layers else DEFAULT_LAYERS - 1) + 1
              for m in models]  # fmt: skip
    return max(counts), len(models)


def estimate_analysis(name: str, params: dict, info: dict | None = None,
                      model: dict | None = None) -> Estimate | None:
    """Predicted kernel time (all participants) and peak memory of a plugin run, or None when the
    analysis has no cost model (e.g. quartiles).

    Parameters
    ----------
    name : plugin name (``consistency``, ``encoding``, ``rsa``).
    params : the plugin's raw parameter values (as the GUI form gives them).
    info : ``Dataset.describe()`` of the open dataset, or None (a 230k-voxel participant is assumed).

    Feature extraction is not counted (cached features are assumed); consistency counts three kernel runs
    per participant with split halves; encoding one per model, paradigm and pooling, scaled by folds / 5;
    RSA one per model, with the participant's whole-brain voxels as an upper bound of its ROI voxels.
    """
    model = model or load_model()
    if name not in model["analyses"]:
        return None
    voxels, n_part, trials = run_sizes(info, params.get("participants", "all"))
    n_items = int((info or {}).get("n_concepts") or 180)
    if name == "consistency":
        halves = 3 if params.get("split_halves", True) else 1
        sizes = {"voxels": voxels, "items": n_items, "permutations": int(params.get("n_permutations", 1000))}
        return predict(name, sizes, model, repeats=n_part * halves)
    layers, n_models = _layers(params)
    if name == "encoding":
        paradigm = str(params.get("paradigm", "sentences"))
        n_par = (len(trials) or 3) if paradigm == "all" else 1
        items = max(trials.values()) if paradigm == "all" and trials else trials.get(paradigm, n_items)
        targets = voxels if params.get("target", "voxels") == "voxels" else AREA_TARGETS
        poolings = 2 if params.get("pooling") == "select" else 1
        folds = int(params.get("cv_folds", 5)) / 5
        sizes = {"voxels": targets, "items": items, "layers": layers}
        return predict(name, sizes, model, repeats=n_part * n_models * n_par * poolings * folds)
    permuted = params.get("baseline", "permutation") == "permutation"
    perms = int(params.get("n_permutations", 10_000)) if permuted else 1
    sizes = {"voxels": voxels, "items": n_items, "layers": layers, "permutations": perms}
    return predict(name, sizes, model, repeats=n_part * n_models)
