"""Array backend and device choice: ``auto`` = cuda, then mps, then cpu.

Torch is imported lazily so that numpy-only code paths never pay for it.
"""

from __future__ import annotations

import numpy as np

from core.errors import ParameterError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str = "auto") -> str:
    """Return the concrete device name for ``device`` (one of :data:`DEVICES`)."""
    if device not in DEVICES:
        raise ParameterError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        if device == "auto":
            return "cpu"
        raise ParameterError(f"device {device!r} needs torch, which is not installed") from None
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if device == "cuda" and not cuda:
        raise ParameterError("device 'cuda' requested but no CUDA GPU is available")
    if device == "mps" and not mps:
        raise ParameterError("device 'mps' requested but Apple MPS is not available")
    return device


# --- array backends and memory-aware chunking -------------------------------------------------------

BACKENDS = ("auto", "numba", "numpy", "torch")


def has_numba() -> bool:
    """True when numba (compiled CPU kernels) can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def select_backend(backend: str = "auto", device: str = "cpu") -> str:
    """Concrete array backend for a compute kernel.

    ``auto`` = ``torch`` on a GPU device (cuda, mps), else ``numba`` when installed (compiled kernels,
    fastest on CPU), else ``numpy`` (faster than torch on CPU for the gather-heavy consistency kernels:
    benchmarks/consistency.py --backends). ``numba`` on a GPU device is refused.
    """
    if backend not in BACKENDS:
        raise ParameterError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        if device != "cpu":
            return "torch"
        return "numba" if has_numba() else "numpy"
    if backend == "numba":
        if device != "cpu":
            raise ParameterError(f"backend 'numba' runs on the CPU only, not on {device!r}")
        if not has_numba():
            raise ParameterError("backend 'numba' requested but numba is not installed")
    return backend


def available_memory(device: str = "cpu") -> int:
    """Free memory in bytes on ``device`` (host RAM for cpu/mps, free GPU memory for cuda)."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil ships with most installs
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux without psutil
        pass
    return 4 << 30  # pragma: no cover - a conservative guess


