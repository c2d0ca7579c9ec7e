"""Built-in plugin ``consistency``: semantic consistency maps, permutation test, split-half replication,
group probabilistic map and per-area summary (method.md §2). A thin adapter over
:mod:`core.analyses.consistency.maps` and :mod:`core.analyses.consistency.areas`; Qt-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from app.plugins.base import AnalysisPlugin, RunResult, choose_participants
from core.progress import check_cancel, sub_progress

# pandas and the analysis modules are imported in run(): listing plugins stays light (tests/test_startup.py)
if TYPE_CHECKING:
    from core.outputs import VoxelMap


class ConsistencyPlugin(AnalysisPlugin):
    manifest = "app.plugins.manifests:consistency.toml"

    def run(self, inputs, params, progress, cancel):
        import pandas as pd

        from core.analyses.consistency import (
            area_consistency,
            area_frame,
            group_fraction,
            participant_consistency,
            union_geometry,
        )
        from core.outputs import AreaTable, Table, VoxelMap

        dataset = inputs.open_dataset()
        pids = choose_participants(params["participants"], dataset.participants)
        provenance: dict = {}
        atlas, rois = _label_volumes(dataset, params, provenance)
        volumes = {name: vol for name, vol in (("areas", atlas), ("rois", rois)) if vol is not None}
        frames, outputs, results, sig_flags = [], [], [], []
        c_area: dict[str, dict[int, list[float]]] = {name: {} for name in volumes}
        for n, pid in enumerate(pids):
            check_cancel(cancel)
            report = sub_progress(progress, n / len(pids), (n + 1) / len(pids))
            data = dataset.participant(pid)
            try:
                result = participant_consistency(
                    data,
                    params["n_permutations"],
                    params["seed"],
                    params["alpha"],
                    params["correction"],
                    params["split_halves"],
                    concepts=dataset.concepts,
                    backend=params["backend"],
                    device=inputs.device,
                    progress=sub_progress(report, 0.0, 0.9),
                    cancel=cancel,
                )
                for name, volume in volumes.items():
                    report(0.9, f"{pid}: {name}-averaged consistency")
                    labels = volume.sample(data.geometry)
                    ids = np.unique(labels[labels != 0])
                    values = area_consistency(data, labels, ids, dataset.concepts)
                    for lab, value in zip(ids, values, strict=True):
                        c_area[name].setdefault(int(lab), []).append(float(value))
            finally:
                data.release()
            results.append(result)
            sig_flags.append((result.geometry, result.significant))
            frames.append(result.frame())
            outputs.append(
                _map(f"sub-{pid}_C", result.C, result, "Pearson r", "consistency C (all trials)", True)
            )
            outputs.append(
                _map(f"sub-{pid}_p", result.p, result, "p", "one-sided permutation p (all trials)")
            )
            report(1.0, f"{pid}: done")
        group_geometry = union_geometry([r.geometry for r in results])
        _, group = group_fraction([(r.geometry, r.group_flag) for r in results], group_geometry)
        replicated = all(r.replicated is not None for r in results)
        what = "replicated in both split halves" if replicated else "significant"
        outputs.append(
            VoxelMap("group_probabilistic", group, group_geometry, units="fraction of participants",
                     description=f"fraction of participants {what} (p <= {params['alpha']}, "
                     f"correction {params['correction']})", meta={"stat": "probabilistic"})
        )  # fmt: skip
        voxel_table = pd.concat(frames, ignore_index=True)
        voxel_table.attrs["table_format"] = params["table_format"]
        tables = [Table("consistency_voxels", voxel_table, "C and p per voxel")]
        if volumes:
            _, sig_fraction = group_fraction(sig_flags, group_geometry)
        for name, volume in volumes.items():
            c_mean = {lab: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
                      for lab, v in c_area[name].items()}
            frame = area_frame(volume.table, volume.sample(group_geometry), group, sig_fraction, c_mean)
            if name == "areas":
                tables.append(AreaTable("consistency_areas", frame, "consistency per atlas area"))
            else:
                tables.append(AreaTable("consistency_rois", frame.rename(columns={"area": "roi"}),
                                        f"consistency per ROI (rois={params['rois']})"))
        provenance.update(
            {
                "seeds": {"permutations": params["seed"]},
                "n_permutations": params["n_permutations"],
                "backend": results[0].backend,
                "participants": list(pids),
                "group_grid": "union of participant masks; denominator = number of participants",
                "group_map": what,
                "atlas": params["atlas"] if atlas is not None else "none",
                "rois": params["rois"] if rois is not None else "none",
            }
        )
        if params["correction"] == "fdr_bh":
            floor = 1.0 / (params["n_permutations"] + 1)
            provenance["note"] = (
                f"fdr_bh on permutation p-values: the smallest p is {floor:.2g}, so BH rejects nothing "
                f"unless at least {floor / params['alpha']:.2%} of a participant's voxels reach it; use more "
                f"permutations for large maps"
            )
        return RunResult([*tables, *outputs], provenance)


def _map(name, values, result, units, description, two_sided=False) -> VoxelMap:
    from core.outputs import VoxelMap

    meta = {"participant": result.participant, "stat": name.rsplit("_", 1)[-1]}
    return VoxelMap(name, values, result.geometry, units=units, description=description,
                    two_sided=two_sided, meta=meta)  # fmt: skip



def _label_volumes(dataset, params, provenance):
    """(area atlas or None, ROI volume or None); MNI-space atlases are skipped for other spaces."""
    from core.atlas.specs import resolve_atlas, resolve_rois

    atlas_spec, roi_spec = params["atlas"].strip(), params["rois"].strip()
    if "MNI" not in dataset.space:
        if atlas_spec.lower() == "glasser":
            provenance["atlas_skipped"] = f"Glasser areas are in MNI space; the data are {dataset.space}"
            atlas_spec = "none"
        if roi_spec in ("paper", "glasser-surface"):
            provenance["rois_skipped"] = f"the paper's ROIs are in MNI space; the data are {dataset.space}"
            roi_spec = "none"
    atlas = resolve_atlas(atlas_spec, params["atlas_table"] or None)
    rois = None if roi_spec.lower() == "none" else resolve_rois(roi_spec, params["roi_table"] or None)
    return atlas, rois
