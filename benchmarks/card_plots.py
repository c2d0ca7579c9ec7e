"""The voxel card's plots: our QPainter plot (app/views/mini_plot.py) against matplotlib's Qt canvas (the
card's previous plots) and pyqtgraph (where installed), on the card's workload.

Workload per pick: a 40-bin null histogram with the voxel's marker, a layer profile of two models (7 and
31 layers) and three 180-point concept scatters, each with new limits and titles. Measured: the import
of each plotting library in a fresh interpreter after PySide6 and numpy (median of 3), and the UI-thread
time of one pick's update + synchronous repaint (median over 20 picks, after 3 warm-up picks).

Run: ``xvfb-run -a python benchmarks/card_plots.py [--no-append]``. Prints
``name: ours X, peer Y, ratio R`` and appends the lines to BENCHMARKS.md with a machine line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import append_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
IMPORTS = {
    "ours": "import app.views.mini_plot",
    "matplotlib": "import matplotlib.backends.backend_qtagg, matplotlib.figure",
    "pyqtgraph": "import pyqtgraph",
}


def import_seconds(statement: str) -> float:
    code = (
        "import time, PySide6.QtWidgets, numpy; t = time.perf_counter(); "
        f"{statement}; print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            return float("nan")
        times.append(float(proc.stdout.split()[-1]))
    return float(np.median(times))


def picks(n: int, seed: int = 0):
    """n synthetic card contents: (null (1000,), C, {model: (layers, r)}, three (x, y) scatters)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        null = rng.normal(0, 0.05, 1000)
        profiles = {m: (np.arange(n), rng.random(n) * 0.3) for m, n in (("minilm", 7), ("smollm2", 31))}
        base = rng.standard_normal(180)
        scatters = [(base + rng.standard_normal(180), base + rng.standard_normal(180)) for _ in range(3)]
        yield null, float(rng.uniform(0, 0.4)), profiles, scatters


class OursCard:
    def __init__(self):
        from PySide6.QtWidgets import QVBoxLayout, QWidget

        from app.views.mini_plot import CYCLE, MiniPlot

        self.cycle = CYCLE
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        self.plots = [MiniPlot(height=150), MiniPlot(height=150)] + [MiniPlot(height=110) for _ in range(3)]
        for p in self.plots:
            layout.addWidget(p)
        self.widget.resize(320, 700)
        self.widget.show()

    def update(self, null, c, profiles, scatters):
        hist, layer, *sc = self.plots
        counts, edges = np.histogram(null, bins=40)
        hist.clear()
        hist.add("steps", edges, counts, color="#a6a6a6")
        hist.add("vline", [c], color="crimson")
        hist.set_limits((min(edges[0], c), max(edges[-1], c)), (0, counts.max() * 1.1))
        hist.title = f"null of C, {len(null)} permutations"
        layer.clear()
        for n, (model, (x, y)) in enumerate(profiles.items()):
            layer.add("line", x, y, color=self.cycle[n], label=model)
        layer.set_limits((-0.5, 30.5), (0, 0.3))
        for plot, (x, y) in zip(sc, scatters, strict=True):
            plot.clear()
            plot.add("dots", x, y)
            plot.set_limits((x.min(), x.max()), (y.min(), y.max()))
            plot.title = f"r = {np.corrcoef(x, y)[0, 1]:.3f}"
        self.widget.repaint()


