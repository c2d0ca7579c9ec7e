"""The ``consistency`` plugin end to end: files, columns, numbers against the core functions, CLI."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from app.cli import main as cli_main
from app.plugins.consistency import ConsistencyPlugin
from app.plugins.runner import run_analysis
from core.analyses.consistency.maps import participant_consistency
from core.data.readers import open_dataset
from core.errors import Cancelled, ParameterError
from core.outputs import AreaTable, Table, VoxelMap


@pytest.fixture
def label_atlas(tmp_path, tiny_native):
    """A label NIfTI on the tiny dataset's grid: label 1 on i < 3, label 202 on i >= 3, plus its TSV."""
    path, truth = tiny_native
    geom = truth["S1"]["geometry"]
    data = np.zeros(geom.shape, np.int16)
    data[:3] = 1
    data[3:] = 202
    data[0, 0, 0] = 0
    nifti = tmp_path / "areas.nii.gz"
    nib.save(nib.Nifti1Image(data, geom.affine), nifti)
    tsv = tmp_path / "areas.tsv"
    pd.DataFrame({"label": [1, 202, 5], "name": ["L_front", "R_back", "L_absent"]}).to_csv(
        tsv, sep="\t", index=False
    )
    return nifti, tsv, geom.from_volume(data)


def test_plugin_outputs_match_core(tiny_native, tmp_path, label_atlas):
    path, truth = tiny_native
    nifti, tsv, labels = label_atlas
    params = {"n_permutations": "99", "seed": "3", "atlas": str(nifti), "atlas_table": str(tsv)}
    seen = []
    record = run_analysis(
        ConsistencyPlugin, path, params, tmp_path / "out", progress=lambda f, m: seen.append(f)
    )
    out = tmp_path / "out"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        "consistency_voxels.csv", "consistency_areas.csv", "consistency_rois.csv",
        "group_probabilistic.nii.gz", "manifest.json", "provenance.json",
        "sub-S1_C.nii.gz", "sub-S1_p.nii.gz", "sub-S2_C.nii.gz", "sub-S2_p.nii.gz",
    ])  # fmt: skip
    kinds = {type(o).__name__ for o in record.outputs}
    assert kinds == {"Table", "AreaTable", "VoxelMap"}
    assert seen == sorted(seen) and seen[-1] == 1.0

    voxels = pd.read_csv(out / "consistency_voxels.csv")
    assert list(voxels.columns) == [
        "participant", "i", "j", "k", "x", "y", "z", "C", "p", "significant",
        "C_split1", "p_split1", "C_split2", "p_split2", "replicated",
    ]  # fmt: skip
    dataset = open_dataset(path)
    replicated = []
    for pid in ("S1", "S2"):
        data = dataset.participant(pid)
        ref = participant_consistency(data, 99, seed=3)
        rows = voxels[voxels["participant"] == pid]
        np.testing.assert_allclose(rows["C"], ref.C, atol=1e-6)
        np.testing.assert_allclose(rows["p"], ref.p)
        np.testing.assert_array_equal(rows["replicated"], ref.replicated)
        np.testing.assert_array_equal(
            rows["replicated"], (rows["p_split1"] <= 0.05) & (rows["p_split2"] <= 0.05)
        )
        np.testing.assert_array_equal(rows[["i", "j", "k"]], data.geometry.ijk)
        np.testing.assert_allclose(rows[["x", "y", "z"]], data.geometry.xyz)
        c_img = nib.load(out / f"sub-{pid}_C.nii.gz")
        np.testing.assert_allclose(data.geometry.from_volume(np.asarray(c_img.dataobj)), ref.C, atol=1e-6)
        replicated.append(ref.replicated)
    geom = truth["S1"]["geometry"]
    group = geom.from_volume(np.asarray(nib.load(out / "group_probabilistic.nii.gz").dataobj))
    np.testing.assert_allclose(group, np.mean(replicated, axis=0))

    areas = pd.read_csv(out / "consistency_areas.csv")
    assert list(areas.columns) == ["area", "hemisphere", "label", "n_voxels", "mean_group",
                                   "fraction_significant", "C_area"]  # fmt: skip
    assert areas["area"].tolist() == ["L_front", "R_back"]
    front = areas.iloc[0]
    assert front["n_voxels"] == (labels == 1).sum()
    assert front["mean_group"] == pytest.approx(group[labels == 1].mean())
    sig = voxels.pivot(index=["i", "j", "k"], columns="participant", values="significant").mean(axis=1)
    assert front["fraction_significant"] == pytest.approx(sig.to_numpy()[labels == 1].mean())
    assert np.isfinite(areas["C_area"]).all() and (areas["C_area"].abs() < 0.5).all()

    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["seeds"] == {"permutations": 3}
    assert provenance["n_permutations"] == 99
    assert provenance["parameters"]["n_permutations"] == 99


