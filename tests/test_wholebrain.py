"""Whole-brain outputs against direct formulas and planted truth: the paper's area consistency (mean of the
probabilistic map over every atlas voxel, 0 outside), the Fig. 9 variants (raw area C, r / noise ceiling)
and the Fig. 13 language-network comparison (areas assigned to parcels by > 25% overlap)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, sem

from core.analyses.wholebrain.comparison import (
    area_predictivity,
    labels_on_grid,
    map_area_means,
    paper_area_consistency,
    probabilistic_volume,
    probabilistic_voxels,
    raw_area_c,
    wholebrain_correlation,
)
from core.analyses.wholebrain.language_network import (
    assign_areas,
    language_network_summary,
    language_network_table,
)
from core.atlas.labels import LabelVolume
from core.atlas.specs import LANA_PARCELS, resolve_parcels
from core.data.concepts import PARADIGMS
from core.data.dataset import Dataset, ParticipantData
from core.data.geometry import VoxelGeometry
from core.stats.noise_ceiling import ceiling_normalise
from tests.tolerance import assert_f32_close

SHAPE = (8, 7, 6)
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
AREA_NAMES = ["L_A5", "L_STSdp", "L_45", "L_PH", "L_V1", "R_V1"]


def _atlas(rng, shape=SHAPE, affine=AFFINE, n=len(AREA_NAMES)) -> LabelVolume:
    data = rng.integers(0, n + 1, size=shape).astype(np.int32)
    table = pd.DataFrame({"label": np.arange(1, n + 1), "name": AREA_NAMES[:n]})
    return LabelVolume(data, affine, table)


def _voxel_table(rng, mask: np.ndarray, participants=("A", "B", "C")) -> pd.DataFrame:
    """consistency_voxels.csv rows: each participant on its own random part of ``mask``."""
    rows = []
    for pid in participants:
        for i, j, k in np.argwhere(mask & (rng.random(mask.shape) < 0.8)):
            rows.append({"participant": pid, "i": i, "j": j, "k": k, "x": 2 * i, "y": 2 * j, "z": 2 * k,
                         "significant": rng.random() < 0.6, "replicated": rng.random() < 0.4})
    return pd.DataFrame(rows)


def test_paper_area_consistency_averages_over_every_atlas_voxel():
    rng = np.random.default_rng(1)
    atlas = _atlas(rng)
    mask = np.zeros(SHAPE, bool)
    mask[1:6, 1:6, 1:5] = True  # the data cover only part of the atlas
    table = _voxel_table(rng, mask)
    prob = probabilistic_voxels(table)
    # direct: the paper's map (fraction replicated, 0 elsewhere) and mean_map[glasser_map == idx].mean()
    mean_map = np.zeros(SHAPE)
    n = table["participant"].nunique()
    for (i, j, k), g in table.groupby(["i", "j", "k"]):
        mean_map[i, j, k] = g["replicated"].sum() / n
    np.testing.assert_allclose(probabilistic_volume(prob, SHAPE), mean_map)
    grid = VoxelGeometry(mask, AFFINE)
    got = paper_area_consistency(prob, grid, atlas).set_index("area")
    for label, name in zip(atlas.table["label"], atlas.table["name"], strict=True):
        assert got.loc[name, "consistency"] == pytest.approx(mean_map[atlas.data == label].mean(), rel=1e-12)
        assert got.loc[name, "n_voxels"] == np.sum(atlas.data == label)
    # the former definition (mean over the voxels present in the table) is larger: zeros now count
    old = map_area_means(prob, atlas.data[tuple(prob[["i", "j", "k"]].to_numpy().T)], atlas.name_of())
    assert np.all(old.set_index("area")["consistency"] > got.loc[old["area"], "consistency"])


def test_probabilistic_volume_rejects_voxels_off_the_grid():
    prob = pd.DataFrame({"i": [0, 9], "j": [0, 0], "k": [0, 0], "p_sig": [0.5, 1.0]})
    from core.errors import DataError

    with pytest.raises(DataError, match="outside the data grid"):
        probabilistic_volume(prob, SHAPE)


def test_labels_on_grid_matches_nilearn_nearest_resampling():
    from nilearn.image import resample_to_img

    rng = np.random.default_rng(2)
    atlas = _atlas(rng, shape=(20, 22, 18), affine=np.diag([2.0, 2.0, 2.0, 1.0]))
    target_affine = np.array([[3.0, 0, 0, 0.7], [0, 3.0, 0, -1.3], [0, 0, 3.0, 0.4], [0, 0, 0, 1]])
    target_shape = (14, 15, 12)
    got = labels_on_grid(atlas, target_shape, target_affine)
    target = nib.Nifti1Image(np.zeros(target_shape, np.float32), target_affine)
    want = resample_to_img(nib.Nifti1Image(atlas.data, atlas.affine), target, interpolation="nearest",
                           force_resample=True, copy_header=True).get_fdata()
    np.testing.assert_array_equal(got, np.rint(want).astype(np.int32))


def _dataset(rng, concepts, geom, n_stim=3, nan_voxels=()) -> Dataset:
    people = {}
    for pid in ("P1", "P2", "P3"):
        events, betas = {}, {}
        for paradigm in PARADIGMS:
            rows = [(c, s) for c in concepts for s in range(1, n_stim + 1)]
            order = rng.permutation(len(rows))
            events[paradigm] = pd.DataFrame({"concept": [rows[i][0] for i in order],
                                             "stimulus_idx": pd.array([rows[i][1] for i in order], "Int64"),
                                             "split": pd.array([1 + rows[i][1] % 2 for i in order], "Int64")})
            shared = rng.standard_normal((len(concepts), 1))
            concept_of = np.array([concepts.index(rows[i][0]) for i in order])
            b = (shared[concept_of] + rng.standard_normal((len(rows), geom.n_voxels))).astype(np.float32)
            b[:, list(nan_voxels)] = np.nan
            betas[paradigm] = b
        people[pid] = ParticipantData(pid, geom, events, {p: (lambda b=b: b) for p, b in betas.items()})

    class Loader:
        def load_participant(self, pid):
            return people[pid]

    return Dataset(Path("."), "mem", "native", "MNI152_2mm", PARADIGMS, tuple(people), Loader(),
                   concepts=tuple(concepts))


def test_raw_area_c_is_the_papers_compute_consistency_in_parcel():
    rng = np.random.default_rng(3)
    concepts = [f"c{i:02d}" for i in range(15)]
    mask = np.zeros(SHAPE, bool)
    mask[1:7, 1:6, 1:5] = True
    geom = VoxelGeometry(mask, AFFINE)
    dataset = _dataset(rng, concepts, geom, nan_voxels=(0, 5))
    atlas = _atlas(rng)
    got = raw_area_c(dataset, dataset.participants, atlas).set_index("area")["C_area"]
    labels = atlas.sample(geom)
    per_participant = []
    for pid in dataset.participants:
        data = dataset.participant(pid)
        for label, name in zip(atlas.table["label"], atlas.table["name"], strict=True):
            rows = []
            for paradigm in PARADIGMS:
                beta = np.nanmean(data.betas(paradigm)[:, labels == label], axis=1)  # parcel-averaged betas
                rows.append(pd.DataFrame({"concept": data.events[paradigm]["concept"], "paradigm": paradigm,
                                          "beta": beta}))
            frame = pd.concat(rows).groupby(["concept", "paradigm"]).mean().reset_index()
            corrs = frame.pivot(index="concept", values="beta", columns="paradigm").corr().values
            per_participant.append((name, corrs[np.triu_indices_from(corrs, 1)].mean()))
    want = pd.DataFrame(per_participant, columns=["area", "C"]).groupby("area")["C"].mean()
    assert_f32_close(got.loc[want.index], want)  # float32 C vs pandas float64 correlations


def test_ceiling_normalised_predictivity_divides_each_entry_before_averaging():
    rng = np.random.default_rng(4)
    rows = []
    nc = {"a1": 0.5, "a2": 0.8, "a3": 0.0}
    for p in ("P1", "P2", "P3"):
        for m in ("m1", "m2"):
            for a, c in nc.items():
                rows.append({"participant": p, "model": m, "paradigm": "sentences", "target": a,
                             "mean_r": rng.normal(0.1, 0.05), "noise_ceiling": c})
    summary = pd.DataFrame(rows)
    summary["r_normalised"] = ceiling_normalise(summary["mean_r"], summary["noise_ceiling"])
    got = area_predictivity(summary, value="r_normalised").set_index("area")
    for a, c in nc.items():
        x = summary.loc[summary["target"] == a, "mean_r"].to_numpy() / c if c > 0 else None
        if x is None:
            assert np.isnan(got.loc[a, "mean_r"]) and got.loc[a, "n"] == 0
            continue
        assert got.loc[a, "mean_r"] == pytest.approx(x.mean(), rel=1e-12)
        assert got.loc[a, "sem_r"] == pytest.approx(sem(x), rel=1e-12)
    table = got.reset_index().assign(consistency=[0.1, 0.3, 0.2])
    corr = wholebrain_correlation(table)
    assert corr["n_areas"].iloc[0] == 2 and np.isnan(corr["r"].iloc[0])  # 2 areas: no r


def _planted_overlaps():
    """Areas (10 x 10 voxel slabs, 100 voxels) and parcels with planted overlap shares."""
    areas = np.zeros((10, 10, 8), np.int32)
    parcels = np.zeros_like(areas)
    for k in range(6):
        areas[:, :, k] = k + 1
    flat = lambda k, n: (np.arange(100) < n).reshape(10, 10)  # noqa: E731 - first n voxels of slab k
    parcels[:, :, 0][flat(0, 30)] = 1                      # area 1: 30% in IFGorb -> assigned
    parcels[:, :, 1][flat(1, 20)] = 1                      # area 2: 20% -> not
    parcels[:, :, 2][flat(2, 30)] = 1                      # area 3: 30% IFGorb, 40% IFG -> IFG
    parcels[:, :, 2][~flat(2, 30) & flat(2, 70)] = 2
    parcels[:, :, 3][flat(3, 25)] = 4                      # area 4: exactly 25% -> not (more than 25%)
    parcels[:, :, 4][flat(4, 26)] = 3                      # area 5: 26% MFG, 26% PostTemp -> the later one
    parcels[:, :, 4][~flat(4, 26) & flat(4, 52)] = 5
    parcels[:, :, 5][flat(5, 60)] = 6                      # area 6: 60% AngG -> assigned
    parcels[0, 0, 7] = 9                                   # a label beyond 1-6 (LanA right hemisphere)
    names = ["L_A5", "L_STSdp", "L_45", "L_PH", "L_TE2p", "L_IFSa"]
    vol = LabelVolume(areas, AFFINE, pd.DataFrame({"label": range(1, 7), "name": names}))
    return vol, parcels


def _paper_assignment(glasser_map, names, lang_map, parcel_names):
    """The paper's loop (figures.py, lang_network_vs_sem_cons_rois), written out for the test."""
    out = {}
    for idx, pname in parcel_names.items():
        ids, sizes = np.unique(glasser_map[lang_map == idx], return_counts=True)
        for gid, ov in zip(ids, sizes, strict=True):
            if gid == 0:
                continue
            share = ov / np.sum(glasser_map == gid)
            if share > 0.25:
                if names[gid] in out and share < out[names[gid]][1]:
                    continue
                out[names[gid]] = (pname, share)
    return out


