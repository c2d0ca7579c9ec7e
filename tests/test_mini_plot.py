"""The voxel card's QPainter plot (app/views/mini_plot.py): round-number ticks checked against their
definition, data-to-pixel mapping against the axes box, and planted marks found in the painted image."""

from __future__ import annotations

import numpy as np
import pytest

from app.views.mini_plot import MiniPlot, nice_ticks, tick_labels

pytestmark = pytest.mark.gl


@pytest.mark.parametrize(
    "lo, hi",
    [(0.0, 1.0), (-0.137, 0.62), (0.5, 30.5), (-4.2, 3.9), (0.0, 181.0), (1e-4, 7e-4), (-3.0, -2.2)],
)
def test_nice_ticks_are_round_evenly_spaced_and_inside(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 9
    assert ticks.min() >= lo - 1e-12 and ticks.max() <= hi + 1e-12
    steps = np.diff(ticks)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))  # 1, 2, 2.5 or 5 x 10^k
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5)) < 1e-9
    np.testing.assert_allclose(ticks / steps[0], np.round(ticks / steps[0]), atol=1e-6)  # multiples
    assert ticks[0] - steps[0] < lo and ticks[-1] + steps[0] > hi  # no round tick left out


def test_tick_labels_use_the_decimals_of_the_step():
    assert tick_labels(np.array([0.0, 0.25, 0.5])) == ["0.00", "0.25", "0.50"]
    assert tick_labels(np.array([0.0, 10.0, 20.0])) == ["0", "10", "20"]
    assert tick_labels(np.array([-0.2, 0.0, 0.2])) == ["-0.2", "0.0", "0.2"]
    assert nice_ticks(1.0, 1.0).tolist() == [1.0] and nice_ticks(np.nan, 1.0).size == 0


def _plot(qtbot) -> MiniPlot:
    plot = MiniPlot(height=200)
    qtbot.addWidget(plot)
    plot.resize(320, 200)
    plot.show()
    return plot


def test_limits_map_to_the_axes_box(qtbot):
    plot = _plot(qtbot)
    plot.set_limits((-2.0, 6.0), (10.0, 30.0))
    rect = plot.axes_rect()
    x, y = plot.to_pixels(np.array([-2.0, 6.0, 2.0]), np.array([10.0, 30.0, 20.0]))
    np.testing.assert_allclose(x, [rect.left(), rect.right(), rect.center().x()], atol=1e-9)
    np.testing.assert_allclose(y, [rect.bottom(), rect.top(), rect.center().y()], atol=1e-9)


def test_planted_marks_are_painted_where_the_data_says(qtbot):
    plot = _plot(qtbot)
    plot.set_limits((0.0, 1.0), (0.0, 1.0))
    plot.set_labels(title="t", xlabel="x", ylabel="y")
    plot.add("vline", [0.25], color="#ff0000")
    plot.add("dots", [0.75], [0.5], color="#0000ff")
    plot.add("steps", [0.0, 0.1], [0.8], color="#00ff00")
    image = plot.grab().toImage()
    (xv,), _ = plot.to_pixels(np.array([0.25]), np.array([0.0]))
    rect = plot.axes_rect()
    red = image.pixelColor(round(xv), round(rect.center().y()))
    assert red.red() > 200 and red.green() < 60 and red.blue() < 60
    (xd,), (yd,) = plot.to_pixels(np.array([0.75]), np.array([0.5]))
    blue = image.pixelColor(round(xd), round(yd))
    assert blue.blue() > 150 and blue.red() < 150
    (xs,), (ys,) = plot.to_pixels(np.array([0.05]), np.array([0.4]))
    green = image.pixelColor(round(xs), round(ys))
    assert green.green() > 200 and green.red() < 60
    (xe,), (ye,) = plot.to_pixels(np.array([0.5]), np.array([0.5]))  # nothing planted there
    empty = image.pixelColor(round(xe), round(ye))
    assert min(empty.red(), empty.green(), empty.blue()) > 240
    assert plot.paints >= 1
