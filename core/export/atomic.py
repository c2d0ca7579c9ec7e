"""Atomic output folders: files are written under a hidden staging folder and moved to their final
names only when the whole run succeeded, so a failed or cancelled run leaves no partial files.

Single cache files and folders use :mod:`core.atomic` (the bottom layer, usable by ``core.data``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output_dir(out_dir: str | Path) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``out_dir`` (replacing same-named
    files), on any exception delete it and re-raise."""
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:  # leave no empty output folder behind either
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    try:
        for src in sorted(staging.rglob("*")):
            if src.is_file():
                dst = out_dir / src.relative_to(staging)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