def test_assign_areas_planted_overlaps_and_the_papers_loop(tmp_path):
    areas, parcels = _planted_overlaps()
    path = tmp_path / "lang.nii.gz"
    nib.save(nib.Nifti1Image(parcels.astype(np.int16), AFFINE), str(path))
    lana = resolve_parcels(str(path))  # no table beside it: read as LanA, labels 1-6
    assert lana.names() == list(LANA_PARCELS.values()) and 9 not in lana.ids()
    got = assign_areas(areas, lana)
    want = {"L_A5": ("IFGorb", 0.30), "L_45": ("IFG", 0.40), "L_TE2p": ("PostTemp", 0.26),
            "L_IFSa": ("AngG", 0.60)}
    assert dict(zip(got["area"], zip(got["parcel"], got["overlap"], strict=True), strict=True)) == want
    assert got.set_index("area").loc["L_45", "n_overlap"] == 40
    paper = _paper_assignment(areas.data, areas.name_of(), parcels, LANA_PARCELS)
    assert {k: (v[0], pytest.approx(v[1])) for k, v in paper.items()} == want
    # random blocky volumes: the vectorised assignment equals the paper's loop
    rng = np.random.default_rng(5)
    for _ in range(5):
        a = np.kron(rng.integers(0, 12, (5, 5, 4)), np.ones((2, 2, 2), int)).astype(np.int32)
        p = np.kron(rng.integers(0, 7, (4, 4, 3)), np.ones((3, 3, 3), int))[:10, :10, :8].astype(np.int32)
        names = pd.DataFrame({"label": range(1, 12), "name": [f"a{i}" for i in range(1, 12)]})
        vol = LabelVolume(a, AFFINE, names)
        pv = LabelVolume(p, AFFINE, pd.DataFrame({"label": range(1, 7), "name": list(LANA_PARCELS.values())}))
        got = assign_areas(vol, pv)
        ref = _paper_assignment(a, vol.name_of(), p, LANA_PARCELS)
        assert dict(zip(got["area"], got["parcel"], strict=True)) == {k: v[0] for k, v in ref.items()}
        shares = got.set_index("area").loc[list(ref), "overlap"]
        np.testing.assert_allclose(shares, [v[1] for v in ref.values()], rtol=1e-12)
    # a table beside the NIfTI names the parcels; a 1 mm copy of the parcels gives the same assignment
    fine = tmp_path / "fine.nii.gz"
    up = np.repeat(np.repeat(np.repeat(parcels, 2, 0), 2, 1), 2, 2).astype(np.int16)
    nib.save(nib.Nifti1Image(up, np.eye(4)), str(fine))
    pd.DataFrame({"label": [1, 2, 3, 4, 5, 6, 9], "name": [f"p{i}" for i in (1, 2, 3, 4, 5, 6, 9)]}).to_csv(
        tmp_path / "fine.tsv", sep="\t", index=False)
    named = assign_areas(areas, resolve_parcels(str(fine)))
    assert dict(zip(named["area"], named["parcel"], strict=True)) == {
        "L_A5": "p1", "L_45": "p2", "L_TE2p": "p5", "L_IFSa": "p6"}


