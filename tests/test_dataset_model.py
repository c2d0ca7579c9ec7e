"""Dataset model: native round trip, concept means against a direct pandas groupby, geometry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.concepts import PARADIGMS, canonical_concept, load_concepts
from core.data.geometry import MNI_2MM_AFFINE, VoxelGeometry
from core.data.readers import open_dataset
from tests.tolerance import assert_f32_close


def test_concepts_are_the_papers_180():
    concepts = load_concepts()
    assert len(concepts) == 180 and len(set(concepts)) == 180
    assert concepts[0] == "Ability" and concepts[-1] == "Word"
    assert canonical_concept("count") == "Counting" and canonical_concept("SEXY") == "Sexy"
    assert canonical_concept("nonsense") is None


def test_native_round_trip(tiny_native):
    path, truth = tiny_native
    ds = open_dataset(path)
    assert ds.reader == "native" and ds.participants == ("S1", "S2") and ds.paradigms == PARADIGMS
    sub = ds.participant("S2")
    for p in PARADIGMS:
        np.testing.assert_array_equal(sub.betas(p), truth["S2"]["betas"][p])
        assert isinstance(sub.betas(p), np.memmap)
        assert list(sub.events[p]["concept"]) == list(truth["S2"]["events"][p]["concept"])
    np.testing.assert_allclose(sub.language, truth["S2"]["language"])
    assert sub.has_splits()


@pytest.mark.parametrize("split", [None, 1, 2])
def test_concept_means_match_groupby(tiny_native, split):
    path, truth = tiny_native
    sub = open_dataset(path).participant("S1")
    ev = truth["S1"]["events"]["pictures"]
    betas = truth["S1"]["betas"]["pictures"]
    frame = pd.DataFrame(betas)
    keep = np.ones(len(ev), bool) if split is None else (ev["split"] == split).to_numpy()
    expected = frame[keep].groupby(ev["concept"][keep].to_numpy()).mean().reindex(load_concepts())
    got = sub.concept_means("pictures", split=split)
    assert_f32_close(got, expected.to_numpy())


def test_label_means_ignore_nan(tiny_native):
    path, truth = tiny_native
    sub = open_dataset(path).participant("S1")
    labels = np.zeros(sub.n_voxels, int)
    labels[:10], labels[10:25] = 3, 7
    got = sub.label_means("sentences", labels)
    b = truth["S1"]["betas"]["sentences"]
    assert_f32_close(got[:, 0], b[:, :10].mean(1))
    assert_f32_close(got[:, 1], b[:, 10:25].mean(1))


def test_geometry_mni_coordinates_and_lookup():
    mask = np.zeros((91, 109, 91), bool)
    mask[45, 63, 36] = mask[10, 20, 30] = True
    geom = VoxelGeometry(mask, MNI_2MM_AFFINE)
    # index (45, 63, 36) is MNI (0, 0, 0) on the standard 2 mm grid
    np.testing.assert_allclose(geom.xyz[np.flatnonzero(geom.ijk[:, 0] == 45)[0]], [0, 0, 0])
    assert list(geom.index_of(np.array([[10, 20, 30], [45, 63, 36], [0, 0, 0]]))) == [0, 1, -1]
    assert geom.index_of_mm(np.array([[0.4, 0.2, -0.3]]))[0] == 1
    vol = geom.to_volume(np.array([1.0, 2.0]))
    assert vol[10, 20, 30] == 1 and vol[45, 63, 36] == 2 and np.isnan(vol[0, 0, 0])
    assert list(geom.hemisphere()) == ["R", "R"]


def _label_means_definition(betas, labels, label_ids):
    """The definition label_means replaces: per label, nanmean over its voxels per trial (float64)."""
    out = np.full((betas.shape[0], len(label_ids)), np.nan)
    for n, lab in enumerate(label_ids):
        cols = np.flatnonzero(labels == lab)
        block = np.asarray(betas[:, cols], dtype=np.float64)
        finite = np.isfinite(block)
        counts = finite.sum(axis=1)
        sums = np.where(finite, block, 0).sum(axis=1)
        out[:, n] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


@pytest.mark.parametrize("chunk", [16384, 7])  # one pass; many chunks (slab and gathered reads)
def test_label_means_equal_nanmean_definition(tiny_native, monkeypatch, chunk):
    from core.data import dataset as dataset_module

    monkeypatch.setattr(dataset_module, "VOXEL_CHUNK", chunk)
    path, truth = tiny_native
    sub = open_dataset(path).participant("S2")
    rng = np.random.default_rng(3)
    betas = np.array(truth["S2"]["betas"]["pictures"])
    betas[rng.random(betas.shape) < 0.05] = np.nan  # scattered NaN
    betas[:, 5] = np.nan  # a voxel NaN in every trial
    betas[:, 20:22] = np.nan  # label 9 all NaN: NaN column
    sub.betas_source["pictures"] = lambda: betas
    sub.release()
    labels = rng.choice([0, 2, 5, 11], sub.n_voxels)  # scattered labels, unlabelled voxels between
    labels[20:22] = 9
    labels[::6] = 4  # a sparse label (gathered reads)
    ids = np.array([11, 4, 2, 9, 5, 6])  # unsorted; 6 has no voxels
    got = sub.label_means("pictures", labels, ids)
    assert got.dtype == np.float32 and got.shape == (betas.shape[0], len(ids))
    assert_f32_close(got, _label_means_definition(betas, labels, ids))
    assert np.isnan(got[:, 3]).all() and np.isnan(got[:, 5]).all()
    default = sub.label_means("pictures", labels)  # default order: sorted labels present
    assert_f32_close(default, _label_means_definition(betas, labels, np.array([2, 4, 5, 9, 11])))
    sparse_labels = np.where(np.arange(sub.n_voxels) % 6 == 0, 4, 0)  # span > 2 x count: gathered columns
    assert_f32_close(sub.label_means("pictures", sparse_labels),
                     _label_means_definition(betas, sparse_labels, np.array([4])))  # fmt: skip
