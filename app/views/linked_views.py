"""One, two or 2 × 2 cortex views side by side, each with its own map, colour map and threshold, with
cameras and selection linked, and a readout comparing the first two views' maps.

Linking: every view's left-hemisphere camera is observed; moving it copies position, focal point,
view-up and view angle to the other views' left cameras (each view mirrors its own right hemisphere).
A pick or selection move in one view marks the same vertex in all (``select(..., emit=False)``) and
is re-emitted once as :attr:`LinkedViews.vertexPicked`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.views.cortex_view import CortexView

LAYOUTS = {"1": (1, 1), "2": (1, 2), "2x2": (2, 2)}
READOUTS = ("correlation", "difference")


def compare_maps(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Compare two per-vertex maps {hemi: (N,)} over the vertices finite in both.

    Returns ``n`` (vertices used), ``r`` (Pearson correlation; NaN with < 3 vertices or no variance),
    ``mean_diff`` (mean of a − b) and ``mean_abs_diff`` (mean |a − b|), in the maps' units.
    """
    x = np.concatenate([np.asarray(a[h], np.float64) for h in sorted(a)])
    y = np.concatenate([np.asarray(b[h], np.float64) for h in sorted(a)])
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = {"n": int(ok.sum()), "r": float("nan"), "mean_diff": float("nan"), "mean_abs_diff": float("nan")}
    if x.size:
        out["mean_diff"] = float(np.mean(x - y))
        out["mean_abs_diff"] = float(np.mean(np.abs(x - y)))
    if x.size >= 3 and x.std() > 0 and y.std() > 0:
        xc, yc = x - x.mean(), y - y.mean()
        out["r"] = float(xc @ yc / np.sqrt((xc @ xc) * (yc @ yc)))
    return out


