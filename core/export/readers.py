"""Read a results folder back as typed outputs, mirroring :mod:`core.export.writers`.

NIfTI -> :class:`~core.outputs.VoxelMap`, CSV/Parquet -> :class:`~core.outputs.Table` (an
:class:`~core.outputs.AreaTable` or a :class:`~core.outputs.LayerCurve` when provenance.json says the
output was one), NPY -> :class:`~core.outputs.RDM` with the labels provenance recorded, PNG ->
:class:`~core.outputs.Figure` (the saved image in a matplotlib figure; its SVG twin is not read twice).
Units, sidedness, descriptions and tags come from the ``outputs`` entry provenance.json keeps per output
(:func:`core.export.writers.describe_output`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from core.data.geometry import VoxelGeometry
from core.errors import DataError
from core.outputs import RDM, AreaTable, Figure, LayerCurve, Table, VoxelMap

LAYER_RE = re.compile(r"(?:^|[_-])(?:layer|L)[_-]?(\d+)(?:$|[_-])", re.IGNORECASE)
SKIPPED = {"provenance.json", "manifest.json"}


def read_results_folder(folder: str | Path) -> tuple[list, dict]:
    """Outputs written by an analysis run: ``(outputs, provenance)``, outputs in file-name order.
    DataError (naming the folder or file and the reason) when the folder does not exist, provenance.json
    is unreadable, or nothing readable is there."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "not a folder")
    provenance = read_provenance(folder)
    outputs: list = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in SKIPPED or not path.is_file():
            continue
        output = read_output(path, provenance)
        if output is not None:
            outputs.append(output)
    if not outputs:
        raise DataError(folder, "no results (NIfTI, CSV, Parquet, NPY or PNG files) found")
    return outputs, provenance


def read_provenance(folder: Path) -> dict:
    """provenance.json of a results folder ({} when there is none)."""
    path = Path(folder) / "provenance.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(path, f"unreadable provenance: {exc}") from None


def read_output(path: Path, provenance: dict | None = None):
    """One file as its typed output, or None for a file that is not an output (e.g. an SVG twin)."""
    name = path.name.removesuffix(".gz").removesuffix(".nii") if path.name.endswith((".nii", ".nii.gz")) \
        else path.stem
    info = output_info(provenance, name)
    kind = info.get("kind", "")
    description = info.get("description", "")
    if path.name.endswith((".nii", ".nii.gz")):
        return read_map(path, provenance)
    if path.suffix in (".csv", ".parquet"):
        frame = read_table(path)
        if kind == "LayerCurve":
            return layer_curve_from_frame(name, frame, info.get("ylabel", ""), description)
        return (AreaTable if kind == "AreaTable" else Table)(name, frame, description)
    if path.suffix == ".npy":
        matrix = np.load(path, allow_pickle=False)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            return None
        labels = [str(x) for x in info.get("labels", [])] or [str(i) for i in range(matrix.shape[0])]
        if len(labels) != matrix.shape[0]:
            raise DataError(path, f"{matrix.shape[0]} rows but provenance lists {len(labels)} labels")
        return RDM(name, matrix, labels, description, dict(info.get("meta", {})))
    if path.suffix == ".png" and (kind in ("", "Figure")):
        return Figure(name, image_figure(path), description, str(info.get("data", "")))
    return None


def read_table(path: Path):
    """A CSV (pandas' reader: the writer's text reads back to the same columns and values) or Parquet."""
    import pandas as pd

    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(path, f"unreadable table: {exc}") from None


def layer_curve_from_frame(name: str, frame, ylabel: str = "", description: str = "") -> LayerCurve:
    """The inverse of :meth:`core.outputs.LayerCurve.to_frame` (columns series, layer, value[, error])."""
    series, errors, layers = {}, {}, None
    for label, rows in frame.groupby("series", sort=False):
        rows = rows.sort_values("layer")
        layers = rows["layer"].to_numpy(dtype=int)
        series[str(label)] = rows["value"].to_numpy(dtype=float)
        if "error" in rows and rows["error"].notna().all():
            errors[str(label)] = rows["error"].to_numpy(dtype=float)
    layers = layers if layers is not None else np.zeros(0, int)
    return LayerCurve(name, layers, series, ylabel, errors, description)


def image_figure(path: Path):
    """A matplotlib figure showing a saved PNG at its own size (for the plot panel)."""
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.image import imread

    image = imread(path)
    height, width = image.shape[:2]
    fig = MplFigure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(image)
    ax.set_axis_off()
    return fig


def map_from_volume(name: str, volume: np.ndarray, affine: np.ndarray, **kw) -> VoxelMap:
    """A VoxelMap of a 3D volume: voxels = finite values (and non-zero ones when the volume has no NaN,
    i.e. zero is its background)."""
    volume = np.asarray(volume, dtype=np.float32)
    mask = np.isfinite(volume)
    if mask.all():
        mask &= volume != 0
    if not mask.any():
        raise DataError(name, "the map holds no finite non-zero values")
    geometry = VoxelGeometry(mask, affine)
    return VoxelMap(name, geometry.from_volume(volume), geometry, **kw)


def read_map(path: str | Path, provenance: dict | None = None) -> VoxelMap:
    """Read a 3D NIfTI map (DataError when unreadable); meta/units from ``provenance`` where it has them."""
    from core.data.validate import load_nifti

    path = Path(path)
    img = load_nifti(path, 3)
    data = np.asarray(img.get_fdata(dtype=np.float32))
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    name = path.name.removesuffix(".gz").removesuffix(".nii")
    info = output_info(provenance, name)
    meta = dict(info.get("meta", {}))
    match = LAYER_RE.search(name)
    if "layer" not in meta and match:
        meta["layer"] = int(match.group(1))
    if provenance and "model" not in meta:
        model = provenance.get("parameters", {}).get("model") or provenance.get("model")
        if isinstance(model, str):
            meta["model"] = model
    return map_from_volume(
        name, data, img.affine, units=info.get("units", ""), description=info.get("description", ""),
        two_sided=bool(info.get("two_sided", bool(np.nanmin(data) < 0 < np.nanmax(data)))), meta=meta,
    )


def output_info(provenance: dict | None, name: str) -> dict:
    """The provenance entry describing output ``name`` where provenance lists its outputs."""
    if not provenance:
        return {}
    outputs = provenance.get("outputs")
    if isinstance(outputs, dict):
        return outputs.get(name, {}) or {}
    if isinstance(outputs, list):
        for entry in outputs:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry
    return {}
