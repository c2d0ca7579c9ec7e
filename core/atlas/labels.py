"""Integer label volumes (atlases) and their label tables.

A :class:`LabelVolume` is an integer volume (0 = unlabelled) with its voxel -> mm affine and a table
``label, name, hemisphere`` (hemisphere "L", "R" or "" for bilateral/unknown). Users can load their
own atlas (NIfTI + a TSV/CSV table with ``label`` and ``name`` columns, or a headerless
``id name`` text file as the paper's Glasser names file) with :func:`load_label_volume`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.data.geometry import VoxelGeometry
from core.data.validate import load_nifti
from core.errors import DataError, ParameterError

TABLE_COLUMNS = ("label", "name", "hemisphere")


def hemisphere_from_name(name: str) -> str:
    """ "L"/"R" from a name prefix or suffix (L_, lh., Left-, _L, _left), else ""."""
    low = name.lower()
    if re.match(r"^(l_|lh[._-]|left[ _-])", low) or re.search(r"(_l|_lh|[ _-]left)$", low):
        return "L"
    if re.match(r"^(r_|rh[._-]|right[ _-])", low) or re.search(r"(_r|_rh|[ _-]right)$", low):
        return "R"
    return ""


@dataclass(frozen=True, eq=False)
class LabelVolume:
    """An atlas: integer labels on a grid plus a label table.

    Attributes
    ----------
    data : int32 (X, Y, Z), 0 = unlabelled.
    affine : float64 (4, 4), voxel index -> mm.
    table : DataFrame with columns label (int), name (str), hemisphere ("L", "R" or ""), then any
        extra columns (e.g. ``areas`` of an ROI).
    """

    data: np.ndarray
    affine: np.ndarray
    table: pd.DataFrame

    def __post_init__(self) -> None:
        data = np.asarray(self.data)
        if data.ndim != 3 or not np.issubdtype(data.dtype, np.integer):
            raise ParameterError(f"label data must be a 3D integer array, got {data.dtype} {data.shape}")
        object.__setattr__(self, "data", data.astype(np.int32, copy=False))
        object.__setattr__(self, "affine", np.asarray(self.affine, dtype=np.float64))
        table = self.table.copy()
        if "hemisphere" not in table:
            table["hemisphere"] = [hemisphere_from_name(n) for n in table["name"]]
        extra = [c for c in table.columns if c not in TABLE_COLUMNS]
        table = table.loc[:, list(TABLE_COLUMNS) + extra].reset_index(drop=True)
        table["label"] = table["label"].astype(np.int64)
        table["name"] = table["name"].astype(str)
        table["hemisphere"] = table["hemisphere"].fillna("").astype(str)
        if table["label"].duplicated().any() or (table["label"] <= 0).any():
            raise ParameterError("label ids must be unique positive integers")
        object.__setattr__(self, "table", table)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    def ids(self) -> np.ndarray:
        """Label ids in table order, int64 (L,)."""
        return self.table["label"].to_numpy()

    def names(self) -> list[str]:
        """Label names in table order."""
        return self.table["name"].tolist()

    def name_of(self) -> dict[int, str]:
        return dict(zip(self.table["label"].tolist(), self.table["name"].tolist(), strict=True))

    def label_of(self, name: str) -> int:
        """Id of a label by name (exact, then case-insensitive, then with a trailing '_ROI' dropped)."""
        names = self.table["name"]
        for candidate in (
            names == name,
            names.str.lower() == name.lower(),
            names.str.lower().str.replace(r"_roi$", "", regex=True) == name.lower().removesuffix("_roi"),
        ):
            if candidate.any():
                return int(self.table.loc[candidate, "label"].iloc[0])
        raise ParameterError(f"no label named '{name}' in the atlas")

    def same_grid(self, geometry: VoxelGeometry) -> bool:
        return self.shape == geometry.shape and np.allclose(self.affine, geometry.affine, atol=1e-4)

    def sample(self, geometry: VoxelGeometry) -> np.ndarray:
        """Label of every dataset voxel, int32 (V,): the label voxel nearest each voxel centre (0 = none)."""
        if self.same_grid(geometry):
            return self.data[geometry.mask]
        ijk = nib.affines.apply_affine(np.linalg.inv(self.affine), geometry.xyz)
        ijk = np.rint(ijk).astype(np.int64)
        inside = np.all((ijk >= 0) & (ijk < np.array(self.shape)), axis=1)
        out = np.zeros(geometry.n_voxels, dtype=np.int32)
        out[inside] = self.data[tuple(ijk[inside].T)]
        return out

    def voxel_counts(self) -> pd.Series:
        """Number of voxels per label id (table order), on this volume's grid."""
        counts = np.bincount(self.data.ravel(), minlength=int(self.ids().max(initial=0)) + 1)
        return pd.Series(counts[self.ids()], index=self.ids(), name="n_voxels")

    def subset(self, labels) -> LabelVolume:
        """Keep only the given label ids (others become 0)."""
        keep = np.asarray(list(labels), dtype=np.int64)
        data = np.where(np.isin(self.data, keep), self.data, 0)
        return LabelVolume(data, self.affine, self.table[self.table["label"].isin(keep)])

    def to_nifti(self) -> nib.Nifti1Image:
        img = nib.Nifti1Image(
            self.data.astype(np.int16 if self.data.max(initial=0) < 32768 else np.int32), self.affine
        )
        img.header.set_xyzt_units("mm")
        return img

    def save(self, nifti: str | Path, tsv: str | Path | None = None) -> None:
        """Write the volume (NIfTI) and its table (TSV: label, name, hemisphere)."""
        nifti = Path(nifti)
        nib.save(self.to_nifti(), str(nifti))
        tsv = Path(tsv) if tsv is not None else table_path_for(nifti)
        self.table.to_csv(tsv, sep="\t", index=False)


