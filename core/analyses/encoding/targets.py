"""Encoding target builders: voxels (keys = voxel index on the participants' union grid), atlas areas
or ROIs (keys = label ids), and arbitrary voxel labellings (quartile cells).

A *target chunk* ``i/n`` keeps the i-th of n contiguous runs of the sorted candidate keys (union-grid
voxels, or the atlas's label ids), so that one run can be split over several workers: every per-target
result (ridge, the paper's layer/pooling selection on the participant-pooled responses, the noise
ceiling) depends on that target's responses only, so the chunks together equal the unsplit run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.analyses.encoding.run import Targets, column_picker
from core.data.geometry import VoxelGeometry
from core.errors import ParameterError

TARGET_KINDS = ("voxels", "areas", "rois")


def parse_chunk(spec: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n) with 1 <= i <= n; ``""`` or ``"all"`` -> None (every target)."""
    text = (spec or "").strip().lower()
    if text in ("", "all", "1/1"):
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ParameterError(f"target_chunk must look like 'i/n' (e.g. 2/8), got {spec!r}") from None
    if not 1 <= i <= n:
        raise ParameterError(f"target_chunk {spec!r}: need 1 <= i <= n")
    return i, n


def chunk_keys(keys: np.ndarray, chunk: tuple[int, int] | None) -> np.ndarray:
    """The keys of chunk (i, n): the i-th of n contiguous runs (sizes differ by at most one) of the
    sorted unique ``keys``; all of them for None."""
    keys = np.unique(np.asarray(keys, np.int64))
    if chunk is None:
        return keys
    i, n = chunk
    return np.array_split(keys, n)[i - 1]


def voxel_targets(union: VoxelGeometry, keep: np.ndarray | None = None) -> Callable[[object], Targets]:
    """Every voxel of a participant (or those whose union index is in ``keep``); keys index ``union``
    (the group grid). With ``keep`` the targets carry ``columns``, their positions among the
    participant's voxels (for maps of the full participant)."""

    def build(data) -> Targets:
        keys = union.index_of(data.geometry.ijk) if data.geometry is not union else np.arange(union.n_voxels)
        keys = np.asarray(keys, np.int64)
        if keep is None:
            return Targets("voxels", np.array([f"v{k}" for k in keys]), keys, data.betas, np.ones(len(keys)))
        cols = np.flatnonzero(np.isin(keys, keep))
        pick = column_picker(cols)
        return Targets("voxels", np.array([f"v{k}" for k in keys[cols]]), keys[cols],
                       lambda paradigm: data.betas(paradigm)[:, pick], np.ones(cols.size), columns=cols)

    return build


def label_targets(labels_of: Callable[[object], np.ndarray], names: dict[int, str], kind: str,
                  label_ids: np.ndarray | None = None) -> Callable[[object], Targets]:
    """Mean over the voxels of each label (``labels_of(participant) -> int (V,)``, 0 = none).

    Only labels with voxels in the participant are targets; ``label_ids`` restricts and orders them.
    """

    def build(data) -> Targets:
        labels = np.asarray(labels_of(data))
        present = np.unique(labels[labels != 0])
        ids = present if label_ids is None else np.asarray(label_ids, np.int64)[np.isin(label_ids, present)]
        counts = np.array([np.count_nonzero(labels == i) for i in ids], np.float64)
        return Targets(kind, np.array([names.get(int(i), str(i)) for i in ids]), ids.astype(np.int64),
                       lambda paradigm: data.label_means(paradigm, labels, ids), counts)

    return build


def atlas_targets(kind: str, atlas=None, chunk: tuple[int, int] | None = None) -> Callable[[object], Targets]:
    """``areas``: Glasser areas (default :func:`core.atlas.glasser.glasser_mni`); ``rois``: the paper's
    ROIs 1–3 (the published ROI map, :func:`core.atlas.specs.resolve_rois`) or the given LabelVolume.
    ``chunk``: only the labels of that chunk of the atlas's label ids (:func:`chunk_keys`)."""
    if atlas is None:
        from core.atlas.specs import resolve_atlas, resolve_rois

        atlas = resolve_atlas("glasser") if kind == "areas" else resolve_rois("paper")
    names = atlas.name_of()
    ids = None if chunk is None else chunk_keys([k for k in names if k != 0], chunk)
    return label_targets(lambda data: atlas.sample(data.geometry), names, kind, ids)
