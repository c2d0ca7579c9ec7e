"""The Study panel: a recipe, an output folder and workers; run / resume / cancel; a task grid (one row
per analysis x model x paradigm, one column per participant or "all") coloured by state; open a finished
task's outputs or the report."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

STATE_COLOURS = {"finished": "#8fd18f", "failed": "#f08080", "blocked": "#f0c080", "pending": "#e0e0e0",
                 "running": "#9ec5f0"}


def grid_cells(rows: list[dict]) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    """Task rows (``study_states``) as a grid: row labels (the task without its participant part),
    column labels ("all" first, then participants) and {(row, column): task row}."""
    cells, row_names, col_names = {}, [], ["all"]
    for row in rows:
        name = row["task"]
        head, _, tail = name.rpartition("/")
        column = tail.removeprefix("sub-") if tail.startswith("sub-") else "all"
        label = head if column != "all" else name
        if label not in row_names:
            row_names.append(label)
        if column not in col_names:
            col_names.append(column)
        cells[(label, column)] = row
    if not any(c == "all" for _, c in cells):
        col_names.remove("all")
    return row_names, col_names, cells


class StudyPanel(QWidget):
    """Signals: ``runRequested(recipe, out, workers)``, ``cancelRequested()``, ``taskOpened(key)``,
    ``reportRequested()``, ``newRecipeRequested(path)``."""

    runRequested = Signal(str, str, int)
    cancelRequested = Signal()
    taskOpened = Signal(str)
    reportRequested = Signal()
    newRecipeRequested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.recipe = QLineEdit()
        self.recipe.setPlaceholderText("study recipe (TOML)")
        self.out = QLineEdit()
        self.out.setPlaceholderText("study folder")
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setValue(2)
        self.workers.setToolTip("Dask worker processes on this machine (threads split the cores)")
        browse_recipe, browse_out = QPushButton("Open…"), QPushButton("…")
        new_recipe = QPushButton("New from dataset…")
        new_recipe.setToolTip("write a recipe for the open dataset and the analyses' current settings")
        browse_recipe.clicked.connect(self._choose_recipe)
        browse_out.clicked.connect(self._choose_out)
        new_recipe.clicked.connect(self._new_recipe)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.recipe, 1)
        row.addWidget(browse_recipe)
        row.addWidget(new_recipe)
        form.addRow("Recipe", row)
        row = QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(browse_out)
        form.addRow("Folder", row)
        form.addRow("Workers", self.workers)
        self.run_button = QPushButton("Run / resume")
        self.run_button.setToolTip("run the study; tasks already finished in the folder are kept")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.report_button = QPushButton("Open report")
        self.report_button.setEnabled(False)
        self.run_button.clicked.connect(self._run)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.report_button.clicked.connect(self.reportRequested)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.report_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.grid = QTableWidget(0, 0)
        self.grid.setEditTriggers(QTableWidget.NoEditTriggers)
        self.grid.cellDoubleClicked.connect(self._open_cell)
        self.grid.setToolTip("double-click a finished task to show its outputs")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.grid, 1)
        self._keys: dict[tuple[int, int], str] = {}

    def _choose_recipe(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a study recipe", "", "TOML (*.toml)")
        if path:
            self.recipe.setText(path)

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Study folder")
        if folder:
            self.out.setText(folder)

    def _new_recipe(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New study recipe", "study.toml", "TOML (*.toml)")
        if path:
            self.newRecipeRequested.emit(path)

    def _run(self) -> None:
        self.runRequested.emit(self.recipe.text().strip(), self.out.text().strip(), self.workers.value())

    def set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def show_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
        self.message.setText(message)

    def show_tasks(self, rows: list[dict]) -> None:
        """Fill the grid from ``study_states`` rows (task, state, seconds, key, error)."""
        row_names, col_names, cells = grid_cells(rows)
        self.grid.setRowCount(len(row_names))
        self.grid.setColumnCount(len(col_names))
        self.grid.setVerticalHeaderLabels(row_names)
        self.grid.setHorizontalHeaderLabels(col_names)
        self._keys.clear()
        for (label, column), row in cells.items():
            i, j = row_names.index(label), col_names.index(column)
            seconds = f" {row['seconds']:.0f} s" if row.get("seconds") is not None else ""
            item = QTableWidgetItem(f"{row['state']}{seconds}")
            item.setBackground(QColor(STATE_COLOURS.get(row["state"], "#ffffff")))
            item.setToolTip(row.get("error") or row["task"])
            item.setData(Qt.UserRole, row["state"])
            self.grid.setItem(i, j, item)
            self._keys[(i, j)] = row["key"]
        self.grid.resizeColumnsToContents()

    def _open_cell(self, i: int, j: int) -> None:
        item = self.grid.item(i, j)
        if item is not None and item.data(Qt.UserRole) == "finished" and (i, j) in self._keys:
            self.taskOpened.emit(self._keys[(i, j)])
