"""Routing results to their views: maps to the cortex, tables, plots, RDMs.

The router observes the state's ``results``: each :class:`~app.state.model.LoadedResults` is shown as it
arrives. A finished run's outputs (``live``) are routed one per event-loop turn, ROUTE_INTERVAL_MS apart,
so that each one's repaint (a GL frame for a map) is a turn of its own and the UI never stalls on a large
run's results; :attr:`ResultRouter.drained` is emitted when the queue is empty.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from core.outputs import RDM, Figure, LayerCurve, Table, VoxelMap

ROUTE_INTERVAL_MS = 40


class ResultRouter(QObject):
    """Sends outputs to ``cortex``, ``tables``, ``plots`` and ``rdms``; ``side_views()`` -> the other
    cortex views of a split viewer (each offers every map in its selector)."""

    drained = Signal()

    def __init__(self, state, cortex, tables, plots, rdms, side_views=lambda: ()) -> None:
        super().__init__()
        self.cortex, self.tables, self.plots, self.rdms = cortex, tables, plots, rdms
        self.side_views = side_views
        self._queue: list = []
        self._first_map = True
        state.subscribe("results", self._results_loaded)

    def _results_loaded(self, loaded) -> None:
        self.route(loaded.outputs, incremental=getattr(loaded, "live", False))

    def route(self, outputs: list, incremental: bool = False) -> None:
        """Send each output to its view; with ``incremental``, one per event-loop turn."""
        if not self._queue:
            self._first_map = True
        self._queue.extend(outputs)
        if not incremental:
            while self._queue:
                self._route_one()
            self.drained.emit()
        elif len(self._queue) == len(outputs):  # not already draining
            QTimer.singleShot(ROUTE_INTERVAL_MS, self._route_next)

    def done(self) -> bool:
        return not self._queue

    def _route_next(self) -> None:
        if not self._queue:
            return
        self._route_one()
        if self._queue:
            QTimer.singleShot(ROUTE_INTERVAL_MS, self._route_next)
        else:
            self.drained.emit()

    def _route_one(self) -> None:
        out = self._queue.pop(0)
        if isinstance(out, VoxelMap):
            self.cortex.add_map(out, show=self._first_map and "layer" not in out.meta)
            for view in self.side_views():
                view.add_map(out, show=False)
            self._first_map = False
        elif isinstance(out, Table):
            self.tables.add_table(out)
        elif isinstance(out, (LayerCurve, Figure)):
            self.plots.add_output(out)
        elif isinstance(out, RDM):
            self.rdms.add_rdm(out)
        if not self._queue and self.cortex.layer_maps() and self.cortex.current_map is None:
            self.cortex._scrub_setup()
