"""Write typed outputs to files: VoxelMap -> NIfTI, (Area)Table -> CSV (or Parquet), RDM -> NPY + CSV,
LayerCurve -> CSV, Figure -> PNG + SVG.

Tables are written by pyarrow's CSV writer (about 10x pandas' ``to_csv`` for a 230k-row voxel table);
the text reads back with ``pandas.read_csv`` to the same columns and values as pandas' writer (floats in
shortest round-trip form, NaN as an empty field, booleans as ``True``/``False``; whole floats are written
without ``.0``, so a column of whole numbers reads back as integers). A table whose
``frame.attrs["table_format"]`` is ``"parquet"`` is written as ``NAME.parquet`` instead (smaller, typed,
faster to read back with ``pandas.read_parquet``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np

from core.outputs import RDM, Figure, LayerCurve, Table, VoxelMap

if TYPE_CHECKING:
    import pandas as pd


def write_output(output, folder: Path, figure_formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write one output into ``folder``; return the paths written."""
    folder = Path(folder)
    if isinstance(output, VoxelMap):
        path = folder / f"{output.name}.nii.gz"
        nib.save(output.geometry.to_nifti(output.values), path)
        return [path]
    if isinstance(output, Table):
        fmt = output.frame.attrs.get("table_format", "csv")
        return [write_table(output.frame, folder / output.name, fmt)]
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


TABLE_FORMATS = ("csv", "parquet")
_NEEDS_QUOTES = (",", '"', "\n", "\r")


def write_table(frame: pd.DataFrame, stem: Path, table_format: str = "csv") -> Path:
    """Write ``frame`` (without its index) to ``stem`` + ``.csv`` or ``.parquet``; return the path.

    CSV goes through pyarrow (strings quoted only when some value needs it); a frame pyarrow cannot
    convert (mixed-type object columns) falls back to pandas' writer.
    """
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"table_format {table_format!r} is not one of {', '.join(TABLE_FORMATS)}")
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    path = Path(f"{stem}.{table_format}")
    if table_format == "parquet":
        frame.to_parquet(path, index=False, engine="pyarrow")
        return path
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        frame.to_csv(path, index=False)
        return path
    columns, quote = [], False
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = pa.chunked_array([c.dictionary_decode() for c in col.chunks], col.type.value_type)
        if pa.types.is_boolean(col.type):
            col = pc.if_else(col, "True", "False")
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            quote = quote or any(pc.any(pc.match_substring(col, ch)).as_py()
                                 for ch in _NEEDS_QUOTES)  # fmt: skip
        columns.append(col)
    names = [str(n) for n in table.column_names]
    quote = quote or any(ch in n for n in names for ch in _NEEDS_QUOTES)
    options = pacsv.WriteOptions(include_header=quote, quoting_style="needed" if quote else "none")
    try:
        with open(path, "wb") as fh:
            if not quote:  # pandas' plain header (arrow always quotes header names)
                fh.write((",".join(names) + "\n").encode())
            pacsv.write_csv(pa.table(columns, names=names), fh, options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        frame.to_csv(path, index=False)
    return path


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
    elif isinstance(output, Figure) and output.data:
        info.update(data=output.data)
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

