"""A map's context menu in the cortex viewer (right click without drag): threshold at p < .05 through
the map's p companion, only the published ROIs' voxels, copy the value under the cursor, save the map as
NIfTI (the voxel grid) or GIfTI (values per vertex of the shown mesh, one file per hemisphere).

Derived maps (``<name> (p<.05)``, ``<name> (ROIs)``) are new VoxelMaps added to the viewer's map list,
so the original stays one click away and the derived one can be saved like any other.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from app.views.map_values import LOGP_DEFAULT_THRESHOLD, is_p_map, p_companion
from core.atlas import lookup as atlas_info

P_ALPHA = 0.05
GIFTI_STRUCTURE = {"left": "CortexLeft", "right": "CortexRight"}
GIFTI_SUFFIX = {"left": "L", "right": "R"}


def derived_map(vmap, name: str, values: np.ndarray, how: str):
    """A copy of ``vmap`` named ``name`` with ``values`` and ``meta["derived"] = how``."""
    meta = {**vmap.meta, "derived": how, "derived_from": vmap.name}
    return dataclasses.replace(vmap, name=name, values=values, meta=meta)


def save_gifti(values: dict[str, np.ndarray], stem: str | Path, mesh_name: str) -> list[Path]:
    """Write per-vertex ``values`` {hemi: float (N,)} as ``<stem>_hemi-L.func.gii`` / ``_hemi-R``."""
    import nibabel as nib

    from core.errors import DataError

    paths = []
    for hemi, v in values.items():
        arr = nib.gifti.GiftiDataArray(
            np.asarray(v, dtype=np.float32), intent="NIFTI_INTENT_NONE", datatype="NIFTI_TYPE_FLOAT32"
        )
        meta = nib.gifti.GiftiMetaData(
            {"AnatomicalStructurePrimary": GIFTI_STRUCTURE[hemi], "Mesh": mesh_name}
        )
        path = Path(f"{stem}_hemi-{GIFTI_SUFFIX[hemi]}.func.gii")
        try:
            nib.save(nib.gifti.GiftiImage(darrays=[arr], meta=meta), path)
        except OSError as exc:
            raise DataError(path, f"cannot write GIfTI: {exc}") from exc
        paths.append(path)
    return paths


class MapMenuMixin:
    """Map actions of :class:`~app.views.cortex_view.CortexView` (needs ``maps``, ``current_map``,
    ``projections``, ``mesh``, ``add_map``, ``set_threshold``). Each action works on the shown map unless
    a ``name`` is given, and returns what it made (a map name, a text, paths)."""

    def _map(self, name: str | None):
        name = name or self.current_map
        if name is None or name not in self.maps:
            from core.errors import ParameterError

            raise ParameterError("no map is shown")
        return self.maps[name]

    def surface_values(self, name: str | None = None) -> dict[str, np.ndarray]:
        """The map's raw values (p as p, not −log10 p) per vertex of the shown mesh {hemi: (N,)}."""
        vmap = self._map(name)
        return self.projections.get(vmap.geometry, self.mesh.name).project(vmap.values)

    def companion_p_values(self, name: str | None = None) -> dict[str, np.ndarray] | None:
        """p values per vertex of the map's p companion, or None when it has none."""
        if (name or self.current_map) is None:
            return None
        p_name = p_companion(name or self.current_map, self.maps)
        return None if p_name is None else self.surface_values(p_name)

    def threshold_p05(self, name: str | None = None, alpha: float = P_ALPHA) -> str | None:
        """Show only voxels with p < ``alpha``: a p map is thresholded in place (−log10 p > −log10
        alpha); another map with a p companion becomes a derived map ``<name> (p<.05)`` (NaN elsewhere).
        Returns the name of the map shown, or None when the map has no p companion."""
        vmap = self._map(name)
        p_name = p_companion(vmap.name, self.maps)
        if p_name is None:
            return None
        if p_name == vmap.name:
            if vmap.name != self.current_map:
                self.show_map(vmap.name)
            self.set_threshold(LOGP_DEFAULT_THRESHOLD if alpha == P_ALPHA else float(-np.log10(alpha)))
            return vmap.name
        p = self.maps[p_name].values
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(p) & (p < alpha)
        label = f"{vmap.name} (p<{alpha:g})".replace("0.", ".")
        self.add_map(derived_map(vmap, label, np.where(keep, vmap.values, np.nan), f"{p_name} < {alpha:g}"))
        return label

    def roi_only(self, name: str | None = None, rois: str = "paper") -> str:
        """A derived map ``<name> (ROIs)`` keeping the voxels inside the ROIs of ``rois`` (the published
        ROI map by default, :func:`core.atlas.specs.resolve_rois`); returns its name."""
        from core.atlas.specs import resolve_rois

        vmap = self._map(name)
        inside = resolve_rois(rois).sample(vmap.geometry) > 0
        label = f"{vmap.name} (ROIs)"
        self.add_map(derived_map(vmap, label, np.where(inside, vmap.values, np.nan), f"rois={rois}"))
        return label

    def value_text(self, hemi: str, vertex: int, name: str | None = None) -> str:
        """The map's value at a vertex as text (``%.6g``; ``nan`` where the map has no value)."""
        return f"{float(self.surface_values(name)[hemi][vertex]):.6g}"

    def copy_value(self, hemi: str, vertex: int, name: str | None = None) -> str:
        """Copy the map's value at a vertex to the clipboard; returns the text copied."""
        from PySide6.QtWidgets import QApplication

        text = self.value_text(hemi, vertex, name)
        QApplication.clipboard().setText(text)
        return text

    def save_nifti(self, path: str | Path, name: str | None = None) -> Path:
        """Save the map on its voxel grid as NIfTI (NaN outside the mask)."""
        import nibabel as nib

        from core.errors import DataError

        vmap = self._map(name)
        path = Path(path)
        try:
            nib.save(vmap.geometry.to_nifti(vmap.values), path)
        except OSError as exc:
            raise DataError(path, f"cannot write NIfTI: {exc}") from exc
        return path

    def save_gifti(self, stem: str | Path, name: str | None = None) -> list[Path]:
        """Save the map's values per vertex of the shown mesh, one ``.func.gii`` per hemisphere."""
        return save_gifti(self.surface_values(name), stem, self.mesh.name)

    def describe_vertex(self, hemi: str, vertex: int) -> str:
        """Area name (fs_LR) and the current map's value at a vertex."""
        parts = []
        glasser = self.mesh.hemis[hemi].glasser
        if glasser is not None:
            parts.append(atlas_info.area_name(int(glasser[vertex])) or "medial wall")
        if self.current_map is not None and getattr(self, "_projected", None) is not None:
            value = self._projected[hemi][vertex]
            if np.isfinite(value):
                vmap = self.maps[self.current_map]
                shown = f"p = {10.0**-value:.3g}" if is_p_map(vmap) else f"{value:.4g}"
                parts.append(f"{self.current_map}: {shown}")
        return f"{hemi} #{vertex}: " + ("  ·  ".join(parts) or "–")

    def voxel_of(self, hemi: str, vertex: int, geometry=None) -> tuple[object, int]:
        """(geometry, voxel index) under a vertex: the shown map's grid, else the reference grid."""
        if geometry is None:
            vmap = self.maps.get(self.current_map)
            geometry = vmap.geometry if vmap is not None else self.reference_geometry
        if geometry is None:
            return None, -1
        return geometry, self.projections.get(geometry, self.mesh.name).voxel_of_vertex(hemi, vertex)

    # ------------------------------------------------------------------ the menu itself
    def map_menu(self, hit: tuple[str, int] | None):
        """The context menu for the shown map at ``hit`` (hemi, vertex) or None (background)."""
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        has_map = self.current_map is not None
        act = menu.addAction("Threshold at p < .05", self.threshold_p05)
        act.setEnabled(has_map and p_companion(self.current_map, self.maps) is not None)
        menu.addAction("Show only ROI voxels", self.roi_only).setEnabled(has_map)
        act = menu.addAction("Copy value", lambda: self.copy_value(*hit))
        act.setEnabled(has_map and hit is not None)
        act = menu.addAction("Select nearest significant vertex", self.select_nearest_significant)
        act.setEnabled(has_map and self.selection is not None)
        menu.addSeparator()
        menu.addAction("Save map as NIfTI…", self._ask_nifti).setEnabled(has_map)
        menu.addAction("Save map as GIfTI…", self._ask_gifti).setEnabled(has_map)
        return menu

    def _ask_nifti(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(
            self, "Save map", f"{self.current_map}.nii.gz", "NIfTI (*.nii.gz *.nii)"
        )
        if path:
            self._guarded(self.save_nifti, path)

    def _ask_gifti(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(
            self, "Save map (per hemisphere)", str(self.current_map), "GIfTI stem (*)"
        )
        if path:
            self._guarded(self.save_gifti, path)

    def _guarded(self, fn, *args) -> None:
        from PySide6.QtWidgets import QMessageBox

        from core.errors import StudioError

        try:
            fn(*args)
        except StudioError as exc:
            QMessageBox.warning(self, "Save map", str(exc))

    def _on_right_press(self, *_args) -> None:
        self._right_press = tuple(self.plotter.iren.interactor.GetEventPosition())

    def _on_right_release(self, *_args) -> None:
        press, self._right_press = getattr(self, "_right_press", None), None
        x, y = self.plotter.iren.interactor.GetEventPosition()
        if press is None or abs(x - press[0]) > 4 or abs(y - press[1]) > 4:
            return
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QCursor

        menu = self.map_menu(self.scene.pick(x, y))
        menu.setAttribute(Qt.WA_DeleteOnClose)  # one menu per right click, freed when closed
        menu.popup(QCursor.pos())
