"""Built-in plugin ``encoding``: ridge encoding of voxels, Glasser areas or ROIs from language-model
hidden states (method.md §3.4–3.6). Numbers come from :mod:`core.analyses.encoding.run`; the
whole-brain comparison from :mod:`core.analyses.wholebrain.comparison`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from app.plugins.base import AnalysisPlugin, Param, choose_participants, split_list
from core.analyses.encoding import CV_GROUPS
from core.errors import DataError, ParameterError
from core.names import PARADIGMS, SELECTIONS
from core.progress import check_cancel, sub_progress

# pandas and the analysis modules are imported where used: listing plugins stays light (tests/test_startup.py)
if TYPE_CHECKING:
    import pandas as pd

    from core.analyses.encoding import EncodingRun
    from core.outputs import LayerCurve, VoxelMap

POOLINGS = ("mean", "last_tok", "first_tok", "select")



def choose_paradigms(choice: str, available: tuple[str, ...]) -> list[str]:
    wanted = list(available) if choice == "all" else [choice]
    missing = [p for p in wanted if p not in available]
    if missing:
        raise ParameterError(f"paradigm {missing[0]!r} is not in this dataset ({', '.join(available)})")
    return wanted


ENCODING_PARAMS = (
    Param("model", "str", "minilm", "model key, folder or hub id; several separated by commas"),
    Param("paradigm", "choice", "sentences", "stimulus paradigm ('all': each in turn)",
          choices=(*PARADIGMS, "all")),
    Param("layer", "int", "select", "hidden state (0 = embeddings) or 'select'", bounds=(0, None),
          special=("select",)),
    Param("pooling", "choice", "mean", "token pooling; 'select' chooses last_tok/mean with the layer",
          choices=POOLINGS),
    Param("selection", "choice", "paper", "layer/pooling selection: paper (participant-averaged data, "
          "not nested) or nested (inside each training fold)", choices=SELECTIONS),
    Param("cv_folds", "int", 5, "cross-validation folds", bounds=(2, 50)),
    Param("cv_groups", "choice", "stimulus", "fold unit: stimulus (the paper; concepts leak across "
          "folds) or concept (all stimuli of a concept in one fold)", choices=CV_GROUPS),
    Param("seed", "int", 0, "seed of the fold shuffling (0 = the paper's folds)", bounds=(0, None)),
    Param("noise_ceiling", "bool", False, "NSD-style noise ceiling per target and r / ceiling"),
    Param("participants", "str", "all", "'all' or a comma-separated list"),
)


class EncodingPlugin(AnalysisPlugin):
    name = "encoding"
    title = "Brain encoding (ridge)"
    description = (
        "Predict brain responses (voxels, Glasser areas or ROIs) from language-model hidden states: "
        "per-target ridge with exact leave-one-out alpha selection (60 alphas, 1e-30 ... 1e29), k-fold "
        "cross-validated Pearson r, layer and pooling selection (the paper's or nested), optional noise "
        "ceiling, and the whole-brain consistency vs predictivity comparison for areas."
    )
    params = (
        *ENCODING_PARAMS[:2],
        Param("target", "choice", "voxels", "what to predict", choices=("voxels", "areas", "rois")),
        *ENCODING_PARAMS[2:],
        Param("layer_maps", "bool", True, "voxel targets: also write r maps per layer (layer scrubber)"),
        Param("rois", "str", "paper", "target=rois: 'paper' (the published ROI map), 'glasser-surface' or a "
              "label NIfTI path"),
        Param("roi_table", "str", "", "label table (TSV: label, name) for a NIfTI ROI map (default: beside "
              "it)"),
        Param("atlas", "str", "glasser", "target=areas: 'glasser' or a volumetric parcellation NIfTI path"),
        Param("atlas_table", "str", "", "label table (TSV: label, name[, hemisphere]) for a NIfTI atlas"),
        Param("parcels", "str", "", "target=areas: a language-parcel NIfTI (e.g. LanA) for the Fig. 13 "
              "comparison; empty = skip"),
    )
    outputs = ("Table", "AreaTable", "LayerCurve", "VoxelMap", "Figure")

    def run(self, inputs, params, progress, cancel):
        from core.analyses.consistency import consistency_results
        from core.analyses.encoding import run_encoding
        from core.outputs import Table

        dataset = inputs.open_dataset()
        pids = choose_participants(params["participants"], dataset.participants)
        paradigms = choose_paradigms(params["paradigm"], dataset.paradigms)
        models = split_list(params["model"], "model")
        if params["target"] == "areas" and inputs.results_dir is not None:
            # a wrong --results fails before the ridge work
            consistency_results(inputs.results_dir, "the whole-brain comparison")
        if params["target"] == "areas" and params["parcels"].strip():
            from core.atlas.specs import resolve_parcels

            resolve_parcels(params["parcels"])  # a wrong parcels= path fails before the ridge work too
        target_fn, union = _targets(dataset, pids, params)
        runs: list[EncodingRun] = []
        jobs = [(m, p) for m in models for p in paradigms]
        for n, (model, paradigm) in enumerate(jobs):
            check_cancel(cancel)
            runs.append(run_encoding(
                dataset, model, paradigm, target_fn, params["layer"], params["pooling"], params["selection"],
                params["cv_folds"], params["cv_groups"], params["seed"], params["noise_ceiling"], pids,
                inputs.device, sub_progress(progress, n / len(jobs), (n + 1) / len(jobs)), cancel))
        inputs.provenance.update({
            "models": {r.model: {"model_id": r.model_id, "revision": r.revision} for r in runs},
            "seed": params["seed"], "items": {f"{r.model}/{r.paradigm}": r.n_items for r in runs},
        })
        scores, summary, curves = encoding_tables(runs)
        outputs = [
            Table("encoding_scores", scores, "Pearson r and alpha per participant x target x fold"),
            Table("encoding_summary", summary, "per target: fold-mean r, best layer and pooling"),
            Table("layer_curves", curves, "cross-validated r per layer and pooling"),
        ]
        outputs += layer_curve_outputs(runs, curves)
        if params["target"] == "voxels":
            outputs += voxel_maps(runs, dataset, union, params["layer_maps"], multi=len(jobs) > 1)
        if params["target"] == "areas":
            outputs += wholebrain_outputs(summary, inputs.results_dir, dataset, pids, params)
        return outputs


def _targets(dataset, pids, params):
    from core.analyses.consistency import union_geometry
    from core.analyses.encoding import atlas_targets, voxel_targets
    from core.atlas.specs import resolve_atlas, resolve_rois

    kind = params["target"]
    if kind == "voxels":
        geoms = [dataset.participant(p).geometry for p in pids]
        union = union_geometry(geoms)
        return voxel_targets(union), union
    if kind == "rois":
        return atlas_targets(kind, resolve_rois(params["rois"], params["roi_table"] or None)), None
    atlas = resolve_atlas(params["atlas"], params["atlas_table"] or None)
    if atlas is None:
        raise ParameterError("target=areas needs an atlas ('glasser' or a NIfTI path), not 'none'")
    return atlas_targets(kind, atlas), None


def encoding_tables(runs: list[EncodingRun]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """encoding_scores (per fold), encoding_summary (per target) and layer_curves frames."""
    import pandas as pd

    from core.stats.noise_ceiling import ceiling_normalise

    score_frames, summary_frames, curve_frames = [], [], []
    for run in runs:
        nc = None
        if run.noise_ceiling is not None:
            nc = pd.Series(run.noise_ceiling.nc, index=run.group_keys)
        for ps in run.participants:
            s, tg = ps.scores, ps.targets
            F, T = s.r.shape
            score_frames.append(pd.DataFrame({
                "participant": ps.participant, "paradigm": run.paradigm,
                "target": np.tile(tg.names, F), "target_kind": tg.kind, "model": run.model,
                "layer": s.layer.reshape(-1), "pooling": np.asarray(run.poolings)[s.pooling.reshape(-1)],
                "fold": np.repeat(np.arange(F), T), "r": s.r.reshape(-1), "alpha": s.alpha.reshape(-1),
            }))
            best_layer, best_pool = _mode(s.layer), _mode(s.pooling)
            summary = pd.DataFrame({
                "participant": ps.participant, "paradigm": run.paradigm, "target": tg.names,
                "target_kind": tg.kind, "key": tg.keys, "model": run.model, "mean_r": s.mean_r,
                "best_layer": best_layer, "best_pooling": np.asarray(run.poolings)[best_pool],
                "n_folds": np.isfinite(s.r).sum(axis=0),
            })
            if nc is not None:
                summary["noise_ceiling"] = nc.reindex(tg.keys).to_numpy()
                summary["r_normalised"] = ceiling_normalise(summary["mean_r"], summary["noise_ceiling"])
            summary_frames.append(summary)
            if s.curves is not None:
                curve_frames.append(_curve_frame(s.curves, run, ps.participant, tg.names))
        if run.group_curves is not None:
            names = _group_names(run)
            curve_frames.append(_curve_frame(run.group_curves.curves(), run, "group", names))
    curves = pd.concat(curve_frames, ignore_index=True) if curve_frames else pd.DataFrame(
        columns=["participant", "paradigm", "model", "target", "pooling", "layer", "r"])
    return pd.concat(score_frames, ignore_index=True), pd.concat(summary_frames, ignore_index=True), curves


def _group_names(run: EncodingRun) -> np.ndarray:
    lookup = {}
    for ps in run.participants:
        lookup.update(zip(ps.targets.keys.tolist(), ps.targets.names.tolist(), strict=True))
    return np.array([lookup.get(int(k), str(k)) for k in run.group_keys])


def _curve_frame(curves: np.ndarray, run: EncodingRun, participant: str, names: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    P, L, T = curves.shape
    return pd.DataFrame({
        "participant": participant, "paradigm": run.paradigm, "model": run.model,
        "target": np.tile(names, P * L), "pooling": np.repeat(np.asarray(run.poolings), L * T),
        "layer": np.tile(np.repeat(run.layers, T), P), "r": curves.reshape(-1),
    })


def _mode(values: np.ndarray) -> np.ndarray:
    """Most frequent value per column of (F, T) int (smallest on ties)."""
    values = np.asarray(values)
    lo = values.min()
    counts = np.apply_along_axis(np.bincount, 0, values - lo, minlength=values.max() - lo + 1)
    return np.argmax(counts, axis=0) + lo


def layer_curve_outputs(runs: list[EncodingRun], curves: pd.DataFrame) -> list[LayerCurve]:
    """One LayerCurve per model x paradigm: target-mean r per layer, one series per pooling (and per
    target when there are at most 8 targets)."""
    from core.outputs import LayerCurve

    out = []
    for run in runs:
        sub = curves[(curves["model"] == run.model) & (curves["paradigm"] == run.paradigm)]
        if sub.empty or len(run.layers) < 2:
            continue
        series, errors = {}, {}
        few = sub["target"].nunique() <= 8
        keys = ["pooling", "target"] if few else ["pooling"]
        for key, g in sub.groupby(keys):
            key = key if isinstance(key, tuple) else (key,)
            per_layer = g.groupby("layer")["r"]
            label = " ".join(map(str, key))
            series[label] = per_layer.mean().reindex(run.layers).to_numpy()
            errors[label] = per_layer.sem().reindex(run.layers).to_numpy()
        out.append(LayerCurve(f"layer_curve_{_slug(run.model)}_{run.paradigm}", run.layers, series,
                              "Pearson r (cross-validated)", errors,
                              f"{run.model} {run.paradigm}: r per layer (mean ± SEM over targets)"))
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def voxel_maps(runs, dataset, union, layer_maps: bool, multi: bool) -> list[VoxelMap]:
    """sub-<ID>_r and sub-<ID>_best_layer per participant (plus per-layer r maps)."""
    from core.outputs import VoxelMap

    out = []
    for run in runs:
        tag = f"_{run.paradigm}_{_slug(run.model)}" if multi else ""
        meta = {"model": run.model, "paradigm": run.paradigm}
        for ps in run.participants:
            geom = dataset.participant(ps.participant).geometry
            stem = f"sub-{ps.participant}{tag}"
            out.append(VoxelMap(f"{stem}_r", ps.scores.mean_r, geom, "Pearson r",
                                f"cross-validated encoding r ({run.model}, {run.paradigm})", True,
                                {**meta, "participant": ps.participant, "stat": "r"}))
            out.append(VoxelMap(f"{stem}_best_layer", _mode(ps.scores.layer).astype(np.float32), geom,
                                "layer", "chosen hidden state per voxel", False,
                                {**meta, "participant": ps.participant, "stat": "best_layer"}))
            if layer_maps and ps.scores.curves is not None and len(run.layers) > 1:
                out += _layer_maps(ps.scores.curves, run, geom, stem, ps.participant)
        if layer_maps and run.group_curves is not None and len(run.layers) > 1:
            values = np.full((len(run.poolings), len(run.layers), union.n_voxels), np.nan)
            values[:, :, run.group_keys] = run.group_curves.curves()
            out += _layer_maps(values, run, union, f"group{tag}", "group")
    return out


def _layer_maps(curves, run, geometry, stem, participant) -> list[VoxelMap]:
    from core.outputs import VoxelMap

    out = []
    for pi, pooling in enumerate(run.poolings):
        for li, layer in enumerate(run.layers):
            suffix = f"_{pooling}" if len(run.poolings) > 1 else ""
            out.append(VoxelMap(f"{stem}_r_layer{int(layer):02d}{suffix}", curves[pi, li], geometry,
                                "Pearson r", f"r at layer {int(layer)} ({pooling})", True,
                                {"model": run.model, "paradigm": run.paradigm, "layer": int(layer),
                                 "pooling": pooling, "participant": participant, "stat": "r"}))
    return out


def wholebrain_outputs(
    summary: pd.DataFrame, results_dir, dataset, pids, params: dict | None = None
) -> list:
    """Whole-brain area outputs: area predictivity; with ``--results`` (a consistency run) the paper's Fig. 3
    (area consistency = mean probabilistic map over all atlas voxels of the area) and its ceiling-
    normalised Fig. 9 variant (when noise_ceiling=true); the raw-area-C Fig. 9 variant (from the
    consistency run's consistency_areas.csv when it covers these areas and participants, else computed);
    and with ``parcels=PATH`` the language-network comparison of Fig. 13."""

    from core.analyses.consistency import read_consistency_voxels
    from core.analyses.wholebrain import (
        area_predictivity,
        paper_area_consistency,
        probabilistic_voxels,
    )
    from core.outputs import AreaTable

    params = params or {}
    atlas = _wb_atlas(params)
    pred = area_predictivity(summary, value="mean_r")
    out: list = [AreaTable("area_predictivity", pred, "mean ± SEM r per area over participants x models")]
    cons, voxels = None, None
    if results_dir is not None:
        path, voxels = read_consistency_voxels(results_dir, "the whole-brain comparison")
        if not {"participant", "i", "j", "k", "x", "y", "z"} <= set(voxels.columns):
            raise DataError(path, "needs columns participant, i, j, k, x, y, z")
        grid = dataset.participant(pids[0]).geometry
        cons = paper_area_consistency(probabilistic_voxels(voxels), grid, atlas)
        out += _wb_variant("wholebrain", pred, cons, "consistency", "semantic consistency",
                           "Fig. 3: area consistency (mean probabilistic map) vs mean LM predictivity")
        if "r_normalised" in summary and np.isfinite(summary["r_normalised"]).any():
            nc = area_predictivity(summary, value="r_normalised")
            nc = nc.rename(columns={"mean_r": "mean_r_nc", "sem_r": "sem_r_nc"})
            out += _wb_variant("wholebrain_nc", nc, cons, "consistency", "semantic consistency",
                               "Fig. 9: area consistency vs mean r / noise ceiling", y="mean_r_nc")
    raw, source = _wb_raw_c(results_dir, voxels, dataset, pids, atlas, pred)
    if raw is not None:
        out += _wb_variant("wholebrain_raw_c", pred, raw, "C_area", "raw area C",
                           f"Fig. 9: raw C of area-averaged responses ({source}) vs mean LM predictivity")
    parcels = str(params.get("parcels", "") or "").strip()
    if parcels and parcels.lower() != "none":
        out += _wb_language(pred, atlas, parcels, cons)
    return out


def _wb_atlas(params: dict):
    """The area atlas of the encoding targets (``atlas`` / ``atlas_table``; default Glasser MNI)."""
    from core.atlas.specs import resolve_atlas

    atlas = resolve_atlas(params.get("atlas", "glasser") or "glasser", params.get("atlas_table") or None)
    if atlas is None:
        raise ParameterError("the whole-brain comparison needs an area atlas, not 'none'")
    return atlas


def _wb_variant(stem: str, pred: pd.DataFrame, cons: pd.DataFrame, x: str, xlabel: str, what: str,
                y: str = "mean_r") -> list:
    """Areas table, correlation table and scatter (Fig. 3 layout) of one whole-brain variant."""
    from core.analyses.wholebrain import wholebrain_correlation, wholebrain_table
    from core.figures.encoding_figures import wholebrain_scatter
    from core.outputs import AreaTable, Figure, Table

    joined = wholebrain_table(pred, cons)
    corr = wholebrain_correlation(joined, x=x, y=y)
    ylabel = "mean r / noise ceiling" if y == "mean_r_nc" else "mean LM predictivity (Pearson r)"
    fig = wholebrain_scatter(joined, corr, x=x, y=y, yerr=y.replace("mean", "sem"), xlabel=xlabel,
                             ylabel=ylabel)
    return [
        AreaTable(f"{stem}_areas", joined, what),
        Table(f"{stem}_correlation", corr, f"Pearson r across areas per paradigm ({x} vs {y})"),
        Figure(f"{stem}_scatter", fig, what),
    ]


def _wb_raw_c(results_dir, voxels, dataset, pids, atlas, pred) -> tuple[pd.DataFrame | None, str]:
    """Raw area C: the consistency run's ``consistency_areas.csv`` (C_area, the same quantity) when it
    was made on these participants and covers these areas; else computed from the dataset (needs at
    least two paradigms)."""
    from pathlib import Path

    import pandas as pd

    from core.analyses.wholebrain import raw_area_c

    if results_dir is not None and voxels is not None:
        path = Path(results_dir) / "consistency_areas.csv"
        if path.is_file():
            table = pd.read_csv(path)
            if {"area", "C_area"} <= set(table.columns) and np.isfinite(table["C_area"]).any():
                same = set(voxels["participant"].astype(str)) == {str(p) for p in pids}
                if same and set(pred["area"]) <= set(table["area"].astype(str)):
                    return table[["area", "C_area"]].assign(area=table["area"].astype(str)), path.name
    if len(dataset.paradigms) < 2:
        return None, ""
    return raw_area_c(dataset, pids, atlas)[["area", "C_area"]], "computed from the responses"


def _wb_language(pred: pd.DataFrame, atlas, parcels_path: str, cons) -> list:
    """Fig. 13: areas assigned to language parcels (> 25% overlap) vs the areas of ROIs 1-3."""
    from core.analyses.wholebrain import (
        assign_areas,
        language_network_summary,
        language_network_table,
    )
    from core.atlas.specs import resolve_parcels
    from core.figures.wholebrain_figures import language_strip
    from core.outputs import AreaTable, Figure, Table

    parcels = resolve_parcels(parcels_path)
    assignment = assign_areas(atlas, parcels)
    table = language_network_table(pred, assignment, parcels.names(),
                                   consistency=None if cons is None else cons[["area", "consistency"]])
    return [
        AreaTable("language_network_assignment", assignment,
                  "atlas areas assigned to language parcels (more than 25% of the area's voxels)"),
        AreaTable("language_network_areas", table,
                  "mean LM predictivity of the areas in each language parcel and in ROIs 1-3 (Fig. 13)"),
        Table("language_network_summary", language_network_summary(table),
              "mean ± SEM over areas per language parcel / ROI and per group"),
        Figure("language_network_strip", language_strip(table), "Fig. 13: language network vs ROIs 1-3"),
    ]