def table_path_for(nifti: Path) -> Path:
    stem = nifti.name.removesuffix(".gz").removesuffix(".nii")
    return nifti.with_name(stem + ".tsv")


def _integer_labels(img: nib.Nifti1Image, path: Path) -> np.ndarray:
    shape = img.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise DataError(path, f"a label volume must be 3D, got shape {img.shape}")
    raw = np.asarray(img.dataobj).reshape(shape)
    if np.issubdtype(raw.dtype, np.integer):
        data = raw.astype(np.int64)
    else:
        values = np.asarray(img.get_fdata()).reshape(shape)  # applies scl_slope
        values = np.nan_to_num(values, nan=0.0)
        data = np.rint(values)
        if np.abs(values - data).max(initial=0) > 1e-3:
            raise DataError(path, "label volume holds non-integer values (is it a statistical map?)")
        data = data.astype(np.int64)
    if data.min(initial=0) < 0:
        raise DataError(path, "label volume holds negative values")
    if data.max(initial=0) > np.iinfo(np.int32).max:
        raise DataError(path, "label values too large")
    return data.astype(np.int32)


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Read a label table: TSV/CSV with columns label (or id/index/value) and name, optionally
    hemisphere; or a headerless whitespace-separated ``id name`` file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "label table missing")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"unreadable label table ({exc})") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(path, "label table is empty")
    sep = "\t" if "\t" in lines[0] else ("," if "," in lines[0] else None)
    first = re.split(sep or r"\s+", lines[0].strip())
    aliases = {
        "label": "label",
        "id": "label",
        "index": "label",
        "value": "label",
        "name": "name",
        "label_name": "name",
        "hemisphere": "hemisphere",
        "hemi": "hemisphere",
    }
    header = [aliases.get(c.strip().lower(), c.strip().lower()) for c in first]
    if "label" in header and "name" in header:
        body = [re.split(sep or r"\s+", ln.strip()) for ln in lines[1:]]
        cols = header
    elif first[0].strip().lstrip("-").isdigit():
        # headerless "id name": with whitespace, the name is the rest of the line
        body = [re.split(sep or r"\s+", ln.strip(), maxsplit=0 if sep else 1) for ln in lines]
        cols = ["label", "name"] + [f"extra{i}" for i in range(max(len(r) for r in body) - 2)]
    else:
        raise DataError(path, "label table needs columns 'label' and 'name' (or headerless 'id name' lines)")
    if any(len(r) > len(cols) for r in body):
        raise DataError(path, "label table has rows with more fields than its header")
    try:
        frame = pd.DataFrame([r + [""] * (len(cols) - len(r)) for r in body], columns=cols)
        frame["label"] = frame["label"].str.strip().astype(np.int64)
    except ValueError:
        raise DataError(path, "label ids must be integers") from None
    frame["name"] = frame["name"].str.strip()
    if (frame["name"] == "").any():
        raise DataError(path, "every label needs a name")
    if frame["label"].duplicated().any():
        dup = frame.loc[frame["label"].duplicated(), "label"].iloc[0]
        raise DataError(path, f"label id {dup} appears twice")
    frame = frame[frame["label"] != 0]  # background rows are allowed and dropped
    if (frame["label"] < 0).any():
        raise DataError(path, "label ids must be positive")
    if "hemisphere" not in frame:
        frame["hemisphere"] = [hemisphere_from_name(n) for n in frame["name"]]
    frame["hemisphere"] = frame["hemisphere"].str.strip().str.upper().str[:1].replace({"B": ""})
    extra = [c for c in frame.columns if c not in TABLE_COLUMNS and not c.startswith("extra")]
    return frame.loc[:, list(TABLE_COLUMNS) + extra].reset_index(drop=True)


