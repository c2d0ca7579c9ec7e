"""Plot views: matplotlib canvases for LayerCurve and Figure outputs (and the voxel card's plots)."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure as MplFigure
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.outputs import LayerCurve

FIGURE_MIN_SCALE = 0.8  # analysis figures are shown at >= 80 % of their designed size


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
        self._scrolls: dict[str, QScrollArea] = {}
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
        """Add a LayerCurve or Figure output (replacing one with the same name) and select it. The canvas
        is built and drawn only when the plot is first shown on screen (a matplotlib draw takes 50-300
        ms on the UI thread; results routed while the Plots tab is hidden cost nothing)."""
        fig = layer_curve_figure(output) if isinstance(output, LayerCurve) else output.figure
        self.canvases.pop(output.name, None)
        old = self._scrolls.pop(output.name, None)
        if old is not None:
            self.stack.removeWidget(old)
            old.deleteLater()
        self.items[output.name] = fig
        self.outputs[output.name] = output
        if self.selector.findText(output.name) < 0:
            self.selector.addItem(output.name)
        self.selector.setCurrentText(output.name)
        self._show(output.name)

    def canvas(self, name: str) -> FigureCanvasQTAgg | None:
        """The canvas of plot ``name``, built on first use."""
        if name not in self.items:
            return None
        if name not in self.canvases:
            fig = self.items[name]
            canvas = FigureCanvasQTAgg(fig)
            if not isinstance(self.outputs.get(name), LayerCurve):
                # analysis figures keep (most of) their designed size; the panel scrolls instead of
                # squeezing a tall multi-panel figure into a short dock
                w, h = fig.get_size_inches() * fig.dpi * FIGURE_MIN_SCALE
                canvas.setMinimumSize(int(w), int(h))
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(canvas)
            self.canvases[name] = canvas
            self._scrolls[name] = scroll
            self.stack.addWidget(scroll)
        return self.canvases[name]

    def current_figure(self) -> MplFigure | None:
        return self.items.get(self.selector.currentText())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._show(self.selector.currentText())

    def _show(self, name: str) -> None:
        if not name or name not in self.items or not self.isVisible():
            return
        canvas = self.canvas(name)
        self.stack.setCurrentWidget(self._scrolls[name])
        canvas.draw_idle()
