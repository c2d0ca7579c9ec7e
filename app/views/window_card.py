"""The main window's voxel card (a mixin of :class:`app.main_window.MainWindow`): a picked vertex
fills the card at once (ray cast, voxel, atlas, every loaded result, concept means); the slower part
(the permutation null of C and the quartile cell) follows on the next event-loop turn."""

from __future__ import annotations

from PySide6.QtCore import QTimer

from core.errors import StudioError
from core.outputs import Table, VoxelMap


class CardActions:
    """Voxel card slots; expects ``cortex``, ``card``, ``docks``, ``tables``, ``provenance``, ``pool``,
    ``dataset``, ``_pids``, ``participant``, ``show_error`` and ``log`` on the window."""

    # ------------------------------------------------------------------ voxel card
    def on_vertex_picked(self, hemi: str, vertex: int) -> None:
        """Fill the voxel card at once; the permutation null of C follows on the next event-loop turn."""
        from core.inspect.voxel import collect

        try:
            info = collect(
                self.vertex_xyz(hemi, vertex),
                self._maps(),
                self._tables(),
                self._card_participant(),
                hemi,
                vertex,
                with_null=False,
            )
        except StudioError as exc:
            self.show_error(str(exc))
            return
        self.card.show_info(info)
        self.docks["card"].raise_()
        QTimer.singleShot(0, lambda: self._complete_card(info))

    def _complete_card(self, info) -> None:
        """The slower part of the card, one event-loop turn after the pick: the 1000-permutation null
        of C (~0.3 s) and the quartile cell (the first pick after quartile results load recomputes the
        participant's ROI quartiles, then cached). On the UI thread: the same computation on a pool
        thread crashed PySide6 6.12 / Python 3.11 intermittently ("deallocating None")."""
        from core.inspect.voxel import add_null, add_quartile

        if self.card.info is not info:
            return
        rois = self.provenance.get("quartile_cells", {}).get("parameters", {}).get("rois") or "paper"
        try:
            add_quartile(info, self._card_participant(), self._tables(), rois)
        except StudioError as exc:
            info.quartile_note = str(exc)
        self.card.show_info(add_null(info))

    def vertex_xyz(self, hemi: str, vertex: int):
        """MNI mm under a vertex: the centre of its voxel, else its midthickness position."""
        from core.atlas.meshes import load_mesh

        geometry, idx = self.cortex.voxel_of(hemi, vertex)
        if geometry is not None and idx >= 0:
            return geometry.xyz[idx]
        return load_mesh(self.cortex.mesh.name, "midthickness").hemis[hemi].vertices[vertex].astype(float)

    def _maps(self) -> list[VoxelMap]:
        return list(self.cortex.maps.values())

    def _tables(self) -> list[Table]:
        return list(self.tables.tables.values())

    def _card_participant(self):
        vmap = self.cortex.maps.get(self.cortex.current_map)
        pid = vmap.meta.get("participant") if vmap is not None else None
        if self.dataset is None:
            return None
        return self.participant(pid if pid in self._pids else None)
