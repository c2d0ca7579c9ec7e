"""RDM view: a matrix image of each RDM output with a selector."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure as MplFigure
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QVBoxLayout, QWidget


def rdm_figure(rdm, fig: MplFigure | None = None) -> MplFigure:
    """Draw an RDM as an image (labels on the axes when there are at most 40)."""
    fig = fig or MplFigure(figsize=(4.5, 4))
    fig.clear()
    fig.set_layout_engine("constrained")  # re-laid out at every draw, so it follows the canvas size
    ax = fig.add_subplot(111)
    m = np.asarray(rdm.matrix, dtype=float)
    im = ax.imshow(m, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="dissimilarity")
    if len(rdm.labels) <= 40:
        ax.set_xticks(range(len(rdm.labels)), rdm.labels, rotation=90, fontsize=6)
        ax.set_yticks(range(len(rdm.labels)), rdm.labels, fontsize=6)
    ax.set_title(rdm.name, fontsize=10)
    return fig


class RDMView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rdms: dict[str, object] = {}
        self.selector = QComboBox()
        self.selector.currentTextChanged.connect(self._show)
        self.canvas = FigureCanvasQTAgg(MplFigure(figsize=(4.5, 4)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.selector)
        self.canvas.setMaximumWidth(650)  # a square matrix: keep it beside its colour bar
        layout.addWidget(self.canvas, 1, Qt.AlignHCenter)

    def add_rdm(self, rdm) -> None:
        self.rdms[rdm.name] = rdm
        if self.selector.findText(rdm.name) < 0:
            self.selector.addItem(rdm.name)
        self.selector.setCurrentText(rdm.name)
        self._show(rdm.name)

    def _show(self, name: str) -> None:
        rdm = self.rdms.get(name)
        if rdm is not None:
            rdm_figure(rdm, self.canvas.figure)
            self.canvas.draw_idle()
