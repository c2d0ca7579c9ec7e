"""Encoding of the quartile cells (method.md §4 steps 4–5, the paper's ``brain_encoding_quartiles.py``).

With the paper's selection the (layer, pooling) is chosen once per ROI, on the whole ROI's response
pooled over participants and voxels (its ``choose_best_layer`` step on voxel-level betas), and reused for
all 16 cells of that ROI (``params_by_parcel`` copied to every quantile). Choosing per cell would add a
selection bonus of a different size to every cell and bias r_C against r_L. Nested selection stays per
cell (it is leakage-free, so there is no bonus to equalise).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.analyses.encoding import SELECT, EncodingRun, label_targets, run_encoding
from core.analyses.quartiles.cells import decode_cells
from core.progress import CancelToken, ProgressFn, no_progress, sub_progress


def roi_of_cell(codes: np.ndarray) -> np.ndarray:
    """ROI id of quartile-cell labels, int64 (T,)."""
    return decode_cells(codes)[0]


def quartile_encoding(
    dataset,
    model: str,
    paradigm: str,
    roi_labels: Callable[[object], np.ndarray],
    cell_labels: Callable[[object], np.ndarray],
    *,
    layer: int | str = SELECT,
    pooling: str = "mean",
    selection: str = "paper",
    cv_folds: int = 5,
    cv_groups: str = "stimulus",
    seed: int = 0,
    participants: tuple[str, ...] | None = None,
    device: str = "cpu",
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[EncodingRun, EncodingRun | None]:
    """Cell-level encoding run, and the ROI-level run whose choice it reused (None when no paper
    selection is made).

    roi_labels(participant) -> int (V,) ROI id per voxel (0 = none), every ROI voxel;
    cell_labels(participant) -> int (V,) quartile-cell code per voxel (0 = none).
    """
    common = dict(layer=layer, pooling=pooling, selection=selection, cv_folds=cv_folds, cv_groups=cv_groups,
                  seed=seed, participants=participants, device=device, cancel=cancel)
    paper = selection == "paper" and (layer == SELECT or pooling == SELECT)
    roi_run = None
    if paper:
        roi_run = run_encoding(dataset, model, paradigm, label_targets(roi_labels, {}, "rois"),
                               progress=sub_progress(progress, 0.0, 0.4), pool_voxels=True, **common)
    cells = run_encoding(dataset, model, paradigm, label_targets(cell_labels, {}, "cells"),
                         progress=sub_progress(progress, 0.4 if paper else 0.0, 1.0),
                         choice=roi_run.choice if paper else None, choice_key=roi_of_cell, **common)
    return cells, roi_run


CELL_COLUMNS = ["participant", "paradigm", "roi", "b_C", "b_L", "n_voxels", "r"]
CHOICE_COLUMNS = ["model", "paradigm", "roi", "roi_name", "best_layer", "best_pooling"]


def cell_predictivity(run: EncodingRun, cells: dict, paradigm: str, model: str) -> list:
    """Per participant of ``run``, its cell table (``cells[participant]``: label, roi, b_C, b_L, n_voxels)
    with participant, paradigm, model and the cell's cross-validated r (NaN for a cell without a score)."""
    import pandas as pd

    frames = []
    for ps in run.participants:
        table = cells[ps.participant]
        r = pd.Series(ps.scores.mean_r, index=ps.targets.keys)
        frames.append(table.assign(participant=ps.participant, paradigm=paradigm, model=model,
                                   r=r.reindex(table["label"]).to_numpy()))
    return frames


def roi_choice_table(roi_run: EncodingRun, names: dict, model: str, paradigm: str):
    """The (layer, pooling) chosen per ROI on participant-pooled data: one row per ROI (CHOICE_COLUMNS)."""
    import pandas as pd

    ch = roi_run.choice
    return pd.DataFrame({
        "model": model, "paradigm": paradigm, "roi": ch.keys,
        "roi_name": [names.get(int(k), str(k)) for k in ch.keys],
        "best_layer": ch.layer, "best_pooling": np.asarray(roi_run.poolings)[ch.pooling]})


def average_over_models(per_model):
    """Mean r over models per (participant, paradigm, roi, b_C, b_L, n_voxels) (folds already averaged)."""
    keys = CELL_COLUMNS[:-1]
    return per_model.groupby(keys, as_index=False)["r"].mean()
