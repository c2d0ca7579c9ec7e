"""A small QPainter plot for the voxel card: one axes box with round-number ticks, holding histogram
steps, lines with markers, dots and vertical markers.

Painted by Qt in 1-3 ms a plot and imported with nothing beyond QtGui. The card drew these plots with
matplotlib's Qt canvases before: 84-122 ms of UI-thread time a pick for the five plots, against 7-12 ms
here; pyqtgraph paints them in 5-6 ms but adds 0.25-0.3 s to the window's start-up imports
(``benchmarks/card_plots.py`` measures all three).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

CYCLE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_ticks(lo: float, hi: float, target: int = 4) -> np.ndarray:
    """About ``target`` round-number ticks (steps 1, 2, 2.5 or 5 x 10^k) inside [lo, hi]."""
    span = hi - lo
    if not (np.isfinite(span) and span > 0):
        return np.array([lo], dtype=float) if np.isfinite(lo) else np.zeros(0)
    raw = span / max(target, 1)
    magnitude = 10.0 ** np.floor(np.log10(raw))
    step = magnitude * next(m for m in NICE_STEPS if m * magnitude >= raw * (1 - 1e-9))
    first = np.ceil(lo / step - 1e-9) * step
    ticks = first + step * np.arange(int(np.floor((hi - first) / step + 1e-9)) + 1)
    return np.where(np.abs(ticks) < step * 1e-9, 0.0, ticks)  # no "-0"


def tick_labels(ticks: np.ndarray) -> list[str]:
    """Tick labels with as many decimals as the tick step needs (0.25 -> 2, 20 -> 0)."""
    if len(ticks) < 2:
        return [f"{t:.3g}" for t in ticks]
    step = float(np.min(np.diff(ticks)))
    decimals = 0
    while decimals < 8 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    return [f"{t:.{decimals}f}" for t in ticks]


@dataclass
class Series:
    """One thing drawn in the axes. ``kind``: "steps" (``x`` = bin edges (n+1,), ``y`` = heights (n,)),
    "line" (with markers), "dots" or "vline" (at ``x[0]``)."""

    kind: str
    x: np.ndarray
    y: np.ndarray | None
    color: str
    label: str = ""


class MiniPlot(QWidget):
    """One axes box. Fill it with :meth:`clear`, :meth:`add` and :meth:`set_limits`; Qt paints it on the
    next event-loop turn (:meth:`update`)."""

    def __init__(self, parent=None, height: int = 170, font_size: int = 7) -> None:
        super().__init__(parent)
        self.setMinimumHeight(height)
        self.font_ = QFont(self.font())
        self.font_.setPointSize(font_size)
        self.series: list[Series] = []
        self.xlim: tuple[float, float] = (0.0, 1.0)
        self.ylim: tuple[float, float] = (0.0, 1.0)
        self.title = self.xlabel = self.ylabel = ""
        self.paints = 0  # paint events served (tests and benchmarks read it)

    def clear(self) -> None:
        self.series.clear()

    def add(self, kind: str, x, y=None, color: str = CYCLE[0], label: str = "") -> None:
        x = np.asarray(x, dtype=float).ravel()
        y = None if y is None else np.asarray(y, dtype=float).ravel()
        self.series.append(Series(kind, x, y, color, label))

    def set_limits(self, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
        self.xlim = (float(xlim[0]), float(xlim[1]))
        self.ylim = (float(ylim[0]), float(ylim[1]))

    def set_labels(self, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel

    # geometry ---------------------------------------------------------------------------------------
    def axes_rect(self) -> QRectF:
        """The axes box in widget pixels (room left for the title, labels and tick labels)."""
        fm = QFontMetricsF(self.font_)
        line = fm.height()
        ticks = tick_labels(nice_ticks(*self.ylim))
        widest = max((fm.horizontalAdvance(t) for t in ticks), default=0.0)
        left = widest + 6 + (line + 2 if self.ylabel else 0)
        top = line + 4 if self.title else 6
        bottom = line + 5 + (line + 1 if self.xlabel else 0)
        w, h = max(self.width() - left - 8, 1.0), max(self.height() - top - bottom, 1.0)
        return QRectF(left, top, w, h)

    def to_pixels(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Data coordinates -> widget pixels (float arrays)."""
        r = self.axes_rect()
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        sx = r.width() / (x1 - x0) if x1 != x0 else 0.0
        sy = r.height() / (y1 - y0) if y1 != y0 else 0.0
        return r.left() + (np.asarray(x, float) - x0) * sx, r.bottom() - (np.asarray(y, float) - y0) * sy

    # painting ---------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.paints += 1
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        p.setFont(self.font_)
        rect = self.axes_rect()
        self._paint_axes(p, rect)
        p.save()
        p.setClipRect(rect.adjusted(-3, -3, 3, 3))
        for s in self.series:
            self._paint_series(p, s, rect)
        p.restore()
        self._paint_legend(p, rect)
        p.end()

    def _paint_axes(self, p: QPainter, rect: QRectF) -> None:
        fm = QFontMetricsF(self.font_)
        p.setPen(QPen(QColor("black"), 1))
        p.drawRect(rect)
        xt = nice_ticks(*self.xlim)
        xp, _ = self.to_pixels(xt, np.zeros_like(xt))
        for pos, text in zip(xp, tick_labels(xt), strict=True):
            p.drawLine(QPointF(pos, rect.bottom()), QPointF(pos, rect.bottom() + 3))
            w = fm.horizontalAdvance(text)
            p.drawText(QPointF(pos - w / 2, rect.bottom() + 3 + fm.ascent()), text)
        yt = nice_ticks(*self.ylim)
        _, yp = self.to_pixels(np.zeros_like(yt), yt)
        for pos, text in zip(yp, tick_labels(yt), strict=True):
            p.drawLine(QPointF(rect.left() - 3, pos), QPointF(rect.left(), pos))
            w = fm.horizontalAdvance(text)
            p.drawText(QPointF(rect.left() - 5 - w, pos + fm.ascent() / 2 - 1), text)
        if self.title:
            p.drawText(QRectF(0, 1, self.width(), fm.height() + 2), Qt.AlignHCenter | Qt.AlignTop, self.title)
        if self.xlabel:
            p.drawText(
                QRectF(rect.left(), self.height() - fm.height() - 1, rect.width(), fm.height()),
                Qt.AlignHCenter,
                self.xlabel,
            )
        if self.ylabel:
            p.save()
            p.translate(1, rect.center().y())
            p.rotate(-90)
            box = QRectF(-rect.height() / 2, 0, rect.height(), fm.height())
            p.drawText(box, Qt.AlignHCenter, self.ylabel)
            p.restore()

    def _paint_series(self, p: QPainter, s: Series, rect: QRectF) -> None:
        color = QColor(s.color)
        if s.kind == "steps":
            xs, ys = self.to_pixels(s.x, np.zeros_like(s.x))
            _, tops = self.to_pixels(np.zeros_like(s.y), s.y)
            p.setPen(Qt.NoPen)
            p.setBrush(color)
            for a, b, top in zip(xs[:-1], xs[1:], tops, strict=True):
                p.drawRect(QRectF(a, top, b - a, ys[0] - top))
        elif s.kind == "vline":
            xs, _ = self.to_pixels(s.x[:1], np.zeros(1))
            p.setPen(QPen(color, 2))
            p.drawLine(QPointF(xs[0], rect.top()), QPointF(xs[0], rect.bottom()))
        else:
            xs, ys = self.to_pixels(s.x, s.y)
            points = [QPointF(a, b) for a, b in zip(xs, ys, strict=True)]
            if s.kind == "line" and len(points) > 1:
                p.setPen(QPen(color, 1.5))
                p.drawPolyline(QPolygonF(points))
            if s.kind == "dots":
                color.setAlphaF(0.7)
            marker = QPen(color, 4.0 if s.kind == "dots" else 5.0)  # round points: one call for all
            marker.setCapStyle(Qt.RoundCap)
            p.setPen(marker)
            p.drawPoints(QPolygonF(points))

    def _paint_legend(self, p: QPainter, rect: QRectF) -> None:
        labelled = [s for s in self.series if s.label]
        if not labelled:
            return
        fm = QFontMetricsF(self.font_)
        width = max(fm.horizontalAdvance(s.label) for s in labelled) + 26
        box = QRectF(rect.right() - width - 4, rect.top() + 4, width, fm.height() * len(labelled) + 4)
        p.setPen(QPen(QColor("#cccccc"), 1))
        p.setBrush(QColor(255, 255, 255, 220))
        p.drawRect(box)
        for n, s in enumerate(labelled):
            y = box.top() + 2 + fm.height() * (n + 0.5)
            p.setPen(QPen(QColor(s.color), 1.5))
            p.drawLine(QPointF(box.left() + 4, y), QPointF(box.left() + 18, y))
            p.setPen(QColor("black"))
            p.drawText(QPointF(box.left() + 22, y + fm.ascent() / 2 - 1), s.label)
