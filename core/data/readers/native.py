"""The native dataset format (DESIGN.md), written by ``cbstudio demo``.

::

    DATASET/dataset.json                  {"name", "space", "paradigms", "participants"}
    DATASET/stimuli.tsv                   concept paradigm stimulus_idx text image   (optional)
    DATASET/sub-<ID>/mask.nii.gz          3D; voxel order = C-order of np.nonzero(mask)
    DATASET/sub-<ID>/<paradigm>_betas.npy float32 (n_trials, n_voxels), memory-mapped
    DATASET/sub-<ID>/<paradigm>_events.tsv concept stimulus_idx [split]
    DATASET/sub-<ID>/langloc.nii.gz       optional language response map
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.atomic import atomic_file
from core.data.concepts import PARADIGMS
from core.data.dataset import Dataset, ParticipantData
from core.data.geometry import VoxelGeometry
from core.data.stimuli import read_stimulus_table
from core.data.validate import (
    check_betas_shape,
    check_same_concepts,
    load_nifti,
    read_events_table,
    read_json,
)
from core.errors import DataError

NAME = "native"


def detect(path: Path) -> bool:
    return path.is_dir() and (path / "dataset.json").is_file()


def open_native(path: Path) -> Dataset:
    path = Path(path)
    meta = read_json(path / "dataset.json")
    for key in ("paradigms", "participants"):
        if not isinstance(meta.get(key), list) or not meta[key]:
            raise DataError(path / "dataset.json", f"'{key}' must be a non-empty list")
    unknown = [p for p in meta["paradigms"] if p not in PARADIGMS]
    if unknown:
        raise DataError(
            path / "dataset.json",
            f"unknown paradigm(s) {', '.join(map(str, unknown))}; expected {', '.join(PARADIGMS)}",
        )
    participants = tuple(str(p) for p in meta["participants"])
    if len(set(participants)) != len(participants):
        raise DataError(path / "dataset.json", "a participant is listed twice")
    for pid in participants:
        if not (path / f"sub-{pid}").is_dir():
            raise DataError(path / f"sub-{pid}", "participant folder listed in dataset.json is missing")
    stimuli = None
    if (path / "stimuli.tsv").is_file():
        stimuli = read_stimulus_table(path / "stimuli.tsv")
    return Dataset(
        path=path,
        name=str(meta.get("name", path.name)),
        reader=NAME,
        space=str(meta.get("space", "MNI152_2mm")),
        paradigms=tuple(p for p in PARADIGMS if p in meta["paradigms"]),
        participants=participants,
        loader=NativeLoader(path, tuple(meta["paradigms"])),
        stimuli=stimuli,
    )


@dataclass(frozen=True)
class NativeLoader:
    """Loads ``sub-<ID>`` folders of a native dataset (picklable: a path and the paradigm list)."""

    root: Path
    paradigms: tuple[str, ...]

    def load_participant(self, participant: str) -> ParticipantData:
        folder = self.root / f"sub-{participant}"
        mask_img = load_nifti(folder / "mask.nii.gz", ndim=3)
        mask = np.asarray(mask_img.dataobj) != 0
        if not mask.any():
            raise DataError(folder / "mask.nii.gz", "mask holds no voxels")
        geometry = VoxelGeometry(mask, mask_img.affine)
        events, sources = {}, {}
        for paradigm in self.paradigms:
            events_path = folder / f"{paradigm}_events.tsv"
            if not events_path.is_file():
                raise DataError(events_path, f"missing: paradigm {paradigm!r} is listed in dataset.json")
            ev = read_events_table(events_path)
            betas_path = _betas_path(folder, paradigm)
            check_betas_shape(betas_path, _peek_shape(betas_path, geometry), len(ev), geometry.n_voxels)
            events[paradigm] = ev
            sources[paradigm] = _BetasFile(betas_path, geometry)
        check_same_concepts({p: ev["concept"] for p, ev in events.items()},
                            {p: folder / f"{p}_events.tsv" for p in events})
        language = None
        if (folder / "langloc.nii.gz").is_file():
            img = load_nifti(folder / "langloc.nii.gz", ndim=3)
            if img.shape[:3] != geometry.shape:
                raise DataError(folder / "langloc.nii.gz",
                                f"grid {img.shape} differs from mask {geometry.shape}")
            language = geometry.from_volume(np.asarray(img.dataobj, dtype=np.float32)).astype(np.float32)
        return ParticipantData(participant, geometry, events, sources, language)


def _betas_path(folder: Path, paradigm: str) -> Path:
    for name in (f"{paradigm}_betas.npy", f"{paradigm}_betas.nii.gz", f"{paradigm}_betas.nii"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(folder / f"{paradigm}_betas.npy", "missing (no .npy or .nii.gz betas for this paradigm)")


def _load_npy(path: Path) -> np.ndarray:
    """Memory-map a numeric ``.npy`` (never unpickles); errors become DataError."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy raises many types on malformed headers
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(path, f"not a readable .npy array ({text})") from None
    if arr.dtype.kind not in "fiu":
        raise DataError(path, f"responses must be numeric, got dtype {arr.dtype}")
    return arr


