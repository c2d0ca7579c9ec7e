"""Everything known about one voxel, gathered for the voxel card (Qt-free, testable).

Sources: the atlas (Glasser area, paper ROI), every loaded VoxelMap (value at the voxel's MNI point),
tables with x, y, z columns (e.g. ``consistency_voxels.csv``), maps tagged with ``layer`` (encoding r
per layer), the quartile analysis's ``quartile_cells`` table, and the dataset itself: the voxel's 180
concept means per paradigm, from which C and its permutation null are computed exactly as the
consistency analysis does.

The quartiles analysis writes tables only (cells per participant x ROI x (b_C, b_L) with their r), no
per-voxel map, so the voxel's cell is recomputed with the analysis' own code
(:func:`core.analyses.quartiles.participant_cells`: C and language quartiles within each ROI), decoded
with :func:`core.analyses.quartiles.decode_cells` and looked up in the loaded table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.outputs import Table, VoxelMap

NULL_PERMUTATIONS = 1000
NULL_SEED = 0


@dataclass
class VoxelInfo:
    """What the card shows. Unavailable items are None / empty."""

    hemi: str | None
    vertex: int | None
    xyz: np.ndarray  # (3,) mm
    participant: str | None = None
    voxel: int = -1  # index in the participant's geometry
    area: str | None = None
    roi: str | None = None
    map_values: list[tuple[str, float, str]] = field(default_factory=list)  # (name, value, units)
    table_rows: dict[str, dict] = field(default_factory=dict)  # table name -> row at this voxel
    language: float | None = None
    layer_profiles: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    quartile: int | None = None  # from a map tagged as a quartile map
    quartile_cell: dict | None = None  # {roi, b_C, b_L, r: {paradigm: r}} from the quartiles analysis
    quartile_note: str = ""  # why no bin is shown
    concept_means: dict[str, np.ndarray] = field(default_factory=dict)  # paradigm -> (n_concepts,)
    C: float | None = None
    p: float | None = None
    null: np.ndarray | None = None


def value_at(vmap: VoxelMap, xyz: np.ndarray) -> float:
    """The map's value at an MNI point (NaN outside its voxels)."""
    idx = int(vmap.geometry.index_of_mm(np.asarray(xyz)[None])[0])
    return float(vmap.values[idx]) if idx >= 0 else float("nan")


def _is_quartile(vmap: VoxelMap) -> bool:
    return "quartile" in vmap.name.lower() or str(vmap.meta.get("stat", "")).lower() == "quartile"


def collect(
    xyz: np.ndarray,
    maps: list[VoxelMap] = (),
    tables: list[Table] = (),
    participant=None,
    hemi: str | None = None,
    vertex: int | None = None,
    with_null: bool = True,
) -> VoxelInfo:
    """Gather a :class:`VoxelInfo` at MNI point ``xyz`` (mm).

    participant : a ``ParticipantData`` (concept means, language response) or None.
    """
    from core.atlas import lookup as atlas_info

    xyz = np.asarray(xyz, dtype=float)
    info = VoxelInfo(hemi, vertex, xyz, area=atlas_info.area_at_mm(xyz), roi=atlas_info.roi_at_mm(xyz))
    for vmap in maps:
        v = value_at(vmap, xyz)
        info.map_values.append((vmap.name, v, vmap.units))
        if "layer" in vmap.meta and np.isfinite(v):
            model = str(vmap.meta.get("model", "model"))
            layers, vals = info.layer_profiles.get(model, (np.empty(0, int), np.empty(0)))
            info.layer_profiles[model] = (np.r_[layers, int(vmap.meta["layer"])], np.r_[vals, v])
        if _is_quartile(vmap) and np.isfinite(v):
            info.quartile = int(round(v))
    for model, (layers, vals) in info.layer_profiles.items():
        order = np.argsort(layers)
        info.layer_profiles[model] = (layers[order], vals[order])
    for table in tables:
        row = _row_at(table, xyz, participant.id if participant is not None else None)
        if row is not None:
            info.table_rows[table.name] = row
    if participant is not None:
        _from_participant(info, participant, with_null)
    return info


