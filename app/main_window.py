"""The main window (DESIGN.md "The main window"): dataset and analysis docks, the cortex viewer, the
voxel card, result tabs (Tables, Plots, RDMs, Log) and a status bar with progress and Cancel.

Composition: the window builds the views, the Qt-free state (:class:`app.state.model.AppState`) and the
controllers (:mod:`app.controllers`: datasets, runs, routing, the voxel card, exports, the session, the
warm-up), and wires them. Every user-facing error lands in ONE dialog and the app goes on. Layout, last
dataset, result folders and analysis settings persist in QSettings.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
)

from app.controllers.card import CardController
from app.controllers.datasets import DatasetController
from app.controllers.exports import ExportController
from app.controllers.routing import ResultRouter
from app.controllers.runs import RunController
from app.controllers.session import SessionController
from app.controllers.study import StudyController
from app.controllers.warm_up import WarmUp
from app.state.model import AppState, LoadedResults
from app.views.analysis_panel import AnalysisPanel
from app.views.dataset_panel import DatasetPanel
from app.views.gallery import FiguresGallery
from app.views.linked_views import LinkedViews
from app.views.pinned_cards import PinnedCards
from app.views.plots import PlotsView
from app.views.rdm_view import RDMView
from app.views.study_panel import StudyPanel
from app.views.tables import TablesView
from app.views.voxel_card import VoxelCard
from app.workers import Worker, WorkerPool

ORG, APP = "concept-brain-studio", "Concept Brain Studio"
PLOTS_MIN_HEIGHT = 230  # px: below it matplotlib's layout collapses the axes


def default_results_root() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("concept-brain-studio")) / "results"


class MainWindow(QMainWindow):
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
        self.state = AppState()
        self.errors: list[str] = []

        self.views = LinkedViews(self, mesh=mesh, layout="1")  # 1, 2 or 2 x 2 linked cortex views
        self.cortex = self.views.views[0]  # the main view: routing, the card, exports
        self.setCentralWidget(self.views)
        self.dataset_panel = DatasetPanel()
        self.analysis_panel = AnalysisPanel(self.registry)
        self.card = VoxelCard()
        self.tables = TablesView()
        self.plots = PlotsView()
        self.rdms = RDMView()
        self.gallery = FiguresGallery(self.state)
        self.study_panel = StudyPanel()
        self.pinned = PinnedCards()
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.tabs = QTabWidget()
        for widget, title in (
            (self.tables, "Tables"),
            (self.plots, "Plots"),
            (self.rdms, "RDMs"),
            (self.gallery, "Figures"),
            (self.log_view, "Log"),
        ):
            self.tabs.addTab(widget, title)
        self.docks = {}
        for key, title, widget, area in (
            ("dataset", "Dataset", self.dataset_panel, Qt.LeftDockWidgetArea),
            ("analyses", "Analyses", self.analysis_panel, Qt.LeftDockWidgetArea),
            ("card", "Voxel card", self.card, Qt.RightDockWidgetArea),
            ("results", "Results", self.tabs, Qt.BottomDockWidgetArea),
            ("study", "Study", self.study_panel, Qt.RightDockWidgetArea),
            ("pinned", "Pinned cards", self.pinned, Qt.BottomDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{key}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[key] = dock
        self.tabifyDockWidget(self.docks["card"], self.docks["study"])
        self.tabifyDockWidget(self.docks["results"], self.docks["pinned"])
        self.docks["results"].raise_()
        self.docks["card"].raise_()  # the card in front of the study panel
        self._build_status_bar()
        self.plots.setMinimumHeight(PLOTS_MIN_HEIGHT)  # figures need room; the brain keeps the rest
        # the side docks run full height (the parameter form never gets squeezed by the results)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.resizeDocks([self.docks["results"]], [PLOTS_MIN_HEIGHT + 40], Qt.Vertical)
        self.error_box = QMessageBox(QMessageBox.Warning, APP, "", QMessageBox.Ok, self)
        self.error_box.setModal(False)

        self.router = ResultRouter(self.state, self.cortex, self.tables, self.plots, self.rdms,
                                   side_views=lambda: self.views.views[1:])
        self.datasets = DatasetController(self, self.state, self.pool, self.settings)
        self.runs = RunController(self, self.state, self.registry, self.pool, self.router, self.results_root)
        self.cards = CardController(self, self.state, self.pool)
        self.exports = ExportController(self, self.state)
        self.session = SessionController(self, self.state, self.settings, self.datasets)
        self.study = StudyController(self, self.state, self.pool, self.study_panel, self.results_root)
        self._build_menus()

        self.dataset_panel.openRequested.connect(self.datasets.open_in_background)
        self.dataset_panel.participantChanged.connect(self.set_participant)
        self.analysis_panel.runRequested.connect(self.run_plugin)
        self.analysis_panel.cancelRequested.connect(self.cancel)
        self.views.vertexPicked.connect(self.cards.on_vertex_picked)  # a pick in any view
        self.card.pinRequested.connect(self.cards.pin)
        self.card.nearestRequested.connect(self.cards.nearest_significant)
        self.cortex.mapShown.connect(self.state.set_current_map)
        self.cortex.screenshot_button.clicked.connect(self.exports.ask_screenshot)
        self.tables.exportRequested.connect(self.exports.ask_table_export)
        self.plots.exportRequested.connect(self.exports.ask_figure_export)
        self.runs.started.connect(self._run_started)
        self.runs.finished.connect(self._run_finished)
        self.session.restore_layout()
        self.warm_up = WarmUp(self.pool, self.datasets.busy)  # torch and numba, after the first participant
        self.warm_up.deviceFound.connect(self._show_device)
        self.runs.finished.connect(self.warm_up.freeze)
        self.datasets.participantShown.connect(self.warm_up.freeze)

    # ------------------------------------------------------------------ the public API (tests, CLI)
    @property
    def dataset(self):
        return self.state.dataset

    @property
    def dataset_path(self) -> Path | None:
        return self.state.dataset_path

    @property
    def provenance(self) -> dict[str, dict]:
        return self.state.provenance

    @property
    def worker(self) -> Worker | None:
        """The running analysis' worker (None when idle)."""
        return self.runs.worker

    @property
    def last_run_dir(self) -> Path | None:
        return self.runs.last_run_dir

    def open_dataset(self, path: str) -> bool:
        return self.datasets.open_dataset(path)

    def open_demo(self) -> None:
        self.datasets.open_demo()

    def open_results(self, folder: str) -> None:
        self.datasets.open_results(folder)

    def participant(self, pid: str | None = None):
        """The loaded ParticipantData for ``pid`` (default: the one chosen in the dataset panel)."""
        return self.state.participant(pid or self.dataset_panel.participant.currentText() or None)

    def set_participant(self, pid: str) -> None:
        self.datasets.set_participant(pid)

    def run_plugin(self, name: str, params: dict, device: str = "auto") -> Worker | None:
        return self.runs.run(name, params, device)

    def cancel(self) -> None:
        self.runs.cancel()

    def route(self, outputs: list, provenance: dict | None = None, incremental: bool = False) -> None:
        """Show outputs made elsewhere (they join the state's results)."""
        analysis = str((provenance or {}).get("analysis", ""))
        loaded = LoadedResults(analysis, None, list(outputs), provenance or {}, live=incremental)
        self.state.add_results(loaded)

    def routing_done(self) -> bool:
        return self.router.done()

    def on_vertex_picked(self, hemi: str, vertex: int) -> None:
        self.cards.on_vertex_picked(hemi, vertex)

    def screenshot_image(self, size: tuple[int, int] | None = None):
        return self.exports.screenshot_image(size)

    def export_screenshot(self, path, size=None) -> list | None:
        return self.exports.export_screenshot(path, size)

    def export_bundle(self, folder, views=("lateral", "medial")) -> list | None:
        return self.exports.export_bundle(folder, views)

    def save_session(self) -> None:
        self.session.save()

    def restore_session(self, data: str | None = None) -> None:
        self.session.restore(data)

    def window_image(self):
        return self.session.window_image(self.screenshot_image)

    def busy(self) -> bool:
        """True while anything is loading or running in the background."""
        return bool(self.pool.active)

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

    def _show_device(self, name: str) -> None:
        self.status_device.setText(f"device: {name}")

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self._action(file_menu, "Open dataset folder…", self.dataset_panel._choose_folder, "Ctrl+O")
        self._action(file_menu, "Open dataset file…", self.dataset_panel._choose_file)
        self._action(file_menu, "Open results folder…", self.exports.ask_results_folder, "Ctrl+R")
        self._action(file_menu, "Open demo dataset", self.open_demo)
        file_menu.addSeparator()
        export = file_menu.addMenu("Export")
        self._action(export, "Brain screenshot (PNG)…", self.exports.ask_screenshot)
        self._action(export, "Figure bundle…", self.exports.ask_bundle, "Ctrl+E")
        self._action(export, "Current map (NIfTI/GIfTI)…", self.exports.ask_map_export)
        self._action(export, "Current table (CSV)…", lambda: self.exports.ask_table_export(None))
        self._action(export, "Current plot (PNG/SVG/PDF)…", lambda: self.exports.ask_figure_export(None))
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
        self._action(help_menu, "Reproduce the paper on the demo", lambda: self.study.reproduce_demo())
        self._action(help_menu, "About", self.show_about)

    def show_about(self):
        from app.views.about import AboutDialog

        self.about = AboutDialog(self)
        self.about.show()
        return self.about

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

    # ------------------------------------------------------------------ runs
    def _run_started(self, name: str) -> None:
        self.analysis_panel.set_running(True)
        self.status_cancel.setEnabled(True)

    def _run_finished(self) -> None:
        self.analysis_panel.set_running(False)
        self.status_cancel.setEnabled(False)

    def show_progress(self, fraction: float, message: str) -> None:
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

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.save_session()
        if self.worker is not None:
            self.worker.cancel()
        self.pool.wait(10000)
        self.views.close_viewers()
        super().closeEvent(event)

