"""Built-in plugin ``rsa``: brain vs language-model RDMs per participant and ROI (method.md §5), with a
concept-relabelling permutation test, the paper's single-shuffle baseline, layer selection (the
paper's and leave-one-participant-out) and group Wilcoxon tests. The numbers come from
:mod:`core.analyses.rsa.rdm`, :mod:`core.analyses.rsa.stats` and :mod:`core.analyses.rsa.pipeline`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.plugins.base import AnalysisPlugin, RunResult, choose_participants
from core.errors import ParameterError
from core.progress import check_cancel, sub_progress

# pandas, scipy and the analysis modules are imported where used: listing plugins stays light
# (tests/test_startup.py)
if TYPE_CHECKING:
    import pandas as pd

    from core.outputs import RDM

POOLING_CHOICES = ("mean", "last_tok", "first_tok", "select")


class RSAPlugin(AnalysisPlugin):
    manifest = "app.plugins.manifests:rsa.toml"

    def run(self, inputs, params, progress, cancel):
        from core.analyses.consistency import consistency_results
        from core.analyses.rsa import (
            ROISet,
            load_rois,
            participant_rdms,
            public_scores,
            run_rsa,
            significant_voxels,
        )
        from core.outputs import Figure, Table

        dataset = inputs.open_dataset()
        pids = choose_participants(params["participants"], dataset.participants)
        models = [m.strip() for m in str(params["model"]).split(",") if m.strip()]
        if not models:
            raise ParameterError("model: give at least one model")
        volume = load_rois(params["rois"], params["roi_table"] or None)
        rois = ROISet.from_volume(volume)
        if params["sig_voxels_only"]:
            consistency_results(inputs.results_dir, "sig_voxels_only")  # fail before the model runs

        progress(0.0, "model features")
        model_sets, provenance = _features(dataset, models, params["condition"], params["pooling"],
                                           inputs.device, sub_progress(progress, 0.0, 0.5), cancel)
        participants, events, dropped = [], [], {}
        for n, pid in enumerate(pids):
            check_cancel(cancel)
            progress(0.5 + 0.2 * n / len(pids), f"RDMs of {pid}")
            data = dataset.participant(pid)
            try:
                mask = significant_voxels(inputs.results_dir, pid, data.geometry) \
                    if params["sig_voxels_only"] else None
                labels = volume.sample(data.geometry)
                part, extra = participant_rdms(data, tuple(dataset.concepts), labels, rois, model_sets,
                                               params["distance"], mask)
                events.append(data.events)
            finally:
                data.release()
            participants.append(part)
            dropped[pid] = extra["concepts_dropped"]
        result = run_rsa(participants, params["comparison"], params["layer"], params["baseline"],
                         params["n_permutations"], params["seed"], params["permutation_scheme"],
                         sub_progress(progress, 0.7, 0.95), cancel, device=inputs.device)
        record = {
            "models": provenance, "seed": params["seed"], "rois": params["rois"],
            "n_permutations": result.n_permutations, "permutation_scheme": result.scheme,
            "concepts_dropped": {k: v for k, v in dropped.items() if v},
        }
        scores = public_scores(result.scores)
        outputs = [
            Table("rsa_scores", scores, "rho and permutation p per participant x ROI x model x layer"),
            Table("rsa_group", result.group, "group tests per ROI x model x condition x layer selection"),
        ]
        outputs += _brain_rdm_outputs(participants)
        outputs += _model_rdm_outputs(result.scores, model_sets, events, dataset.concepts, params)
        outputs.append(Figure("rsa_bars", _figure(scores, result.group, params),
                              "RSA per ROI and model (layout of the paper's Fig. 5)", data="rsa_scores"))
        return RunResult(outputs, record)



def model_features(*args, **kwargs):
    """:func:`core.analyses.rsa.inputs.model_features`, imported on the first call (tests replace it here)."""
    from core.analyses.rsa import model_features as features

    return features(*args, **kwargs)


def _features(dataset, models, condition, pooling, device, progress, cancel):
    """Features of every model x condition x pooling; ``pooling=select`` takes the model's own candidates
    (``ModelSpec.select_poolings``, the paper's per family)."""
    from core.features.registry import resolve_model

    jobs = []
    for model in models:
        spec = resolve_model(model)
        poolings = tuple(spec.select_poolings) if pooling == "select" else (pooling,)
        conds = ("text", "text+image") if condition == "both" else (condition,)
        if condition == "both" and not spec.is_vlm:
            conds = ("text",)
        jobs += [(model, c, p) for c in conds for p in poolings]
    sets, provenance = {}, {}
    for n, key in enumerate(jobs):
        check_cancel(cancel)
        step = sub_progress(progress, n / len(jobs), (n + 1) / len(jobs))
        feats = model_features(dataset, *key, device, step, cancel)
        sets[key] = feats
        first = next(iter(feats.values()))
        provenance[key[0]] = {"model_id": first.model_id, "revision": first.revision}
    return sets, provenance


def _model_label(model: str) -> str:
    """A short file-name label: a folder's or hub id's last part (``Qwen/Qwen2.5-3B`` -> ``Qwen2.5-3B``)."""
    return _safe(str(model).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1])


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "", str(text).replace("+", "")) or "x"


def _brain_rdm_outputs(participants) -> list[RDM]:
    from core.analyses.rsa import square
    from core.outputs import RDM

    out = []
    for part in participants:
        for roi, condensed in part.brain.items():
            out.append(RDM(f"rdm_brain_sub-{_safe(part.participant)}_{_safe(roi)}", square(condensed),
                           list(part.concepts), f"brain RDM of {part.participant}, {roi}",
                           {"participant": part.participant, "roi": roi, "n_voxels": part.n_voxels[roi]}))
    return out


def _model_rdm_outputs(scores: pd.DataFrame, model_sets, events, concepts, params) -> list[RDM]:
    """Model RDMs of the selected (or fixed) layers, from every stimulus any participant saw."""
    from core.analyses.rsa import model_layer_rdms, reported_layers, square, union_events
    from core.outputs import RDM

    union = union_events(events)
    multi_cond = scores["condition"].nunique() > 1
    multi_pool = scores["pooling"].nunique() > 1
    out = []
    for (model, condition, pooling), feats in model_sets.items():
        layers = reported_layers(scores, model, condition, pooling, params["layer"] == "select")
        if not layers:
            continue
        labels, stack = model_layer_rdms(feats, union, tuple(concepts), layers, params["distance"])
        for layer, condensed in zip(layers, stack, strict=True):
            name = f"rdm_model_{_model_label(model)}" + (f"_{_safe(condition)}" if multi_cond else "") \
                + (f"_{pooling}" if multi_pool else "") + f"_L{int(layer)}"
            what = f"{model} layer {layer} ({pooling} pooling, {condition}); stimuli seen by any participant"
            out.append(RDM(name, square(condensed), labels, what,
                           {"model": model, "layer": int(layer), "pooling": pooling, "condition": condition}))
    return out


def _figure(scores, group, params):
    from core.figures.rsa_figure import rsa_bar_figure

    selection = "paper" if params["layer"] == "select" else group["selection"].iloc[0]
    ylabel = {"spearman": "Correlation (Spearman)", "pearson": "Correlation (Pearson)",
              "kendall_tau_a": "Kendall tau-a"}[params["comparison"]]
    return rsa_bar_figure(scores, group, selection, params["baseline"], ylabel)
