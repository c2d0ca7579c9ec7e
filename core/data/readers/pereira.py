"""Reader for the public Pereira et al. (2018) Experiment-1 ``.mat`` files (method.md §1.6).

Accepted paths:

- one file ``.../<participant>/data_180concepts_<paradigm>.mat`` (or ``examples_180concepts_*``, the P01
  naming); the participant id is the folder name;
- a participant folder holding one to three such files (sentences, pictures, wordclouds);
- a root folder whose sub-folders are participant folders (every participant must have the same paradigms).

Each file holds ``examples`` (concepts x voxels, one response per concept), ``keyConcept`` (concept
names), and ``meta`` with ``colToCoord`` (V x 3, 1-based voxel indices), ``indicesIn3D`` (V, 1-based
linear indices in MATLAB column-major order) and ``dimensions`` (the grid). MATLAB v5/v7 files are read
with :func:`scipy.io.loadmat`, v7.3 (HDF5) files with h5py (arrays come transposed; cell strings are
object references). The data are concept-level: the events table has one row per concept, with
``stimulus_idx`` and ``split`` NA. Rows are put in the paper's concept order and columns in the
project's voxel order (C-order of the mask). A 91 x 109 x 91 grid is taken as MNI152 2 mm; any other
grid gets an identity affine (voxel units) and space ``native``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.concepts import PARADIGMS, canonical_concept, load_concepts
from core.data.dataset import Dataset, ParticipantData
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
from core.data.validate import check_same_concepts
from core.errors import DataError

NAME = "pereira"
FILE_TOKEN = "180concepts_"
# file-name token -> project paradigm name
PARADIGM_TOKENS = {"sentences": "sentences", "pictures": "pictures", "wordclouds": "word_clouds",
                   "word_clouds": "word_clouds"}
_NUMERIC_CLASSES = {"double", "single", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                    "uint64", "logical"}


def detect(path: Path) -> bool:
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".mat"
    if not path.is_dir():
        return False
    if _paradigm_files(path):
        return True
    return any(sub.is_dir() and _paradigm_files(sub) for sub in _subdirs(path))


def open_pereira(path: Path) -> Dataset:
    """Open Pereira 2018 data: one file, one participant folder, or a root of participant folders."""
    path = Path(path)
    if path.is_file():
        paradigm = paradigm_of(path)
        files = {path.parent.name or "P": {paradigm: path}}
    elif _paradigm_files(path):
        files = {path.name: _participant_files(path)}
    else:
        files = {sub.name: _participant_files(sub) for sub in _subdirs(path) if _paradigm_files(sub)}
        if not files:
            raise DataError(path, f"no *_{FILE_TOKEN}<paradigm>.mat files in this folder or its sub-folders")
    paradigms = tuple(p for p in PARADIGMS if any(p in f for f in files.values()))
    for pid, by_paradigm in files.items():
        for paradigm in paradigms:
            if paradigm not in by_paradigm:
                token = next(t for t, p in PARADIGM_TOKENS.items() if p == paradigm)
                other = next(iter(by_paradigm.values()))
                prefix = other.name.split(FILE_TOKEN)[0]
                raise DataError(other.parent / f"{prefix}{FILE_TOKEN}{token}.mat",
                                f"missing: participant {pid} lacks paradigm {paradigm!r} that others have")
    first = next(iter(files.values()))
    header = read_header(first[paradigms[0]])
    space = "MNI152_2mm" if header.dimensions == MNI_2MM_SHAPE else "native"
    frozen = tuple((pid, tuple((p, by[p]) for p in paradigms)) for pid, by in files.items())
    return Dataset(
        path=path,
        name=path.stem if path.is_file() else path.name,
        reader=NAME,
        space=space,
        paradigms=paradigms,
        participants=tuple(files),
        loader=PereiraLoader(frozen),
    )


def paradigm_of(path: Path) -> str:
    """The project paradigm name from a file name like ``data_180concepts_wordclouds.mat``."""
    stem = Path(path).stem
    match = re.search(FILE_TOKEN + r"(\w+)$", stem)
    token = (match.group(1) if match else stem).lower()
    if token in PARADIGM_TOKENS:
        return PARADIGM_TOKENS[token]
    if match:
        raise DataError(path, f"unknown paradigm {token!r}; expected sentences, pictures or wordclouds")
    raise DataError(path, f"cannot tell the paradigm from the file name; expected data_{FILE_TOKEN}"
                          "{sentences,pictures,wordclouds}.mat")


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return []


def _paradigm_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.glob(f"*{FILE_TOKEN}*.mat") if p.is_file())
    except OSError:
        return []


def _participant_files(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in _paradigm_files(folder):
        paradigm = paradigm_of(f)
        if paradigm in out:
            raise DataError(f, f"a second file for paradigm {paradigm!r} (also {out[paradigm].name})")
        out[paradigm] = f
    return out


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MatHeader:
    """Everything in one file except the responses.

    concepts : canonical concept names in file row order; coords : int64 (V, 3) 0-based voxel indices in
    file column order; dimensions : grid shape; n_rows, n_cols : shape of ``examples``; hdf5 : v7.3 file.
    """

    path: Path
    concepts: tuple[str, ...]
    coords: np.ndarray
    dimensions: tuple[int, int, int]
    n_rows: int
    n_cols: int
    hdf5: bool


def _is_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(128)
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None
    if head.startswith(b"\x89HDF"):
        return True
    return head.startswith(b"MATLAB 7.3")


def _strings(obj, path: Path) -> list[str]:
    """Flatten a MATLAB cell of strings (or a char matrix) read by scipy into a list of str."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "U":
        if obj.ndim == 2:  # char matrix: one name per row
            return ["".join(row).strip() for row in obj]
        return [str(s).strip() for s in obj.ravel()]
    if isinstance(obj, (list, tuple, np.ndarray)):
        out: list[str] = []
        for item in (obj.ravel() if isinstance(obj, np.ndarray) else obj):
            out.extend(_strings(item, path))
        return out
    raise DataError(path, f"keyConcept must hold strings, found {type(obj).__name__}")


