"""Native reader: 4D NIfTI betas, concept-level tables, NaN / zero-variance voxels, concept-set checks."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from core.data.concepts import PARADIGMS, load_concepts
from core.data.geometry import VoxelGeometry
from core.data.readers import open_dataset
from core.data.readers.native import write_native
from core.errors import DataError


def _geometry():
    mask = np.zeros((5, 4, 3), bool)
    mask[1:4, 1:3, :] = True
    return VoxelGeometry(mask, np.diag([3.0, 3.0, 3.0, 1.0]))


def _concept_level(rng, geom, concepts=None):
    concepts = list(concepts or load_concepts())
    events = {p: pd.DataFrame({"concept": concepts}) for p in PARADIGMS}
    betas = {p: rng.standard_normal((len(concepts), geom.n_voxels)).astype(np.float32) for p in PARADIGMS}
    return {"geometry": geom, "events": events, "betas": betas, "language": None}


def test_concept_level_native(tmp_path):
    """One row per concept with empty stimulus_idx (the public Pereira shape) round-trips."""
    rng = np.random.default_rng(0)
    geom = _geometry()
    sub = _concept_level(rng, geom)
    path = write_native(tmp_path / "ds", "concept-level", {"P01": sub})
    data = open_dataset(path).participant("P01")
    for p in PARADIGMS:
        assert data.events[p]["stimulus_idx"].isna().all()
        np.testing.assert_array_equal(data.concept_means(p), sub["betas"][p])
    assert not data.has_splits()


def test_nifti_betas_are_accepted(tmp_path):
    """<paradigm>_betas.nii.gz (4D, one volume per trial) instead of .npy gives the same responses."""
    rng = np.random.default_rng(1)
    geom = _geometry()
    sub = _concept_level(rng, geom, concepts=["Dog", "Bird"])
    path = write_native(tmp_path / "ds", "nii", {"P01": sub})
    for p in PARADIGMS:
        vol = geom.to_volume(sub["betas"][p].T)  # (X, Y, Z, T)
        nib.save(nib.Nifti1Image(vol, geom.affine), path / "sub-P01" / f"{p}_betas.nii.gz")
        (path / "sub-P01" / f"{p}_betas.npy").unlink()
    data = open_dataset(path).participant("P01")
    for p in PARADIGMS:
        np.testing.assert_array_equal(data.betas(p), sub["betas"][p])


def test_nan_and_constant_voxels_load_and_give_nan(tmp_path):
    rng = np.random.default_rng(2)
    geom = _geometry()
    sub = _concept_level(rng, geom)
    for p in PARADIGMS:
        sub["betas"][p][:, 0] = np.nan
        sub["betas"][p][:, 1] = 0.5
    data = open_dataset(write_native(tmp_path / "ds", "nan", {"P01": sub})).participant("P01")
    means = data.concept_means("sentences")
    assert np.isnan(means[:, 0]).all() and np.all(means[:, 1] == 0.5)
    np.testing.assert_array_equal(means[:, 2:], sub["betas"]["sentences"][:, 2:])


def test_concepts_must_match_across_paradigms(tmp_path):
    rng = np.random.default_rng(3)
    geom = _geometry()
    sub = _concept_level(rng, geom)
    keep = np.array([c != "Dog" for c in load_concepts()])
    sub["events"]["pictures"] = sub["events"]["pictures"][keep].reset_index(drop=True)
    sub["betas"]["pictures"] = sub["betas"]["pictures"][keep]
    path = write_native(tmp_path / "ds", "differ", {"P01": sub})
    with pytest.raises(DataError, match="concepts differ .* missing Dog") as err:
        open_dataset(path).participant("P01")
    assert err.value.path == path / "sub-P01" / "pictures_events.tsv"
