"""Brain encoding: ridge regression from model features to brain responses, scored by cross-validated r.

Stack: ``_numba`` and ``ridge`` (LOO ridge kernels) -> ``cv``, ``scores``, ``model`` (items, per-layer
scores) -> ``selection`` (layer/pooling choice) and ``results`` (targets, runs) -> ``run``
(participants, paradigms, group results) -> ``targets`` (voxels, atlas areas, ROIs) and ``tables``
(results as tables).
"""

from core.analyses import lazy_api

__all__, __getattr__, __dir__ = lazy_api(__name__, {
    "cv": ("kfold_labels", "make_folds"),
    "ridge": ("ridge_cv_scores", "RidgeLOO"),
    "run": ("SELECT", "EncodingRun", "PaperChoice", "run_encoding"),
    "targets": ("atlas_targets", "chunk_keys", "label_targets", "parse_chunk", "voxel_targets"),
    "tables": ("encoding_tables", "group_layer_values", "layer_curve_series", "merged_order",
               "mode_per_column"),
})
