"""The desktop application's state: dataset, participant, loaded results, current map and selection.

Qt-free. Views and controllers read the state and subscribe to its changes (:meth:`AppState.subscribe`);
a change notifies the subscribers of that field synchronously, in subscription order, on the thread that
made the change (the GUI changes state on the UI thread only; workers return values that the UI thread
then stores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FIELDS = ("dataset", "participant", "results", "current_map", "selection")


@dataclass(frozen=True)
class Selection:
    """A picked point: hemisphere and vertex on the mesh (None when picked by coordinates) and its MNI
    position in mm, float (3,)."""

    hemi: str | None
    vertex: int | None
    xyz: np.ndarray


@dataclass
class LoadedResults:
    """The results of one run or opened folder: analysis name, folder, typed outputs, provenance;
    ``live`` for a run that just finished (its outputs are shown one by one)."""

    analysis: str
    folder: Path | None
    outputs: list
    provenance: dict = field(default_factory=dict)
    live: bool = False


class AppState:
    """What the window shows, in one place.

    dataset / dataset_path : the open dataset (a ``core.data.Dataset``) and where it came from.
    participant_id : the participant shown; :meth:`participant` loads its data once and keeps it.
    results : every loaded :class:`LoadedResults`, oldest first; :attr:`latest` maps an analysis name to
        its latest results folder (what a new run gets as prior results).
    provenance : output name -> the provenance of the run that made it.
    current_map : the name of the map shown; selection : the picked :class:`Selection`.
    """

    def __init__(self) -> None:
        self.dataset = None
        self.dataset_path: Path | None = None
        self.participant_id: str | None = None
        self._participants: dict[str, Any] = {}
        self.results: list[LoadedResults] = []
        self.latest: dict[str, Path] = {}
        self.provenance: dict[str, dict] = {}
        self.current_map: str | None = None
        self.selection: Selection | None = None
        self._subscribers: dict[str, list[Callable[[Any], None]]] = {name: [] for name in FIELDS}

    # ------------------------------------------------------------------ observing
    def subscribe(self, name: str, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(new value)`` whenever field ``name`` changes; returns the unsubscribe function."""
        if name not in self._subscribers:
            raise KeyError(f"no state field {name!r}; fields: {', '.join(FIELDS)}")
        subscribers = self._subscribers[name]
        subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in subscribers:
                subscribers.remove(callback)

        return unsubscribe

    def _notify(self, name: str, value: Any) -> None:
        for callback in list(self._subscribers[name]):
            callback(value)

    # ------------------------------------------------------------------ changes
    def set_dataset(self, dataset, path: str | Path) -> None:
        """A newly opened dataset: forgets the participants loaded for the previous one."""
        self.dataset, self.dataset_path = dataset, Path(path)
        self._participants.clear()
        self.participant_id = None
        self._notify("dataset", dataset)

    @property
    def participant_ids(self) -> list[str]:
        return [str(p) for p in self.dataset.participants] if self.dataset is not None else []

    def participant(self, pid: str | None = None):
        """The ParticipantData of ``pid`` (default: the chosen one), loaded once; None without a dataset."""
        if self.dataset is None:
            return None
        pid = pid or self.participant_id or (self.participant_ids[0] if self.participant_ids else None)
        if pid is None:
            return None
        if pid not in self._participants:
            self._participants[pid] = self.dataset.participant(pid)
        return self._participants[pid]

    def store_participant(self, pid: str, data) -> None:
        """Keep participant data loaded elsewhere (on a worker) so :meth:`participant` does not reload it."""
        self._participants[pid] = data

    def set_participant(self, pid: str) -> None:
        self.participant_id = pid
        self._notify("participant", pid)

    def add_results(self, loaded: LoadedResults) -> None:
        """Results of a finished run or an opened folder; the latest folder per analysis is remembered."""
        self.results.append(loaded)
        if loaded.folder is not None and loaded.analysis:
            self.latest[loaded.analysis] = Path(loaded.folder)
        for out in loaded.outputs:
            self.provenance[out.name] = loaded.provenance
        self._notify("results", loaded)

    @property
    def result_folders(self) -> list[str]:
        """Every results folder loaded, oldest first, without repeats."""
        seen: dict[str, None] = {}
        for loaded in self.results:
            if loaded.folder is not None:
                seen[str(loaded.folder)] = None
        return list(seen)

    def outputs(self, kind: type | tuple[type, ...] | None = None) -> list:
        """Every loaded output (of ``kind``), oldest first."""
        return [o for r in self.results for o in r.outputs if kind is None or isinstance(o, kind)]

    def set_current_map(self, name: str | None) -> None:
        if name != self.current_map:
            self.current_map = name
            self._notify("current_map", name)

    def select(self, selection: Selection | None) -> None:
        self.selection = selection
        self._notify("selection", selection)
