"""Exports (Qt-free): figures, screenshots, tables, maps, each with a provenance record beside it,
and the one-click figure bundle (brain views + colour bar, a CSV of the shown values, provenance).

Every single-file export ``NAME.ext`` gets ``NAME.ext.provenance.json``; a bundle folder gets
``provenance.json``. Files are written atomically (staging folder, then moved).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.errors import ParameterError
from core.export.atomic import atomic_output_dir
from core.export.provenance import build_provenance

FIGURE_FORMATS = (".png", ".svg", ".pdf")


def _provenance(kind: str, parameters: dict, dataset_path=None, source: dict | None = None) -> dict:
    extra = {"source_provenance": source} if source else {}
    return build_provenance(f"export:{kind}", parameters, dataset_path, "cpu", 0.0, extra)


def _write_with_sidecar(path: Path, write, record: dict) -> list[Path]:
    path = Path(path)
    with atomic_output_dir(path.parent) as staging:
        write(staging / path.name)
        (staging / f"{path.name}.provenance.json").write_text(json.dumps(record, indent=2, default=str))
    return [path, path.parent / f"{path.name}.provenance.json"]


def export_figure(fig, path, dataset_path=None, source: dict | None = None, dpi: int = 150) -> list[Path]:
    """A matplotlib figure as PNG/SVG/PDF (by suffix)."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise ParameterError(f"figure format must be one of {', '.join(FIGURE_FORMATS)}")
    record = _provenance("figure", {"format": path.suffix[1:], "dpi": dpi}, dataset_path, source)
    return _write_with_sidecar(path, lambda p: fig.savefig(p, dpi=dpi, bbox_inches="tight"), record)


def export_image(
    image: np.ndarray, path, parameters: dict | None = None, dataset_path=None, source: dict | None = None
) -> list[Path]:
    """An RGB(A) uint8 image (H, W, 3|4) as PNG."""
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ParameterError("screenshots are saved as .png")
    params = {"width": int(image.shape[1]), "height": int(image.shape[0]), **(parameters or {})}
    record = _provenance("screenshot", params, dataset_path, source)
    return _write_with_sidecar(path, lambda p: Image.fromarray(np.ascontiguousarray(image)).save(p), record)


def export_table(table, path, dataset_path=None, source: dict | None = None) -> list[Path]:
    """A Table/AreaTable (or LayerCurve) as CSV."""
    frame = table.to_frame() if hasattr(table, "to_frame") else table.frame
    record = _provenance("table", {"name": table.name, "rows": len(frame)}, dataset_path, source)
    return _write_with_sidecar(Path(path), lambda p: frame.to_csv(p, index=False), record)


def export_map(
    vmap, path, mesh_name: str = "fs_LR32k", projector=None, dataset_path=None, source: dict | None = None
) -> list[Path]:
    """A VoxelMap as NIfTI (``.nii``/``.nii.gz``) or as GIfTI (``.gii``: one file per hemisphere,
    ``NAME.L.func.gii`` and ``NAME.R.func.gii``, values sampled on ``mesh_name``)."""
    path = Path(path)
    name = path.name
    params = {"map": vmap.name, "units": vmap.units, "meta": vmap.meta}
    if name.endswith((".nii", ".nii.gz")):
        record = _provenance("map-nifti", params, dataset_path, source)
        return _write_with_sidecar(path, lambda p: nib.save(vmap.geometry.to_nifti(vmap.values), p), record)
    if name.endswith(".gii"):
        if projector is None:
            from app.views.maps import ProjectionCache

            projector = ProjectionCache().get(vmap.geometry, mesh_name)
        per_hemi = projector.project(vmap.values)
        stem = name[: -len(".func.gii")] if name.endswith(".func.gii") else name[: -len(".gii")]
        record = _provenance("map-gifti", {**params, "mesh": mesh_name}, dataset_path, source)
        written = []
        with atomic_output_dir(path.parent) as staging:
            for hemi, code in (("left", "L"), ("right", "R")):
                darray = nib.gifti.GiftiDataArray(
                    per_hemi[hemi].astype(np.float32),
                    intent="NIFTI_INTENT_NONE",
                    datatype="NIFTI_TYPE_FLOAT32",
                )
                img = nib.gifti.GiftiImage(darrays=[darray])
                fname = f"{stem}.{code}.func.gii"
                nib.save(img, staging / fname)
                written.append(path.parent / fname)
            (staging / f"{stem}.gii.provenance.json").write_text(json.dumps(record, indent=2, default=str))
        return written + [path.parent / f"{stem}.gii.provenance.json"]
    raise ParameterError("map format must be .nii, .nii.gz or .gii")


def figure_bundle(
    folder,
    mesh,
    vmap,
    values: dict[str, np.ndarray],
    style,
    views=("lateral", "medial"),
    tile_size=(500, 400),
    borders: bool = False,
    rois=None,
    dataset_path=None,
    source: dict | None = None,
) -> list[Path]:
    """One-click bundle into ``folder``: ``brain.png`` (views x hemispheres + colour bar), ``brain.svg``,
    ``shown_values.csv`` (hemi, vertex, value, shown) and ``provenance.json``."""
    from app.views.colors import visible_mask
    from app.views.figure import compose_figure, render_views

    folder = Path(folder)
    image = render_views(mesh, values, style, tuple(views), ("left", "right"), tile_size, borders, rois)
    limits = style.limits(np.concatenate([values["left"], values["right"]]))
    fig = compose_figure(image, style, limits, title=vmap.name)
    rows = []
    for hemi in ("left", "right"):
        v = values[hemi]
        rows.append(
            pd.DataFrame(
                {"hemi": hemi, "vertex": np.arange(len(v)), "value": v, "shown": visible_mask(v, style)}
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[np.isfinite(frame["value"])]
    params = {
        "map": vmap.name,
        "mesh": mesh.name,
        "surface": mesh.surface,
        "views": list(views),
        "style": asdict(style),
        "limits": list(limits),
        "tile_size": list(tile_size),
    }
    record = _provenance("figure-bundle", params, dataset_path, source)
    with atomic_output_dir(folder) as staging:
        fig.savefig(staging / "brain.png", dpi=100, facecolor="white")
        fig.savefig(staging / "brain.svg", dpi=100, facecolor="white")
        frame.to_csv(staging / "shown_values.csv", index=False)
        (staging / "provenance.json").write_text(json.dumps(record, indent=2, default=str))
    return [folder / n for n in ("brain.png", "brain.svg", "shown_values.csv", "provenance.json")]
