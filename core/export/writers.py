"""Write typed outputs to files: VoxelMap -> NIfTI, (Area)Table -> CSV, RDM -> NPY + CSV,
LayerCurve -> CSV, Figure -> PNG + SVG."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.outputs import RDM, Figure, LayerCurve, Table, VoxelMap


def write_output(output, folder: Path, figure_formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write one output into ``folder``; return the paths written."""
    folder = Path(folder)
    if isinstance(output, VoxelMap):
        path = folder / f"{output.name}.nii.gz"
        nib.save(output.geometry.to_nifti(output.values), path)
        return [path]
    if isinstance(output, Table):
        path = folder / f"{output.name}.csv"
        output.frame.to_csv(path, index=False)
        return [path]
    if isinstance(output, RDM):
        npy = folder / f"{output.name}.npy"
        np.save(npy, np.asarray(output.matrix))
        return [npy]
    if isinstance(output, LayerCurve):
        path = folder / f"{output.name}.csv"
        output.to_frame().to_csv(path, index=False)
        return [path]
    if isinstance(output, Figure):
        paths = []
        for fmt in figure_formats:
            path = folder / f"{output.name}.{fmt}"
            output.figure.savefig(path, dpi=150, bbox_inches="tight")
            paths.append(path)
        return paths
    raise TypeError(f"unknown output type {type(output).__name__}")


def describe_output(output) -> dict:
    """JSON-ready description of an output (kind, units, sidedness, tags) for provenance.json, so a
    results folder read back later keeps what the files alone cannot say."""
    info = {"kind": type(output).__name__, "description": getattr(output, "description", "")}
    if isinstance(output, VoxelMap):
        info.update(units=output.units, two_sided=output.two_sided, meta=output.meta)
    elif isinstance(output, RDM):
        info.update(labels=list(output.labels), meta=output.meta)
    elif isinstance(output, LayerCurve):
        info.update(ylabel=output.ylabel)
    return info


def write_outputs(outputs, folder: Path) -> list[Path]:
    paths: list[Path] = []
    names = [o.name for o in outputs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"outputs share file names: {', '.join(sorted(dupes))}")
    for output in outputs:
        paths.extend(write_output(output, folder))
    return paths


def rdm_frame(rdm: RDM) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(rdm.matrix), index=rdm.labels, columns=rdm.labels)
