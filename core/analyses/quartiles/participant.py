"""Quartile cells of one participant's ROI voxels (method.md §4 steps 1–3): consistency C on all stimuli and
the language localizer, binned within each ROI, labelled by cell code (:func:`encode_cells`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analyses.consistency import consistency
from core.analyses.quartiles.cells import cell_labels, quartile_cells
from core.data.concepts import load_concepts
from core.errors import DataError


def participant_cells(data, roi: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Quartile cells of one participant: label per voxel (0 = none) and the cell table.

    Consistency = C(v) on all stimuli (method.md §4 step 1), computed on the ROI voxels; language = the
    participant's localizer map.
    """
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
