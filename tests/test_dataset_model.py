"""Dataset model: native round trip, concept means against a direct pandas groupby, geometry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.concepts import PARADIGMS, canonical_concept, load_concepts
from core.data.geometry import MNI_2MM_AFFINE, VoxelGeometry
from core.data.readers import open_dataset


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
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-5, atol=1e-6)


def test_label_means_ignore_nan(tiny_native):
    path, truth = tiny_native
    sub = open_dataset(path).participant("S1")
    labels = np.zeros(sub.n_voxels, int)
    labels[:10], labels[10:25] = 3, 7
    got = sub.label_means("sentences", labels)
    b = truth["S1"]["betas"]["sentences"]
    np.testing.assert_allclose(got[:, 0], b[:, :10].mean(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[:, 1], b[:, 10:25].mean(1), rtol=1e-5, atol=1e-6)


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
