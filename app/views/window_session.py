"""Session persistence for the main window (a mixin of :class:`app.main_window.MainWindow`): window
geometry and dock layout, recent and last dataset, result folders shown, mesh and analysis settings,
all in QSettings; and the window image used by ``cbstudio gui --screenshot``."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QImage, QPainter


class SessionState:
    """Save/restore slots; expects ``settings``, ``analysis_panel``, ``dataset_panel``, ``cortex``,
    ``result_folders``, ``dataset_path``, ``open_dataset``, ``open_demo`` and ``open_results``."""

    # ------------------------------------------------------------------ session
    def save_session(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("state", self.saveState())
        s.setValue("analysis_settings", json.dumps(self.analysis_panel.settings(), default=str))
        s.setValue("analysis_current", self.analysis_panel.current_name() or "")
        s.setValue("mesh", self.cortex.mesh.name)
        s.setValue("surface", self.cortex.mesh.surface)
        s.setValue("result_folders", json.dumps(self.result_folders[-10:]))
        if self.dataset_path is not None:
            s.setValue("last_dataset", str(self.dataset_path))
        s.sync()

    def restore_layout(self) -> None:
        """Window geometry, dock layout and analysis settings from the last session."""
        s = self.settings
        if s.value("geometry") is not None:
            self.restoreGeometry(s.value("geometry"))
        if s.value("state") is not None:
            self.restoreState(s.value("state"))
        try:
            saved = json.loads(s.value("analysis_settings", "{}") or "{}")
        except (TypeError, ValueError):
            saved = {}
        self.analysis_panel.saved.update(saved)
        current = s.value("analysis_current", "")
        if current:
            self.analysis_panel.select(current)
        self.analysis_panel._select(self.analysis_panel.list.currentItem(), None)
        self.dataset_panel.set_recent(self._recent())

    def restore_session(self, data: str | None = None) -> None:
        """Open ``data`` (else the last dataset, else the demo) and the result folders shown last time."""
        last = self.settings.value("last_dataset", "")
        if data:
            self.open_dataset(str(data))
        elif last and Path(last).exists():
            self.open_dataset(last)
        else:
            self.open_demo()
        try:
            folders = json.loads(self.settings.value("result_folders", "[]") or "[]")
        except (TypeError, ValueError):
            folders = []
        for folder in folders:
            if Path(folder).is_dir():
                self.open_results(folder)
        mesh, surface = self.settings.value("mesh", ""), self.settings.value("surface", "")
        if mesh and (mesh, surface) != (self.cortex.mesh.name, self.cortex.mesh.surface):
            self.cortex.set_mesh(mesh, surface or "inflated")

    def window_image(self) -> QImage:
        """The whole window as an image, with the GL viewport composited in (grab() misses GL)."""
        import numpy as np

        pixmap = self.grab()
        image = pixmap.toImage()
        gl = self.cortex.plotter.interactor
        rgb = np.ascontiguousarray(self.screenshot_image())
        h, w = rgb.shape[:2]
        gl_image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        top_left = gl.mapTo(self, gl.rect().topLeft())
        ratio = image.devicePixelRatio() or 1.0
        painter = QPainter(image)
        painter.drawImage(
            int(top_left.x() * ratio),
            int(top_left.y() * ratio),
            gl_image.scaled(int(gl.width() * ratio), int(gl.height() * ratio)),
        )
        painter.end()
        return image
