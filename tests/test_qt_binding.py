"""The installed Qt binding keeps Python's reference counts: PySide6 6.12.0 drops a reference to None in
every method that returns nothing (QLabel.setText, QPainter.drawRect, ...). On Python < 3.12, where None
is not immortal, its count reaches zero after some thousands of calls and the process aborts with
"Fatal Python error: none_dealloc" (seen as random GUI crashes); pyproject.toml excludes that version."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="None is immortal from Python 3.12: its count never changes"
)


def test_void_qt_calls_leave_the_reference_count_of_none_alone(qtbot):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    image = QImage(8, 8, QImage.Format_ARGB32)
    painter = QPainter(image)
    try:
        label.setText("warm-up")
        painter.drawLine(QPointF(0, 0), QPointF(1, 1))
        before = sys.getrefcount(None)
        for _ in range(200):
            label.setText("x")
            painter.drawLine(QPointF(0, 0), QPointF(1, 1))
        change = sys.getrefcount(None) - before
    finally:
        painter.end()
    assert abs(change) < 50, f"None lost {-change} references in 400 Qt calls (a broken Qt binding)"
