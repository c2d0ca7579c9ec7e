"""Plot views: matplotlib canvases for LayerCurve and Figure outputs (and the voxel card's plots)."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure as MplFigure
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget


def layer_curve_figure(curve, fig: MplFigure | None = None) -> MplFigure:
    """Draw a LayerCurve (one line per series, error band where given) into ``fig``."""
    fig = fig or MplFigure(figsize=(5, 3.2))
    fig.clear()
    fig.set_layout_engine("constrained")  # re-laid out at every draw, so it follows the canvas size
    ax = fig.add_subplot(111)
    for label, values in curve.series.items():
        values = np.asarray(values, dtype=float)
        ax.plot(curve.layers, values, marker="o", ms=3, label=str(label))
        err = curve.errors.get(label)
        if err is not None:
            err = np.asarray(err, dtype=float)
            ax.fill_between(curve.layers, values - err, values + err, alpha=0.2)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(curve.ylabel)
    ax.set_title(curve.name, fontsize=10)
    if len(curve.series) > 1:
        ax.legend(fontsize=8)
    return fig


class PlotsView(QWidget):
    """A selector of plot results (LayerCurve, Figure), one canvas per plot in a stack, with export."""

    exportRequested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.items: dict[str, MplFigure] = {}
        self.outputs: dict[str, object] = {}
        self.canvases: dict[str, FigureCanvasQTAgg] = {}
        self.selector = QComboBox()
        self.selector.currentTextChanged.connect(self._show)
        self.export_button = QPushButton("Export figure…")
        self.export_button.clicked.connect(lambda: self.exportRequested.emit(self.selector.currentText()))
        self.stack = QStackedWidget()
        top = QHBoxLayout()
        top.addWidget(self.selector, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.stack)

    def add_output(self, output) -> None:
        """Add a LayerCurve or Figure output (replacing one with the same name) and show it."""
        from core.outputs import LayerCurve

        fig = layer_curve_figure(output) if isinstance(output, LayerCurve) else output.figure
        old = self.canvases.pop(output.name, None)
        if old is not None:
            self.stack.removeWidget(old)
            old.deleteLater()
        canvas = FigureCanvasQTAgg(fig)
        self.canvases[output.name] = canvas
        self.stack.addWidget(canvas)
        self.items[output.name] = fig
        self.outputs[output.name] = output
        if self.selector.findText(output.name) < 0:
            self.selector.addItem(output.name)
        self.selector.setCurrentText(output.name)
        self._show(output.name)

    def current_figure(self) -> MplFigure | None:
        return self.items.get(self.selector.currentText())

    def _show(self, name: str) -> None:
        canvas = self.canvases.get(name)
        if canvas is not None:
            self.stack.setCurrentWidget(canvas)
            canvas.draw_idle()
