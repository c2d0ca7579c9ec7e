"""The Qt-free application state (app.state.model): fields, notifications, results bookkeeping."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.state.model import AppState, LoadedResults, Selection
from core.outputs import Table


class FakeDataset:
    participants = ("S1", "S2")

    def __init__(self) -> None:
        self.loads: list[str] = []

    def participant(self, pid):
        self.loads.append(pid)
        return {"id": pid}


def test_state_is_qt_free():
    import subprocess

    code = "import sys, app.state.model; print(any(m.startswith(('PySide6', 'vtk')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_notifications_and_unsubscribe():
    state, seen = AppState(), []
    stop = state.subscribe("current_map", seen.append)
    state.set_current_map("a")
    state.set_current_map("a")  # no change, no notification
    state.set_current_map("b")
    stop()
    state.set_current_map("c")
    assert seen == ["a", "b"] and state.current_map == "c"
    with pytest.raises(KeyError, match="no state field"):
        state.subscribe("colour", print)
    picked = []
    state.subscribe("selection", picked.append)
    state.select(Selection("lh", 7, np.array([1.0, 2.0, 3.0])))
    assert picked[0].vertex == 7 and state.selection is picked[0]


def test_participants_load_once_and_reset_with_a_new_dataset():
    state, ds = AppState(), FakeDataset()
    datasets = []
    state.subscribe("dataset", datasets.append)
    assert state.participant() is None
    state.set_dataset(ds, "/data/x")
    assert datasets == [ds] and state.dataset_path == Path("/data/x")
    assert state.participant_ids == ["S1", "S2"]
    assert state.participant()["id"] == "S1" and state.participant("S1")["id"] == "S1"
    state.set_participant("S2")
    assert state.participant()["id"] == "S2"
    state.store_participant("S1", {"id": "S1", "preloaded": True})
    assert state.participant("S1")["preloaded"] and ds.loads == ["S1", "S2"]
    state.set_dataset(FakeDataset(), "/data/y")
    assert state.participant_id is None and state.participant()["id"] == "S1"


def test_results_bookkeeping():
    state, routed = AppState(), []
    state.subscribe("results", routed.append)
    t1 = Table("scores", pd.DataFrame({"a": [1]}))
    t2 = Table("more", pd.DataFrame({"b": [2]}))
    state.add_results(LoadedResults("consistency", Path("/r/c1"), [t1], {"analysis": "consistency"}))
    state.add_results(LoadedResults("rsa", Path("/r/r1"), [t2], {"analysis": "rsa"}, live=True))
    state.add_results(LoadedResults("consistency", Path("/r/c2"), [], {}))
    state.add_results(LoadedResults("consistency", Path("/r/c1"), [], {}))  # opened again
    assert state.latest == {"consistency": Path("/r/c1"), "rsa": Path("/r/r1")}
    assert state.result_folders == ["/r/c1", "/r/r1", "/r/c2"]
    assert state.provenance["more"] == {"analysis": "rsa"} and state.outputs(Table) == [t1, t2]
    assert [r.live for r in routed] == [False, True, False, False]
