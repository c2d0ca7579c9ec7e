"""Dataset model and readers (the synthetic demo is in :mod:`core.demo`)."""

from core.data.concepts import PARADIGMS, load_concepts
from core.data.dataset import Dataset, ParticipantData
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry

__all__ = [
    "PARADIGMS", "load_concepts", "Dataset", "ParticipantData", "VoxelGeometry",
    "MNI_2MM_AFFINE", "MNI_2MM_SHAPE", "open_dataset",
]


def open_dataset(path):
    """Open any supported dataset (see :func:`core.data.readers.open_dataset`)."""
    from core.data.readers import open_dataset as _open

    return _open(path)
