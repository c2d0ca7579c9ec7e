"""Consistency per atlas area (method.md §2.4): the mean of the group map over the area's voxels, the
fraction of its voxels significant, and the raw C of area-averaged responses.

Labels come from any label volume sampled on a voxel grid (``LabelVolume.sample(geometry)`` in
:mod:`core.atlas.labels`, e.g. the Glasser HCP-MMP1.0 areas of :func:`core.atlas.glasser.glasser_mni`):
int (V,) with 0 = no area, plus a table with columns ``label, name, hemisphere``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analyses.consistency.maps import average_trials
from core.analyses.consistency.statistic import consistency
from core.data.dataset import ParticipantData

AREA_COLUMNS = ("area", "hemisphere", "label", "n_voxels", "mean_group", "fraction_significant", "C_area")


def area_consistency(
    data: ParticipantData,
    labels: np.ndarray,
    label_ids: np.ndarray,
    concepts: tuple[str, ...] | None = None,
    split: int | None = None,
) -> np.ndarray:
    """C of area-averaged responses, float32 (L,): per trial, average the betas over each area's voxels
    (NaN voxels ignored); per paradigm, average trials per concept (NaN trials ignored); then C across
    concepts as for a voxel.
    NaN for an area with no voxels in this participant."""
    label_ids = np.asarray(label_ids)
    means = []
    for paradigm in data.paradigms:
        trial_means = data.label_means(paradigm, labels, label_ids)  # (n_trials, L)
        w = data.trial_weights(paradigm, split, concepts)  # (n, n_trials)
        block = average_trials(w, trial_means)
        block[w.sum(axis=1) == 0] = np.nan
        means.append(block)
    return consistency(np.stack(means))


def area_frame(
    table: pd.DataFrame,
    labels: np.ndarray,
    group_map: np.ndarray,
    fraction_significant: np.ndarray,
    c_area: dict[int, float] | None = None,
) -> pd.DataFrame:
    """The area table (one row per label of ``table`` present on the grid).

    table : DataFrame with ``label``, ``name``, ``hemisphere``.
    labels : int (V,) label of each group-grid voxel (0 = none).
    group_map : float (V,) group probabilistic map; fraction_significant : float (V,) fraction of participants
        significant on all trials at each voxel (its area mean = mean over participants of the fraction of the
        area's voxels that are significant).
    c_area : label -> participant mean of :func:`area_consistency` (NaN when absent).
    """
    labels = np.asarray(labels)
    present = labels[labels != 0]
    counts = np.bincount(present, minlength=int(labels.max(initial=0)) + 1)
    sums_group = np.bincount(labels, weights=np.nan_to_num(group_map), minlength=len(counts))
    sums_sig = np.bincount(labels, weights=np.nan_to_num(fraction_significant), minlength=len(counts))
    rows = []
    for row in table.itertuples(index=False):
        lab = int(row.label)
        n = int(counts[lab]) if 0 < lab < len(counts) else 0
        if n == 0:
            continue
        rows.append(
            {
                "area": row.name,
                "hemisphere": row.hemisphere,
                "label": lab,
                "n_voxels": n,
                "mean_group": sums_group[lab] / n,
                "fraction_significant": sums_sig[lab] / n,
                "C_area": np.nan if c_area is None else c_area.get(lab, np.nan),
            }
        )
    return pd.DataFrame(rows, columns=list(AREA_COLUMNS))
