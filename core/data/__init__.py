"""Dataset model and readers (the synthetic demo is in :mod:`core.demo`). The public names are imported on
first use (:func:`core.lazy.lazy_api`): ``core.data.geometry`` alone does not pull in pandas."""

from core.lazy import lazy_api

__all__, __getattr__, __dir__ = lazy_api(__name__, {
    "concepts": ("PARADIGMS", "load_concepts"),
    "dataset": ("Dataset", "ParticipantData"),
    "geometry": ("MNI_2MM_AFFINE", "MNI_2MM_SHAPE", "VoxelGeometry"),
    "readers": ("open_dataset",),
})