def _peek_shape(path: Path, geometry: VoxelGeometry) -> tuple[int, ...]:
    """The responses' (n_trials, n_voxels) shape, read from the header only."""
    if path.suffix == ".npy":
        return tuple(_load_npy(path).shape)
    img = load_nifti(path, ndim=4)
    if tuple(img.shape[:3]) != geometry.shape:
        raise DataError(path, f"grid {img.shape[:3]} differs from mask {geometry.shape}")
    return (img.shape[3], -1)


@dataclass(frozen=True)
class _BetasFile:
    path: Path
    geometry: VoxelGeometry

    def __call__(self) -> np.ndarray:
        if self.path.suffix == ".npy":
            arr = _load_npy(self.path)
            return arr if arr.dtype == np.float32 else np.asarray(arr, dtype=np.float32)
        try:
            vol = np.asarray(load_nifti(self.path, ndim=4).dataobj, dtype=np.float32)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a 4D image truncated after its first volume
            raise DataError(self.path, f"not a readable NIfTI image ({type(exc).__name__})") from None
        if vol.shape[:3] != self.geometry.shape:
            raise DataError(self.path, f"grid {vol.shape[:3]} differs from mask {self.geometry.shape}")
        return np.ascontiguousarray(vol[self.geometry.mask].T)


def write_native(
    root: Path,
    name: str,
    participants: dict[str, dict],
    stimuli: pd.DataFrame | None = None,
    space: str = "MNI152_2mm",
) -> Path:
    """Write a native dataset.

    ``participants`` maps id -> {"geometry": VoxelGeometry, "events": {paradigm: DataFrame},
    "betas": {paradigm: float32 (n_trials, V)}, "language": (V,) or None}. Betas may also be given as
    a callable ``write(path)`` that writes the ``.npy`` itself (to stream large data).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paradigms = [p for p in PARADIGMS if any(p in d["events"] for d in participants.values())]
    for pid, d in participants.items():
        folder = root / f"sub-{pid}"
        folder.mkdir(exist_ok=True)
        geom: VoxelGeometry = d["geometry"]
        nib.save(nib.Nifti1Image(geom.mask.astype(np.uint8), geom.affine), folder / "mask.nii.gz")
        for paradigm, ev in d["events"].items():
            ev.loc[:, [c for c in ("concept", "stimulus_idx", "split") if c in ev]].to_csv(
                folder / f"{paradigm}_events.tsv", sep="\t", index=False
            )
            betas = d["betas"][paradigm]
            if callable(betas):
                betas(folder / f"{paradigm}_betas.npy")
            else:
                np.save(folder / f"{paradigm}_betas.npy", np.asarray(betas, dtype=np.float32))
        if d.get("language") is not None:
            nib.save(geom.to_nifti(d["language"]), folder / "langloc.nii.gz")
    if stimuli is not None:
        stimuli.to_csv(root / "stimuli.tsv", sep="\t", index=False)
    meta = {"name": name, "space": space, "paradigms": paradigms, "participants": list(participants)}
    with atomic_file(root / "dataset.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2))
    return root
