"""Atomic writes: the one temp-file + ``os.replace`` rule used by every cache and dataset writer.

A file or folder is written under a hidden temporary name next to its destination (same filesystem, so
the final ``os.replace`` is an atomic rename) and only renamed onto the destination once it is complete; on
any error the temporary copy is deleted. Readers therefore see either the old content or the new one,
never a half-written file, also when two processes write the same cache at once.

This module sits at the bottom of ``core`` (it imports nothing from the project) so that ``core.data``,
``core.features`` and ``core.atlas`` can use it; :mod:`core.export.atomic` builds run output folders on top.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``, on error delete it.

    The temporary name ends with ``path.name``, so writers that choose a format by extension
    (``np.save`` adds ``.npy`` otherwise, ``nib.save`` reads ``.nii.gz``) write the right format. The
    parent folder is created if needed. The temporary file does not exist when the block starts.

    Parameters
    ----------
    path : str or Path
        Final destination; replaced if it exists.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix="-" + path.name, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextmanager
def atomic_dir(path: str | Path, complete: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success rename it to ``path``.

    On error the temporary folder is deleted. If the rename fails because ``path`` already exists (another
    process finished the same work first) and ``complete(path)`` is true, that copy is kept and ours is
    dropped; otherwise the error is raised.

    Parameters
    ----------
    path : str or Path
        Final folder; must not exist or be empty for the rename to succeed.
    complete : callable, optional
        ``complete(path) -> bool``: whether an existing ``path`` is a finished copy that may be kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except OSError:
            if complete is None or not complete(path):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
