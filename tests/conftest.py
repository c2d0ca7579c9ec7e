"""Shared fixtures: real-data location, GL skipping, a small native dataset built in memory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CBS_SHARED_DATA", REPO.parent / "shared" / "data" / "concepts-brain-llms"))


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DISPLAY"):
        return
    skip = pytest.mark.skip(reason="needs an X display (Xvfb) for OpenGL")
    for item in items:
        if "gl" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The paper's public release files; tests that use them skip cleanly where they are absent."""
    if not (SHARED_DATA / "data" / "stimuli").is_dir():
        pytest.skip(f"real release data not found at {SHARED_DATA}")
    return SHARED_DATA


def make_events(rng: np.random.Generator, concepts, n_stim: int = 4, splits: bool = True) -> pd.DataFrame:
    """A shuffled trial table: every concept n_stim times, stimulus_idx 1..n_stim, split by index parity."""
    rows = [(c, s) for c in concepts for s in range(1, n_stim + 1)]
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order], columns=["concept", "stimulus_idx"])
    if splits:
        frame["split"] = np.where(frame["stimulus_idx"] % 2 == 1, 1, 2)
    return frame


@pytest.fixture
def tiny_native(tmp_path):
    """A native dataset with 2 participants, 3 paradigms, 60 voxels on a 6x5x4 grid; returns
    (path, truth) where truth holds the betas and events written."""
    from core.data.concepts import PARADIGMS, load_concepts
    from core.data.geometry import VoxelGeometry
    from core.data.readers.native import write_native

    rng = np.random.default_rng(0)
    concepts = load_concepts()
    mask = np.zeros((6, 5, 4), bool)
    mask[1:5, 1:4, 1:3] = True
    mask[0, 0, 0] = True
    geom = VoxelGeometry(mask, np.diag([2.0, 2.0, 2.0, 1.0]))
    participants, truth = {}, {}
    for pid in ("S1", "S2"):
        events = {p: make_events(rng, concepts) for p in PARADIGMS}
        betas = {
            p: rng.standard_normal((len(events[p]), geom.n_voxels)).astype(np.float32) for p in PARADIGMS
        }
        language = rng.standard_normal(geom.n_voxels).astype(np.float32)
        participants[pid] = {"geometry": geom, "events": events, "betas": betas, "language": language}
        truth[pid] = participants[pid]
    path = write_native(tmp_path / "tiny", "tiny", participants)
    return path, truth


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """One small valid dataset per reader (native, pereira, release) for the bad-input tests to break."""
    from tests.reader_files import build_native, build_pereira, build_release

    root = tmp_path_factory.mktemp("templates")
    return {"native": build_native(root), "pereira": build_pereira(root), "release": build_release(root)}
