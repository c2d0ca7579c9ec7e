"""Safe reading of GLMsingle result files (``TYPED_FITHRF_GLMDENOISE_RR.npy``).

GLMsingle saves its results with ``np.save(path, results_dict)``: a ``.npy`` file whose header says
``dtype=object`` followed by a pickle of a 0-d object array holding the dict. Loading that with
``np.load(allow_pickle=True)`` would run arbitrary code from a user file, so this module parses the
``.npy`` header with :mod:`numpy.lib.format` and unpickles the payload with :class:`RestrictedUnpickler`,
which resolves only the names numpy needs to rebuild arrays, dtypes and scalars. A plain numeric
``.npy`` (X, Y, Z, T) is memory-mapped with ``allow_pickle=False``.

Memory: large arrays in a result dict are not read during unpickling. The unpickler's file wrapper
skips byte strings of 1 MiB or more (their buffers are allocated but never touched, so they take no
RAM), numpy builds the array on that buffer without copying, and the array is then memory-mapped from
the recorded file offset. If numpy had to copy (other byte order, an old protocol), the dict is read
again the ordinary way (in memory: ``betasmd`` of 91 x 109 x 91 x 900 float32 is 3.3 GB).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from core.errors import DataError


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct, scalar
        from numpy._core.numeric import _frombuffer
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
        from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]
    return _reconstruct, scalar, _frombuffer


def _allowed() -> dict[tuple[str, str], object]:
    import codecs
    import collections

    reconstruct, scalar, frombuffer = _numpy_reconstruct()
    table: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # bytes in protocol <= 2 pickles
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "complex"): complex,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytearray"): bytearray,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{core}.multiarray", "scalar")] = scalar
        table[(f"{core}.numeric", "_frombuffer")] = frombuffer  # protocol 5 pickles
    return table


class ForbiddenPickle(pickle.UnpicklingError):
    """The pickle asked for something other than numpy arrays and plain containers."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts / lists / tuples / numbers / strings of numpy arrays, and nothing else."""

    _table = _allowed()

    def find_class(self, module: str, name: str):
        try:
            return self._table[(module, name)]
        except KeyError:
            raise ForbiddenPickle(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise ForbiddenPickle("persistent id")


def _header(fh, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        return fmt.read_array_header_1_0(fh)
    if version == (2, 0):
        return fmt.read_array_header_2_0(fh)
    raise DataError(path, f"unsupported .npy format version {version}")


class _SkippingReader:
    """File wrapper for the unpickler: byte strings of at least ``threshold`` bytes are not read but
    skipped (their fresh, untouched buffer stays unallocated), and (buffer address, file offset, size) is
    recorded so that an array built on such a buffer can be memory-mapped from the file instead."""

    def __init__(self, fh, threshold: int):
        self._fh = fh
        self._size = os.fstat(fh.fileno()).st_size
        self._threshold = threshold
        self.skipped: list[tuple[int, int, int]] = []

    def read(self, n: int = -1) -> bytes:
        return self._fh.read(n)

    def readline(self) -> bytes:
        return self._fh.readline()

    def readinto(self, buf) -> int:
        n = len(buf)
        pos = self._fh.tell()
        if n < self._threshold or pos + n > self._size:
            return self._fh.readinto(buf)  # small, or truncated: a short read makes pickle fail
        address = np.frombuffer(buf, dtype=np.uint8).ctypes.data
        self.skipped.append((address, pos, n))
        self._fh.seek(pos + n)
        return n


def _result_dict(obj, path: Path) -> dict:
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a GLMsingle result dict, found {type(obj).__name__}")
    return obj


def _mapped(path: Path, arr: np.ndarray, skipped: list[tuple[int, int, int]]) -> np.ndarray | None:
    """A read-only memory map of ``arr``'s bytes in the file, if ``arr`` sits on a skipped buffer."""
    if not isinstance(arr, np.ndarray) or arr.dtype.hasobject or arr.size == 0:
        return None
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        return None
    start = arr.ctypes.data
    for address, offset, n in skipped:
        lead = address - start  # bytes copied from the unpickler's own buffer before the skipped part
        if 0 <= lead < 1 << 16 and start + arr.nbytes == address + n:
            order = "C" if arr.flags.c_contiguous else "F"
            return np.memmap(path, dtype=arr.dtype, mode="r", offset=offset - lead, shape=arr.shape,
                             order=order)
    return None


def _load_pickled(fh, path: Path, key: str, skip_threshold: int | None):
    """Unpickle the result dict and return ``dict[key]``; with ``skip_threshold``, large arrays are
    memory-mapped rather than read, or None is returned when ``dict[key]`` could not be mapped."""
    if skip_threshold is None:
        return _result_dict(RestrictedUnpickler(fh).load(), path).get(key, _MISSING)
    reader = _SkippingReader(fh, skip_threshold)
    results = _result_dict(RestrictedUnpickler(reader).load(), path)
    value = results.get(key, _MISSING)
    if value is _MISSING or not isinstance(value, np.ndarray):
        return value
    return _mapped(path, value, reader.skipped)


_MISSING = object()
SKIP_THRESHOLD = 1 << 20  # bytes; arrays at least this large are memory-mapped from a result dict


def read_glmsingle(path: Path, key: str = "betasmd") -> np.ndarray:
    """The response array (X, Y, Z, T) of a GLMsingle result file, or of a plain numeric ``.npy``.

    Returns a read-only memory map for a plain ``.npy``. For a result dict, the array's bytes are
    memory-mapped straight from the pickle when numpy could build the array on them without a copy
    (the usual case: native byte order, protocol 3 as written by ``np.save``); otherwise the dict is
    unpickled again normally and the array is returned in memory.
    Raises DataError for anything unreadable, a pickle naming a non-numpy object, or a missing key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "missing")
    try:
        with open(path, "rb") as fh:
            _shape, _fortran, dtype = _header(fh, path)
            if not dtype.hasobject:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                start = fh.tell()
                arr = _load_pickled(fh, path, key, SKIP_THRESHOLD)
                if arr is None:  # could not map: read the values for real
                    fh.seek(start)
                    arr = _load_pickled(fh, path, key, None)
    except DataError:
        raise
    except ForbiddenPickle as exc:
        raise DataError(path, f"refused to unpickle {exc} (only numpy arrays may be in it)") from None
    except MemoryError:
        raise DataError(path, "not enough memory to read this file") from None
    except Exception as exc:  # noqa: BLE001 - numpy/pickle raise many types on malformed files
        msg = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise DataError(path, f"not a readable .npy file ({type(exc).__name__}: {msg})") from None
    if arr is _MISSING:
        raise DataError(path, f"no '{key}' entry in the result dict")
    if not isinstance(arr, np.ndarray):
        raise DataError(path, f"'{key}' is not an array ({type(arr).__name__})")
    if arr.dtype.kind not in "fiu":
        raise DataError(path, f"responses must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 4:
        raise DataError(path, f"responses must be 4D (X, Y, Z, trials), got shape {arr.shape}")
    return arr
