"""Running analyses from the window: one run at a time on a worker, with progress, cancel and the run's
results stored in the state (the router then shows them). A new run gets the latest results folder of
every analysis as its prior results (``prior=``); the runner passes each plugin what it declares."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.state.model import LoadedResults
from app.workers import Worker
from core.errors import StudioError
from core.outputs import VoxelMap


class RunController(QObject):
    """Starts runs of ``registry`` plugins on ``pool``; ``window`` shows progress, errors and the log.

    Signals: ``started(name)``, ``finished()`` (after the run's outputs are all routed, or after an
    error or cancel)."""

    started = Signal(str)
    finished = Signal()

    def __init__(self, window, state, registry, pool, router, results_root: Path) -> None:
        super().__init__()
        self.window, self.state, self.registry, self.pool, self.router = window, state, registry, pool, router
        self.results_root = Path(results_root)
        self.worker: Worker | None = None
        self.last_run_dir: Path | None = None
        self._current: tuple[str, Path, float] | None = None
        self._worker_done = False
        router.drained.connect(self._maybe_finish)

    def run(self, name: str, params: dict, device: str = "auto") -> Worker | None:
        """Run plugin ``name`` on the open dataset in the background; returns the worker (None when it
        cannot start: the reason is shown)."""
        from app.plugins.runner import run_analysis

        w = self.window
        if self.worker is not None:
            w.show_error("an analysis is already running; cancel it first")
            return None
        try:
            cls = self.registry.load(name)
            cls.resolve_params(params)
            if self.state.dataset_path is None and "dataset" in cls.inputs:
                raise StudioError(f"{cls.title} needs a dataset: open one first")
        except StudioError as exc:
            w.show_error(str(exc))
            return None
        out_dir = self.results_root / f"{name}-{datetime.now():%Y%m%d-%H%M%S-%f}"
        self.last_run_dir = out_dir
        prior = dict(self.state.latest)  # the latest results folder of every analysis run or opened
        projections, mesh_name = w.cortex.projections, w.cortex.mesh.name
        dataset_path = self.state.dataset_path

        def task(progress, cancel):
            record = run_analysis(cls, dataset_path, params, out_dir, device=device, prior=prior,
                                  progress=progress, cancel=cancel)
            for out in record.outputs:  # volume-to-surface mappings are built here, off the UI thread
                if isinstance(out, VoxelMap):
                    projections.get(out.geometry, mesh_name)
            return record

        worker = Worker(task)
        w.log(f"running {name} → {out_dir}")
        w.show_progress(0.0, f"{cls.title}: starting…")
        self._current = (name, out_dir, time.perf_counter())
        self._worker_done = False
        self.worker = worker
        worker.signals.progress.connect(w.show_progress)
        worker.signals.result.connect(self._result)
        worker.signals.error.connect(w.show_error)
        worker.signals.cancelled.connect(self._cancelled)
        worker.signals.finished.connect(self._worker_finished)
        self.started.emit(name)
        return self.pool.start(worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.window.log("cancelling…")

    def _result(self, record) -> None:
        name, out_dir, start = self._current
        self.window.log(f"{name} finished in {time.perf_counter() - start:.1f} s: "
                        f"{len(record.paths)} files in {out_dir}")
        self.state.add_results(LoadedResults(name, out_dir, record.outputs, record.provenance, live=True))

    def _cancelled(self) -> None:
        self.window.log("cancelled; nothing was written")

    def _worker_finished(self) -> None:
        self._worker_done = True
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        """The run ends when its worker is done and its outputs are all shown."""
        if self.worker is None or not self._worker_done or not self.router.done():
            return
        self.worker = None
        self.finished.emit()
