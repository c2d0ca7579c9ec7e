"""Built-in plugin ``quartiles``: decoupling semantic consistency from language response inside the
ROIs (method.md §4, Figs. 4 and 12). Numbers come from :mod:`core.analyses.quartiles.cells` and
:mod:`core.analyses.quartiles.encoding` (cells, encoding and the tables)."""

from __future__ import annotations

from app.plugins.base import (
    AnalysisPlugin,
    RunResult,
    choose_paradigms,
    choose_participants,
    method_params,
    split_list,
)
from core.progress import check_cancel, sub_progress

# pandas and the analysis modules are imported where used: listing plugins stays light (tests/test_startup.py)


class QuartilesPlugin(AnalysisPlugin):
    manifest = "app.plugins.manifests:quartiles.toml"

    def run(self, inputs, params, progress, cancel):
        import pandas as pd

        from core.analyses.quartiles import (
            CELL_COLUMNS,
            CHOICE_COLUMNS,
            average_over_models,
            cell_means,
            cell_predictivity,
            participant_cells,
            quartile_encoding,
            quartile_stats,
            roi_choice_table,
        )
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
                **method_params(params), participants=pids, device=inputs.device, progress=step,
                cancel=cancel)
            provenance[model] = {"model_id": run.model_id, "revision": run.revision}
            if roi_run is not None:
                choices.append(roi_choice_table(roi_run, volume.name_of(), model, paradigm))
            frames += cell_predictivity(run, cells, paradigm, model)
        provenance = {"models": provenance, "seed": params["seed"], "rois": params["rois"]}
        per_model = pd.concat(frames, ignore_index=True)
        averaged = average_over_models(per_model)
        stats = quartile_stats(averaged)
        means = cell_means(averaged)
        columns = CELL_COLUMNS
        return RunResult([
            Table("quartile_cells", averaged[columns], "predictivity per participant x ROI x quartile cell"),
            Table("quartile_cells_per_model", per_model[["model", *columns]], "the same per model"),
            Table("quartile_choice", pd.concat(choices, ignore_index=True) if choices else pd.DataFrame(
                columns=CHOICE_COLUMNS),
                "the (layer, pooling) chosen per ROI on participant-pooled data, reused for its 16 cells"),
            Table("quartile_stats", stats[["roi", "paradigm", "r_C_mean", "r_C_sem", "r_L_mean", "r_L_sem",
                                           "n_participants"]], "r_C and r_L (mean ± SEM over quartiles)"),
            Figure("quartile_lines", quartile_lines(means), "Fig. 4: predictivity by quartile",
                   data="quartile_cells"),
            Figure("quartile_heatmaps", quartile_heatmaps(means), "Fig. 12: 4 x 4 predictivity",
                   data="quartile_cells"),
        ], provenance)