def test_language_network_table_summary_and_figure():
    areas, parcels = _planted_overlaps()
    lana = LabelVolume(np.where(parcels <= 6, parcels, 0), AFFINE,
                       pd.DataFrame({"label": range(1, 7), "name": list(LANA_PARCELS.values())}))
    assignment = assign_areas(areas, lana)
    rng = np.random.default_rng(6)
    names = ["L_A5", "L_STSdp", "L_TPOJ1", "L_TPOJ2", "L_IFSa", "L_45", "L_FOP5", "L_TE2p", "L_PH", "L_V1"]
    pred = pd.DataFrame([{"paradigm": p, "area": a, "mean_r": rng.uniform(0, 0.3), "sem_r": 0.01, "n": 4}
                         for p in ("sentences", "pictures") for a in names])
    table = language_network_table(pred, assignment, lana.names())
    for row in table.itertuples():
        assert row.mean_r == pred.set_index(["paradigm", "area"]).loc[(row.paradigm, row.area), "mean_r"]
    sent = table[table["paradigm"] == "sentences"]
    assert list(dict.fromkeys(sent["location"])) == ["IFGorb", "IFG", "PostTemp", "AngG", "ROI 1", "ROI 2",
                                                    "ROI 3"]
    assert sorted(sent.loc[sent["location"] == "ROI 1", "area"]) == ["L_A5", "L_STSdp", "L_TPOJ1", "L_TPOJ2"]
    assert "L_V1" not in set(table["area"])
    summary = language_network_summary(table).set_index(["paradigm", "location"])
    p = pred[pred["paradigm"] == "sentences"].set_index("area")["mean_r"]
    roi_areas = ["L_A5", "L_STSdp", "L_TPOJ1", "L_TPOJ2", "L_IFSa", "L_45", "L_FOP5", "L_TE2p", "L_PH"]
    assert summary.loc[("sentences", "all ROIs"), "mean_r"] == pytest.approx(p[roi_areas].mean())
    assert summary.loc[("sentences", "all ROIs"), "n_areas"] == 9
    lang = ["L_A5", "L_45", "L_TE2p", "L_IFSa"]
    assert summary.loc[("sentences", "all language parcels"), "mean_r"] == pytest.approx(p[lang].mean())
    assert summary.loc[("sentences", "ROI 3"), "sem_r"] == pytest.approx(sem(p[["L_TE2p", "L_PH"]]))
    from core.figures.wholebrain_figures import language_strip

    fig = language_strip(table)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][:2] == ["IFGorb", "IFG"]


