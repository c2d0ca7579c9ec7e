"""Dataset readers, auto-detected from a path: :func:`open_dataset`.

Each reader module exposes ``NAME``, ``detect(path) -> bool`` and an ``open_*`` function returning a
:class:`core.data.dataset.Dataset`. Detection order matters: the first reader that claims a path opens it.
A reader's loader may carry ``ignored``, ``(path, reason)`` pairs of files it saw and did not read
(:func:`ignored_files`).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from core.data.dataset import Dataset
from core.errors import DataError

# (module, open function); modules are imported lazily.
READERS: tuple[tuple[str, str], ...] = (
    ("core.data.readers.native", "open_native"),
    ("core.data.readers.pereira", "open_pereira"),
    ("core.data.readers.release", "open_release"),
)


def _available():
    for module_name, func in READERS:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        yield module, getattr(module, func)


def open_dataset(path: str | Path) -> Dataset:
    """Open any supported dataset: a native folder, Pereira 2018 ``.mat`` files, or the paper's
    release layout."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(path, "does not exist")
    for module, opener in _available():
        if module.detect(path):
            return opener(path)
    names = ", ".join(m.NAME for m, _ in _available())
    raise DataError(path, f"not a recognised dataset (readers tried: {names})")


def ignored_files(dataset: Dataset) -> list[dict[str, str]]:
    """Files the reader saw beside the data and did not read, with the reason: ``[{"path", "reason"}]``
    (e.g. Pereira ``examples_`` twins and Experiment 2/3 files); empty for most datasets."""
    return [{"path": str(p), "reason": str(why)} for p, why in getattr(dataset.loader, "ignored", ())]