def test_participants_correction_and_no_atlas(tiny_native):
    path, _truth = tiny_native
    params = {"n_permutations": 49, "participants": "S2", "correction": "maxstat", "split_halves": False,
              "atlas": "none", "rois": "none"}  # fmt: skip
    record = run_analysis(ConsistencyPlugin, path, params)
    tables = [o for o in record.outputs if isinstance(o, Table)]
    assert [t.name for t in tables] == ["consistency_voxels"] and not any(
        isinstance(t, AreaTable) for t in tables
    )
    frame = tables[0].frame
    assert set(frame["participant"]) == {"S2"}
    assert "replicated" not in frame and "p_corrected" in frame
    assert {o.name for o in record.outputs if isinstance(o, VoxelMap)} == {
        "sub-S2_C", "sub-S2_p", "group_probabilistic"
    }  # fmt: skip
    with pytest.raises(ParameterError):
        run_analysis(ConsistencyPlugin, path, {"participants": "S9"})
    with pytest.raises(ParameterError):
        run_analysis(ConsistencyPlugin, path, {"correction": "bonferroni"})


def test_parquet_voxel_table_equals_the_csv_one(tiny_native, tmp_path):
    path, _truth = tiny_native
    params = {"n_permutations": 19, "atlas": "none", "rois": "none"}
    run_analysis(ConsistencyPlugin, path, params, tmp_path / "csv")
    run_analysis(ConsistencyPlugin, path, {**params, "table_format": "parquet"}, tmp_path / "pq")
    assert not (tmp_path / "pq" / "consistency_voxels.csv").exists()
    csv = pd.read_csv(tmp_path / "csv" / "consistency_voxels.csv")
    pq = pd.read_parquet(tmp_path / "pq" / "consistency_voxels.parquet")
    assert list(csv.columns) == list(pq.columns) and len(csv) == len(pq)
    for col in csv:
        if pq[col].dtype.kind == "f":
            np.testing.assert_array_equal(csv[col].to_numpy(pq[col].dtype), pq[col].to_numpy())  # repr: exact
        else:
            np.testing.assert_array_equal(csv[col].to_numpy(), pq[col].to_numpy())
    # later runs read either (--results): the same table back
    from core.analyses.consistency.maps import read_consistency_voxels

    (_, from_csv), (_, from_pq) = (read_consistency_voxels(tmp_path / d, "test") for d in ("csv", "pq"))
    assert from_pq["participant"].tolist() == from_csv["participant"].tolist()
    np.testing.assert_array_equal(from_pq["C"].to_numpy(), from_csv["C"].to_numpy(from_pq["C"].dtype))


def test_cancel_writes_nothing(tiny_native, tmp_path):
    path, _truth = tiny_native

    class Cancel:
        def is_set(self):
            return True

    with pytest.raises(Cancelled):
        run_analysis(ConsistencyPlugin, path, {"n_permutations": 9}, tmp_path / "out", cancel=Cancel())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_run_with_glasser_areas(tiny_native, tmp_path, monkeypatch, capsys):
    path, _truth = tiny_native
    monkeypatch.setenv("CBS_ATLAS_CACHE", str(tmp_path / "atlas-cache"))
    out = tmp_path / "cli-out"
    sets = ["n_permutations=19", "seed=0", "alpha=0.05", "correction=fdr_bh", "split_halves=true"]
    argv = ["run", "consistency", "--data", str(path), "--out", str(out), "--device", "cpu"]
    argv += [a for s in sets for a in ("--set", s)]
    assert cli_main(argv) == 0
    assert (out / "consistency_voxels.csv").is_file() and (out / "consistency_areas.csv").is_file()
    areas = pd.read_csv(out / "consistency_areas.csv")
    assert set(areas["hemisphere"]) <= {"L", "R"}
    assert cli_main([*argv[:5], str(tmp_path / "bad"), "--set", "alpha=2"]) == 2  # out of bounds
    assert "alpha" in capsys.readouterr().err


def test_glasser_is_skipped_for_data_outside_mni(tiny_native, tmp_path):
    from core.data.readers.native import write_native

    _path, truth = tiny_native
    native = write_native(tmp_path / "native", "native", {"S1": truth["S1"]}, space="native")
    record = run_analysis(ConsistencyPlugin, native, {"n_permutations": 9, "split_halves": False})
    assert not any(isinstance(o, AreaTable) for o in record.outputs)
    assert "native" in record.provenance["atlas_skipped"]


def test_roi_table_uses_any_roi_map(tiny_native, tmp_path, label_atlas):
    """rois=PATH gives the ROI table the same numbers as the area table gives for that label map."""
    path, _truth = tiny_native
    nifti, tsv, _labels = label_atlas
    base = {"n_permutations": 19, "seed": 1, "split_halves": False}
    areas = run_analysis(ConsistencyPlugin, path, {**base, "atlas": str(nifti), "atlas_table": str(tsv),
                                                    "rois": "none"}, tmp_path / "a")
    rois = run_analysis(ConsistencyPlugin, path, {**base, "atlas": "none", "rois": str(nifti),
                                                   "roi_table": str(tsv)}, tmp_path / "b")
    area_frame = next(o.frame for o in areas.outputs if o.name == "consistency_areas")
    roi_frame = next(o.frame for o in rois.outputs if o.name == "consistency_rois")
    assert roi_frame["roi"].tolist() == ["L_front", "R_back"]
    pd.testing.assert_frame_equal(roi_frame.rename(columns={"roi": "area"}), area_frame)
    assert json.loads((tmp_path / "b" / "provenance.json").read_text())["rois"] == str(nifti)
