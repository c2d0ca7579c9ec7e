"""The main window (DESIGN.md "The main window"): dataset and analysis docks, the cortex viewer, the
voxel card, result tabs (Tables, Plots, RDMs, Log) and a status bar with progress and Cancel.

Analyses run through the plugin registry and :func:`app.plugins.runner.run_analysis` on a worker
thread; their typed outputs are routed by kind. Every user-facing error lands in ONE dialog and the
app goes on. Layout, last dataset, result folders and analysis settings persist in QSettings.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
)

from app.views.analysis_panel import AnalysisPanel
from app.views.cortex_view import CortexView
from app.views.dataset_panel import MAX_RECENT, DatasetPanel
from app.views.plots import PlotsView
from app.views.rdm_view import RDMView
from app.views.tables import TablesView
from app.views.voxel_card import VoxelCard
from app.views.window_exports import ExportActions
from app.views.window_session import SessionState
from app.workers import Worker, WorkerPool
from core.errors import StudioError
from core.outputs import RDM, Figure, LayerCurve, Table, VoxelMap

ORG, APP = "concept-brain-studio", "Concept Brain Studio"


def default_results_root() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("concept-brain-studio")) / "results"


class MainWindow(ExportActions, SessionState, QMainWindow):
    """The application window.

    registry : plugin Registry (default: the installed entry points).
    settings : QSettings to persist the session in (default: the user's).
    results_root : where runs write ``<analysis>-<time>/`` folders.
    """

    def __init__(
        self, registry=None, settings: QSettings | None = None, results_root=None, mesh: str = "fs_LR32k"
    ) -> None:
        from app.plugins.registry import Registry

        super().__init__()
        self.setWindowTitle(APP)
        self.resize(1500, 950)
        self.registry = registry if registry is not None else Registry()
        self.settings = settings if settings is not None else QSettings(ORG, APP)
        self.results_root = Path(results_root) if results_root else default_results_root()
        self.pool = WorkerPool()
        self.dataset = None
        self.dataset_path: Path | None = None
        self._participants: dict[str, object] = {}
        self._pids: list[str] = []
        self.results: list = []
        self.provenance: dict[str, dict] = {}
        self.result_folders: list[str] = []
        self.last_results: dict[str, Path] = {}
        self.worker: Worker | None = None
        self.last_run_dir: Path | None = None
        self.errors: list[str] = []

        self.cortex = CortexView(self, mesh=mesh)
        self.setCentralWidget(self.cortex)
        self.dataset_panel = DatasetPanel()
        self.analysis_panel = AnalysisPanel(self.registry)
        self.card = VoxelCard()
        self.tables = TablesView()
        self.plots = PlotsView()
        self.rdms = RDMView()
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.tabs = QTabWidget()
        for widget, title in (
            (self.tables, "Tables"),
            (self.plots, "Plots"),
            (self.rdms, "RDMs"),
            (self.log_view, "Log"),
        ):
            self.tabs.addTab(widget, title)
        self.docks = {}
        for key, title, widget, area in (
            ("dataset", "Dataset", self.dataset_panel, Qt.LeftDockWidgetArea),
            ("analyses", "Analyses", self.analysis_panel, Qt.LeftDockWidgetArea),
            ("card", "Voxel card", self.card, Qt.RightDockWidgetArea),
            ("results", "Results", self.tabs, Qt.BottomDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{key}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[key] = dock
        self._build_status_bar()
        self._build_menus()
        self.error_box = QMessageBox(QMessageBox.Warning, APP, "", QMessageBox.Ok, self)
        self.error_box.setModal(False)

        self.dataset_panel.openRequested.connect(self.open_dataset)
        self.dataset_panel.participantChanged.connect(self.set_participant)
        self.analysis_panel.runRequested.connect(self.run_plugin)
        self.analysis_panel.cancelRequested.connect(self.cancel)
        self.cortex.vertexPicked.connect(self.on_vertex_picked)
        self.cortex.screenshot_button.clicked.connect(self._ask_screenshot)
        self.tables.exportRequested.connect(self._ask_table_export)
        self.plots.exportRequested.connect(self._ask_figure_export)
        self.restore_layout()
        QTimer.singleShot(1500, self._resolve_device)  # after the first frame: importing torch takes seconds

    # ------------------------------------------------------------------ chrome
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_dataset = QLabel("no dataset")
        self.status_device = QLabel("device: …")
        self.status_progress = QProgressBar()
        self.status_progress.setRange(0, 1000)
        self.status_progress.setMaximumWidth(220)
        self.status_cancel = QPushButton("Cancel")
        self.status_cancel.setEnabled(False)
        self.status_cancel.clicked.connect(self.cancel)
        bar.addWidget(self.status_dataset, 1)
        bar.addPermanentWidget(self.status_device)
        bar.addPermanentWidget(self.status_progress)
        bar.addPermanentWidget(self.status_cancel)

    def _resolve_device(self) -> None:
        """Find the device in the background (importing torch takes seconds; the window is up first)."""
        from core.backend import resolve_device

        worker = Worker(lambda progress, cancel: resolve_device("auto"))
        worker.signals.result.connect(lambda name: self.status_device.setText(f"device: {name}"))
        worker.signals.error.connect(lambda *_: self.status_device.setText("device: cpu"))
        self.pool.start(worker)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self._action(file_menu, "Open dataset folder…", self.dataset_panel._choose_folder, "Ctrl+O")
        self._action(file_menu, "Open dataset file…", self.dataset_panel._choose_file)
        self._action(file_menu, "Open results folder…", self._ask_results_folder, "Ctrl+R")
        self._action(file_menu, "Open demo dataset", self.open_demo)
        file_menu.addSeparator()
        export = file_menu.addMenu("Export")
        self._action(export, "Brain screenshot (PNG)…", self._ask_screenshot)
        self._action(export, "Figure bundle…", self._ask_bundle, "Ctrl+E")
        self._action(export, "Current map (NIfTI/GIfTI)…", self._ask_map_export)
        self._action(export, "Current table (CSV)…", lambda: self._ask_table_export(None))
        self._action(export, "Current plot (PNG/SVG/PDF)…", lambda: self._ask_figure_export(None))
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, "Ctrl+Q")
        view = menu.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        for name in ("lateral", "medial", "dorsal", "ventral"):
            self._action(view, name.capitalize(), lambda v=name: self.cortex.set_view(v))
        analyses = menu.addMenu("&Analyses")
        self._action(analyses, "Run selected", self.analysis_panel._run, "Ctrl+Return")
        self._action(analyses, "Cancel", self.cancel, "Esc")
        help_menu = menu.addMenu("&Help")
        self._action(
            help_menu,
            "About",
            lambda: QMessageBox.about(
                self,
                APP,
                "Concept Brain Studio: brain–language-model alignment analyses.\n"
                "fs_LR 32k meshes and Glasser HCP-MMP1.0 labels: WU-Minn HCP; Glasser et al. 2016.",
            ),
        )

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action

    def log(self, message: str) -> None:
        self.log_view.appendPlainText(f"{datetime.now():%H:%M:%S}  {message}")

    def show_error(self, message: str, details: str = "") -> None:
        """Show ``message`` in the single error dialog (messages arriving while it is open are appended)."""
        self.errors.append(message)
        self.log(f"error: {message}")
        if details:
            self.log(details)
        text = message if not self.error_box.isVisible() else f"{self.error_box.text()}\n{message}"
        self.error_box.setText(text)
        self.error_box.show()

    # ------------------------------------------------------------------ dataset
    def open_demo(self) -> None:
        """Open the demo dataset, generating it on a worker thread the first time."""
        from app.__main__ import default_demo_path, ensure_demo

        if (default_demo_path() / "dataset.json").is_file():
            self.open_dataset(str(default_demo_path()))
            return
        self.log("generating the demo dataset (first start only)…")
        self._start(
            Worker(lambda progress, cancel: ensure_demo(progress=progress)),
            on_result=lambda path: self.open_dataset(str(path)),
        )

    def open_dataset(self, path: str) -> bool:
        """Open a dataset (any supported format); errors go to the dialog. Returns success."""
        from core.data.readers import open_dataset

        try:
            dataset = open_dataset(Path(path))
            info = dataset.describe()
        except StudioError as exc:
            self.show_error(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - a reader bug must not take the app down
            self.show_error(f"cannot open {path}: {type(exc).__name__}: {exc}")
            return False
        self.dataset, self.dataset_path = dataset, Path(path)
        self._participants.clear()
        self.dataset_panel.show_dataset(info)
        self.status_dataset.setText(f"{info['name']} · {len(info['participants'])} participants · {path}")
        self._remember_recent(str(path))
        self.log(f"opened {path} ({info['reader']} reader)")
        self._pids = [str(p["participant"]) for p in info["participants"]]
        if self._pids:
            self.set_participant(self._pids[0])
        return True

    def participant(self, pid: str | None = None):
        """The loaded ParticipantData for ``pid`` (default: the one chosen in the dataset panel)."""
        if self.dataset is None:
            return None
        pid = pid or self.dataset_panel.participant.currentText()
        if pid not in self._participants:
            self._participants[pid] = self.dataset.participant(pid)
        return self._participants[pid]

    def set_participant(self, pid: str) -> None:
        try:
            data = self.participant(pid)
        except StudioError as exc:
            self.show_error(str(exc))
            return
        self.cortex.reference_geometry = data.geometry
        if data.language is not None:
            self.cortex.add_map(
                VoxelMap(
                    f"language_{pid}",
                    data.language,
                    data.geometry,
                    units="language response",
                    two_sided=True,
                    meta={"participant": pid, "stat": "language"},
                ),
                show=self.cortex.current_map is None or self.cortex.current_map.startswith("language_"),
            )

    def _remember_recent(self, path: str) -> None:
        recent = [p for p in self._recent() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent", json.dumps(recent[:MAX_RECENT]))
        self.settings.setValue("last_dataset", path)
        self.dataset_panel.set_recent(recent)

    def _recent(self) -> list[str]:
        try:
            return list(json.loads(self.settings.value("recent", "[]") or "[]"))
        except (TypeError, ValueError):
            return []

    # ------------------------------------------------------------------ analyses
    def run_plugin(self, name: str, params: dict, device: str = "auto") -> Worker | None:
        """Run plugin ``name`` on the open dataset in the background; returns the worker."""
        from app.plugins.runner import run_analysis

        if self.worker is not None:
            self.show_error("an analysis is already running; cancel it first")
            return None
        try:
            cls = self.registry.load(name)
            cls.resolve_params(params)
            if self.dataset_path is None and "dataset" in cls.inputs:
                raise StudioError(f"{cls.title} needs a dataset: open one first")
        except StudioError as exc:
            self.show_error(str(exc))
            return None
        out_dir = self.results_root / f"{name}-{datetime.now():%Y%m%d-%H%M%S-%f}"
        self.last_run_dir = out_dir
        results_dir = self.last_results.get("consistency")
        projections, mesh_name = self.cortex.projections, self.cortex.mesh.name

        def task(progress, cancel):
            record = run_analysis(
                cls,
                self.dataset_path,
                params,
                out_dir,
                device=device,
                results_dir=results_dir,
                progress=progress,
                cancel=cancel,
            )
            for out in record.outputs:  # volume-to-surface mappings are built here, off the UI thread
                if isinstance(out, VoxelMap):
                    projections.get(out.geometry, mesh_name)
            return record

        worker = Worker(task)
        self.log(f"running {name} → {out_dir}")
        self._run_started = time.perf_counter()
        return self._start(
            worker, on_result=lambda record, n=name, o=out_dir: self._run_done(n, o, record), track=True
        )

    def _start(self, worker: Worker, on_result, track: bool = False) -> Worker:
        worker.signals.progress.connect(self._progress)
        worker.signals.result.connect(on_result)
        worker.signals.error.connect(self.show_error)
        worker.signals.cancelled.connect(lambda: self.log("cancelled; nothing was written"))
        if track:
            self.worker = worker
            self.analysis_panel.set_running(True)
            self.status_cancel.setEnabled(True)
            worker.signals.finished.connect(self._run_finished)
        return self.pool.start(worker)

    def _progress(self, fraction: float, message: str) -> None:
        self.analysis_panel.show_progress(fraction, message)
        self.status_progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
        self.statusBar().showMessage(message, 3000)

    def _run_finished(self) -> None:
        self.worker = None
        self.analysis_panel.set_running(False)
        self.status_cancel.setEnabled(False)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.log("cancelling…")

    def _run_done(self, name: str, out_dir: Path, record) -> None:
        self.last_results[name] = out_dir
        self.result_folders.append(str(out_dir))
        self.log(
            f"{name} finished in {time.perf_counter() - self._run_started:.1f} s: "
            f"{len(record.paths)} files in {out_dir}"
        )
        self.route(record.outputs, record.provenance)

    def route(self, outputs: list, provenance: dict | None = None) -> None:
        """Send each output to its view: maps to the cortex, tables, plots, RDMs."""
        first_map = True
        for out in outputs:
            self.results.append(out)
            self.provenance[out.name] = provenance or {}
            if isinstance(out, VoxelMap):
                self.cortex.add_map(out, show=first_map and "layer" not in out.meta)
                first_map = False
            elif isinstance(out, Table):
                self.tables.add_table(out)
            elif isinstance(out, (LayerCurve, Figure)):
                self.plots.add_output(out)
            elif isinstance(out, RDM):
                self.rdms.add_rdm(out)
        if self.cortex.layer_maps() and first_map is False and self.cortex.current_map is None:
            self.cortex._scrub_setup()

    def open_results(self, folder: str) -> bool:
        """Show the outputs of an earlier run (NIfTI maps, CSV tables, NPY RDMs) again."""
        from app.views.maps import read_results_folder

        try:
            outputs, provenance = read_results_folder(folder)
        except StudioError as exc:
            self.show_error(str(exc))
            return False
        self.route(outputs, provenance)
        if str(folder) not in self.result_folders:
            self.result_folders.append(str(folder))
        analysis = provenance.get("analysis")
        if analysis:
            self.last_results[analysis] = Path(folder)
        self.log(f"opened results {folder}: {len(outputs)} outputs")
        return True

    # ------------------------------------------------------------------ voxel card
    def on_vertex_picked(self, hemi: str, vertex: int) -> None:
        """Fill the voxel card at once; the permutation null of C follows on the next event-loop turn."""
        from app.views.voxel_info import collect

        try:
            info = collect(
                self.vertex_xyz(hemi, vertex),
                self._maps(),
                self._tables(),
                self._card_participant(),
                hemi,
                vertex,
                with_null=False,
            )
        except StudioError as exc:
            self.show_error(str(exc))
            return
        self.card.show_info(info)
        self.docks["card"].raise_()
        QTimer.singleShot(0, lambda: self._complete_card(info))

    def _complete_card(self, info) -> None:
        from app.views.voxel_info import add_null

        if self.card.info is info:
            self.card.show_info(add_null(info))

    def vertex_xyz(self, hemi: str, vertex: int):
        """MNI mm under a vertex: the centre of its voxel, else its midthickness position."""
        from core.atlas.meshes import load_mesh

        geometry, idx = self.cortex.voxel_of(hemi, vertex)
        if geometry is not None and idx >= 0:
            return geometry.xyz[idx]
        return load_mesh(self.cortex.mesh.name, "midthickness").hemis[hemi].vertices[vertex].astype(float)

    def _maps(self) -> list[VoxelMap]:
        return list(self.cortex.maps.values())

    def _tables(self) -> list[Table]:
        return list(self.tables.tables.values())

    def _card_participant(self):
        vmap = self.cortex.maps.get(self.cortex.current_map)
        pid = vmap.meta.get("participant") if vmap is not None else None
        if self.dataset is None:
            return None
        return self.participant(pid if pid in self._pids else None)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.save_session()
        if self.worker is not None:
            self.worker.cancel()
        self.pool.wait(10000)
        self.cortex.close_viewer()
        super().closeEvent(event)


def run_app(
    data: str | None = None,
    screenshot: str | None = None,
    settings: QSettings | None = None,
    registry=None,
    results_root=None,
) -> int:
    """Start the application on ``data`` (default: the last dataset, else the demo). With ``screenshot``,
    save a window screenshot once the data is shown, then exit (exit code 1 if an error was shown)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    window = MainWindow(registry=registry, settings=settings, results_root=results_root)

    def excepthook(kind, value, tb) -> None:
        import traceback

        window.show_error(f"{kind.__name__}: {value}".splitlines()[0], "".join(traceback.format_tb(tb)))

    previous_hook, sys.excepthook = sys.excepthook, excepthook
    window.show()
    window.restore_session(data)
    if screenshot:

        def take() -> None:
            if window.dataset is None and not window.errors and window.pool.active:
                QTimer.singleShot(200, take)  # the demo is still being generated
                return
            window.window_image().save(str(screenshot))
            print(f"screenshot written to {screenshot}")
            window.close()
            app.quit()

        QTimer.singleShot(500, take)
    try:
        code = app.exec()
    finally:
        sys.excepthook = previous_hook
    return 1 if (screenshot and window.errors) else int(code)
