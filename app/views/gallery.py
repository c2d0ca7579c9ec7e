"""The figures gallery: every figure of the loaded results (runs, opened folders, study tasks) with a
preview, what made it (analysis and parameters, from provenance) and "Export all": PNG + SVG + PDF of each
figure and the CSV of the table behind it, each with its provenance record."""

from __future__ import annotations

import io
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.outputs import Figure, Table

THUMB = 180  # px, the preview's longer side
FORMATS = (".png", ".svg", ".pdf")


def thumbnail(fig, size: int = THUMB) -> QPixmap:
    """A preview of a matplotlib figure (rendered with Agg, off screen)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)


class FiguresGallery(QWidget):
    """Observes ``state`` (:class:`app.state.model.AppState`): a figure is listed when its results load."""

    def __init__(self, state, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.figures: dict[str, tuple[Figure, dict]] = {}  # name -> (figure, provenance)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setResizeMode(QListWidget.Adjust)
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._describe)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.export_button = QPushButton("Export all…")
        self.export_button.setToolTip("PNG, SVG and PDF of every figure, with the CSV behind each")
        self.export_button.clicked.connect(self._ask_export)
        row = QHBoxLayout()
        row.addWidget(self.details, 1)
        row.addWidget(self.export_button, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        state.subscribe("results", self._results_loaded)

    def _results_loaded(self, loaded) -> None:
        for out in loaded.outputs:
            if isinstance(out, Figure):
                self.add(out, loaded.provenance)

    def add(self, fig: Figure, provenance: dict | None = None) -> None:
        """List ``fig`` (a later figure of the same name replaces the earlier one)."""
        provenance = provenance or {}
        if fig.name in self.figures:
            for i in range(self.list.count()):
                if self.list.item(i).data(Qt.UserRole) == fig.name:
                    self.list.takeItem(i)
                    break
        self.figures[fig.name] = (fig, provenance)
        analysis = provenance.get("analysis", "")
        item = QListWidgetItem(QIcon(thumbnail(fig.figure)), f"{fig.name}\n{analysis}".strip())
        item.setData(Qt.UserRole, fig.name)
        item.setToolTip(fig.description or fig.name)
        self.list.addItem(item)

    def names(self) -> list[str]:
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]

    def _describe(self, item, _previous=None) -> None:
        if item is None:
            self.details.setText("")
            return
        fig, provenance = self.figures[item.data(Qt.UserRole)]
        params = provenance.get("parameters", {})
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        self.details.setText(f"<b>{fig.name}</b>: {fig.description}<br>"
                             f"{provenance.get('analysis', '')} {shown}".strip())

    def table_behind(self, fig: Figure) -> Table | None:
        """The table the figure shows (``Figure.data``) among the loaded outputs, or None."""
        if not fig.data:
            return None
        return next((t for t in reversed(self.state.outputs(Table)) if t.name == fig.data), None)

    def export_all(self, folder: str | Path) -> list[Path]:
        """Every figure as PNG, SVG and PDF and the CSV behind it, into ``folder``, each file with its
        ``.provenance.json`` sidecar; returns the paths written."""
        from app.views.export import export_figure, export_table

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        dataset = self.state.dataset_path
        for name, (fig, provenance) in self.figures.items():
            for suffix in FORMATS:
                paths += export_figure(fig.figure, folder / f"{name}{suffix}", dataset, provenance)
            table = self.table_behind(fig)
            if table is not None:
                paths += export_table(table, folder / f"{name}.data.csv", dataset, provenance)
        return paths

    def _ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export every figure to")
        if folder:
            self.export_all(folder)
