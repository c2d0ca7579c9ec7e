"""Volume-to-surface mapping: planted voxels, KD-tree reference, vol_to_surf."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy.spatial import cKDTree

from core.atlas.meshes import load_mesh
from core.atlas.projection import VolumeToSurface, vol_to_surf
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
from core.errors import ParameterError


@pytest.fixture(scope="module")
def box_geometry() -> VoxelGeometry:
    mask = np.zeros(MNI_2MM_SHAPE, bool)
    mask[2:89, 2:107, 2:89] = True  # covers every cortical vertex
    return VoxelGeometry(mask, MNI_2MM_AFFINE)


@pytest.mark.parametrize("mesh", ["fs_LR32k", "fsaverage5"])
def test_full_mask_maps_to_nearest_voxel_of_midthickness(box_geometry, mesh):
    """With every voxel in the mask, each vertex maps to the voxel centre nearest its midthickness
    position (reference: a KD-tree over voxel centres)."""
    proj = VolumeToSurface(box_geometry, mesh)
    tree = cKDTree(box_geometry.xyz)
    for hemi in ("left", "right"):
        mid = load_mesh(mesh, "midthickness").hemis[hemi]
        dist, ref = tree.query(mid.vertices.astype(np.float64))
        got = proj.vertex_voxel[hemi]
        cortex = ~mid.medial_wall
        assert np.all(got[mid.medial_wall] == -1)
        # ties (a vertex equidistant to two centres) may go either way; they are rare
        agree = got[cortex] == ref[cortex]
        assert agree.mean() > 0.999
        # and whatever was chosen is within half a voxel diagonal (sqrt(3) mm) of the vertex
        d = np.linalg.norm(box_geometry.xyz[got[cortex]] - mid.vertices[cortex], axis=1)
        assert d.max() <= np.sqrt(3) + 1e-4


def test_planted_voxel_appears_at_vertices_within_2mm(box_geometry):
    proj = VolumeToSurface(box_geometry, "fs_LR32k")
    mid = load_mesh("fs_LR32k", "midthickness").hemis["left"]
    vertex = int(np.flatnonzero(~mid.medial_wall)[5000])
    voxel = int(box_geometry.index_of_mm(mid.vertices[vertex])[0])
    values = np.zeros(box_geometry.n_voxels, np.float32)
    values[voxel] = 7.0
    out = proj.project(values)
    hit = np.flatnonzero(out["left"] == 7.0)
    assert vertex in hit and proj.voxel_of_vertex("left", vertex) == voxel
    centre = box_geometry.xyz[voxel]
    assert np.all(np.linalg.norm(mid.vertices[hit] - centre, axis=1) <= 2.0)
    assert np.all(out["right"][np.isfinite(out["right"])] == 0)
    np.testing.assert_array_equal(proj.vertices_of_voxel(voxel)["left"], hit)


def test_outside_mask_falls_back_along_ribbon():
    """A mask holding only the pial-side voxel of a vertex: the vertex still finds it (depth fallback)."""
    pial = load_mesh("fs_LR32k", "pial").hemis["left"]
    white = load_mesh("fs_LR32k", "white").hemis["left"]
    geom0 = VoxelGeometry(np.ones(MNI_2MM_SHAPE, bool), MNI_2MM_AFFINE)
    thick = np.linalg.norm(pial.vertices - white.vertices, axis=1)
    v = int(np.flatnonzero((thick > 3.5) & ~pial.medial_wall)[0])
    ijk_pial = geom0.ijk[geom0.index_of_mm(pial.vertices[v])[0]]
    ijk_mid = geom0.ijk[geom0.index_of_mm((pial.vertices[v] + white.vertices[v]) / 2)[0]]
    assert not np.array_equal(ijk_pial, ijk_mid)
    mask = np.zeros(MNI_2MM_SHAPE, bool)
    mask[tuple(ijk_pial)] = True
    proj = VolumeToSurface(VoxelGeometry(mask, MNI_2MM_AFFINE), "fs_LR32k")
    assert proj.voxel_of_vertex("left", v) == 0
    assert proj.project(np.array([3.0]))["left"][v] == 3.0


def test_project_shapes_and_errors(box_geometry):
    proj = VolumeToSurface(box_geometry, load_mesh("fsaverage5", "inflated"))
    out = proj.project(np.ones((box_geometry.n_voxels, 2), np.float32))
    assert out["left"].shape == (10242, 2) and out["left"].dtype == np.float32
    assert np.isnan(out["left"][load_mesh("fsaverage5", "white").hemis["left"].medial_wall]).all()
    with pytest.raises(ParameterError):
        proj.project(np.ones(3))
    with pytest.raises(ParameterError):
        proj.voxel_of_vertex("both", 0)


def test_vol_to_surf_matches_projection_and_other_grids(box_geometry, tmp_path):
    rng = np.random.default_rng(0)
    values = rng.random(box_geometry.n_voxels).astype(np.float32)
    proj = VolumeToSurface(box_geometry, "fs_LR32k", include_medial_wall=True)
    ref = proj.project(values)
    vol = box_geometry.to_volume(values)
    got = vol_to_surf(vol, MNI_2MM_AFFINE, "fs_LR32k")
    for hemi in ("left", "right"):
        np.testing.assert_array_equal(got[hemi], ref[hemi])
    # a 1 mm grid holding a linear function of x: nearest sampling returns x within 0.5 mm
    aff = np.array([[1.0, 0, 0, -90], [0, 1, 0, -126], [0, 0, 1, -72], [0, 0, 0, 1]])
    xs = np.arange(181, dtype=np.float32) - 90
    lin = np.broadcast_to(xs[:, None, None], (181, 217, 181)).astype(np.float32)
    path = tmp_path / "x.nii.gz"
    nib.save(nib.Nifti1Image(lin, aff), path)
    mid = load_mesh("fs_LR32k", "midthickness").hemis["left"].vertices
    near = vol_to_surf(path, mesh="fs_LR32k")["left"]
    assert np.abs(near - mid[:, 0]).max() <= 0.5 + 1e-4
    linear = vol_to_surf(path, mesh="fs_LR32k", interpolation="linear")["left"]
    np.testing.assert_allclose(linear, mid[:, 0], atol=1e-3)
    depth = vol_to_surf(lin, aff, mesh="fs_LR32k", kind="depth", interpolation="linear")["left"]
    white = load_mesh("fs_LR32k", "white").hemis["left"].vertices
    pial = load_mesh("fs_LR32k", "pial").hemis["left"].vertices
    np.testing.assert_allclose(depth, (white[:, 0] + pial[:, 0]) / 2, atol=1e-3)
    with pytest.raises(ParameterError):
        vol_to_surf(vol, MNI_2MM_AFFINE, kind="ball")


@pytest.mark.parametrize("mesh", ["fsaverage5", pytest.param("fs_LR32k", marks=pytest.mark.slow)])
def test_vol_to_surf_equals_nilearn_paper_call(mesh):
    """The paper's call, nilearn vol_to_surf(nearest, radius 0) at the pial vertices, is reproduced
    exactly by kind="nearest", depths=(1.0,) (reference: nilearn itself)."""
    surface = pytest.importorskip("nilearn.surface")
    rng = np.random.default_rng(3)
    img = nib.Nifti1Image(rng.random(MNI_2MM_SHAPE).astype(np.float32), MNI_2MM_AFFINE)
    got = vol_to_surf(img, mesh=mesh, kind="nearest", depths=(1.0,))
    for hemi in ("left", "right"):
        pial = load_mesh(mesh, "pial").hemis[hemi]
        ref = surface.vol_to_surf(
            img,
            surface.InMemoryMesh(pial.vertices, pial.faces),
            radius=0.0,
            interpolation="nearest_most_frequent",
            kind="ball",
        )
        np.testing.assert_allclose(got[hemi], ref, rtol=0, atol=1e-7)