def _as_int_array(value, path: Path, field: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(path, f"meta.{field} must be numeric") from None
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise DataError(path, f"meta.{field} must hold whole numbers")
    return arr.astype(np.int64)


def _read_v5(path: Path) -> tuple[object, dict, tuple[int, ...], str]:
    import scipy.io

    try:
        info = {name: (shape, cls) for name, shape, cls in scipy.io.whosmat(str(path))}
        if "examples" not in info:
            raise DataError(path, "no 'examples' variable (not a Pereira 2018 data file)")
        for key in ("keyConcept", "meta"):
            if key not in info:
                raise DataError(path, f"no '{key}' variable")
        data = scipy.io.loadmat(str(path), variable_names=("keyConcept", "meta"))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - scipy raises many types on malformed files
        raise DataError(path, f"not a readable MATLAB file ({type(exc).__name__}: {exc})") from None
    struct = data.get("meta")
    if not isinstance(struct, np.ndarray) or struct.dtype.names is None or struct.size != 1:
        raise DataError(path, "'meta' must be a 1 x 1 struct")
    meta = {name: struct[name].ravel()[0] for name in ("colToCoord", "indicesIn3D", "dimensions")
            if name in struct.dtype.names}
    shape, cls = info["examples"]
    return data.get("keyConcept"), meta, tuple(shape), cls


def _h5_strings(f, obj, path: Path) -> list[str]:
    import h5py

    if isinstance(obj, h5py.Group):
        raise DataError(path, "keyConcept must be a cell of strings")
    arr = obj[()]
    if arr.dtype.kind == "O":  # cell: object references to char arrays
        return [_h5_char(f[ref], path) for ref in np.asarray(arr).T.ravel()]
    if arr.dtype.kind in "ui":  # a char matrix stored as (L, n)
        return ["".join(map(chr, row)).strip() for row in np.atleast_2d(arr).T]
    raise DataError(path, f"keyConcept has unexpected type {arr.dtype}")


def _h5_char(dset, path: Path) -> str:
    arr = np.asarray(dset[()])
    if arr.dtype.kind not in "ui":
        raise DataError(path, "keyConcept cells must be character arrays")
    return "".join(map(chr, arr.T.ravel())).strip()


def _read_v73(path: Path) -> tuple[list[str], dict, tuple[int, ...], str]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            for key in ("examples", "keyConcept", "meta"):
                if key not in f:
                    raise DataError(path, f"no '{key}' variable (not a Pereira 2018 data file)")
            ex = f["examples"]
            if not isinstance(ex, h5py.Dataset):
                raise DataError(path, "'examples' must be a numeric matrix")
            shape = tuple(reversed(ex.shape))  # h5py shows MATLAB arrays transposed
            cls = ex.attrs.get("MATLAB_class", b"double")
            cls = cls.decode() if isinstance(cls, bytes) else str(cls)
            if ex.dtype.kind not in "fiub":
                cls = str(ex.dtype)
            concepts = _h5_strings(f, f["keyConcept"], path)
            group = f["meta"]
            if not isinstance(group, h5py.Group):
                raise DataError(path, "'meta' must be a struct")
            meta = {}
            for key in ("colToCoord", "indicesIn3D", "dimensions"):
                if key in group and isinstance(group[key], h5py.Dataset):
                    meta[key] = np.asarray(group[key][()]).T
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises many types on malformed files
        raise DataError(path, f"not a readable MATLAB v7.3 file ({type(exc).__name__}: {exc})") from None
    return concepts, meta, shape, cls


def read_header(path: Path) -> MatHeader:
    """Read and check everything but the responses of one ``.mat`` file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "missing")
    hdf5 = _is_hdf5(path)
    raw_concepts, meta, shape, cls = _read_v73(path) if hdf5 else _read_v5(path)
    if len(shape) != 2:
        raise DataError(path, f"'examples' must be 2D (concepts x voxels), got shape {shape}")
    if cls not in _NUMERIC_CLASSES:
        raise DataError(path, f"'examples' must be numeric, got MATLAB class {cls!r}")
    names = raw_concepts if hdf5 else _strings(raw_concepts, path)
    n_rows, n_cols = int(shape[0]), int(shape[1])
    if len(names) != n_rows:
        raise DataError(path, f"keyConcept has {len(names)} names but 'examples' has {n_rows} rows")
    concepts = []
    for name in names:
        canon = canonical_concept(name)
        if canon is None:
            raise DataError(path, f"unknown concept {name!r} in keyConcept")
        concepts.append(canon)
    if len(set(concepts)) != len(concepts):
        dup = next(c for c in concepts if concepts.count(c) > 1)
        raise DataError(path, f"concept {dup!r} appears twice in keyConcept")
    dims = _as_int_array(meta.get("dimensions", []), path, "dimensions").ravel()
    if dims.shape != (3,) or np.any(dims <= 0):
        raise DataError(path, f"meta.dimensions must be three positive sizes, got {dims.tolist()}")
    coords = _coords(meta, dims, n_cols, path)
    return MatHeader(path, tuple(concepts), coords, tuple(int(d) for d in dims), n_rows, n_cols, hdf5)


def _coords(meta: dict, dims: np.ndarray, n_cols: int, path: Path) -> np.ndarray:
    """0-based voxel indices (V, 3) from meta.colToCoord and/or meta.indicesIn3D, cross-checked."""
    coords = lin = None
    if "colToCoord" in meta:
        coords = _as_int_array(meta["colToCoord"], path, "colToCoord")
        coords = coords.reshape(-1, 3) if coords.size == 3 else coords
        if coords.ndim != 2 or coords.shape[1] != 3 or coords.shape[0] != n_cols:
            raise DataError(path, f"meta.colToCoord must be {n_cols} x 3, got {coords.shape}")
        coords = coords - 1
        if np.any(coords < 0) or np.any(coords >= dims):
            raise DataError(path, f"meta.colToCoord has voxel coordinates outside the grid {dims.tolist()}")
    if "indicesIn3D" in meta:
        lin = _as_int_array(meta["indicesIn3D"], path, "indicesIn3D").ravel()
        if lin.shape != (n_cols,):
            raise DataError(path, f"meta.indicesIn3D must have {n_cols} entries, got {lin.size}")
        if np.any(lin < 1) or np.any(lin > np.prod(dims)):
            raise DataError(path, "meta.indicesIn3D has indices outside the grid")
    if coords is None and lin is None:
        raise DataError(path, "meta has neither colToCoord nor indicesIn3D: voxel positions unknown")
    if coords is None:
        coords = np.stack(np.unravel_index(lin - 1, tuple(dims), order="F"), axis=1).astype(np.int64)
    elif lin is not None:
        expect = np.ravel_multi_index(tuple(coords.T), tuple(dims), order="F") + 1
        if not np.array_equal(expect, lin):
            raise DataError(path, "meta.indicesIn3D disagrees with meta.colToCoord (column-major 1-based)")
    if n_cols and len(np.unique(np.ravel_multi_index(tuple(coords.T), tuple(dims)))) != n_cols:
        raise DataError(path, "two voxel columns have the same coordinates")
    return coords


def read_examples(header: MatHeader) -> np.ndarray:
    """The ``examples`` matrix as float32 (n_rows, n_cols) in file order."""
    path = header.path
    try:
        if header.hdf5:
            import h5py

            with h5py.File(path, "r") as f:
                arr = np.asarray(f["examples"][()]).T
        else:
            import scipy.io

            arr = scipy.io.loadmat(str(path), variable_names=("examples",))["examples"]
        arr = np.asarray(arr, dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - scipy / h5py raise many types on malformed files
        raise DataError(path, f"cannot read 'examples' ({type(exc).__name__}: {exc})") from None
    if arr.shape != (header.n_rows, header.n_cols):
        raise DataError(path, f"'examples' has shape {arr.shape}, expected {(header.n_rows, header.n_cols)}")
    return arr


# ---------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class PereiraLoader:
    """Loads one participant's ``.mat`` files (picklable: paths only)."""

    files: tuple[tuple[str, tuple[tuple[str, Path], ...]], ...]

    def load_participant(self, participant: str) -> ParticipantData:
        by_paradigm = dict(dict(self.files)[participant])
        headers = {p: read_header(f) for p, f in by_paradigm.items()}
        first = next(iter(headers.values()))
        for h in headers.values():
            if h.dimensions != first.dimensions:
                raise DataError(h.path, f"grid {h.dimensions} differs from {first.path.name}")
            if not np.array_equal(h.coords, first.coords):
                raise DataError(h.path, f"voxel columns differ from {first.path.name} "
                                        f"({h.n_cols} vs {first.n_cols} voxels or another order)")
        check_same_concepts({p: h.concepts for p, h in headers.items()},
                            {p: h.path for p, h in headers.items()})
        dims = first.dimensions
        mask = np.zeros(dims, dtype=bool)
        mask[tuple(first.coords.T)] = True
        affine = MNI_2MM_AFFINE if dims == MNI_2MM_SHAPE else np.eye(4)
        geometry = VoxelGeometry(mask, affine)
        col_order = np.argsort(np.ravel_multi_index(tuple(first.coords.T), dims)).astype(np.int64)
        rank = {c: i for i, c in enumerate(load_concepts())}
        events, sources = {}, {}
        for paradigm, h in headers.items():
            row_order = np.argsort([rank[c] for c in h.concepts]).astype(np.int64)
            concepts = [h.concepts[i] for i in row_order]
            events[paradigm] = pd.DataFrame({
                "concept": concepts,
                "stimulus_idx": pd.array([pd.NA] * len(concepts), dtype="Int64"),
                "split": pd.array([pd.NA] * len(concepts), dtype="Int64"),
            })
            sources[paradigm] = MatBetas(h, row_order, col_order)
        return ParticipantData(participant, geometry, events, sources, None)


@dataclass(frozen=True, eq=False)
class MatBetas:
    """One file's ``examples`` read on first use, rows in paper concept order, columns in voxel C-order."""

    header: MatHeader
    row_order: np.ndarray
    col_order: np.ndarray

    def __call__(self) -> np.ndarray:
        arr = read_examples(self.header)
        return np.ascontiguousarray(arr[self.row_order][:, self.col_order])
