"""The main window's exports (a mixin of :class:`app.main_window.MainWindow`): brain screenshots at a
chosen size, the one-click figure bundle, the current map (NIfTI/GIfTI), table (CSV) and plot
(PNG/SVG/PDF), each with its provenance record; failures go to the window's single error dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog

from core.errors import StudioError


class ExportActions:
    """Export slots; expects ``cortex``, ``tables``, ``plots``, ``provenance``, ``dataset_path``,
    ``results_root``, ``show_error``, ``log`` and ``open_results`` on the window."""

    # ------------------------------------------------------------------ exports
    def _source(self) -> dict | None:
        return self.provenance.get(self.cortex.current_map or "")

    def _save_path(self, title: str, filters: str, default: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, default, filters)
        return path or None

    def _guard(self, fn, *args) -> list | None:
        try:
            paths = fn(*args)
        except StudioError as exc:
            self.show_error(str(exc))
            return None
        except OSError as exc:
            self.show_error(f"cannot write: {exc}")
            return None
        self.log("exported " + ", ".join(str(p) for p in paths))
        return paths

    def screenshot_image(self, size: tuple[int, int] | None = None):
        """The brain as an RGB array; at ``size`` (w, h) it is re-rendered at that size, same cameras."""
        import numpy as np

        if size is None:
            self.cortex.plotter.render()
            return np.asarray(self.cortex.plotter.screenshot(return_img=True))[..., :3]
        return self.cortex.plotter.screenshot(return_img=True, window_size=tuple(size))[..., :3]

    def export_screenshot(self, path, size=None) -> list | None:
        from app.views.export import export_image

        image = self.screenshot_image(size)
        params = {
            "map": self.cortex.current_map,
            "mesh": self.cortex.mesh.name,
            "view": self.cortex.scene.view,
        }
        return self._guard(export_image, image, path, params, self.dataset_path, self._source())

    def _ask_screenshot(self) -> None:
        text, ok = QInputDialog.getText(self, "Screenshot size", "width x height (pixels):", text="1600x900")
        if not ok:
            return
        from app.views.figure import parse_size

        try:
            size = parse_size(text)
        except StudioError as exc:
            self.show_error(str(exc))
            return
        path = self._save_path("Save screenshot", "PNG (*.png)", "brain.png")
        if path:
            self.export_screenshot(path, size)

    def export_bundle(self, folder, views=("lateral", "medial")) -> list | None:
        from app.views.export import figure_bundle
        from core.atlas import lookup as atlas_info

        if self.cortex.current_map is None:
            self.show_error("no map is shown")
            return None
        vmap = self.cortex.maps[self.cortex.current_map]
        rois = (
            atlas_info.roi_vertex_labels(self.cortex.mesh.name) if self.cortex.rois_box.isChecked() else None
        )
        return self._guard(
            figure_bundle,
            folder,
            self.cortex.mesh,
            vmap,
            self.cortex._projected,
            self.cortex.overlay_style(),
            views,
            (500, 400),
            self.cortex.borders_box.isChecked(),
            rois,
            self.dataset_path,
            self._source(),
        )

    def _ask_bundle(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Figure bundle folder")
        if folder:
            self.export_bundle(Path(folder) / f"{self.cortex.current_map or 'figure'}-bundle")

    def _ask_map_export(self) -> None:
        from app.views.export import export_map

        if self.cortex.current_map is None:
            self.show_error("no map is shown")
            return
        vmap = self.cortex.maps[self.cortex.current_map]
        path = self._save_path("Export map", "NIfTI (*.nii.gz);;GIfTI (*.gii)", f"{vmap.name}.nii.gz")
        if path:
            projector = self.cortex.projections.get(vmap.geometry, self.cortex.mesh.name)
            self._guard(
                export_map,
                vmap,
                path,
                self.cortex.mesh.name,
                projector,
                self.dataset_path,
                self.provenance.get(vmap.name),
            )

    def _ask_table_export(self, name) -> None:
        from app.views.export import export_table

        table = self.tables.tables.get(name) if name else self.tables.current()
        if table is None:
            self.show_error("no table to export")
            return
        path = self._save_path("Export table", "CSV (*.csv)", f"{table.name}.csv")
        if path:
            self._guard(export_table, table, path, self.dataset_path, self.provenance.get(table.name))

    def _ask_figure_export(self, name) -> None:
        from app.views.export import export_figure

        name = name or self.plots.selector.currentText()
        fig = self.plots.items.get(name)
        if fig is None:
            self.show_error("no plot to export")
            return
        path = self._save_path("Export figure", "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)", f"{name}.png")
        if path:
            self._guard(export_figure, fig, path, self.dataset_path, self.provenance.get(name))

    def _ask_results_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a results folder", str(self.results_root))
        if folder:
            self.open_results(folder)
