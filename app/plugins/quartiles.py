"""Built-in plugin ``quartiles``: decoupling semantic consistency from language response inside the
ROIs (method.md §4, Figs. 4 and 12). Numbers come from :mod:`core.analyses.quartiles.cells` and
:mod:`core.analyses.encoding.run`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from app.plugins.base import AnalysisPlugin, Param, choose_participants, split_list
from app.plugins.encoding import ENCODING_PARAMS, choose_paradigms
from core.errors import DataError
from core.progress import check_cancel, sub_progress

# pandas and the analysis modules are imported where used: listing plugins stays light (tests/test_startup.py)
if TYPE_CHECKING:
    import pandas as pd


class QuartilesPlugin(AnalysisPlugin):
    name = "quartiles"
    title = "Consistency vs language quartiles"
    description = (
        "Within each participant and ROI, bin voxels into quartiles of semantic consistency (C, all "
        "stimuli) and of language response (S-N localizer), predict each of the 4 x 4 cells' mean "
        "response with ridge encoding, and test how predictivity follows consistency with language held "
        "fixed (r_C) and language with consistency held fixed (r_L)."
    )
    params = (
        *ENCODING_PARAMS[:2],
        Param("rois", "str", "paper", "'paper' (the published ROI map), 'glasser-surface' or a NIfTI label "
              "map"),
        Param("roi_table", "str", "", "label table (TSV: label, name) for a NIfTI ROI map (default: beside "
              "it)"),
        *ENCODING_PARAMS[2:],
    )
    outputs = ("Table", "Figure")

    def run(self, inputs, params, progress, cancel):
        import pandas as pd

        from core.analyses.quartiles import cell_means, quartile_encoding, quartile_stats
        from core.analyses.rsa import load_rois
        from core.figures.encoding_figures import quartile_heatmaps, quartile_lines
        from core.outputs import Figure, Table

        dataset = inputs.open_dataset()
        pids = choose_participants(params["participants"], dataset.participants)
        paradigms = choose_paradigms(params["paradigm"], dataset.paradigms)
        models = split_list(params["model"], "model")
        volume = load_rois(params["rois"], params["roi_table"] or None)
        progress(0.0, "consistency and language quartiles")
        cells, labels, rois = {}, {}, {}
        for pid in pids:
            check_cancel(cancel)
            data = dataset.participant(pid)
            rois[pid] = volume.sample(data.geometry)
            labels[pid], cells[pid] = participant_cells(data, rois[pid])
            data.release()
        frames, choices, jobs = [], [], [(m, p) for m in models for p in paradigms]
        provenance = {}
        for n, (model, paradigm) in enumerate(jobs):
            step = sub_progress(progress, 0.05 + 0.9 * n / len(jobs), 0.05 + 0.9 * (n + 1) / len(jobs))
            run, roi_run = quartile_encoding(
                dataset, model, paradigm, lambda data: rois[data.id], lambda data: labels[data.id],
                params["layer"], params["pooling"], params["selection"], params["cv_folds"],
                params["cv_groups"], params["seed"], pids, inputs.device, step, cancel)
            provenance[model] = {"model_id": run.model_id, "revision": run.revision}
            if roi_run is not None:
                ch = roi_run.choice
                names = volume.name_of()
                choices.append(pd.DataFrame({
                    "model": model, "paradigm": paradigm, "roi": ch.keys,
                    "roi_name": [names.get(int(k), str(k)) for k in ch.keys],
                    "best_layer": ch.layer, "best_pooling": np.asarray(roi_run.poolings)[ch.pooling]}))
            for ps in run.participants:
                table = cells[ps.participant]
                r = pd.Series(ps.scores.mean_r, index=ps.targets.keys)
                frames.append(table.assign(participant=ps.participant, paradigm=paradigm, model=model,
                                           r=r.reindex(table["label"]).to_numpy()))
        inputs.provenance.update({"models": provenance, "seed": params["seed"], "rois": params["rois"]})
        per_model = pd.concat(frames, ignore_index=True)
        keys = ["participant", "paradigm", "roi", "b_C", "b_L", "n_voxels"]
        averaged = per_model.groupby(keys, as_index=False)["r"].mean()  # over models (folds already)
        stats = quartile_stats(averaged)
        means = cell_means(averaged)
        columns = ["participant", "paradigm", "roi", "b_C", "b_L", "n_voxels", "r"]
        return [
            Table("quartile_cells", averaged[columns], "predictivity per participant x ROI x quartile cell"),
            Table("quartile_cells_per_model", per_model[["model", *columns]], "the same per model"),
            Table("quartile_choice", pd.concat(choices, ignore_index=True) if choices else pd.DataFrame(
                columns=["model", "paradigm", "roi", "roi_name", "best_layer", "best_pooling"]),
                "the (layer, pooling) chosen per ROI on participant-pooled data, reused for its 16 cells"),
            Table("quartile_stats", stats[["roi", "paradigm", "r_C_mean", "r_C_sem", "r_L_mean", "r_L_sem",
                                           "n_participants"]], "r_C and r_L (mean ± SEM over quartiles)"),
            Figure("quartile_lines", quartile_lines(means), "Fig. 4: predictivity by quartile"),
            Figure("quartile_heatmaps", quartile_heatmaps(means), "Fig. 12: 4 x 4 predictivity"),
        ]


def participant_cells(data, roi: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Quartile cells of one participant: label per voxel (0 = none) and the cell table.

    Consistency = C(v) on all stimuli (method.md §4 step 1), computed on the ROI voxels; language = the
    participant's localizer map.
    """
    from core.analyses.consistency import consistency
    from core.analyses.quartiles import cell_labels, quartile_cells
    from core.data.concepts import load_concepts

    if data.language is None:
        raise DataError(data.id, "no language localizer map (langloc.nii.gz); the quartiles need it")
    vox = np.flatnonzero(roi != 0)
    if vox.size == 0:
        raise DataError(data.id, "no voxel of this participant falls in the ROIs")
    means = np.stack([data.concept_means(p, voxels=vox) for p in data.paradigms])
    c = np.full(data.n_voxels, np.nan)
    c[vox] = consistency(means)
    table = quartile_cells(c, data.language, roi)
    if table.empty:
        missing = [p for p in data.paradigms if data.events[p]["concept"].nunique() < len(load_concepts())]
        why = (f"concepts without trials in {', '.join(missing)} (C needs all 180)" if missing
               else "no ROI voxel has both a consistency value and a language response")
        raise DataError(data.id, f"no voxel for the quartiles: {why}")
    labels, cells = cell_labels(table, data.n_voxels)
    return labels, cells
