"""Opening things: datasets (any supported format; the demo is generated on a worker the first time),
participants (their data loads on a worker, then the language map is shown) and results folders (read
on a worker, then stored in the state, which shows them)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.state.model import LoadedResults
from app.views.dataset_panel import MAX_RECENT
from app.workers import Worker
from core.errors import DataError, StudioError
from core.outputs import VoxelMap


def load_participant(dataset, pid: str, projections=None, mesh=None, progress=None, cancel=None):
    """A participant's data, on a worker (Qt-free); with ``projections`` (a ProjectionCache) and
    ``mesh``, also its volume-to-surface mapping (0.2 s, which the UI thread would otherwise spend when
    the participant's language map is first shown)."""
    data = dataset.participant(pid)
    if projections is not None and mesh is not None:
        projections.get(data.geometry, mesh)
    return pid, data


def describe_dataset(path: str, progress=None, cancel=None):
    """(path, dataset, its description) for a dataset path (Qt-free; on a worker from the UI: reading
    a dataset's description takes 0.1-0.3 s). Raises DataError naming the path on any reader failure."""
    from core.data.readers import open_dataset

    try:
        dataset = open_dataset(Path(path))
        return str(path), dataset, dataset.describe()
    except StudioError:
        raise
    except Exception as exc:  # a reader bug must not take the app down
        raise DataError(f"cannot open {path}: {type(exc).__name__}: {exc}") from exc


def read_results(folder: str, progress=None, cancel=None):
    """A results folder's typed outputs and provenance, on a worker (Qt-free)."""
    from core.export.readers import read_results_folder

    return (folder, *read_results_folder(folder))


class DatasetController(QObject):
    """Datasets, participants and results folders for ``window``. Signals ``participantShown(pid)`` (its
    data loaded and its language map added) and ``resultsOpened(folder)``."""

    participantShown = Signal(str)
    resultsOpened = Signal(str)

    def __init__(self, window, state, pool, settings) -> None:
        super().__init__()
        self.w, self.state, self.pool, self.settings = window, state, pool, settings
        self.loading: set[Worker] = set()  # workers kept alive until delivered
        self._opening: str | None = None  # the dataset being opened in the background

    # ------------------------------------------------------------------ datasets
    def open_demo(self) -> None:
        """Open the demo dataset, generating it on a worker thread the first time."""
        from core.demo.cache import default_demo_path, ensure_demo

        if (default_demo_path() / "dataset.json").is_file():
            self.open_in_background(str(default_demo_path()))
            return
        w = self.w
        note = "Generating the demo dataset (first start only, about 20-60 s)…"
        w.log(note)
        w.status_dataset.setText(note)
        w.cortex.hover.setText(note)
        w.analysis_panel.show_progress(0.0, note)
        projections, mesh_name = w.cortex.projections, w.cortex.mesh.name

        def prepare(progress, cancel):
            from core.data.readers import open_dataset

            path = ensure_demo(progress=progress)
            dataset = open_dataset(path)
            if dataset.participants:  # the volume-to-surface mapping, built here, off the UI thread
                projections.get(dataset.participant(dataset.participants[0]).geometry, mesh_name)
            return str(path)

        self._start(Worker(prepare), self._demo_ready)

    def _demo_ready(self, path) -> None:
        self.w.cortex.hover.setText(" ")
        self.open_in_background(str(path))

    def open_dataset(self, path: str) -> bool:
        """Open a dataset's description now (no responses are read); errors go to the dialog. The first
        participant's data then loads on a worker. Returns success. (The UI opens datasets with
        :meth:`open_in_background`.)"""
        self._opening = None
        try:
            described = describe_dataset(str(path))
        except StudioError as exc:
            self.w.show_error(str(exc))
            return False
        self._show_dataset(described)
        return True

    def open_in_background(self, path: str) -> bool:
        """Open a dataset on a worker (the window stays responsive); False, with the reason shown, when
        ``path`` does not exist. A newer request supersedes a pending one."""
        if not Path(path).exists():
            self.w.show_error(f"cannot open {path}: no such file or folder")
            return False
        self._opening = str(path)
        self.w.status_dataset.setText(f"opening {path}…")
        self._start(Worker(describe_dataset, str(path)), self._described)
        return True

    def _described(self, described) -> None:
        if described[0] == self._opening:  # not superseded by a newer request
            self._opening = None
            self._show_dataset(described)

    def _show_dataset(self, described) -> None:
        path, dataset, info = described
        w = self.w
        self.state.set_dataset(dataset, path)
        w.dataset_panel.show_dataset(info)
        w.analysis_panel.set_dataset_info(info)
        w.status_dataset.setText(f"{info['name']} · {len(info['participants'])} participants · {path}")
        self.remember_recent(str(path))
        w.log(f"opened {path} ({info['reader']} reader)")
        if self.state.participant_ids:
            self.set_participant(self.state.participant_ids[0])

    def set_participant(self, pid: str) -> None:
        """Show participant ``pid``: its data loads on a worker, then its language map is added."""
        if self.state.dataset is None or not pid:
            return
        self.state.set_participant(pid)
        cortex = self.w.cortex
        mesh = None if cortex.mesh is None else cortex.mesh.name
        worker = Worker(load_participant, self.state.dataset, pid, cortex.projections, mesh)
        self._start(worker, self._participant_loaded)

    def _participant_loaded(self, loaded) -> None:
        pid, data = loaded
        if self.state.dataset is None or pid not in self.state.participant_ids:
            return  # another dataset was opened meanwhile
        self.state.store_participant(pid, data)
        cortex = self.w.cortex
        cortex.reference_geometry = data.geometry
        if data.language is not None:
            vmap = VoxelMap(f"language_{pid}", data.language, data.geometry, units="language response",
                            two_sided=True, meta={"participant": pid, "stat": "language"})
            shown = cortex.current_map is None or cortex.current_map.startswith("language_")
            cortex.add_map(vmap, show=shown)
            for view in self.w.views.views[1:]:  # the other views of a split viewer offer it too
                view.add_map(vmap, show=False)
        self.participantShown.emit(pid)

    # ------------------------------------------------------------------ results folders
    def open_results(self, folder: str) -> None:
        """Show the outputs of an earlier run (maps, tables, RDMs, layer curves, figures) again; the folder
        is read on a worker."""
        self._start(Worker(read_results, str(folder)), self._results_read)

    def _results_read(self, loaded) -> None:
        folder, outputs, provenance = loaded
        analysis = str(provenance.get("analysis") or "")
        self.state.add_results(LoadedResults(analysis, Path(folder), outputs, provenance))
        self.w.log(f"opened results {folder}: {len(outputs)} outputs")
        self.resultsOpened.emit(str(folder))

    # ------------------------------------------------------------------ recent datasets
    def remember_recent(self, path: str) -> None:
        recent = [p for p in self.recent() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent", json.dumps(recent[:MAX_RECENT]))
        self.settings.setValue("last_dataset", path)
        self.w.dataset_panel.set_recent(recent)

    def recent(self) -> list[str]:
        try:
            return list(json.loads(self.settings.value("recent", "[]") or "[]"))
        except (TypeError, ValueError):
            return []

    def _start(self, worker: Worker, on_result) -> Worker:
        self.loading.add(worker)
        worker.signals.progress.connect(self.w.show_progress)
        worker.signals.result.connect(on_result)
        worker.signals.error.connect(self.w.show_error)
        worker.signals.finished.connect(self._released)
        return self.pool.start(worker)

    def _released(self) -> None:
        sender = self.sender()
        for worker in [wk for wk in self.loading if wk.signals is sender]:
            self.loading.discard(worker)

    def busy(self) -> bool:
        """True while a dataset, participant or results folder is being read."""
        return bool(self.loading)
