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
