"""Background work for the GUI: QThreadPool runnables that relay progress, results and errors to the UI
thread as Qt signals (napari/superqt style), with cooperative cancel.

A task is ``fn(progress, cancel) -> result`` (progress(fraction, message); cancel.is_set()), or a
generator function yielding ``(fraction, message)`` and returning its result: the worker checks the
cancel token between yields. Progress signals are throttled (at most one every PROGRESS_INTERVAL_S) so a
chatty task cannot flood the event loop: every repaint of a window holding an OpenGL widget costs
15-30 ms under software GL. Pool threads run at a lower CPU priority (``os.setpriority``, Linux/macOS
nice) so that on a machine with few cores the analysis, and the numba/BLAS threads it starts, yield
to the UI thread.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.errors import Cancelled, StudioError

PROGRESS_INTERVAL_S = 0.25
WORKER_NICE = 5  # nice increment of pool threads (0: leave the priority alone)


def lower_thread_priority(nice: int = WORKER_NICE) -> None:
    """Raise the calling thread's nice value by ``nice`` (threads it starts inherit it); no-op where
    per-thread priorities are unavailable. Never raises."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        target = min(os.getpriority(os.PRIO_PROCESS, 0) + nice, 19)
        if current < target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except (OSError, AttributeError):
        pass


class WorkerSignals(QObject):
    """Signals of a :class:`Worker`; emitted from the pool thread, delivered queued on the UI thread."""

    progress = Signal(float, str)
    result = Signal(object)
    error = Signal(str, str)  # one-line message, traceback text (empty for expected errors)
    cancelled = Signal()
    finished = Signal()  # always last


class Worker(QRunnable):
    """Run ``fn`` on a pool thread. ``cancel()`` sets the token; the task stops at its next check."""

    def __init__(self, fn: Callable[..., Any], *args, **kwargs) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signals = WorkerSignals()
        self.token = threading.Event()
        self.done = threading.Event()
        self._last_emit = 0.0
        self.nice = WORKER_NICE

    def cancel(self) -> None:
        self.token.set()

    def _progress(self, fraction: float, message: str = "") -> None:
        now = time.perf_counter()
        if fraction >= 1.0 or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.signals.progress.emit(float(fraction), str(message))

    def run(self) -> None:  # pool thread
        lower_thread_priority(self.nice)
        try:
            if inspect.isgeneratorfunction(self.fn):
                result = self._run_generator()
            else:
                result = self.fn(*self.args, progress=self._progress, cancel=self.token, **self.kwargs)
            if self.token.is_set():
                raise Cancelled()
        except Cancelled:
            self.signals.cancelled.emit()
        except StudioError as exc:
            self.signals.error.emit(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "")
        except Exception as exc:  # noqa: BLE001 - shown in one dialog, the app goes on
            self.signals.error.emit(f"{type(exc).__name__}: {exc}".splitlines()[0], traceback.format_exc())
        else:
            self.signals.result.emit(result)
        finally:
            self.done.set()
            self.signals.finished.emit()

    def _run_generator(self):
        gen = self.fn(*self.args, **self.kwargs)
        while True:
            if self.token.is_set():
                gen.close()
                raise Cancelled()
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            if isinstance(item, tuple) and len(item) == 2:
                self._progress(*item)


class WorkerPool(QObject):
    """Starts workers on a private QThreadPool and keeps them alive until they finish.

    Worker signals are connected to bound methods of QObjects living on the UI thread (like
    ``_finished`` here): PySide6 >= 6.8 can crash when a signal emitted from a pool thread reaches a
    lambda (PYSIDE-3124)."""

    def __init__(self, max_threads: int = 2) -> None:
        super().__init__()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max_threads)
        self.active: set[Worker] = set()

    def start(self, worker: Worker) -> Worker:
        self.active.add(worker)
        worker.signals.finished.connect(self._finished)
        self.pool.start(worker)
        return worker

    def _finished(self) -> None:
        sender = self.sender()
        for worker in list(self.active):
            if worker.signals is sender:
                self.active.discard(worker)

    def wait(self, timeout_ms: int = 30000) -> bool:
        return self.pool.waitForDone(timeout_ms)