class MatplotlibCard:
    """The card's previous plots: three Qt canvases, axes built once, data and limits updated per pick."""

    def __init__(self):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.null = FigureCanvasQTAgg(Figure(figsize=(3.2, 1.8)))
        self.layer = FigureCanvasQTAgg(Figure(figsize=(3.2, 1.8)))
        self.scatter = FigureCanvasQTAgg(Figure(figsize=(3.2, 3.4)))
        ax = self.null.figure.add_subplot(111)
        self.steps = ax.stairs(np.zeros(1), np.array([0.0, 1.0]), fill=True, color="0.65")
        self.vline = ax.axvline(0.0, color="crimson", lw=2)
        self.null_ax = ax
        self.layer_ax = self.layer.figure.add_subplot(111)
        self.lines = {}
        self.scatter_axes = [self.scatter.figure.add_subplot(3, 1, n + 1) for n in range(3)]
        self.dots = [ax.plot([], [], "o", ms=2, linestyle="none")[0] for ax in self.scatter_axes]
        for canvas in (self.null, self.layer, self.scatter):
            canvas.show()

    def update(self, null, c, profiles, scatters):
        counts, edges = np.histogram(null, bins=40)
        self.steps.set_data(counts, edges)
        self.vline.set_xdata([c, c])
        self.null_ax.set_xlim(min(edges[0], c), max(edges[-1], c))
        self.null_ax.set_ylim(0, counts.max() * 1.1)
        self.null_ax.set_title(f"null of C, {len(null)} permutations", fontsize=7)
        for model, (x, y) in profiles.items():
            if model not in self.lines:
                (self.lines[model],) = self.layer_ax.plot([], [], marker="o", ms=3, label=model)
                self.layer_ax.legend(fontsize=7)
            self.lines[model].set_data(x, y)
        self.layer_ax.set_xlim(-0.5, 30.5)
        self.layer_ax.set_ylim(0, 0.3)
        for ax, dots, (x, y) in zip(self.scatter_axes, self.dots, scatters, strict=True):
            dots.set_data(x, y)
            ax.set_xlim(x.min(), x.max())
            ax.set_ylim(y.min(), y.max())
            ax.set_title(f"r = {np.corrcoef(x, y)[0, 1]:.3f}", fontsize=7)
        for canvas in (self.null, self.layer, self.scatter):
            canvas.draw()
            canvas.repaint()


class PyqtgraphCard:
    def __init__(self):
        import pyqtgraph as pg

        self.pg = pg
        self.widget = pg.GraphicsLayoutWidget()
        self.null = self.widget.addPlot(row=0, col=0)
        self.bars = pg.PlotCurveItem(np.array([0.0, 1.0]), np.zeros(1), stepMode="center", fillLevel=0,
                                     brush=(166, 166, 166))
        self.null.addItem(self.bars)
        self.vline = pg.InfiniteLine(angle=90, pen=pg.mkPen("r", width=2))
        self.null.addItem(self.vline)
        self.layer = self.widget.addPlot(row=1, col=0)
        self.layer.addLegend()
        self.lines = {}
        self.scatters = []
        for n in range(3):
            plot = self.widget.addPlot(row=2 + n, col=0)
            self.scatters.append((plot, plot.plot([], [], pen=None, symbol="o", symbolSize=4)))
        self.widget.resize(320, 700)
        self.widget.show()

    def update(self, null, c, profiles, scatters):
        counts, edges = np.histogram(null, bins=40)
        self.bars.setData(edges, counts)
        self.vline.setValue(c)
        self.null.setTitle(f"null of C, {len(null)} permutations")
        for n, (model, (x, y)) in enumerate(profiles.items()):
            if model not in self.lines:
                self.lines[model] = self.layer.plot([], [], pen=n, symbol="o", symbolSize=5, name=model)
            self.lines[model].setData(x, y)
        for (plot, item), (x, y) in zip(self.scatters, scatters, strict=True):
            item.setData(x, y)
            plot.setTitle(f"r = {np.corrcoef(x, y)[0, 1]:.3f}")
        self.widget.repaint()


def update_seconds(card_class, app) -> float:
    card = card_class()
    app.processEvents()
    times = []
    for k, pick in enumerate(picks(23)):
        start = time.perf_counter()
        card.update(*pick)
        elapsed = time.perf_counter() - start
        app.processEvents()
        if k >= 3:
            times.append(elapsed)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    results = {}
    cards = {"ours": OursCard, "matplotlib": MatplotlibCard, "pyqtgraph": PyqtgraphCard}
    for name, card_class in cards.items():
        imp = import_seconds(IMPORTS[name])
        if not np.isfinite(imp):
            continue
        results[name] = (imp, update_seconds(card_class, app))
    ours_import, ours_update = results["ours"]
    lines = []
    for peer, (imp, upd) in results.items():
        if peer == "ours":
            continue
        lines.append(
            f"voxel card plots, one pick (null histogram, layer profile, 3 x 180-point scatters; update + "
            f"repaint on the UI thread, median of 20): ours {ours_update * 1e3:.1f} ms, peer {peer} "
            f"{upd * 1e3:.1f} ms, ratio {upd / ours_update:.1f}; import after PySide6 + numpy: ours "
            f"{ours_import * 1e3:.0f} ms, {peer} {imp * 1e3:.0f} ms"
        )
    for line in lines:
        print(line)
    if not args.no_append:
        append_results("card plots", lines, note="Xvfb")


if __name__ == "__main__":
    main()
