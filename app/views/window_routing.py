"""Result routing of the main window (a mixin of :class:`app.main_window.MainWindow`): typed outputs go
to their views (maps to the cortex, tables, plots, RDMs). A finished run's outputs are routed one per
event-loop turn, ROUTE_INTERVAL_MS apart, so that each one's repaint (a GL frame for a map) is a turn of
its own and the UI never stalls on a large run's results."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer

from core.outputs import RDM, Figure, LayerCurve, Table, VoxelMap

ROUTE_INTERVAL_MS = 40


class RoutingActions:
    """Routing slots; expects ``cortex``, ``tables``, ``plots``, ``rdms``, ``results``, ``provenance``,
    ``last_results``, ``result_folders``, ``log``, ``_route_queue``, ``_finish_pending`` and
    ``_run_finished`` on the window."""

    def _run_done(self, name: str, out_dir: Path, record) -> None:
        self.last_results[name] = out_dir
        self.result_folders.append(str(out_dir))
        self.log(
            f"{name} finished in {time.perf_counter() - self._run_started:.1f} s: "
            f"{len(record.paths)} files in {out_dir}"
        )
        self.route(record.outputs, record.provenance, incremental=True)

    def route(self, outputs: list, provenance: dict | None = None, incremental: bool = False) -> None:
        """Send each output to its view: maps to the cortex, tables, plots, RDMs. With ``incremental``,
        one output per event-loop turn (the UI stays responsive while a large run's results arrive);
        ``routing_done()`` tells when the queue is empty."""
        self._route_first_map = getattr(self, "_route_first_map", True) if self._route_queue else True
        self._route_queue.extend((out, provenance or {}) for out in outputs)
        if not incremental:
            while self._route_queue:
                self._route_one()
        elif len(self._route_queue) == len(outputs):  # not already draining
            QTimer.singleShot(ROUTE_INTERVAL_MS, self._route_next)

    def routing_done(self) -> bool:
        return not self._route_queue

    def _route_next(self) -> None:
        if not self._route_queue:
            return
        self._route_one()
        if self._route_queue:
            QTimer.singleShot(ROUTE_INTERVAL_MS, self._route_next)
        elif self._finish_pending:
            self._run_finished()

    def _route_one(self) -> None:
        out, provenance = self._route_queue.pop(0)
        self.results.append(out)
        self.provenance[out.name] = provenance
        if isinstance(out, VoxelMap):
            self.cortex.add_map(out, show=self._route_first_map and "layer" not in out.meta)
            self._route_first_map = False
        elif isinstance(out, Table):
            self.tables.add_table(out)
        elif isinstance(out, (LayerCurve, Figure)):
            self.plots.add_output(out)
        elif isinstance(out, RDM):
            self.rdms.add_rdm(out)
        if not self._route_queue and self.cortex.layer_maps() and self.cortex.current_map is None:
            self.cortex._scrub_setup()