def chunk_size(
    bytes_per_item: int,
    *,
    device: str = "cpu",
    fraction: float = 0.1,
    minimum: int = 1,
    maximum: int | None = None,
    budget: int | None = None,
) -> int:
    """How many items (e.g. voxels) fit a memory budget.

    budget : bytes to use; default ``fraction`` of :func:`available_memory` on ``device``.
    Returns a count clipped to ``[minimum, maximum]``.
    """
    if bytes_per_item <= 0:
        raise ValueError("bytes_per_item must be positive")
    if budget is None:
        budget = int(available_memory(device) * fraction)
    count = max(int(budget // bytes_per_item), minimum)
    return min(count, maximum) if maximum is not None else count


def to_numpy(array) -> np.ndarray:
    """A numpy array from a numpy array or a torch tensor (moved to the CPU)."""
    if hasattr(array, "detach"):
        return array.detach().cpu().numpy()
    return np.asarray(array)


# --- one array namespace per backend, passed explicitly to the kernels ------------------------------


class ArrayNamespace:
    """The array operations the compute kernels share, on numpy or torch (himalaya's ``get_backend()``
    pattern): a kernel receives one from :func:`get_backend` and calls ``xp.asarray``, ``xp.matmul``, ...
    instead of branching on the backend itself.

    name : ``numpy`` or ``torch`` (``numba`` is numpy arrays with the compiled kernels: ``compiled``).
    device : where torch arrays live (``cpu``, ``cuda``, ``mps``); numpy is always ``cpu``.
    dtype : the working float type (``float32`` or ``float64``) of :meth:`asarray`, :meth:`empty`, ...
    """

    def __init__(self, name: str, device: str = "cpu", dtype: str = "float32") -> None:
        if name not in ("numpy", "numba", "torch"):
            raise ParameterError(f"unknown array backend {name!r}; choose numpy, numba or torch")
        if dtype not in ("float32", "float64"):
            raise ParameterError(f"dtype must be float32 or float64, got {dtype!r}")
        self.name, self.device, self.np_dtype = name, device, np.dtype(dtype)
        self.is_torch = name == "torch"
        self.compiled = name == "numba" or (name == "numpy" and has_numba())
        self._workspace = None
        if self.is_torch:
            import torch

            self._t = torch
            self.torch_device = torch.device(device)
            self.dtype = getattr(torch, dtype)
        else:
            if device != "cpu":
                raise ParameterError(f"backend {name!r} runs on the CPU only, not on {device!r}")
            self.dtype = self.np_dtype

    def __repr__(self) -> str:
        return f"ArrayNamespace({self.name!r}, {self.device!r}, {self.np_dtype.name!r})"

    def asarray(self, a):
        """``a`` as a contiguous array of this backend, on its device, in the working dtype."""
        if self.is_torch:
            if hasattr(a, "detach"):
                return a.to(self.torch_device, dtype=self.dtype)
            return self._t.from_numpy(np.ascontiguousarray(a, dtype=self.np_dtype)).to(self.torch_device)
        return np.ascontiguousarray(a, dtype=self.np_dtype)

    def from_numpy(self, a: np.ndarray):
        """A numpy array on this backend's device with its own dtype (no copy on numpy)."""
        a = np.ascontiguousarray(a)
        return self._t.from_numpy(a).to(self.torch_device) if self.is_torch else a

    def to_numpy(self, a) -> np.ndarray:
        return to_numpy(a)

    def empty(self, shape):
        if self.is_torch:
            return self._t.empty(shape, dtype=self.dtype, device=self.torch_device)
        return np.empty(shape, dtype=self.np_dtype)

    def zeros(self, shape):
        if self.is_torch:
            return self._t.zeros(shape, dtype=self.dtype, device=self.torch_device)
        return np.zeros(shape, dtype=self.np_dtype)

    def workspace(self, shape):
        """A reusable working array of ``shape`` (its content is undefined): large temporaries are
        allocated once per namespace instead of page-faulting a fresh array per chunk."""
        size = int(np.prod(shape))
        if self._workspace is None or self._workspace.shape[0] < size:
            self._workspace = self.empty((size,))
        return self._workspace[:size].reshape(shape)

    def matmul(self, a, b, out=None):
        if self.is_torch:
            return self._t.matmul(a, b, out=out)
        return np.matmul(a, b, out=out)

    def square_(self, a):
        """``a`` squared in place."""
        return a.square_() if self.is_torch else np.square(a, out=a)

    def take_rows(self, a, index):
        """``a[index]`` along the first axis (``index`` an int array of this backend)."""
        return self._t.index_select(a, 0, index) if self.is_torch else np.take(a, index, axis=0)

    def amax(self, a, axis: int):
        """The maximum along ``axis``."""
        return self._t.amax(a, dim=axis) if self.is_torch else np.max(a, axis=axis)

    def no_grad(self):
        """A context without autograd bookkeeping (torch ``inference_mode``; nothing on numpy)."""
        from contextlib import nullcontext

        return self._t.inference_mode() if self.is_torch else nullcontext()

    def index_array(self, index):
        """An int64 index array of this backend."""
        if self.is_torch:
            return self._t.as_tensor(np.ascontiguousarray(index, dtype=np.int64), device=self.torch_device)
        return np.ascontiguousarray(index, dtype=np.int64)


def get_backend(name: str = "auto", device: str = "cpu", dtype: str = "float32") -> ArrayNamespace:
    """The :class:`ArrayNamespace` for a backend name (``auto`` as :func:`select_backend`) on a device
    (``auto`` as :func:`resolve_device`). A new namespace per call: its workspace is the caller's."""
    device = resolve_device(device) if device == "auto" else device
    return ArrayNamespace(select_backend(name, device), device, dtype)
