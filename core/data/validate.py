"""Careful file reading shared by the readers: every failure becomes a :class:`DataError`
naming the file and the reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.data.concepts import canonical_concept
from core.errors import DataError


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise DataError(path, "missing")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DataError(path, f"not valid JSON ({_first_line(exc)})") from None
    if not isinstance(meta, dict):
        raise DataError(path, "must hold a JSON object")
    return meta


def load_nifti(path: Path, ndim: int | None = None) -> nib.Nifti1Image:
    """Open a NIfTI file and check that its data can be read (catches truncated gzip files)."""
    if not path.is_file():
        raise DataError(path, "missing")
    try:
        img = nib.load(str(path))
        data = img.dataobj
        if ndim is not None and len(img.shape) != ndim:
            raise DataError(path, f"expected a {ndim}D image, got shape {img.shape}")
        np.asarray(data[(slice(None),) * len(img.shape)] if ndim == 3 else data[..., :1])
    except DataError:
        raise
    except MemoryError:
        raise DataError(path, "image too large to read (check its header dimensions)") from None
    except Exception as exc:  # noqa: BLE001 - nibabel/gzip/zlib raise many types on malformed files
        reason = f"{type(exc).__name__}: {_first_line(exc)}"
        raise DataError(path, f"not a readable NIfTI image ({reason})") from None
    return img


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else ""


def read_table(path: Path, sep: str = "\t") -> pd.DataFrame:
    if not path.is_file():
        raise DataError(path, "missing")
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:  # noqa: BLE001 - pandas raises many types on malformed text
        raise DataError(path, f"not a readable table ({type(exc).__name__}: {_first_line(exc)})") from None


def normalise_concepts(frame: pd.DataFrame, path: Path) -> pd.Series:
    """Canonical concept names for a ``concept`` column; unknown names raise a DataError."""
    canon = frame["concept"].map(lambda c: canonical_concept(c) if isinstance(c, str) else None)
    bad = frame["concept"][canon.isna()]
    if len(bad):
        raise DataError(path, f"unknown concept {bad.iloc[0]!r} (row {int(bad.index[0]) + 2})")
    return canon


def _int_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    if column not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    try:
        return pd.to_numeric(frame[column], errors="raise").astype("Int64")
    except (ValueError, TypeError):
        raise DataError(path, f"column '{column}' must hold integers") from None


def read_events_table(path: Path) -> pd.DataFrame:
    """A trial table (concept, stimulus_idx, split): canonical concepts, Int64 indices, split in {1, 2}."""
    frame = read_table(path)
    if "concept" not in frame:
        raise DataError(path, "no 'concept' column")
    if len(frame) == 0:
        raise DataError(path, "no trials")
    out = pd.DataFrame(
        {
            "concept": normalise_concepts(frame, path),
            "stimulus_idx": _int_column(frame, "stimulus_idx", path),
            "split": _int_column(frame, "split", path),
        }
    )
    bad_split = out["split"].notna() & ~out["split"].isin([1, 2])
    if bad_split.any():
        raise DataError(path, "column 'split' must be 1 or 2")
    return out


def check_betas_shape(path: Path, shape: tuple[int, ...], n_trials: int, n_voxels: int) -> None:
    """Responses must be (n_trials, n_voxels), matching the events table and the mask."""
    if len(shape) != 2:
        raise DataError(path, f"responses must be 2D (n_trials, n_voxels), got shape {shape}")
    if shape[0] != n_trials:
        raise DataError(path, f"{shape[0]} response rows but the events table has {n_trials} trials")
    if shape[1] not in (-1, n_voxels):
        raise DataError(path, f"{shape[1]} voxel columns but the mask has {n_voxels} voxels")


def check_same_concepts(concepts: dict[str, Iterable[str]], files: dict[str, Path]) -> None:
    """Every paradigm must cover the same set of concepts.

    ``concepts`` maps paradigm -> its concept names, ``files`` paradigm -> the file they came from; the
    error names the first file whose set differs from the first paradigm's.
    """
    first = next(iter(concepts))
    ref = set(concepts[first])
    for paradigm, names in concepts.items():
        have = set(names)
        if have == ref:
            continue
        parts = []
        for label, diff in (("missing", sorted(ref - have)), ("extra", sorted(have - ref))):
            if diff:
                parts.append(f"{label} {', '.join(diff[:3])}{' ...' if len(diff) > 3 else ''} ({len(diff)})")
        raise DataError(files[paradigm], f"concepts differ from {files[first].name}: {'; '.join(parts)}")
