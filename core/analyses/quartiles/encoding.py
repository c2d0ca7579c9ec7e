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
from core.progress import CancelToken, ProgressFn, no_progress, sub_progress

CELL_CODE_BASE = 100  # cell label = roi * CELL_CODE_BASE + (b_C - 1) * n_bins + b_L (quartiles.cell_labels)


def roi_of_cell(codes: np.ndarray) -> np.ndarray:
    """ROI id of quartile-cell labels, int64 (T,)."""
    return np.asarray(codes, np.int64) // CELL_CODE_BASE


def quartile_encoding(
    dataset,
    model: str,
    paradigm: str,
    roi_labels: Callable[[object], np.ndarray],
    cell_labels: Callable[[object], np.ndarray],
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