def test_wholebrain_outputs_with_user_atlas_results_and_parcels(tmp_path):
    from app.plugins.encoding import wholebrain_outputs

    rng = np.random.default_rng(7)
    concepts = [f"c{i:02d}" for i in range(12)]
    mask = np.zeros(SHAPE, bool)
    mask[1:7, 1:6, 1:5] = True
    geom = VoxelGeometry(mask, AFFINE)
    dataset = _dataset(rng, concepts, geom)
    atlas = _atlas(rng)
    atlas_path = tmp_path / "areas.nii.gz"
    atlas.save(atlas_path)
    results = tmp_path / "results"
    results.mkdir()
    voxels = _voxel_table(rng, mask, dataset.participants)
    voxels.to_csv(results / "consistency_voxels.csv", index=False)
    summary = pd.DataFrame([{"participant": p, "paradigm": par, "target": a, "model": "m",
                             "mean_r": rng.normal(0.1, 0.05), "noise_ceiling": 0.5}
                            for p in dataset.participants for par in ("sentences", "pictures")
                            for a in AREA_NAMES])
    summary["r_normalised"] = summary["mean_r"] / 0.5
    parcels = np.where(atlas.data == 3, 2, 0)  # L_45 entirely in IFG
    nib.save(nib.Nifti1Image(parcels.astype(np.int16), AFFINE), str(tmp_path / "lang.nii"))
    params = {"atlas": str(atlas_path), "atlas_table": "", "parcels": str(tmp_path / "lang.nii")}
    out = {o.name: o for o in wholebrain_outputs(summary, results, dataset, dataset.participants, params)}
    assert {"wholebrain_areas", "wholebrain_nc_areas", "wholebrain_raw_c_areas", "language_network_areas",
            "language_network_summary", "language_network_strip", "wholebrain_raw_c_scatter"} <= set(out)
    cons = paper_area_consistency(probabilistic_voxels(voxels), geom, atlas).set_index("area")["consistency"]
    wb = out["wholebrain_areas"].frame
    np.testing.assert_allclose(wb["consistency"], cons.loc[wb["area"]].to_numpy())
    sent = wb[wb["paradigm"] == "sentences"]
    r = out["wholebrain_correlation"].frame.set_index("paradigm").loc["sentences", "r"]
    assert r == pytest.approx(pearsonr(sent["consistency"], sent["mean_r"])[0])
    nc = out["wholebrain_nc_areas"].frame
    np.testing.assert_allclose(nc["mean_r_nc"], 2 * wb["mean_r"].to_numpy(), rtol=1e-12)
    raw = raw_area_c(dataset, dataset.participants, atlas).set_index("area")["C_area"]
    rc = out["wholebrain_raw_c_areas"].frame
    np.testing.assert_allclose(rc["C_area"], raw.loc[rc["area"]].to_numpy())
    lang = out["language_network_areas"].frame
    assert set(lang.loc[lang["group"] == "language", "area"]) == {"L_45"}
    # a consistency run's consistency_areas.csv (same participants, covering the areas) is used as it is
    pd.DataFrame({"area": AREA_NAMES, "C_area": np.arange(6) / 10}).to_csv(results / "consistency_areas.csv",
                                                                           index=False)
    out = {o.name: o for o in wholebrain_outputs(summary, results, dataset, dataset.participants, params)}
    rc = out["wholebrain_raw_c_areas"].frame
    np.testing.assert_allclose(rc["C_area"], [AREA_NAMES.index(a) / 10 for a in rc["area"]])
    assert "consistency_areas.csv" in out["wholebrain_raw_c_areas"].description


def test_published_roi_map_as_parcels_assigns_each_roi_area_to_its_roi(shared_data):
    """The release's roi_map.nii.gz read as a parcel atlas (labels 1-3): with the Glasser MNI volume, the
    overlap rule gives every ROI area to its own ROI (plus L_STSvp to ROI 1)."""
    from core.atlas.glasser import glasser_mni
    from core.atlas.rois import PAPER_ROIS

    path = shared_data / "outputs" / "roi_map.nii.gz"
    if not path.is_file():
        pytest.skip("roi_map.nii.gz not in the release folder")
    got = assign_areas(glasser_mni(), resolve_parcels(str(path)))
    owner = dict(zip(got["area"], got["parcel_label"], strict=True))
    for n, areas in enumerate(PAPER_ROIS.values(), start=1):
        assert all(owner.get(a) == n for a in areas), (n, {a: owner.get(a) for a in areas})
    assert set(owner) - {a for areas in PAPER_ROIS.values() for a in areas} == {"L_STSvp"}
    assert got["overlap"].min() > 0.4