class LinkedViews(QWidget):
    """Linked cortex views. Signals: ``vertexPicked(hemi, vertex)`` (from any view), ``mapShown(view
    index, name)``, ``readoutChanged(text)``."""

    vertexPicked = Signal(str, int)
    mapShown = Signal(int, str)
    readoutChanged = Signal(str)

    def __init__(self, parent=None, mesh: str = "fs_LR32k", layout: str = "1") -> None:
        super().__init__(parent)
        self.mesh_name = mesh
        self.views: list[CortexView] = []
        self._syncing = False
        self._observers: list[tuple[object, int]] = []
        self.layout_box = QComboBox()
        self.layout_box.addItems(list(LAYOUTS))
        self.layout_box.setToolTip("views side by side: 1, 2 or 2 × 2")
        self.readout_box = QComboBox()
        self.readout_box.addItems(READOUTS)
        self.readout_box.setToolTip("compare the first two views' maps over the vertices shown in both")
        self.readout = QLabel(" ")
        self.readout.setObjectName("readout")
        bar = QHBoxLayout()
        for w in (QLabel("views"), self.layout_box, self.readout_box, self.readout):
            bar.addWidget(w)
        bar.addStretch(1)
        self.grid = QGridLayout()
        self.grid.setSpacing(2)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(bar)
        outer.addLayout(self.grid, 1)
        self.layout_box.currentTextChanged.connect(self.set_layout)
        self.readout_box.currentTextChanged.connect(lambda _: self.update_readout())
        self.set_layout(layout)

    # ------------------------------------------------------------------ layout
    @property
    def visible_views(self) -> list[CortexView]:
        rows, cols = LAYOUTS[self.layout_box.currentText()]
        return self.views[: rows * cols]

    def set_layout(self, name: str) -> None:
        """Show 1, 2 or 2 × 2 views (``"1"``, ``"2"``, ``"2x2"``); extra views are hidden, not deleted."""
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}")
        if self.layout_box.currentText() != name:
            self.layout_box.blockSignals(True)
            self.layout_box.setCurrentText(name)
            self.layout_box.blockSignals(False)
        rows, cols = LAYOUTS[name]
        while len(self.views) < rows * cols:
            self._add_view()
        for i, view in enumerate(self.views):
            self.grid.removeWidget(view)
            view.setVisible(i < rows * cols)
            if i < rows * cols:
                self.grid.addWidget(view, i // cols, i % cols)
        self.readout_box.setVisible(rows * cols > 1)
        self.readout.setVisible(rows * cols > 1)
        self.update_readout()

    def _add_view(self) -> None:
        view = CortexView(self, mesh=self.mesh_name)
        index = len(self.views)
        if self.views:
            first = self.views[0]
            for vmap in first.maps.values():
                view.add_map(vmap, show=False)
            if first.current_map:
                view.show_map(first.current_map)
            if first.selection is not None:
                view.select(*first.selection, emit=False)
            self._copy_camera(first, view)
        view.vertexPicked.connect(lambda h, v, src=view: self._picked(src, h, v))
        view.mapShown.connect(lambda name, i=index: self._map_shown(i, name))
        self.views.append(view)
        self._observe(view)

    def _observe(self, view: CortexView) -> None:
        cam = view.scene.states["left"].renderer.GetActiveCamera()
        tag = cam.AddObserver("ModifiedEvent", lambda *_a, v=view: self._camera_moved(v))
        self._observers.append((cam, tag))

    # ------------------------------------------------------------------ linking
    @staticmethod
    def _copy_camera(src: CortexView, dst: CortexView) -> None:
        s = src.scene.states["left"].renderer.GetActiveCamera()
        ren = dst.scene.states["left"].renderer
        d = ren.GetActiveCamera()
        d.SetFocalPoint(s.GetFocalPoint())
        d.SetPosition(s.GetPosition())
        d.SetViewUp(s.GetViewUp())
        d.SetViewAngle(s.GetViewAngle())
        ren.ResetCameraClippingRange()

    def _camera_moved(self, src: CortexView) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            for view in self.views:
                if view is not src:
                    self._copy_camera(src, view)
                    view.redraw()
        finally:
            self._syncing = False

    def _picked(self, src: CortexView, hemi: str, vertex: int) -> None:
        for view in self.views:
            if view is not src:
                view.select(hemi, vertex, emit=False)
        self.vertexPicked.emit(hemi, vertex)

    def select(self, hemi: str, vertex: int) -> None:
        """Select a vertex in every view (emits ``vertexPicked`` once)."""
        self.views[0].select(hemi, vertex)

    def _map_shown(self, index: int, name: str) -> None:
        self.mapShown.emit(index, name)
        if index < 2:
            self.update_readout()

    # ------------------------------------------------------------------ maps
    def add_map(self, vmap, view: int | None = 0) -> None:
        """Offer ``vmap`` in every view's selector; show it in view ``view`` (None: nowhere)."""
        for i, v in enumerate(self.views):
            v.add_map(vmap, show=(i == view))

    def show_map(self, view: int, name: str) -> None:
        self.views[view].show_map(name)

    def comparison(self) -> dict[str, float] | None:
        """:func:`compare_maps` of the values drawn in views 0 and 1 (−log10 p for p maps), or None."""
        if len(self.visible_views) < 2:
            return None
        a, b = (getattr(v, "_projected", None) if v.current_map else None for v in self.views[:2])
        if a is None or b is None:
            return None
        return compare_maps(a, b)

    def update_readout(self) -> str:
        """Refresh the readout label; returns its text."""
        stats = self.comparison()
        if stats is None:
            text = " "
        elif self.readout_box.currentText() == "correlation":
            text = f"r = {stats['r']:.3f} over {stats['n']} vertices"
        else:
            text = f"mean(1 − 2) = {stats['mean_diff']:.4g}, mean |1 − 2| = {stats['mean_abs_diff']:.4g}"
        self.readout.setText(text)
        self.readoutChanged.emit(text)
        return text

    def close_viewers(self) -> None:
        """Release every view's GL context (call before deleting the widget)."""
        for cam, tag in self._observers:
            cam.RemoveObserver(tag)
        self._observers.clear()
        for view in self.views:
            view.close_viewer()
