"""The voxel card: a picked vertex fills the card at once (ray cast, voxel, atlas, every loaded result,
the voxel's concept means); the slower part (the 1000-permutation null of C, ~0.3 s, and the quartile
cell, which the first pick after quartile results recomputes for the participant) runs on a worker and
fills the card when it returns. A newer pick supersedes a pending one.

Cross-thread rules (the PySide6 crash "deallocating None" seen when this work first ran on a pool
thread): the worker and its payload are kept referenced on the Python side (:attr:`CardController.
pending`) until their result is delivered; the worker completes a copy of the card's data; results reach
the UI thread only through the worker's queued signals, connected to bound methods of this QObject (never
lambdas, PYSIDE-3124); the task touches no Qt object.
"""

from __future__ import annotations

import copy

from PySide6.QtCore import QObject, Signal

from app.state.model import Selection
from app.views.pinned_cards import card_title
from app.workers import Worker
from core.errors import StudioError
from core.inspect.voxel import add_null, add_quartile, collect


def complete_card(info, participant, tables, rois: str, progress=None, cancel=None):
    """The card's slow part, on a worker (Qt-free): a copy of ``info`` (the card shows the original
    meanwhile; the UI thread never reads an object this thread writes) with the quartile cell and the
    permutation null added. A superseded pick stops before the null (``cancel`` set)."""
    info = copy.copy(info)
    try:
        add_quartile(info, participant, tables, rois)
    except StudioError as exc:
        info.quartile_note = str(exc)
    if cancel is not None and cancel.is_set():
        return info  # the worker reports it cancelled; nothing is delivered
    return add_null(info)


class CardController(QObject):
    """Fills ``window.card`` for picks on ``window.cortex``. Signal ``completed(info)``: the card is full."""

    completed = Signal(object)

    def __init__(self, window, state, pool) -> None:
        super().__init__()
        self.window, self.state, self.pool = window, state, pool
        self.pending: dict[Worker, object] = {}  # worker -> VoxelInfo, alive until delivered

    def on_vertex_picked(self, hemi: str, vertex: int) -> None:
        w = self.window
        try:
            xyz = self.vertex_xyz(hemi, vertex)
            participant = self.card_participant()
            info = collect(xyz, list(w.cortex.maps.values()), self.tables(), participant, hemi, vertex,
                           with_null=False)
        except StudioError as exc:
            w.show_error(str(exc))
            return
        self.state.select(Selection(hemi, vertex, xyz))
        for view in w.views.views:
            if view.selection != (hemi, vertex):  # a pick made in code: mark it in every view
                view.select(hemi, vertex, emit=False)
        w.card.show_info(info, plots=False)  # the plots when the worker is done (_delivered, _released)
        w.docks["card"].setWindowTitle(f"Voxel card: {card_title(info)}")
        w.docks["card"].raise_()
        for older in self.pending:  # a newer pick supersedes the pending ones
            older.cancel()
        rois = self.state.provenance.get("quartile_cells", {}).get("parameters", {}).get("rois") or "paper"
        worker = Worker(complete_card, info, participant, self.tables(), rois)
        worker.nice = 0  # the user waits for it
        self.pending[worker] = info
        worker.signals.result.connect(self._delivered)
        worker.signals.error.connect(w.show_error)
        worker.signals.finished.connect(self._released)
        self.pool.start(worker)

    def _delivered(self, completed) -> None:
        sender = self.sender()
        shown = [info for wk, info in self.pending.items() if wk.signals is sender]
        if shown and self.window.card.info is shown[0]:  # not superseded by a newer pick
            self.window.card.show_info(completed)
            self.completed.emit(completed)

    def _released(self) -> None:
        sender = self.sender()
        for worker in [wk for wk in self.pending if wk.signals is sender]:
            info = self.pending.pop(worker)
            if self.window.card.info is info:  # nothing delivered (an error): the plots without the null
                self.window.card.show_info(info)

    def vertex_xyz(self, hemi: str, vertex: int):
        """MNI mm under a vertex: the centre of its voxel, else its midthickness position."""
        from core.atlas.meshes import load_mesh

        cortex = self.window.cortex
        geometry, idx = cortex.voxel_of(hemi, vertex)
        if geometry is not None and idx >= 0:
            return geometry.xyz[idx]
        return load_mesh(cortex.mesh.name, "midthickness").hemis[hemi].vertices[vertex].astype(float)

    def tables(self) -> list:
        return list(self.window.tables.tables.values())

    def card_participant(self):
        """The participant of the map shown (else the chosen one)."""
        cortex = self.window.cortex
        vmap = cortex.maps.get(cortex.current_map)
        pid = vmap.meta.get("participant") if vmap is not None else None
        if self.state.dataset is None:
            return None
        return self.state.participant(pid if pid in self.state.participant_ids else None)

    def pin(self):
        """Keep the card shown in the pinned row (up to four); returns the pinned card or None."""
        info = self.window.card.info
        if info is None:
            return None
        card = self.window.pinned.pin(info)
        self.window.docks["pinned"].show()
        self.window.docks["pinned"].raise_()
        return card

    def nearest_significant(self):
        """Move the selection to the nearest vertex with p < .05 in the map shown (the card follows)."""
        target = self.window.cortex.select_nearest_significant()
        if target is None:
            self.window.log("nearest significant: the map shown has no p map, or no vertex has p < .05")
        return target
