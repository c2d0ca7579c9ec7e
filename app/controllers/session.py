"""The saved session: window geometry and dock layout, recent and last dataset, result folders shown, mesh
and analysis settings, all in QSettings; and the window image used by ``cbstudio gui --screenshot``.
Restoring reads the dataset, its participant data and the result folders on workers."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QImage, QPainter


class SessionController:
    """Saves and restores ``window``'s session in ``settings``."""

    def __init__(self, window, state, settings, datasets) -> None:
        self.w, self.state, self.settings, self.datasets = window, state, settings, datasets

    def save(self) -> None:
        w, s = self.w, self.settings
        s.setValue("geometry", w.saveGeometry())
        s.setValue("state", w.saveState())
        s.setValue("analysis_settings", json.dumps(w.analysis_panel.settings(), default=str))
        s.setValue("analysis_current", w.analysis_panel.current_name() or "")
        s.setValue("mesh", w.cortex.mesh.name)
        s.setValue("surface", w.cortex.mesh.surface)
        s.setValue("result_folders", json.dumps(self.state.result_folders[-10:]))
        if self.state.dataset_path is not None:
            s.setValue("last_dataset", str(self.state.dataset_path))
        s.sync()

    def restore_layout(self) -> None:
        """Window geometry, dock layout and analysis settings from the last session."""
        w, s = self.w, self.settings
        if s.value("geometry") is not None:
            w.restoreGeometry(s.value("geometry"))
        if s.value("state") is not None:
            w.restoreState(s.value("state"))
        try:
            saved = json.loads(s.value("analysis_settings", "{}") or "{}")
        except (TypeError, ValueError):
            saved = {}
        w.analysis_panel.saved.update(saved)
        current = s.value("analysis_current", "")
        if current:
            w.analysis_panel.select(current)
        w.analysis_panel._select(w.analysis_panel.list.currentItem(), None)
        w.dataset_panel.set_recent(self.datasets.recent())

    def restore(self, data: str | None = None) -> None:
        """Open ``data`` (else the last dataset, else the demo) and the result folders shown last time."""
        last = self.settings.value("last_dataset", "")
        if data:
            self.datasets.open_in_background(str(data))
        elif last and Path(last).exists():
            self.datasets.open_in_background(last)
        else:
            self.datasets.open_demo()
        try:
            folders = json.loads(self.settings.value("result_folders", "[]") or "[]")
        except (TypeError, ValueError):
            folders = []
        for folder in folders:
            if Path(folder).is_dir():
                self.datasets.open_results(folder)
        mesh, surface = self.settings.value("mesh", ""), self.settings.value("surface", "")
        cortex = self.w.cortex
        if mesh and (mesh, surface) != (cortex.mesh.name, cortex.mesh.surface):
            cortex.set_mesh(mesh, surface or "inflated")

    def window_image(self, screenshot_image) -> QImage:
        """The whole window as an image, with the GL viewport composited in (grab() misses GL)."""
        import numpy as np

        w = self.w
        image = w.grab().toImage()
        gl = w.cortex.plotter.interactor
        rgb = np.ascontiguousarray(screenshot_image())
        h, width = rgb.shape[:2]
        gl_image = QImage(rgb.data, width, h, 3 * width, QImage.Format_RGB888).copy()
        top_left = gl.mapTo(w, gl.rect().topLeft())
        ratio = image.devicePixelRatio() or 1.0
        painter = QPainter(image)
        painter.drawImage(int(top_left.x() * ratio), int(top_left.y() * ratio),
                          gl_image.scaled(int(gl.width() * ratio), int(gl.height() * ratio)))
        painter.end()
        return image
