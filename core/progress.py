"""Progress and cancellation plumbing shared by every long computation (Qt-free).

A *progress* callback takes ``(fraction in [0, 1], message)``; a *cancel* token is anything with
``is_set() -> bool`` (a ``threading.Event`` works). Long work calls :func:`check_cancel` between chunks.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
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


@contextmanager
def sigint_deferred():
    """Hold Ctrl-C while a numba kernel loads from its cache or runs, and raise KeyboardInterrupt after.

    A KeyboardInterrupt raised inside numba's cache loader or parallel region leaves it broken: the run
    ends as a chain of SystemError("... returned a result with an exception set"), the interrupt is
    swallowed, or the process segfaults. One kernel call takes well under a second per chunk. Only the
    main thread receives signals; elsewhere this does nothing.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    pending: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending and callable(previous):
            previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
        elif pending and previous == signal.SIG_DFL:
            raise KeyboardInterrupt
