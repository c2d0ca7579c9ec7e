"""The voxel card: everything about the clicked voxel (Connectome Workbench style): MNI coordinates,
Glasser area, ROI, C and p with the permutation null histogram, language response, encoding r per
layer, quartile bin, the values of every loaded map, and the voxel's 180 concept responses per
paradigm as pairwise scatter plots."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure as MplFigure
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.inspect.voxel import VoxelInfo

DRAW_INTERVAL_MS = 10  # the card's plots are drawn one per event-loop turn, this far apart (no UI stall)
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
        self.null_canvas = FigureCanvasQTAgg(MplFigure(figsize=(3.2, 1.8)))
        self.layer_canvas = FigureCanvasQTAgg(MplFigure(figsize=(3.2, 1.8)))
        self.scatter_canvas = FigureCanvasQTAgg(MplFigure(figsize=(3.2, 3.4)))
        for canvas, height in ((self.null_canvas, 170), (self.layer_canvas, 170), (self.scatter_canvas, 330)):
            canvas.setMinimumHeight(height)
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
        self._draw_queue: list[FigureCanvasQTAgg] = []
        self._setup_plots()
        for canvas in (self.null_canvas, self.layer_canvas, self.scatter_canvas):
            canvas.setVisible(False)

    def show_info(self, info: VoxelInfo, plots: bool = True) -> None:
        """Fill the card; ``plots=False`` leaves the plots as they are (the caller draws them once the
        card's worker is done: drawn next to it, each plot took 2-5x longer, the two threads sharing the
        GIL)."""
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

    def _draw_later(self, canvas: FigureCanvasQTAgg) -> None:
        """Draw ``canvas`` on a later event-loop turn, one canvas per turn (each Agg draw takes 20-50 ms;
        three in one turn would stall the UI past 100 ms)."""
        if canvas not in self._draw_queue:
            self._draw_queue.append(canvas)
            if len(self._draw_queue) == 1:
                QTimer.singleShot(DRAW_INTERVAL_MS, self._draw_next)

    def _draw_next(self) -> None:
        if not self._draw_queue:
            return
        canvas = self._draw_queue.pop(0)
        if canvas.isVisible():
            canvas.draw()
        if self._draw_queue:
            QTimer.singleShot(DRAW_INTERVAL_MS, self._draw_next)

    def plots_pending(self) -> bool:
        """True while a plot of the card waits to be drawn."""
        return bool(self._draw_queue)

    # the axes are built once; updates only move data (clearing a figure rebuilds every tick: ~10x slower)
    def _setup_plots(self) -> None:
        fig = self.null_canvas.figure
        ax = fig.add_subplot(111)
        self._null_steps = ax.stairs(np.zeros(1), np.array([0.0, 1.0]), fill=True, color="0.65")
        self._null_line = ax.axvline(0.0, color="crimson", lw=2)
        ax.set_title("permutation null of C (red: this voxel)", fontsize=8)
        ax.set_xlabel("C (mean pairwise Pearson r)", fontsize=7)
        ax.tick_params(labelsize=7)
        fig.subplots_adjust(left=0.14, right=0.97, bottom=0.25, top=0.86)
        self._null_ax = ax
        fig = self.layer_canvas.figure
        self._layer_ax = fig.add_subplot(111)
        self._layer_ax.set_xlabel("layer", fontsize=7)
        self._layer_ax.set_ylabel("encoding r", fontsize=7)
        self._layer_ax.tick_params(labelsize=7)
        self._layer_lines: dict[str, object] = {}
        fig.subplots_adjust(left=0.18, right=0.97, bottom=0.2, top=0.92)
        fig = self.scatter_canvas.figure
        self._scatter_axes, self._scatters = [], []
        for n in range(3):
            ax = fig.add_subplot(3, 1, n + 1)
            ax.tick_params(labelsize=6)
            self._scatter_axes.append(ax)
            (dots,) = ax.plot([], [], "o", ms=2, alpha=0.7, linestyle="none")  # markers: faster than scatter
            self._scatters.append(dots)
        fig.suptitle("180-concept responses", fontsize=8)
        fig.subplots_adjust(left=0.14, right=0.97, bottom=0.05, top=0.9, hspace=0.6)

    def _draw_null(self, info: VoxelInfo) -> None:
        ax = self._null_ax
        ok = info.null is not None and np.isfinite(info.null).any()
        ax.set_visible(bool(ok))
        self.null_canvas.setVisible(bool(ok))
        if ok:
            null = info.null[np.isfinite(info.null)]
            lo, hi = min(null.min(), info.C), max(null.max(), info.C)
            counts, edges = np.histogram(null, bins=40, range=(lo, hi + 1e-9))
            self._null_steps.set_data(counts, edges)
            self._null_line.set_xdata([info.C, info.C])
            pad = 0.05 * (hi - lo + 1e-9)
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(0, counts.max() * 1.1 + 1)
            ax.set_title(
                f"null of C, {len(null)} permutations (red: this voxel)",
                fontsize=7,
            )
        self._draw_later(self.null_canvas)

    def _draw_layers(self, info: VoxelInfo) -> None:
        ax = self._layer_ax
        ax.set_visible(bool(info.layer_profiles))
        self.layer_canvas.setVisible(bool(info.layer_profiles))
        for model, line in self._layer_lines.items():
            line.set_visible(model in info.layer_profiles)
        values_all = []
        for model, (layers, values) in info.layer_profiles.items():
            if model not in self._layer_lines:
                (self._layer_lines[model],) = ax.plot([], [], marker="o", ms=3, label=model)
                ax.legend(fontsize=7)
            self._layer_lines[model].set_data(layers, values)
            values_all.append((layers, values))
        if values_all:
            layers = np.concatenate([v[0] for v in values_all])
            vals = np.concatenate([v[1] for v in values_all])
            ax.set_xlim(layers.min() - 0.5, layers.max() + 0.5)
            pad = 0.1 * (np.ptp(vals) + 1e-3)
            ax.set_ylim(vals.min() - pad, vals.max() + pad)
        self._draw_later(self.layer_canvas)

    def _draw_scatter(self, info: VoxelInfo) -> None:
        names = list(info.concept_means)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]][:3]
        self.scatter_canvas.setVisible(bool(pairs))
        for n, ax in enumerate(self._scatter_axes):
            ax.set_visible(n < len(pairs))
            if n >= len(pairs):
                continue
            a, b = pairs[n]
            x, y = info.concept_means[a], info.concept_means[b]
            ok = np.isfinite(x) & np.isfinite(y)
            self._scatters[n].set_data(x[ok], y[ok])
            if ok.sum() > 2:
                r = np.corrcoef(x[ok], y[ok])[0, 1]
                for setter, v in ((ax.set_xlim, x[ok]), (ax.set_ylim, y[ok])):
                    pad = 0.05 * (np.ptp(v) + 1e-9)
                    setter(v.min() - pad, v.max() + pad)
            else:
                r = np.nan
            ax.set_title(f"{SHORT.get(a, a)} vs {SHORT.get(b, b)}: r = {_fmt(r, 3)}", fontsize=7)
        if self.scatter_canvas.figure.texts:
            self.scatter_canvas.figure.texts[0].set_visible(bool(pairs))
        self._draw_later(self.scatter_canvas)
