"""Array backend and device choice: ``auto`` = cuda, then mps, then cpu.

Torch is imported lazily so that numpy-only code paths never pay for it.
"""

from __future__ import annotations

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
