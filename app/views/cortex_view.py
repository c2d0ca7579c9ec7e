"""The 3D cortex viewer: a pyvistaqt QtInteractor (one renderer per hemisphere, cameras linked and
mirrored) driven by :class:`~app.views.scene.BrainScene`, with a toolbar for mesh, surface, view
presets, map, colormap, threshold range, borders/ROIs, the layer scrubber and screenshots.

Redraws go through ``plotter.update()`` (one frame via the Qt event loop; ``render()`` would draw
twice in pyvistaqt 0.13). Picking is a ray cast on click (no drag); hovering shows the area name.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleRangeSlider

from app.views.colors import OverlayStyle
from app.views.map_menu import MapMenuMixin
from app.views.map_values import (  # noqa: F401 - re-export  # noqa: F401
    LOGP_DEFAULT_THRESHOLD,
    LOGP_UNITS,
    P_UNITS,
    Sided,
    display_values,
    is_p_map,
    scrub_key,
)
from app.views.maps import ProjectionCache
from app.views.scene import BrainScene
from app.views.selection import SelectionMarker, SelectionMixin
from core.atlas import lookup as atlas_info

MESHES = ("fs_LR32k", "fsaverage5")
SURFACES = {
    "fs_LR32k": ("inflated", "very_inflated", "midthickness", "pial"),
    "fsaverage5": ("inflated", "midthickness", "pial"),
}
CMAPS = ("hot", "viridis", "magma", "inferno", "plasma", "RdBu_r", "coolwarm", "bwr", "seismic", "YlOrRd")
CLICK_SLOP_PX = 4


class CortexView(SelectionMixin, MapMenuMixin, QWidget):
    """Cortex viewer widget. Signals: ``vertexPicked(hemi, vertex)`` (a pick or any selection move),
    ``mapShown(name)``. Selection: :class:`~app.views.selection.SelectionMixin`; the map's context menu:
    :class:`~app.views.map_menu.MapMenuMixin`."""

    vertexPicked = Signal(str, int)
    mapShown = Signal(str)

    def __init__(self, parent=None, mesh: str = "fs_LR32k", surface: str = "inflated") -> None:
        from pyvistaqt import QtInteractor

        super().__init__(parent)
        self.maps: dict[str, object] = {}
        self.current_map: str | None = None
        self.reference_geometry = None
        self.projections = ProjectionCache()
        self.mesh = None
        self._press: tuple[int, int] | None = None
        self._build_toolbar()
        self.plotter = QtInteractor(self, shape=(1, 2), border=False, multi_samples=0, auto_update=False)
        self.scene = BrainScene(self.plotter)
        self.marker = SelectionMarker(self.scene)
        self.hover = QLabel(" ")
        self.hover.setObjectName("hover")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.row1)
        layout.addLayout(self.row2)
        layout.addWidget(self.plotter.interactor, 1)
        layout.addWidget(self.hover)
        iren = self.plotter.iren
        iren.add_observer("LeftButtonPressEvent", self._on_press)
        iren.add_observer("LeftButtonReleaseEvent", self._on_release)
        iren.add_observer("MouseMoveEvent", self._on_move)
        iren.add_observer("RightButtonPressEvent", self._on_right_press)
        iren.add_observer("RightButtonReleaseEvent", self._on_right_release)
        iren.add_observer("KeyPressEvent", self._on_key)
        self.set_mesh(mesh, surface)

    # ------------------------------------------------------------------ toolbar
    def _build_toolbar(self) -> None:
        self.mesh_box = QComboBox()
        self.mesh_box.addItems(MESHES)
        self.surface_box = QComboBox()
        self.mesh_box.currentTextChanged.connect(lambda m: self.set_mesh(m, self.surface_box.currentText()))
        self.surface_box.currentTextChanged.connect(
            lambda s: s and self.set_mesh(self.mesh_box.currentText(), s)
        )
        self.view_buttons = {}
        self.row1 = QHBoxLayout()
        self.row1.addWidget(self.mesh_box)
        self.row1.addWidget(self.surface_box)
        for view in ("lateral", "medial", "dorsal", "ventral"):
            b = QPushButton(view.capitalize())
            b.setFlat(True)
            b.clicked.connect(lambda _=False, v=view: self.set_view(v))
            self.view_buttons[view] = b
            self.row1.addWidget(b)
        self.borders_box = QCheckBox("Borders")
        self.borders_box.toggled.connect(self._borders_toggled)
        self.rois_box = QCheckBox("ROIs")
        self.rois_box.toggled.connect(self._rois_toggled)
        self.screenshot_button = QPushButton("Screenshot…")
        self.row1.addWidget(self.borders_box)
        self.row1.addWidget(self.rois_box)
        self.row1.addStretch(1)
        self.row1.addWidget(self.screenshot_button)

        self.map_box = QComboBox()
        self.map_box.setMinimumWidth(120)
        self.map_box.currentTextChanged.connect(lambda n: n and self.show_map(n))
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(CMAPS)
        self.cmap_box.currentTextChanged.connect(lambda _: self._restyle())
        self.two_sided_box = QCheckBox("±")
        self.two_sided_box.setToolTip("two-sided: threshold |value|, symmetric colours")
        self.two_sided_box.toggled.connect(self._two_sided_toggled)
        self.below_box = QComboBox()
        self.below_box.addItems(["transparent", "grey"])
        self.below_box.setToolTip("below threshold: show the sulcal shading, or flat grey")
        self.below_box.currentTextChanged.connect(lambda _: self._restyle())
        self.range_slider = QLabeledDoubleRangeSlider(Qt.Horizontal)
        self.range_slider.setToolTip("threshold (left handle) and colour maximum (right handle)")
        self.range_slider.setMinimumWidth(110)
        self.range_slider.setDecimals(3)
        self.range_slider.setHandleLabelPosition(QLabeledDoubleRangeSlider.LabelPosition.NoLabel)
        self.range_slider.setEdgeLabelMode(QLabeledDoubleRangeSlider.EdgeLabelMode.NoLabel)
        self.range_label = QLabel("")
        self.range_label.setMinimumWidth(150)
        self.range_slider.valueChanged.connect(lambda _: self._restyle())
        self.model_box = QComboBox()
        self.model_box.setToolTip("layer scrubber: model · paradigm · pooling · participant")
        self.model_box.setMinimumWidth(100)
        self.model_box.currentTextChanged.connect(lambda _: self._scrub_setup())
        self.layer_slider = QSlider(Qt.Horizontal)
        self.layer_slider.setMinimumWidth(90)
        self.layer_slider.valueChanged.connect(self._scrub)
        self.layer_label = QLabel("layer –")
        self.row2 = QHBoxLayout()
        for w in (
            QLabel("map"),
            self.map_box,
            self.cmap_box,
            self.two_sided_box,
            self.below_box,
            self.range_slider,
            self.range_label,
        ):
            self.row2.addWidget(w)
        self.row2.setStretchFactor(self.range_slider, 1)
        for w in (QLabel("layers"), self.model_box, self.layer_slider, self.layer_label):
            self.row2.addWidget(w)
        self._set_scrubber_visible(False)

    def _set_scrubber_visible(self, on: bool) -> None:
        for w in (self.model_box, self.layer_slider, self.layer_label):
            w.setEnabled(on)

    # ------------------------------------------------------------------ mesh and view
    def set_mesh(self, mesh: str, surface: str = "inflated") -> None:
        """Show ``mesh`` / ``surface`` (the current map is re-projected)."""
        from core.atlas.meshes import load_mesh

        surfaces = SURFACES.get(mesh, ("inflated",))
        surface = surface if surface in surfaces else "inflated"
        for box, value, items in ((self.mesh_box, mesh, MESHES), (self.surface_box, surface, surfaces)):
            box.blockSignals(True)
            if box is self.surface_box:
                box.clear()
                box.addItems(items)
            box.setCurrentText(value)
            box.blockSignals(False)
        self.mesh = load_mesh(mesh, surface)
        self.scene.set_mesh(self.mesh)
        self.marker.refresh()
        self.scene.set_borders(self.borders_box.isChecked(), redraw=False)
        if self.rois_box.isChecked():
            self.scene.set_rois(atlas_info.roi_vertex_labels(self.mesh.name))
        if self.current_map:
            self.show_map(self.current_map)
        self.redraw()

    def set_view(self, view: str) -> None:
        self._user_moved = False
        self.scene.set_view(view)
        self.redraw()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if not getattr(self, "_user_moved", False) and self.scene.states:
            QTimer.singleShot(0, self._refit)

    def _refit(self) -> None:
        if self.scene.states and not self.plotter._closed:
            self.scene.set_view(self.scene.view)
            self.redraw()

    def redraw(self) -> None:
        self.plotter.update()

    def _borders_toggled(self, on: bool) -> None:
        self.scene.set_borders(on)
        self.redraw()

    def _rois_toggled(self, on: bool) -> None:
        self.scene.set_rois(atlas_info.roi_vertex_labels(self.mesh.name) if on else None)
        self.redraw()

    # ------------------------------------------------------------------ maps
    def add_map(self, vmap, show: bool = True) -> None:
        """Add a VoxelMap to the selector (replacing one with the same name); show it if ``show``."""
        self.maps[vmap.name] = vmap
        if self.map_box.findText(vmap.name) < 0:
            self.map_box.blockSignals(True)
            self.map_box.addItem(vmap.name)
            self.map_box.blockSignals(False)
        self._refresh_models()
        if show:
            self.show_map(vmap.name)

    def show_map(self, name: str, keep_range: bool = False) -> None:
        """Project map ``name`` onto the mesh and draw it."""
        vmap = self.maps[name]
        self.current_map = name
        if self.map_box.currentText() != name:
            self.map_box.blockSignals(True)
            self.map_box.setCurrentText(name)
            self.map_box.blockSignals(False)
        values = display_values(vmap)
        self._projected = self.projections.get(vmap.geometry, self.mesh.name).project(values)
        if not keep_range:
            self._reset_controls(vmap, values)
        self.scene.set_overlay(self._projected, self.overlay_style())
        lo, hi = self.range_slider.value()
        self.range_label.setText(f"threshold {lo:.3g} · max {hi:.3g}")
        self.redraw()
        self.mapShown.emit(name)

    def _reset_controls(self, vmap, values: np.ndarray | None = None) -> None:
        v = values if values is not None else vmap.values
        v = v[np.isfinite(v)]
        for w in (self.two_sided_box, self.cmap_box, self.range_slider):
            w.blockSignals(True)
        self.two_sided_box.setChecked(bool(vmap.two_sided))
        self.cmap_box.setCurrentText("RdBu_r" if vmap.two_sided else "hot")
        if v.size == 0:
            v = np.array([0.0, 1.0])
        if vmap.two_sided:
            lo, hi = 0.0, float(np.abs(v).max())
            default = (0.0, float(np.percentile(np.abs(v), 98)))
        else:
            lo, hi = float(v.min()), float(v.max())
            default = (lo, float(np.percentile(v, 98)))
        if is_p_map(vmap) and not vmap.two_sided:  # −log10 p: threshold at p < 0.05
            lo = 0.0
            hi = max(hi, LOGP_DEFAULT_THRESHOLD + 1.0)
            default = (LOGP_DEFAULT_THRESHOLD, max(default[1], LOGP_DEFAULT_THRESHOLD + 1.0))
        if hi <= lo:
            hi = lo + 1.0
        self.range_slider.setRange(lo, hi)
        self.range_slider.setValue(default)
        for w in (self.two_sided_box, self.cmap_box, self.range_slider):
            w.blockSignals(False)

    def overlay_style(self) -> OverlayStyle:
        """The overlay style set by the toolbar."""
        vmap = self.maps.get(self.current_map)
        lo, hi = self.range_slider.value()
        at_floor = lo <= self.range_slider.minimum() + 1e-12
        two = self.two_sided_box.isChecked()
        return OverlayStyle(
            cmap=self.cmap_box.currentText(),
            vmin=None if two else lo,
            vmax=hi,
            threshold=None if at_floor else lo,
            two_sided=two,
            below=self.below_box.currentText(),
            units=("" if vmap is None else LOGP_UNITS if is_p_map(vmap) else (vmap.units or vmap.name)),
        )

    def set_threshold(self, threshold: float | None, vmax: float | None = None) -> None:
        lo, hi = self.range_slider.value()
        self.range_slider.setValue(
            (self.range_slider.minimum() if threshold is None else threshold, hi if vmax is None else vmax)
        )

    def _restyle(self) -> None:
        lo, hi = self.range_slider.value()
        self.range_label.setText(f"threshold {lo:.3g} · max {hi:.3g}")
        if self.current_map is None:
            return
        self.scene.set_style(self.overlay_style())
        self.redraw()

    def _two_sided_toggled(self, on: bool) -> None:
        if self.current_map is None:
            return
        self._reset_controls(Sided(self.maps[self.current_map], on))
        self._restyle()

    # ------------------------------------------------------------------ layer scrubber
    def layer_maps(self) -> dict[str, dict[int, str]]:
        """scrubber key (model · paradigm · pooling · participant) -> {layer: map name}, for maps tagged
        with meta ``layer``."""
        out: dict[str, dict[int, str]] = {}
        for name, vmap in self.maps.items():
            if "layer" in vmap.meta:
                out.setdefault(scrub_key(vmap.meta), {})[int(vmap.meta["layer"])] = name
        return out

    def _refresh_models(self) -> None:
        models = sorted(self.layer_maps())
        current = self.model_box.currentText()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems(models)
        if current in models:
            self.model_box.setCurrentText(current)
        self.model_box.blockSignals(False)
        self._set_scrubber_visible(bool(models))
        self._scrub_setup(show=False)

    def _scrub_setup(self, show: bool = True) -> None:
        layers = sorted(self.layer_maps().get(self.model_box.currentText(), {}))
        self.layer_slider.blockSignals(True)
        self.layer_slider.setRange(0, max(len(layers) - 1, 0))
        self.layer_slider.blockSignals(False)
        self._layers = layers
        if show and layers:
            self._scrub(self.layer_slider.value(), first=True)

    def scrub_to(self, layer: int) -> None:
        """Show the current model's map for ``layer``."""
        self.layer_slider.setValue(self._layers.index(int(layer)))
        self._scrub(self._layers.index(int(layer)))

    def _scrub(self, position: int, first: bool = False) -> None:
        model = self.model_box.currentText()
        table = self.layer_maps().get(model, {})
        if not self._layers or position >= len(self._layers):
            return
        layer = self._layers[position]
        self.layer_label.setText(f"layer {layer}")
        name = table[layer]
        keep = not first and self.current_map in table.values()
        if not keep:
            # one colour scale across the model's layers so that layers compare
            stacked = np.concatenate([self.maps[n].values for n in table.values()])
            self.current_map = name
            self._reset_controls(self.maps[name], stacked)
        self.show_map(name, keep_range=True)

    # ------------------------------------------------------------------ picking
    def _event_xy(self) -> tuple[int, int]:
        return tuple(self.plotter.iren.interactor.GetEventPosition())

    def _on_press(self, *_args) -> None:
        self._press = self._event_xy()

    def _on_release(self, *_args) -> None:
        if self._press is None:
            return
        x, y = self._event_xy()
        px, py = self._press
        self._press = None
        if abs(x - px) <= CLICK_SLOP_PX and abs(y - py) <= CLICK_SLOP_PX:
            self.pick_at(x, y)
        else:
            self._user_moved = True

    def _on_move(self, *_args) -> None:
        if self._press is not None:
            return
        hit = self.scene.pick(*self._event_xy())
        self.hover.setText(self.describe_vertex(*hit) if hit else " ")

    def pick_at(self, x: float, y: float) -> tuple[str, int] | None:
        """Pick the vertex under display point (x, y) (VTK coordinates) and emit ``vertexPicked``."""
        hit = self.scene.pick(x, y)
        if hit is not None:
            self.select(*hit)
        return hit

    def close_viewer(self) -> None:
        """Release the GL context and VTK objects (call before deleting the widget)."""
        self.marker.close()
        self.scene.close()
        self.plotter.close()
