"""Test helpers for the GUI tests: a plugin registered by the tests themselves, and a small native
dataset on the MNI 2 mm grid whose voxels lie on the cortical ribbon (so the cortex shows it)."""

from __future__ import annotations

import time
from importlib.metadata import EntryPoint
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from app.plugins.base import AnalysisPlugin, Param, RunResult
from core.outputs import RDM, Figure, LayerCurve, Table, VoxelMap
from core.progress import check_cancel

matplotlib.use("Agg", force=False)

GROUP = "concept_brain_studio.analyses"
LAYERS = (0, 1, 2, 3)


class FakePlugin(AnalysisPlugin):
    """Per-voxel mean of the first paradigm's concept means (a real, checkable number) plus one output
    of every kind; ``steps`` chunks with ``delay`` seconds each, cancellable between chunks."""

    name = "fake"
    title = "Fake analysis (tests)"
    description = "Mean response per voxel, with one output of every kind."
    params = (
        Param("steps", "int", 4, "chunks", bounds=(1, 10_000)),
        Param("delay", "float", 0.0, "seconds per chunk", bounds=(0.0, 5.0)),
        Param("fail", "bool", False, "raise an error midway"),
        Param("mode", "choice", "mean", "statistic", choices=("mean", "max")),
    )
    outputs = ("VoxelMap", "Table", "LayerCurve", "RDM", "Figure")

    def run(self, inputs, params, progress, cancel):
        dataset = inputs.open_dataset()
        pid = dataset.participants[0]
        data = dataset.participant(pid)
        paradigm = data.paradigms[0]
        for step in range(params["steps"]):
            check_cancel(cancel)
            if params["fail"] and step == params["steps"] // 2:
                raise ValueError("planted failure")
            time.sleep(params["delay"])
            progress((step + 1) / params["steps"], f"chunk {step + 1}/{params['steps']}")
        means = data.concept_means(paradigm)
        stat = np.nanmean(means, axis=0) if params["mode"] == "mean" else np.nanmax(means, axis=0)
        geom = data.geometry
        outputs = [
            VoxelMap(f"fake_{params['mode']}_{pid}", stat, geom, units="beta", meta={"participant": pid})
        ]
        for layer in LAYERS:
            r = np.tanh(geom.xyz[:, 1] / 100.0 * (layer + 1) / len(LAYERS)).astype(np.float32)
            outputs.append(
                VoxelMap(
                    f"fake_r_{pid}_layer{layer:02d}",
                    r,
                    geom,
                    units="r",
                    meta={"participant": pid, "model": "toy", "layer": layer},
                )
            )
        frame = pd.DataFrame(
            {
                "participant": pid,
                "x": geom.xyz[:20, 0],
                "y": geom.xyz[:20, 1],
                "z": geom.xyz[:20, 2],
                "stat": stat[:20],
            }
        )
        outputs.append(Table("fake_table", frame))
        outputs.append(
            LayerCurve("fake_curve", np.array(LAYERS), {"toy": np.array([0.1, 0.2, 0.3, 0.25])}, ylabel="r")
        )
        m = np.abs(np.subtract.outer(np.arange(5.0), np.arange(5.0)))
        outputs.append(RDM("fake_rdm", m, [f"c{i}" for i in range(5)]))
        from matplotlib.figure import Figure as MplFigure

        fig = MplFigure(figsize=(3, 2))
        fig.add_subplot(111).plot([0, 1], [0, 1])
        outputs.append(Figure("fake_figure", fig))
        return RunResult(outputs)


def fake_registry():
    from app.plugins.registry import Registry

    return Registry(entry_points=[EntryPoint("fake", "tests.gui_fake_plugin:FakePlugin", GROUP)])


def make_mni_dataset(root: Path, n_concepts_signal: int = 180, seed: int = 0) -> Path:
    """A one-participant native dataset (concept-level, 180 trials per paradigm) whose voxels are the
    MNI 2 mm voxels under the fsaverage5 midthickness vertices. Left-hemisphere voxels share one
    concept profile across paradigms (high consistency C); right-hemisphere voxels are noise.
    The language map is the voxel's y coordinate / 100."""
    from core.atlas.meshes import load_mesh
    from core.data.concepts import PARADIGMS, load_concepts
    from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
    from core.data.readers.native import write_native

    mesh = load_mesh("fsaverage5", "midthickness")
    pts = np.concatenate([mesh.hemis[h].vertices for h in ("left", "right")])
    ijk = np.rint(np.linalg.solve(MNI_2MM_AFFINE, np.c_[pts, np.ones(len(pts))].T)[:3].T).astype(int)
    mask = np.zeros(MNI_2MM_SHAPE, bool)
    mask[tuple(ijk.T)] = True
    geom = VoxelGeometry(mask, MNI_2MM_AFFINE)
    rng = np.random.default_rng(seed)
    concepts = load_concepts()
    profile = rng.standard_normal(len(concepts)).astype(np.float32)
    left = geom.xyz[:, 0] < 0
    events, betas = {}, {}
    for paradigm in PARADIGMS:
        events[paradigm] = pd.DataFrame(
            {"concept": concepts, "stimulus_idx": pd.array([pd.NA] * len(concepts), dtype="Int64")}
        )
        b = rng.standard_normal((len(concepts), geom.n_voxels)).astype(np.float32)
        b[:, left] += 2.0 * profile[:, None]
        betas[paradigm] = b
    language = (geom.xyz[:, 1] / 100.0).astype(np.float32)
    return write_native(
        Path(root),
        "mni-test",
        {"T1": {"geometry": geom, "events": events, "betas": betas, "language": language}},
    )
