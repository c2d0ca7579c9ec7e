"""Reading one Pereira et al. (2018) Experiment-1 ``.mat`` file (the format part of
:mod:`core.data.readers.pereira`).

Each file holds ``examples`` (concepts x voxels, one response per concept), ``keyConcept`` (concept
names), and ``meta`` with ``colToCoord`` (V x 3, 1-based voxel indices), ``indicesIn3D`` (V, 1-based
linear indices in MATLAB column-major order) and ``dimensions`` (the grid). MATLAB v5/v7 files are read
with :func:`scipy.io.loadmat`, v7.3 (HDF5) files with h5py (arrays come transposed; cell strings are
object references).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.concepts import canonical_concept
from core.errors import DataError

_NUMERIC_CLASSES = {"double", "single", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                    "uint64", "logical"}

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

