"""Encoding target builders: voxels (keys = voxel index on the participants' union grid), atlas areas
or ROIs (keys = label ids), and arbitrary voxel labellings (quartile cells)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.analyses.encoding.run import Targets
from core.data.geometry import VoxelGeometry

TARGET_KINDS = ("voxels", "areas", "rois")


def voxel_targets(union: VoxelGeometry) -> Callable[[object], Targets]:
    """Every voxel of a participant; keys index ``union`` (the group grid)."""

    def build(data) -> Targets:
        keys = union.index_of(data.geometry.ijk) if data.geometry is not union else np.arange(union.n_voxels)
        names = np.array([f"v{k}" for k in keys])
        return Targets("voxels", names, np.asarray(keys, np.int64), data.betas, np.ones(len(keys)))

    return build


def label_targets(labels_of: Callable[[object], np.ndarray], names: dict[int, str], kind: str,
                  label_ids: np.ndarray | None = None) -> Callable[[object], Targets]:
    """Mean over the voxels of each label (``labels_of(participant) -> int (V,)``, 0 = none).

    Only labels with voxels in the participant are targets; ``label_ids`` restricts and orders them.
    """

    def build(data) -> Targets:
        labels = np.asarray(labels_of(data))
        present = np.unique(labels[labels != 0])
        ids = present if label_ids is None else np.asarray([i for i in label_ids if i in set(present)])
        counts = np.array([np.count_nonzero(labels == i) for i in ids], np.float64)
        return Targets(kind, np.array([names.get(int(i), str(i)) for i in ids]), ids.astype(np.int64),
                       lambda paradigm: data.label_means(paradigm, labels, ids), counts)

    return build


def atlas_targets(kind: str, atlas=None) -> Callable[[object], Targets]:
    """``areas``: Glasser areas (default :func:`core.atlas.glasser.glasser_mni`); ``rois``: the paper's
    ROIs 1–3 (the published ROI map, :func:`core.atlas.specs.resolve_rois`) or the given LabelVolume."""
    if atlas is None:
        from core.atlas.specs import resolve_atlas, resolve_rois

        atlas = resolve_atlas("glasser") if kind == "areas" else resolve_rois("paper")
    return label_targets(lambda data: atlas.sample(data.geometry), atlas.name_of(), kind)
