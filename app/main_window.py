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
from app.views.window_card import CardActions
from app.views.window_exports import ExportActions
from app.views.window_routing import RoutingActions
from app.views.window_session import SessionState
from app.workers import Worker, WorkerPool
from core.errors import StudioError
from core.outputs import VoxelMap

ORG, APP = "concept-brain-studio", "Concept Brain Studio"
PLOTS_MIN_HEIGHT = 230  # px: below it matplotlib's layout collapses the axes


def default_results_root() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("concept-brain-studio")) / "results"


class MainWindow(CardActions, RoutingActions, ExportActions, SessionState, QMainWindow):
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
        self._route_queue: list[tuple[object, dict]] = []
        self._finish_pending = False

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
        self.plots.setMinimumHeight(PLOTS_MIN_HEIGHT)  # figures need room; the brain keeps the rest
        # the side docks run full height (the parameter form never gets squeezed by the results)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.resizeDocks([self.docks["results"]], [PLOTS_MIN_HEIGHT + 40], Qt.Vertical)
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
        """Find the device in the background (importing torch takes seconds; the window is up first), and
        import the analyses' heavy native libraries while the user is still looking at the window."""
        from core.backend import resolve_device

        def warm_up(progress, cancel) -> str:
            device = resolve_device("auto")
            try:  # loading numba's LLVM library holds the GIL ~0.2 s: do it now, not in the first run
                import numba  # noqa: F401
            except ImportError:
                pass
            return device

        worker = Worker(warm_up)
        worker.signals.result.connect(self._device_found)  # bound methods: see window_card
        worker.signals.error.connect(self._device_failed)
        self.pool.start(worker)

    def _device_found(self, name: str) -> None:
        self.status_device.setText(f"device: {name}")

    def _device_failed(self, message: str = "", details: str = "") -> None:
        self.status_device.setText("device: cpu")

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
        from core.demo.cache import default_demo_path, ensure_demo

        if (default_demo_path() / "dataset.json").is_file():
            self.open_dataset(str(default_demo_path()))
            return
        note = "Generating the demo dataset (first start only, about 20-60 s)…"
        self.log(note)
        self.status_dataset.setText(note)
        self.cortex.hover.setText(note)
        self.analysis_panel.show_progress(0.0, note)
        projections, mesh_name = self.cortex.projections, self.cortex.mesh.name

        def prepare(progress, cancel):
            from core.data.readers import open_dataset

            path = ensure_demo(progress=progress)
            dataset = open_dataset(path)
            if dataset.participants:  # the volume-to-surface mapping, built here, off the UI thread
                projections.get(dataset.participant(dataset.participants[0]).geometry, mesh_name)
            return path

        self._start(Worker(prepare), on_result=self._demo_ready)

    def _demo_ready(self, path) -> None:
        self.cortex.hover.setText(" ")
        self.open_dataset(str(path))

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
        self.analysis_panel.set_dataset_info(info)
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
        prior = dict(self.last_results)  # the latest results folder of every analysis run or opened
        projections, mesh_name = self.cortex.projections, self.cortex.mesh.name

        def task(progress, cancel):
            record = run_analysis(
                cls,
                self.dataset_path,
                params,
                out_dir,
                device=device,
                prior=prior,
                progress=progress,
                cancel=cancel,
            )
            for out in record.outputs:  # volume-to-surface mappings are built here, off the UI thread
                if isinstance(out, VoxelMap):
                    projections.get(out.geometry, mesh_name)
            return record

        worker = Worker(task)
        self.log(f"running {name} → {out_dir}")
        self._progress(0.0, f"{cls.title}: starting…")
        self._run_started = time.perf_counter()
        self._running = (name, out_dir)
        return self._start(worker, on_result=self._run_result, track=True)

    def _run_result(self, record) -> None:
        name, out_dir = self._running
        self._run_done(name, out_dir, record)

    def _start(self, worker: Worker, on_result, track: bool = False) -> Worker:
        worker.signals.progress.connect(self._progress)
        worker.signals.result.connect(on_result)
        worker.signals.error.connect(self.show_error)
        worker.signals.cancelled.connect(self._cancelled)
        if track:
            self.worker = worker
            self.analysis_panel.set_running(True)
            self.status_cancel.setEnabled(True)
            worker.signals.finished.connect(self._run_finished)
        return self.pool.start(worker)

    def _cancelled(self) -> None:
        self.log("cancelled; nothing was written")

    def _progress(self, fraction: float, message: str) -> None:
        """Show progress with ONE deferred repaint: QProgressBar.setValue repaints synchronously, and
        each repaint of a window holding the OpenGL viewer costs 15-30 ms under software GL."""
        bars = (self.analysis_panel.progress, self.status_progress)
        for bar in bars:
            bar.setUpdatesEnabled(False)
        try:
            self.analysis_panel.show_progress(fraction, message)
            self.status_progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
        finally:
            for bar in bars:
                bar.setUpdatesEnabled(True)  # schedules one update(), coalesced with the label's
        self.statusBar().showMessage(message, 3000)

    def _run_finished(self) -> None:
        if self._route_queue:  # results are still being routed: finish after the last one
            self._finish_pending = True
            return
        self._finish_pending = False
        self.worker = None
        self.analysis_panel.set_running(False)
        self.status_cancel.setEnabled(False)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.log("cancelling…")

    def open_results(self, folder: str) -> bool:
        """Show the outputs of an earlier run (NIfTI maps, CSV tables, NPY RDMs) again."""
        from core.export.readers import read_results_folder

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