def _row_at(table: Table, xyz: np.ndarray, pid: str | None) -> dict | None:
    frame = table.frame
    if not {"x", "y", "z"} <= set(frame.columns):
        return None
    hit = np.all(np.abs(frame[["x", "y", "z"]].to_numpy(float) - xyz) < 0.5, axis=1)
    if "participant" in frame.columns and pid is not None and (frame["participant"].astype(str) == pid).any():
        hit &= (frame["participant"].astype(str) == pid).to_numpy()
    if not hit.any():
        return None
    return frame[hit].iloc[0].to_dict()


def _from_participant(info: VoxelInfo, participant, with_null: bool) -> None:
    from core.analyses.consistency import consistency

    info.participant = participant.id
    idx = int(participant.geometry.index_of_mm(info.xyz[None])[0])
    info.voxel = idx
    if idx < 0:
        return
    if participant.language is not None:
        info.language = float(participant.language[idx])
    for paradigm in participant.paradigms:
        info.concept_means[paradigm] = participant.concept_means(paradigm, voxels=np.array([idx]))[:, 0]
    if len(info.concept_means) >= 2:
        profiles = np.stack(list(info.concept_means.values()))  # (P, n)
        c = float(consistency(profiles[:, :, None])[0])
        info.C = c if np.isfinite(c) else None
        if with_null:
            add_null(info)


_CELLS_CACHE: dict[tuple[str, str, int], tuple[object, np.ndarray]] = {}


def add_quartile(info: VoxelInfo, participant, tables: list[Table] = (), rois: str = "paper") -> VoxelInfo:
    """Add the voxel's quartile cell (ROI, C quartile b_C, language quartile b_L) and the cell's
    predictivity r per paradigm from a loaded ``quartile_cells`` table (the quartiles analysis).

    rois : the ROI definition the analysis used ('paper' or a label NIfTI; from its provenance).
    """
    table = next((t for t in tables if t.name == "quartile_cells"), None)
    if table is None:
        info.quartile_note = "run “Consistency vs language quartiles” to see the bin"
        return info
    if participant is None or info.voxel < 0:
        info.quartile_note = "no voxel of the open dataset here"
        return info
    frame = table.frame
    rows = frame[frame["participant"].astype(str) == str(participant.id)]
    if rows.empty:
        info.quartile_note = f"{participant.id} is not in the quartile results"
        return info
    key = (str(participant.id), str(rois), id(participant))  # the participant is kept: no id reuse
    if key not in _CELLS_CACHE:
        from core.analyses.quartiles import participant_cells
        from core.analyses.rsa import load_rois
        from core.errors import StudioError

        try:
            labels, _ = participant_cells(participant, load_rois(rois).sample(participant.geometry))
        except StudioError as exc:
            info.quartile_note = str(exc)
            return info
        _CELLS_CACHE.clear()  # one participant at a time: the labels are (V,) int64
        _CELLS_CACHE[key] = (participant, labels)
    code = int(_CELLS_CACHE[key][1][info.voxel])
    if code == 0:
        info.quartile_note = "outside the quartile ROIs"
        return info
    from core.analyses.quartiles import decode_cells

    roi, b_c, b_l = (int(v) for v in decode_cells(code))
    cell = rows[(rows["roi"] == roi) & (rows["b_C"] == b_c) & (rows["b_L"] == b_l)]
    r = {str(p): float(v) for p, v in zip(cell.get("paradigm", ["all"] * len(cell)), cell["r"], strict=False)}
    info.quartile_cell = {"roi": int(roi), "b_C": int(b_c), "b_L": int(b_l), "r": r}
    return info


def add_null(info: VoxelInfo) -> VoxelInfo:
    """Add the permutation null of C (the consistency analysis's permutations: same count and seed) and
    its p-value to ``info`` (needs ``info.C`` and the concept means)."""
    from core.analyses.consistency import voxel_test

    if info.C is None or len(info.concept_means) < 2:
        return info
    profiles = np.stack(list(info.concept_means.values()))
    _c, info.null, info.p = voxel_test(profiles, NULL_PERMUTATIONS, NULL_SEED, backend="numpy")
    return info
