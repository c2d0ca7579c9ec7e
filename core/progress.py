"""Progress and cancellation plumbing shared by every long computation (Qt-free).

A *progress* callback takes ``(fraction in [0, 1], message)``; a *cancel* token is anything with
``is_set() -> bool`` (a ``threading.Event`` works). Long work calls :func:`check_cancel` between chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.errors import Cancelled

ProgressFn = Callable[[float, str], None]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class NeverCancel:
    """A cancel token that is never set."""

    def is_set(self) -> bool:
        return False


def no_progress(fraction: float, message: str = "") -> None:
    """A progress callback that ignores its input."""


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def sub_progress(progress: ProgressFn, start: float, stop: float) -> ProgressFn:
    """Map a sub-task's [0, 1] progress onto ``[start, stop]`` of ``progress``."""

    def report(fraction: float, message: str = "") -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report
