"""The window's warm-up: once the first participant is on screen, a worker finds the compute device and
imports the analyses' heavy libraries (torch, numba), so that the first run does not pay for them; and the
garbage collector's state while that happens (:func:`freeze_heap`)."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Signal

from app.workers import Worker

WARM_UP_DELAY_MS = 1500  # after the first frame: the imports take a core of a 2-core machine for ~2 s
POLL_MS = 250  # while a dataset or participant is still loading


def freeze_heap(*_args, enable: bool = True) -> None:
    """Move every object alive now (imported modules, meshes, loaded data) out of the garbage collector's
    scans (``gc.freeze``, O(1)): a full collection of the GUI's ~330k long-lived objects holds the GIL for
    100-230 ms, the largest UI stall measured after a click. Called once things are loaded. With the
    collector on, the young generations are collected first (a few ms) so that fresh garbage is not
    frozen with them; with it off (``cbstudio gui`` starts so: ~4 full collections of the growing heap
    took ~0.35 s of a 2.5 s cold start), everything allocated since the start is young and that collection
    would scan it all (~150 ms on the UI thread), so the start-up's few cycles are frozen with the rest.
    ``enable`` turns the collector on (off while torch and numba are still being imported: their imports
    would trigger full collections of their own fresh objects, 100+ ms stalls of the UI)."""
    if gc.isenabled():
        gc.collect(1)
    gc.freeze()
    if enable:
        gc.enable()


class WarmUp(QObject):
    """Start the warm-up ``WARM_UP_DELAY_MS`` after construction, once ``busy()`` is False; emits
    ``deviceFound(name)`` ("cpu" when torch is missing or fails). ``done_`` is True once it has finished.
    :meth:`freeze` (connected to "a participant is shown" and "a run ended") freezes the heap and keeps
    the collector off until then."""

    deviceFound = Signal(str)

    def __init__(self, pool, busy) -> None:
        super().__init__()
        self.pool, self.busy = pool, busy
        self.done_ = False
        QTimer.singleShot(WARM_UP_DELAY_MS, self._start_when_idle)

    def freeze(self, *_args) -> None:
        freeze_heap(enable=self.done_ or gc.isenabled())

    def _start_when_idle(self) -> None:
        """Wait for the dataset and the first participant: their map, drawn in software GL, needs the CPU
        too (measured: its frame 40 -> 70 ms when it overlaps the imports, a 100+ ms UI stall)."""
        if self.busy():
            QTimer.singleShot(POLL_MS, self._start_when_idle)
            return
        worker = Worker(_warm_up)
        worker.signals.result.connect(self._found)  # bound methods: see app.controllers.card
        worker.signals.error.connect(self._failed)
        self.pool.start(worker)

    def _found(self, name: str) -> None:
        self.done_ = True
        freeze_heap()
        self.deviceFound.emit(name)

    def _failed(self, message: str = "", details: str = "") -> None:
        self._found("cpu")


def _warm_up(progress, cancel) -> str:
    """The device (``core.backend.resolve_device``), after torch's and LLVM's libraries are loaded
    without the GIL (their imports then hold it less) and numba is imported (~0.3 s, now rather than in
    the first run)."""
    from core.backend import resolve_device
    from core.native import preload_native

    preload_native()
    device = resolve_device("auto")
    try:
        import numba  # noqa: F401
    except ImportError:
        pass
    return device
