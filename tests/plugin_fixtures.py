"""Plugins that tests register themselves (the real analyses are registered in pyproject.toml)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.plugins.base import AnalysisPlugin, Param, RunResult
from core.outputs import Table, VoxelMap
from core.progress import check_cancel


class MeanResponsePlugin(AnalysisPlugin):
    """Mean response per voxel over all trials of one paradigm: a small real computation."""

    name = "mean_response"
    title = "Mean response"
    description = "Per-voxel mean over trials."
    params = (
        Param("paradigm", "choice", "sentences", choices=("sentences", "pictures", "word_clouds")),
        Param("scale", "float", 1.0, bounds=(0.0, 10.0)),
        Param("fail_after", "int", -1, help="raise after this many participants (tests)"),
    )
    outputs = ("VoxelMap", "Table")

    def run(self, inputs, params, progress, cancel):
        dataset = inputs.open_dataset()
        outputs, rows = [], []
        for n, pid in enumerate(dataset.participants):
            check_cancel(cancel)
            if n == params["fail_after"]:
                raise RuntimeError("planted failure")
            sub = dataset.participant(pid)
            mean = np.asarray(sub.betas(params["paradigm"])).mean(axis=0) * params["scale"]
            outputs.append(VoxelMap(f"sub-{pid}_mean", mean, sub.geometry, units="a.u."))
            rows.append({"participant": pid, "grand_mean": float(mean.mean())})
            progress((n + 1) / len(dataset.participants), pid)
        return RunResult([*outputs, Table("means", pd.DataFrame(rows))], {"seed": None})


class NotAPlugin:
    name = "broken"
