"""One resolver for every atlas and ROI specification a user can type (``rois=``, ``atlas=``,
``parcels=``), used by all analyses and views.

ROI specs (:func:`resolve_rois`):

* ``paper`` — the paper's published ROI map (``resources/rois/roi_map.nii.gz``, the release's
  ``outputs/roi_map.nii``; MIT, notice beside it): 1 = L A5+STSdp+TPOJ1+TPOJ2, 2 = L IFSa+45+FOP5,
  3 = L TE2p+PH on the MNI152 2 mm grid. The ROI areas were picked by hand, so this file *is* the
  definition; nothing re-derives it.
* ``glasser-surface`` — the same area groups rebuilt from this project's surface-derived Glasser
  volume (:func:`core.atlas.rois.paper_rois`); close to, but not voxel-identical with, ``paper``.
* a path — a NIfTI label map with an optional TSV table (``label, name[, hemisphere]``; default: the
  ``.tsv`` beside the NIfTI).

Language parcels (:func:`resolve_parcels`): a NIfTI path (+ TSV), read as LanA without a table.

Area atlas specs (:func:`resolve_atlas`): ``glasser`` (the HCP-MMP1.0 areas on the MNI 2 mm grid,
:func:`core.atlas.glasser.glasser_mni`), ``none``, or a path to a volumetric parcellation (+ TSV),
e.g. the MNI Glasser volume the paper used.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from core.atlas.labels import LabelVolume, load_label_volume, table_path_for
from core.errors import DataError, ParameterError

ROI_SPECS = ("paper", "glasser-surface")
#: LanA parcel names by label (the paper's Fig. 13 code, parcels 1-6; left hemisphere)
LANA_PARCELS = {1: "IFGorb", 2: "IFG", 3: "MFG", 4: "AntTemp", 5: "PostTemp", 6: "AngG"}
ATLAS_SPECS = ("glasser", "none")


@lru_cache(maxsize=1)
def published_roi_map() -> LabelVolume:
    """The paper's published ROI map (labels 1-3 with names, hemisphere, areas and nickname)."""
    folder = resources.files("resources").joinpath("rois")
    with resources.as_file(folder) as path:
        return load_label_volume(Path(path) / "roi_map.nii.gz", Path(path) / "roi_map.tsv")


def _user_volume(spec: str, table: str | None, what: str) -> LabelVolume:
    path = Path(spec).expanduser()
    if not path.is_file():
        raise DataError(path, f"{what} not found")
    if table:
        table_path = Path(table).expanduser()
        if not table_path.is_file():
            raise DataError(table_path, f"label table of the {what} not found")
        return load_label_volume(path, table_path)
    return load_label_volume(path)


def resolve_rois(spec: str = "paper", table: str | None = None) -> LabelVolume:
    """The ROI label volume for ``spec`` (``paper``, ``glasser-surface`` or a NIfTI path; see the module
    docstring). A NIfTI without a table names its ROIs ``ROI <id>``."""
    spec = str(spec or "paper").strip()
    if spec == "paper":
        return published_roi_map()
    if spec == "glasser-surface":
        from core.atlas.rois import paper_rois

        return paper_rois()
    if not spec.lower().endswith((".nii", ".nii.gz")) and not Path(spec).expanduser().exists():
        raise ParameterError(f"rois must be one of {', '.join(ROI_SPECS)} or a NIfTI path, got {spec!r}")
    from core.atlas.rois import load_roi_map

    path = Path(spec).expanduser()
    if not path.is_file():
        raise DataError(path, "ROI map not found (rois=paper, glasser-surface or a NIfTI label volume)")
    return load_roi_map(path, table or None)


def resolve_atlas(spec: str = "glasser", table: str | None = None) -> LabelVolume | None:
    """The area atlas for ``spec`` (``glasser``, ``none`` -> None, or a NIfTI path + optional table)."""
    spec = str(spec or "glasser").strip()
    if spec.lower() == "none":
        return None
    if spec.lower() == "glasser":
        from core.atlas.glasser import glasser_mni

        return glasser_mni()
    if not spec.lower().endswith((".nii", ".nii.gz")) and not Path(spec).expanduser().exists():
        raise ParameterError(f"atlas must be one of {', '.join(ATLAS_SPECS)} or a NIfTI path, got {spec!r}")
    return _user_volume(spec, table, "atlas label volume")


def resolve_parcels(spec: str, table: str | None = None) -> LabelVolume | None:
    """A language-parcel atlas (``parcels=``): None for ``""``/``none``, else a label NIfTI with a table
    (given, or ``<stem>.tsv`` beside it); without a table it is read as LanA: labels 1-6 named as in
    :data:`LANA_PARCELS`, other labels (LanA's right-hemisphere parcels) left out, as in the paper."""
    spec = str(spec or "").strip()
    if not spec or spec.lower() == "none":
        return None
    path = Path(spec).expanduser()
    if table or table_path_for(path).is_file():
        return _user_volume(spec, table, "language parcel atlas")
    vol = _user_volume(spec, None, "language parcel atlas (parcels=PATH: a label NIfTI)")
    present = [lab for lab in LANA_PARCELS if lab in set(vol.ids().tolist())]
    if not present:
        raise DataError(path, "has no labels 1-6 and no label table beside it (read as LanA: parcels 1-6)")
    names = [LANA_PARCELS[lab] for lab in present]
    frame = pd.DataFrame({"label": present, "name": names, "hemisphere": "L"})
    data = np.where(np.isin(vol.data, present), vol.data, 0).astype(np.int32)
    return LabelVolume(data, vol.affine, frame)
