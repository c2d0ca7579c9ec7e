"""Built-in plugin ``encoding``: ridge encoding of voxels, Glasser areas or ROIs from language-model
hidden states (method.md §3.4–3.6). Numbers come from :mod:`core.analyses.encoding.run`; the
whole-brain comparison from :mod:`core.analyses.wholebrain.comparison`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from app.plugins.base import (
    AnalysisPlugin,
    RunResult,
    choose_paradigms,
    choose_participants,
    method_params,
    split_list,
)
from core.errors import ParameterError
from core.progress import check_cancel, sub_progress

# pandas and the analysis modules are imported where used: listing plugins stays light (tests/test_startup.py)
if TYPE_CHECKING:
    import pandas as pd

    from core.analyses.encoding import EncodingRun
    from core.outputs import LayerCurve, VoxelMap

class EncodingPlugin(AnalysisPlugin):
    manifest = "app.plugins.manifests:encoding.toml"

    def run(self, inputs, params, progress, cancel):
        from core.analyses.consistency import consistency_results
        from core.analyses.encoding import encoding_tables, parse_chunk, run_encoding

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
        chunk = parse_chunk(params["target_chunk"])
        target_fn, union = _targets(dataset, pids, params, chunk)
        runs: list[EncodingRun] = []
        jobs = [(m, p) for m in models for p in paradigms]
        for n, (model, paradigm) in enumerate(jobs):
            check_cancel(cancel)
            runs.append(run_encoding(
                dataset, model, paradigm, target_fn, **method_params(params),
                noise_ceiling=params["noise_ceiling"], participants=pids, device=inputs.device,
                progress=sub_progress(progress, n / len(jobs), (n + 1) / len(jobs)), cancel=cancel))
        provenance = {
            "models": {r.model: {"model_id": r.model_id, "revision": r.revision} for r in runs},
            "seed": params["seed"], "items": {f"{r.model}/{r.paradigm}": r.n_items for r in runs},
        }
        scores, summary, curves = encoding_tables(runs)
        outputs = tables_outputs(scores, summary, curves)
        if params["target"] == "voxels":
            outputs += voxel_maps(runs, dataset, union, params["layer_maps"], multi=len(jobs) > 1)
        if chunk is not None:  # curves over all targets and the whole-brain comparison: when merged
            provenance["target_chunk"] = f"{chunk[0]}/{chunk[1]}"
            return RunResult(outputs, provenance)
        outputs += layer_curve_outputs(runs, curves)
        if params["target"] == "areas":
            outputs += wholebrain_outputs(summary, inputs.results_dir, dataset, pids, params)
        return RunResult(outputs, provenance)

    def finish_merge(self, folder, inputs, params):
        """The merged tables of a run split into target chunks or participants (``folder``), in the
        order an unsplit run writes them, and the outputs over all targets: layer curves and, for
        areas, the whole-brain comparison."""
        from core.analyses.encoding import merged_order
        from core.export.readers import read_table

        frames = {name: merged_order(read_table(folder / f"{name}.csv"), name)
                  for name in ("encoding_scores", "encoding_summary", "layer_curves")}
        summary, curves = frames["encoding_summary"], frames["layer_curves"]
        outputs = tables_outputs(frames["encoding_scores"], summary, curves)
        outputs += layer_curve_outputs(_curve_runs(curves), curves)
        if params["target"] == "areas":
            dataset = inputs.open_dataset()
            pids = tuple(dict.fromkeys(summary["participant"].astype(str)))
            outputs += wholebrain_outputs(summary, inputs.results_dir, dataset, pids, params)
        return RunResult(outputs, {"merged": True})


def tables_outputs(scores, summary, curves) -> list:
    from core.outputs import Table

    return [
        Table("encoding_scores", scores, "Pearson r and alpha per participant x target x fold"),
        Table("encoding_summary", summary, "per target: fold-mean r, best layer and pooling"),
        Table("layer_curves", curves, "cross-validated r per layer and pooling"),
    ]


def _curve_runs(curves: pd.DataFrame) -> list:
    """Stand-ins for the runs of a merged layer_curves table (model, paradigm, poolings, layers)."""
    from types import SimpleNamespace

    out = []
    for (model, paradigm), g in curves.groupby(["model", "paradigm"], sort=False):
        out.append(SimpleNamespace(model=model, paradigm=paradigm, layers=np.unique(g["layer"].to_numpy()),
                                   poolings=tuple(dict.fromkeys(g["pooling"]))))
    return out


def _targets(dataset, pids, params, chunk=None):
    from core.analyses.consistency import union_geometry
    from core.analyses.encoding import atlas_targets, chunk_keys, voxel_targets
    from core.atlas.specs import resolve_atlas, resolve_rois

    kind = params["target"]
    if kind == "voxels":
        geoms = [dataset.participant(p).geometry for p in pids]
        union = union_geometry(geoms)
        keep = None if chunk is None else chunk_keys(np.arange(union.n_voxels), chunk)
        return voxel_targets(union, keep), union
    if kind == "rois":
        return atlas_targets(kind, resolve_rois(params["rois"], params["roi_table"] or None), chunk), None
    atlas = resolve_atlas(params["atlas"], params["atlas_table"] or None)
    if atlas is None:
        raise ParameterError("target=areas needs an atlas ('glasser' or a NIfTI path), not 'none'")
    return atlas_targets(kind, atlas, chunk), None


def layer_curve_outputs(runs: list[EncodingRun], curves: pd.DataFrame) -> list[LayerCurve]:
    """One LayerCurve per model x paradigm: target-mean r per layer, one series per pooling (and per
    target when there are at most 8 targets)."""
    from core.analyses.encoding import layer_curve_series
    from core.outputs import LayerCurve

    out = []
    for run in runs:
        found = layer_curve_series(curves, run)
        if found is None:
            continue
        series, errors = found
        out.append(LayerCurve(f"layer_curve_{_slug(run.model)}_{run.paradigm}", run.layers, series,
                              "Pearson r (cross-validated)", errors,
                              f"{run.model} {run.paradigm}: r per layer (mean ± SEM over targets)"))
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def voxel_maps(runs, dataset, union, layer_maps: bool, multi: bool) -> list[VoxelMap]:
    """sub-<ID>_r and sub-<ID>_best_layer per participant (plus per-layer r maps)."""
    from core.analyses.encoding import group_layer_values, mode_per_column
    from core.outputs import VoxelMap

    out = []
    for run in runs:
        tag = f"_{run.paradigm}_{_slug(run.model)}" if multi else ""
        meta = {"model": run.model, "paradigm": run.paradigm}
        for ps in run.participants:
            geom = dataset.participant(ps.participant).geometry
            stem = f"sub-{ps.participant}{tag}"
            full = _full_map(ps.targets.columns, geom.n_voxels)
            out.append(VoxelMap(f"{stem}_r", full(ps.scores.mean_r), geom, "Pearson r",
                                f"cross-validated encoding r ({run.model}, {run.paradigm})", True,
                                {**meta, "participant": ps.participant, "stat": "r"}))
            best = full(mode_per_column(ps.scores.layer).astype(np.float32))
            out.append(VoxelMap(f"{stem}_best_layer", best, geom,
                                "layer", "chosen hidden state per voxel", False,
                                {**meta, "participant": ps.participant, "stat": "best_layer"}))
            if layer_maps and ps.scores.curves is not None and len(run.layers) > 1:
                out += _layer_maps(full(ps.scores.curves), run, geom, stem, ps.participant)
        if layer_maps and run.group_curves is not None and len(run.layers) > 1:
            out += _layer_maps(group_layer_values(run, union.n_voxels), run, union, f"group{tag}", "group")
    return out


def _full_map(columns, n_voxels: int):
    """values (..., T) of a chunk's targets -> (..., n_voxels) with NaN outside the chunk (identity
    when the run has every voxel)."""

    def scatter(values):
        if columns is None:
            return values
        values = np.asarray(values)
        out = np.full(values.shape[:-1] + (n_voxels,), np.nan, np.float32 if values.dtype == np.float32
                      else np.float64)
        out[..., columns] = values
        return out

    return scatter


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

    from core.analyses.wholebrain import area_predictivity, raw_area_c_of_run, results_area_consistency
    from core.outputs import AreaTable

    params = params or {}
    atlas = _wb_atlas(params)
    pred = area_predictivity(summary, value="mean_r")
    out: list = [AreaTable("area_predictivity", pred, "mean ± SEM r per area over participants x models")]
    cons, voxels = None, None
    if results_dir is not None:
        cons, voxels = results_area_consistency(results_dir, dataset.participant(pids[0]).geometry, atlas)
        out += _wb_variant("wholebrain", pred, cons, "consistency", "semantic consistency",
                           "Fig. 3: area consistency (mean probabilistic map) vs mean LM predictivity")
        if "r_normalised" in summary and np.isfinite(summary["r_normalised"]).any():
            nc = area_predictivity(summary, value="r_normalised")
            nc = nc.rename(columns={"mean_r": "mean_r_nc", "sem_r": "sem_r_nc"})
            out += _wb_variant("wholebrain_nc", nc, cons, "consistency", "semantic consistency",
                               "Fig. 9: area consistency vs mean r / noise ceiling", y="mean_r_nc")
    raw, source = raw_area_c_of_run(results_dir, voxels, dataset, pids, atlas=atlas,
                                    areas=set(pred["area"]))
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
        Figure(f"{stem}_scatter", fig, what, data=f"{stem}_areas"),
    ]


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
        Figure("language_network_strip", language_strip(table), "Fig. 13: language network vs ROIs 1-3",
               data="language_network_areas"),
    ]
