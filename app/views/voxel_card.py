"""The voxel card: everything about the clicked voxel (Connectome Workbench style): MNI coordinates,
Glasser area, ROI, C and p with the permutation null histogram, language response, encoding r per
layer, quartile bin, the values of every loaded map, and the voxel's 180 concept responses per
paradigm as pairwise scatter plots."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.views.mini_plot import CYCLE, MiniPlot
from core.inspect.voxel import VoxelInfo

SHORT = {"sentences": "sentences", "pictures": "pictures", "word_clouds": "word clouds"}


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, (float, np.floating)):
        return "–" if not np.isfinite(value) else f"{value:.{digits}g}"
    return str(value)


def p_text(info: VoxelInfo) -> str:
    """The analysis's p where a consistency result is loaded, else the card's own permutation p."""
    row = info.table_rows.get("consistency_voxels") or {}
    analysis_p = row.get("p")
    own = None if info.null is None else f"{_fmt(info.p, 3)} (card: {len(info.null)} permutations)"
    if analysis_p is not None and np.isfinite(analysis_p):
        text = f"{_fmt(float(analysis_p), 3)} (analysis)"
        return text if own is None else f"{text}; {own}"
    return own or _fmt(info.p, 3)


def quartile_text(info: VoxelInfo) -> str:
    """'ROI 1 · C Q3 · language Q2 · cell r = …' from the quartiles analysis, or why there is none."""
    cell = info.quartile_cell
    if cell is not None:
        r = ", ".join(f"{SHORT.get(p, p)} {_fmt(v, 3)}" for p, v in cell["r"].items())
        return f"ROI {cell['roi']} · C Q{cell['b_C']} · language Q{cell['b_L']}" + (
            f" · {info.participant or ''} cell r: {r}".replace("  ", " ") if r else ""
        )
    if info.quartile is not None:
        return str(info.quartile)
    return info.quartile_note or "–"


class VoxelCard(QScrollArea):
    """Shows a :class:`~core.inspect.voxel.VoxelInfo`. Signals ``pinRequested()`` and
    ``nearestRequested()`` (its Pin and Nearest significant buttons)."""

    pinRequested = Signal()
    nearestRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(300)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        body = QWidget()
        self.setWidget(body)
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        for key in (
            "vertex",
            "MNI x, y, z",
            "participant",
            "Glasser area",
            "ROI",
            "C",
            "p (permutation)",
            "language",
            "quartile",
        ):
            label = QLabel("–")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self.fields[key] = label
            form.addRow(key, label)
        self.maps_label = QLabel("")
        self.maps_label.setWordWrap(True)
        self.null_canvas = MiniPlot(height=150)
        self.layer_canvas = MiniPlot(height=150)
        self.scatter_canvas = QWidget()  # a heading and three scatter plots
        scatter_layout = QVBoxLayout(self.scatter_canvas)
        scatter_layout.setContentsMargins(0, 0, 0, 0)
        scatter_layout.setSpacing(2)
        scatter_layout.addWidget(QLabel("180-concept responses"), alignment=Qt.AlignHCenter)
        self._scatter_plots = [MiniPlot(height=110) for _ in range(3)]
        for plot in self._scatter_plots:
            scatter_layout.addWidget(plot)
        layout = QVBoxLayout(body)
        self.hint = QLabel("Click the cortex to inspect a voxel.")
        layout.addWidget(self.hint)
        self.pin_button = QPushButton("Pin")
        self.pin_button.setToolTip("keep this card for comparison (up to four)")
        self.nearest_button = QPushButton("Nearest significant")
        self.nearest_button.setToolTip("move the selection to the nearest vertex with p < .05 in the map "
                                       "shown")
        self.pin_button.clicked.connect(self.pinRequested)
        self.nearest_button.clicked.connect(self.nearestRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pin_button)
        buttons.addWidget(self.nearest_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(self.maps_label)
        layout.addWidget(self.null_canvas)
        layout.addWidget(self.layer_canvas)
        layout.addWidget(self.scatter_canvas)
        layout.addStretch(1)
        self.info: VoxelInfo | None = None
        self._drawn_for: VoxelInfo | None = None
        self._setup_plots()
        for canvas in (self.null_canvas, self.layer_canvas, self.scatter_canvas):
            canvas.setVisible(False)

    def show_info(self, info: VoxelInfo, plots: bool = True) -> None:
        """Fill the card; ``plots=False`` leaves the plots as they are (the caller draws them once, when
        the card's worker has added the null)."""
        self.info = info
        self.hint.setText("")
        f = self.fields
        f["vertex"].setText("–" if info.hemi is None else f"{info.hemi} #{info.vertex}")
        f["MNI x, y, z"].setText(", ".join(f"{v:.0f}" for v in info.xyz) + " mm")
        f["participant"].setText(
            _fmt(info.participant) + ("" if info.voxel < 0 else f"  (voxel {info.voxel})")
        )
        f["Glasser area"].setText("unavailable" if info.area is None else (info.area or "none"))
        f["ROI"].setText("unavailable" if info.roi is None else (info.roi or "none"))
        f["C"].setText(_fmt(info.C))
        f["p (permutation)"].setText(p_text(info))
        f["language"].setText(_fmt(info.language))
        f["quartile"].setText(quartile_text(info))
        lines = [
            f"{name}: {_fmt(v)} {units}".rstrip() for name, v, units in info.map_values if np.isfinite(v)
        ]
        for table, row in info.table_rows.items():
            shown = {k: v for k, v in row.items() if k not in ("i", "j", "k", "x", "y", "z", "participant")}
            lines.append(f"{table}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items()))
        self.maps_label.setText("<br>".join(lines) if lines else "")
        if not plots:
            return
        self._draw_null(info)
        if info is not self._drawn_for:  # the completed card (null, quartile) keeps these two plots
            self._drawn_for = info
            self._draw_layers(info)
            self._draw_scatter(info)

    def _draw_later(self, canvas: QWidget) -> None:
        """Repaint ``canvas`` (and its plots) on the next event-loop turn."""
        canvas.update()
        for plot in canvas.findChildren(MiniPlot):
            plot.update()

    def _setup_plots(self) -> None:
        self.null_canvas.set_labels(xlabel="C (mean pairwise Pearson r)")
        self.layer_canvas.set_labels(xlabel="layer", ylabel="encoding r")
        self._layer_models: list[str] = []

    def _draw_null(self, info: VoxelInfo) -> None:
        plot = self.null_canvas
        ok = info.null is not None and np.isfinite(info.null).any()
        plot.setVisible(bool(ok))
        if ok:
            null = info.null[np.isfinite(info.null)]
            lo, hi = min(null.min(), info.C), max(null.max(), info.C)
            counts, edges = np.histogram(null, bins=40, range=(lo, hi + 1e-9))
            plot.clear()
            plot.add("steps", edges, counts, color="#a6a6a6")
            plot.add("vline", [info.C], color="crimson")
            pad = 0.05 * (hi - lo + 1e-9)
            plot.set_limits((lo - pad, hi + pad), (0, counts.max() * 1.1 + 1))
            plot.title = f"null of C, {len(null)} permutations (red: this voxel)"
        self._draw_later(self.null_canvas)

    def _draw_layers(self, info: VoxelInfo) -> None:
        plot = self.layer_canvas
        plot.setVisible(bool(info.layer_profiles))
        plot.clear()
        values_all = []
        for model, (layers, values) in info.layer_profiles.items():
            if model not in self._layer_models:  # a model keeps its colour across picks
                self._layer_models.append(model)
            color = CYCLE[self._layer_models.index(model) % len(CYCLE)]
            plot.add("line", layers, values, color=color, label=model)
            values_all.append((np.asarray(layers, float), np.asarray(values, float)))
        if values_all:
            layers = np.concatenate([v[0] for v in values_all])
            vals = np.concatenate([v[1] for v in values_all])
            vals = vals[np.isfinite(vals)] if np.isfinite(vals).any() else np.zeros(1)
            pad = 0.1 * (np.ptp(vals) + 1e-3)
            plot.set_limits((layers.min() - 0.5, layers.max() + 0.5), (vals.min() - pad, vals.max() + pad))
        self._draw_later(self.layer_canvas)

    def _draw_scatter(self, info: VoxelInfo) -> None:
        names = list(info.concept_means)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]][:3]
        self.scatter_canvas.setVisible(bool(pairs))
        for n, plot in enumerate(self._scatter_plots):
            plot.setVisible(n < len(pairs))
            if n >= len(pairs):
                continue
            a, b = pairs[n]
            x, y = info.concept_means[a], info.concept_means[b]
            ok = np.isfinite(x) & np.isfinite(y)
            plot.clear()
            plot.add("dots", x[ok], y[ok])
            r = np.corrcoef(x[ok], y[ok])[0, 1] if ok.sum() > 2 else np.nan
            if ok.any():
                limits = [(v.min() - 0.05 * (np.ptp(v) + 1e-9), v.max() + 0.05 * (np.ptp(v) + 1e-9))
                          for v in (x[ok], y[ok])]
                plot.set_limits(*limits)
            plot.title = f"{SHORT.get(a, a)} vs {SHORT.get(b, b)}: r = {_fmt(r, 3)}"
        self._draw_later(self.scatter_canvas)
