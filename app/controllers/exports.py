"""Exports from the window: brain screenshots at a chosen size, the one-click figure bundle, the current
map (NIfTI/GIfTI), table (CSV) and plot (PNG/SVG/PDF), each with its provenance record; failures go to
the window's single error dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog

from core.errors import StudioError


class ExportController:
    """Export actions on ``window``'s views; provenance and the dataset path come from ``state``."""

    def __init__(self, window, state) -> None:
        self.w, self.state = window, state

    def _source(self) -> dict | None:
        return self.state.provenance.get(self.w.cortex.current_map or "")

    def _save_path(self, title: str, filters: str, default: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.w, title, default, filters)
        return path or None

    def _guard(self, fn, *args) -> list | None:
        try:
            paths = fn(*args)
        except StudioError as exc:
            self.w.show_error(str(exc))
            return None
        except OSError as exc:
            self.w.show_error(f"cannot write: {exc}")
            return None
        self.w.log("exported " + ", ".join(str(p) for p in paths))
        return paths

    def screenshot_image(self, size: tuple[int, int] | None = None):
        """The brain as an RGB array; at ``size`` (w, h) it is re-rendered at that size, same cameras."""
        import numpy as np

        if size is None:
            self.w.cortex.plotter.render()
            return np.asarray(self.w.cortex.plotter.screenshot(return_img=True))[..., :3]
        return self.w.cortex.plotter.screenshot(return_img=True, window_size=tuple(size))[..., :3]

    def export_screenshot(self, path, size=None) -> list | None:
        from app.views.export import export_image

        image = self.screenshot_image(size)
        params = {
            "map": self.w.cortex.current_map,
            "mesh": self.w.cortex.mesh.name,
            "view": self.w.cortex.scene.view,
        }
        return self._guard(export_image, image, path, params, self.state.dataset_path, self._source())

    def ask_screenshot(self) -> None:
        text, ok = QInputDialog.getText(self.w, "Screenshot size", "width x height (pixels):",
                                        text="1600x900")
        if not ok:
            return
        from app.views.figure import parse_size

        try:
            size = parse_size(text)
        except StudioError as exc:
            self.w.show_error(str(exc))
            return
        path = self._save_path("Save screenshot", "PNG (*.png)", "brain.png")
        if path:
            self.export_screenshot(path, size)

    def export_bundle(self, folder, views=("lateral", "medial")) -> list | None:
        from app.views.export import figure_bundle
        from core.atlas import lookup as atlas_info

        if self.w.cortex.current_map is None:
            self.w.show_error("no map is shown")
            return None
        vmap = self.w.cortex.maps[self.w.cortex.current_map]
        cortex = self.w.cortex
        rois = atlas_info.roi_vertex_labels(cortex.mesh.name) if cortex.rois_box.isChecked() else None
        return self._guard(
            figure_bundle,
            folder,
            self.w.cortex.mesh,
            vmap,
            self.w.cortex._projected,
            self.w.cortex.overlay_style(),
            views,
            (500, 400),
            self.w.cortex.borders_box.isChecked(),
            rois,
            self.state.dataset_path,
            self._source(),
        )

    def ask_bundle(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Figure bundle folder")
        if folder:
            self.export_bundle(Path(folder) / f"{self.w.cortex.current_map or 'figure'}-bundle")

    def ask_map_export(self) -> None:
        from app.views.export import export_map

        if self.w.cortex.current_map is None:
            self.w.show_error("no map is shown")
            return
        vmap = self.w.cortex.maps[self.w.cortex.current_map]
        path = self._save_path("Export map", "NIfTI (*.nii.gz);;GIfTI (*.gii)", f"{vmap.name}.nii.gz")
        if path:
            projector = self.w.cortex.projections.get(vmap.geometry, self.w.cortex.mesh.name)
            self._guard(
                export_map,
                vmap,
                path,
                self.w.cortex.mesh.name,
                projector,
                self.state.dataset_path,
                self.state.provenance.get(vmap.name),
            )

    def ask_table_export(self, name) -> None:
        from app.views.export import export_table

        table = self.w.tables.tables.get(name) if name else self.w.tables.current()
        if table is None:
            self.w.show_error("no table to export")
            return
        path = self._save_path("Export table", "CSV (*.csv)", f"{table.name}.csv")
        if path:
            self._guard(export_table, table, path, self.state.dataset_path,
                        self.state.provenance.get(table.name))

    def ask_figure_export(self, name) -> None:
        from app.views.export import export_figure

        name = name or self.w.plots.selector.currentText()
        fig = self.w.plots.items.get(name)
        if fig is None:
            self.w.show_error("no plot to export")
            return
        path = self._save_path("Export figure", "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)", f"{name}.png")
        if path:
            self._guard(export_figure, fig, path, self.state.dataset_path, self.state.provenance.get(name))

    def ask_results_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open a results folder", str(self.w.results_root))
        if folder:
            self.w.open_results(folder)
