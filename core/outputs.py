"""Typed analysis outputs. Plugins return a list of these; the GUI routes each kind to a view and
:mod:`core.export.writers` writes each kind to files. Qt-free and matplotlib-optional.

Each output's ``name`` is its file stem (e.g. ``consistency_voxels`` -> ``consistency_voxels.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.geometry import VoxelGeometry

if TYPE_CHECKING:  # pandas is imported where a frame is made: the GUI starts without it
    import pandas as pd
from core.names import OUTPUT_KINDS  # noqa: F401 - re-exported: the implementing module's names


@dataclass(eq=False)
class VoxelMap:
    """Values per voxel -> 3D viewer, NIfTI.

    values : float32 (V,) in the voxel order of ``geometry``; NaN = no value.
    units : shown on the colour bar (e.g. ``"Pearson r"``).
    two_sided : True when negative values are as meaningful as positive ones.
    meta : free-form tags, e.g. {"participant": "M01", "model": "gpt2", "layer": 6, "stat": "r"}.
    """

    name: str
    values: np.ndarray
    geometry: VoxelGeometry
    units: str = ""
    description: str = ""
    two_sided: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.shape != (self.geometry.n_voxels,):
            raise ValueError(
                f"VoxelMap {self.name!r}: {self.values.shape} values for {self.geometry.n_voxels} voxels"
            )


@dataclass(eq=False)
class Table:
    """A table -> table view, CSV."""

    name: str
    frame: pd.DataFrame
    description: str = ""


@dataclass(eq=False)
class AreaTable(Table):
    """A table with one row per atlas area (column ``area``) -> table view, CSV, area colouring."""


@dataclass(eq=False)
class RDM:
    """A representational dissimilarity matrix float (n, n) -> matrix view, NPY + CSV."""

    name: str
    matrix: np.ndarray
    labels: list[str]
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class LayerCurve:
    """Values per layer -> line plot, CSV.

    layers : int (L,) layer indices (0 = embeddings).
    series : label -> float (L,) values (e.g. one per pooling or per ROI).
    errors : optional label -> float (L,) error bars (e.g. SEM).
    """

    name: str
    layers: np.ndarray
    series: dict[str, np.ndarray]
    ylabel: str = ""
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    description: str = ""

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for label, values in self.series.items():
            err = self.errors.get(label)
            for n, layer in enumerate(self.layers):
                row = {"series": label, "layer": int(layer), "value": float(values[n])}
                if err is not None:
                    row["error"] = float(err[n])
                rows.append(row)
        return pd.DataFrame(rows)


@dataclass(eq=False)
class Figure:
    """A matplotlib figure -> plot panel, PNG/SVG/PDF. ``data``: the name of the table output of the same run
    the figure shows (its CSV goes with the figure when figures are exported), or ""."""

    name: str
    figure: Any
    description: str = ""
    data: str = ""


Output = VoxelMap | Table | AreaTable | RDM | LayerCurve | Figure
