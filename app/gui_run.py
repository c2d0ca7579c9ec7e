"""``cbstudio gui``: start the desktop application, or render it to images and exit (``--screenshot``,
``--card-screenshot``: the README's pictures, ``make screenshots``)."""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from app.main_window import APP, ORG, MainWindow


def brightest_vertex(window, hemi: str = "left") -> int | None:
    """The ``hemi`` vertex under the largest value of the map shown (a deterministic pick for pictures)."""
    cortex = window.cortex
    vmap = cortex.maps.get(cortex.current_map)
    if vmap is None:
        return None
    voxel = cortex.projections.get(vmap.geometry, cortex.mesh.name).vertex_voxel[hemi]
    values = np.where(voxel >= 0, vmap.values[np.clip(voxel, 0, None)], -np.inf)
    values[~np.isfinite(values)] = -np.inf
    return int(np.argmax(values)) if np.isfinite(values).any() else None


def run_app(
    data: str | None = None,
    screenshot: str | None = None,
    settings: QSettings | None = None,
    registry=None,
    results_root=None,
    results: str | None = None,
    card_screenshot: str | None = None,
    show_map: str | None = None,
) -> int:
    """Start the application on ``data`` (default: the last dataset, else the demo) and ``results`` (a
    results folder to show). With ``screenshot`` / ``card_screenshot``, save the window (and the voxel card
    after picking the left vertex under the largest value of the map shown, ``show_map`` if given) once
    everything has loaded, then exit (exit code 1 if an error was shown)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    window = MainWindow(registry=registry, settings=settings, results_root=results_root)

    def excepthook(kind, value, tb) -> None:
        import traceback

        window.show_error(f"{kind.__name__}: {value}".splitlines()[0], "".join(traceback.format_tb(tb)))

    previous_hook, sys.excepthook = sys.excepthook, excepthook
    window.show()
    # The brain on screen first, then the data: the dataset's reader (on a worker, importing pandas: ~1 s
    # holding the GIL) would otherwise share the CPU with the first frame (cold start 1.8-2.0 -> 1.6-1.8 s).
    app.processEvents()
    window.restore_session(data)
    if results:
        window.open_results(results)
    if screenshot or card_screenshot:
        state = {"picked": False}

        def take() -> None:
            if not window.errors and (window.busy() or not window.routing_done()):
                QTimer.singleShot(200, take)  # the demo, a participant or results are still loading
                return
            if show_map and show_map in window.cortex.maps and window.cortex.current_map != show_map:
                window.cortex.show_map(show_map)
                QTimer.singleShot(200, take)
                return
            if card_screenshot and not state["picked"]:
                state["picked"] = True
                vertex = brightest_vertex(window)
                if vertex is not None:
                    window.on_vertex_picked("left", vertex)
                    QTimer.singleShot(200, take)
                    return
            if card_screenshot and window.card.info is not None and window.card.info.null is None \
                    and not window.errors:
                QTimer.singleShot(200, take)  # the card's null is computed on a worker
                return
            if screenshot:
                window.window_image().save(str(screenshot))
                print(f"screenshot written to {screenshot}")
            if card_screenshot:
                window.docks["card"].raise_()
                app.processEvents()
                window.card.grab().save(str(card_screenshot))
                print(f"voxel card written to {card_screenshot}")
            window.close()
            app.quit()

        QTimer.singleShot(500, take)
    try:
        code = app.exec()
    finally:
        sys.excepthook = previous_hook
    return 1 if ((screenshot or card_screenshot) and window.errors) else int(code)
