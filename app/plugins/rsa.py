"""Built-in plugin ``rsa``: brain vs language-model RDMs per participant and ROI (method.md §5), with a
concept-relabelling permutation test, the paper's single-shuffle baseline, layer selection (the
paper's and leave-one-participant-out) and group Wilcoxon tests. The numbers come from
:mod:`core.analyses.rsa.rdm`, :mod:`core.analyses.rsa.stats` and :mod:`core.analyses.rsa.pipeline`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from app.plugins.base import AnalysisPlugin, Param, choose_participants
from core.errors import ParameterError
from core.names import BASELINES, COMPARISONS, DISTANCES, SCHEMES
from core.progress import check_cancel, sub_progress

# pandas, scipy and the analysis modules are imported where used: listing plugins stays light
# (tests/test_startup.py)
if TYPE_CHECKING:
    import pandas as pd

    from core.outputs import RDM

POOLING_CHOICES = ("mean", "last_tok", "first_tok", "select")


class RSAPlugin(AnalysisPlugin):
    name = "rsa"
    title = "Representational similarity (RSA)"
    description = (
        "Spearman correlation between brain RDMs (per participant and ROI, concept patterns averaged over "
        "all trials of all paradigms) and model RDMs (per layer), with a permutation test over concept "
        "relabelings, group Wilcoxon tests and layer selection (paper: max participant-mean rho; and "
        "leave one participant out)."
    )
    params = (
        Param("model", "str", "minilm", "model key, folder or hub id; several separated by commas"),
        Param("layer", "int", "select", "hidden state (0 = embeddings) or 'select'", bounds=(0, None),
              special=("select",)),
        Param("pooling", "choice", "mean", "token pooling; 'select' chooses the pooling together with the "
              "layer among the paper's candidates for the model (last_tok, mean; FLAVA also first_tok)",
              choices=POOLING_CHOICES),
        Param("condition", "choice", "text", "model inputs: text (sentences + word cloud), text+image "
              "(VLMs: + pictures) or both", choices=("text", "text+image", "both")),
        Param("rois", "str", "paper", "'paper' (ROIs 1-3 from the Glasser atlas) or a NIfTI label map"),
        Param("roi_table", "str", "", "TSV (label, name) for a NIfTI ROI map (default: beside it)"),
        Param("sig_voxels_only", "bool", False, "keep only voxels significant in both halves (needs "
              "--results with consistency_voxels.csv)"),
        Param("distance", "choice", "correlation", "RDM distance", choices=DISTANCES),
        Param("comparison", "choice", "spearman", "RDM comparison; kendall_tau_a's null loops over "
              "permutations (about 10 ms each per ROI x layer): use fewer permutations", choices=COMPARISONS),
        Param("baseline", "choice", "permutation", "permutation distribution, or the paper's single "
              "shuffle of the brain rows", choices=BASELINES),
        Param("n_permutations", "int", 10_000, "concept relabelings in the null", bounds=(1, 1_000_000)),
        Param("permutation_scheme", "choice", "independent", "independent: N separate uniform draws (the "
              "exact permutation test); product: all compositions of two seeded sets of ~sqrt(N) "
              "permutations, pairwise but not mutually independent, so the p-value is not exact (kept for "
              "comparison with earlier runs)", choices=SCHEMES),
        Param("seed", "int", 0, "seed of the permutations and of the single shuffle", bounds=(0, None)),
        Param("participants", "str", "all", "'all' or a comma-separated list"),
    )
    outputs = ("Table", "RDM", "Figure")

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
        inputs.provenance.update({
            "models": provenance, "seed": params["seed"], "rois": params["rois"],
            "n_permutations": result.n_permutations, "permutation_scheme": result.scheme,
            "concepts_dropped": {k: v for k, v in dropped.items() if v},
        })
        scores = public_scores(result.scores)
        outputs = [
            Table("rsa_scores", scores, "rho and permutation p per participant x ROI x model x layer"),
            Table("rsa_group", result.group, "group tests per ROI x model x condition x layer selection"),
        ]
        outputs += _brain_rdm_outputs(participants)
        outputs += _model_rdm_outputs(result.scores, model_sets, events, dataset.concepts, params)
        outputs.append(Figure("rsa_bars", _figure(scores, result.group, params),
                              "RSA per ROI and model (layout of the paper's Fig. 5)"))
        return outputs



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
    import pandas as pd

    from core.analyses.rsa import concept_vectors, rdms, seen_stimuli, square
    from core.outputs import RDM

    union = {}
    for ev in events:
        for paradigm, frame in ev.items():
            union.setdefault(paradigm, []).append(frame[["concept", "stimulus_idx"]])
    union = {p: pd.concat(f, ignore_index=True).drop_duplicates() for p, f in union.items()}
    flag = "selected_paper" if params["layer"] == "select" else None
    multi_cond = scores["condition"].nunique() > 1
    multi_pool = scores["pooling"].nunique() > 1
    out = []
    for (model, condition, pooling), feats in model_sets.items():
        rows = scores[(scores["model"] == model) & (scores["condition"] == condition)
                      & (scores["pooling"] == pooling)]
        layers = sorted(set(rows.loc[rows[flag], "layer"] if flag else rows["layer"]))
        if not layers:
            continue
        keys, hidden = seen_stimuli(feats, union)
        vectors = concept_vectors(keys, hidden, tuple(concepts))
        ok = ~np.isnan(vectors).reshape(len(concepts), -1).any(axis=1)
        stack = rdms(vectors[ok][:, layers].transpose(1, 0, 2), params["distance"])
        labels = [c for c, k in zip(concepts, ok, strict=True) if k]
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