def load_label_volume(nifti: str | Path, tsv: str | Path | None = None) -> LabelVolume:
    """Load a user atlas.

    Parameters
    ----------
    nifti : 3D integer (or integer-valued) NIfTI, 0 = unlabelled.
    tsv : label table (see :func:`read_label_table`); default: a ``.tsv`` next to the NIfTI with the
        same stem if present, else generic names ``label_<id>``.
    """
    nifti = Path(nifti)
    data = _integer_labels(load_nifti(nifti), nifti)
    img_affine = nib.load(str(nifti)).affine
    ids = np.unique(data)
    ids = ids[ids > 0]
    if tsv is None and table_path_for(nifti).is_file():
        tsv = table_path_for(nifti)
    if tsv is None:
        table = pd.DataFrame({"label": ids, "name": [f"label_{i}" for i in ids], "hemisphere": ""})
    else:
        table = read_label_table(tsv)
        missing = np.setdiff1d(ids, table["label"].to_numpy())
        if len(missing):
            shown = ", ".join(str(int(m)) for m in missing[:5])
            raise DataError(Path(tsv), f"label values {shown} of the volume have no row in the table")
    return LabelVolume(data, img_affine, table)


def split_hemispheres(atlas: LabelVolume, offset: int = 200) -> LabelVolume:
    """Give right-hemisphere voxels (x >= 0 mm) their own ids, as the paper's code did with a Glasser
    volume that labels both hemispheres 1..180: right id = id + ``offset``, right name = the name
    with a leading "L_" replaced by "R_" (else "R_" prepended); left names get "L_" likewise."""
    if atlas.ids().max(initial=0) >= offset:
        raise ParameterError(f"label ids must be below the offset {offset}")
    ijk = np.indices(atlas.shape).reshape(3, -1).T
    x = nib.affines.apply_affine(atlas.affine, ijk)[:, 0].reshape(atlas.shape)
    data = np.where((x >= 0) & (atlas.data > 0), atlas.data + offset, atlas.data).astype(np.int32)

    def side(name: str, code: str) -> str:
        base = re.sub(r"^(L_|R_)", "", name)
        return f"{code}_{base}"

    left = atlas.table.assign(name=[side(n, "L") for n in atlas.table["name"]], hemisphere="L")
    right = atlas.table.assign(
        label=atlas.table["label"] + offset, name=[side(n, "R") for n in atlas.table["name"]], hemisphere="R"
    )
    return LabelVolume(data, atlas.affine, pd.concat([left, right], ignore_index=True))
