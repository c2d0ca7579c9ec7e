"""The Study panel's controller: runs a recipe on a worker thread (the Dask client and cluster live
there, so the UI thread never waits on them), refreshes the task grid from the study folder once a
second, cancels between tasks (finished tasks are kept: running again resumes), opens a finished task's
outputs in the viewer and tables, and opens the report. Help › "Reproduce the paper on the demo" runs
``resources/studies/demo.toml``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from app.workers import Worker

POLL_MS = 1000


def run_study_task(recipe: str, out: str, workers: int, progress=None, cancel=None) -> dict:
    """The worker's task (Qt-free): run the recipe, reporting tasks done / total as a fraction."""
    from app.plugins.study_run import run_recipe

    def report(done: int, total: int, message: str) -> None:
        progress(done / max(total, 1), f"[{done}/{total}] {message}")

    return run_recipe(recipe, out, workers=workers, progress=report, cancel=cancel)


def demo_recipe() -> Path:
    """The packaged demo study recipe."""
    from importlib import resources

    return Path(str(resources.files("resources") / "studies" / "demo.toml"))


class StudyController(QObject):
    """Drives ``panel`` (a :class:`app.views.study_panel.StudyPanel`) for ``window``. Signal
    ``finished(states)`` after a run ends (states: {task: state}; {} when it failed or was cancelled)."""

    finished = Signal(object)

    def __init__(self, window, state, pool, panel, results_root: Path) -> None:
        super().__init__()
        self.w, self.state, self.pool, self.panel = window, state, pool, panel
        self.results_root = Path(results_root)
        self.worker: Worker | None = None
        self.folder: Path | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        panel.runRequested.connect(self.run)
        panel.cancelRequested.connect(self.cancel)
        panel.taskOpened.connect(self.open_task)
        panel.reportRequested.connect(self.open_report)
        panel.newRecipeRequested.connect(self.write_recipe)

    def run(self, recipe: str, out: str, workers: int = 2) -> Worker | None:
        """Run (or resume) ``recipe`` into ``out`` on a worker; the reason is shown when it cannot start."""
        if self.worker is not None:
            self.w.show_error("a study is already running; cancel it first")
            return None
        if not recipe or not Path(recipe).is_file():
            self.w.show_error(f"study recipe {recipe or '(none)'}: not a file")
            return None
        folder = Path(out) if out else self.results_root / f"study-{Path(recipe).stem}"
        self.folder = folder
        self.panel.recipe.setText(str(recipe))
        self.panel.out.setText(str(folder))
        self.panel.report_button.setEnabled(False)
        worker = Worker(run_study_task, str(recipe), str(folder), int(workers))
        worker.nice = 0
        worker.signals.progress.connect(self.panel.show_progress)
        worker.signals.result.connect(self._done)
        worker.signals.error.connect(self._failed)
        worker.signals.cancelled.connect(self._cancelled)
        worker.signals.finished.connect(self._stopped)
        self.worker = worker
        self.panel.set_running(True)
        self.panel.show_progress(0.0, f"planning the study of {Path(recipe).name}…")
        self.w.log(f"study {recipe} → {folder}")
        self.timer.start()
        return self.pool.start(worker)

    def reproduce_demo(self) -> Worker | None:
        """Help › Reproduce the paper on the demo: ``demo.toml`` into the results folder, with progress."""
        self.w.docks["study"].show()
        self.w.docks["study"].raise_()
        return self.run(str(demo_recipe()), str(self.results_root / "study-demo"), self.panel.workers.value())

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            fraction = self.panel.progress.value() / 1000
            self.panel.show_progress(fraction, "cancelling after the running tasks…")

    def refresh(self) -> list[dict]:
        """Re-read the task states of the study folder into the grid (a few small files)."""
        if self.folder is None or not (self.folder / "study.json").is_file():
            return []
        from app.cli_study import study_states

        rows = study_states(self.folder)
        self.panel.show_tasks(rows)
        self.panel.report_button.setEnabled((self.folder / "report.html").is_file())
        return rows

    def _done(self, states) -> None:
        failed = [n for n, s in states.items() if s == "failed"]
        self.panel.show_progress(1.0, f"study finished: {len(states) - len(failed)} tasks done"
                                 + (f", {len(failed)} failed (see the grid)" if failed else ""))
        self.finished.emit(states)

    def _failed(self, message: str, details: str = "") -> None:
        self.w.show_error(f"study: {message}", details)
        self.finished.emit({})

    def _cancelled(self) -> None:
        self.panel.show_progress(self.panel.progress.value() / 1000,
                                 "cancelled; finished tasks are kept (Run / resume continues)")
        self.finished.emit({})

    def _stopped(self) -> None:
        self.worker = None
        self.timer.stop()
        self.panel.set_running(False)
        self.refresh()

    def open_task(self, key: str) -> None:
        from core.study.folder import task_dir

        if self.folder is not None:
            self.w.open_results(str(task_dir(self.folder, key)))

    def open_report(self) -> None:
        if self.folder is not None and (self.folder / "report.html").is_file():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder / "report.html")))

    def write_recipe(self, path: str) -> None:
        """A recipe for the open dataset and the analyses' current settings, then selected in the panel."""
        from app.plugins.study_run import recipe_text

        if self.state.dataset_path is None:
            self.w.show_error("open a dataset first: the recipe is written for it")
            return
        settings = self.w.analysis_panel.settings()
        models = [m.strip() for m in str(settings.get("encoding", {}).get("model", "minilm")).split(",")
                  if m.strip()] or ["minilm"]
        text = recipe_text(self.state.dataset_path, settings, models, name=Path(path).stem)
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            self.w.show_error(f"{path}: cannot write the recipe ({exc.strerror or exc})")
            return
        self.panel.recipe.setText(path)
        self.w.log(f"wrote study recipe {path}")
