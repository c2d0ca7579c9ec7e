"""Atlas timings: mesh loading, volume->surface projection (ours vs nilearn's vol_to_surf, the
paper's call), and generation of the volumetric Glasser labelling.

Run: ``.venv/bin/python benchmarks/atlas.py``; prints ``name: ours X s, peer Y s, ratio R`` lines and
appends them to BENCHMARKS.md with a machine line.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
from _common import append_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)



def main() -> None:
    from nilearn import surface

    from core.atlas import glasser, meshes
    from core.atlas.projection import VolumeToSurface, vol_to_surf
    from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry

    lines = []
    t = time.perf_counter()
    meshes.load_mesh("fs_LR32k", "inflated")
    first = time.perf_counter() - t
    cached = _best(lambda: meshes.load_mesh("fs_LR32k", "inflated"))
    lines.append(f"atlas mesh load fs_LR32k inflated: first {first:.3f} s, cached {cached * 1e6:.1f} us")

    rng = np.random.default_rng(0)
    vol = rng.random(MNI_2MM_SHAPE).astype(np.float32)
    img = nib.Nifti1Image(vol, MNI_2MM_AFFINE)
    for mesh in ("fsaverage5", "fs_LR32k"):
        pial = meshes.load_mesh(mesh, "pial").hemis

        def peer(pial=pial):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for h in ("left", "right"):
                    surface.vol_to_surf(
                        img,
                        surface.InMemoryMesh(pial[h].vertices, pial[h].faces),
                        radius=0.0,
                        interpolation="nearest_most_frequent",
                        kind="ball",
                    )

        ours = _best(lambda mesh=mesh: vol_to_surf(img, mesh=mesh, kind="nearest", depths=(1.0,)), 3)
        theirs = _best(peer, 3)
        lines.append(
            f"atlas vol_to_surf {mesh} (both hemis, one-off): ours {ours:.4f} s, "
            f"peer nilearn {theirs:.4f} s, ratio {theirs / ours:.1f}"
        )
        mask = np.zeros(MNI_2MM_SHAPE, bool)
        mask[5:86, 5:104, 5:86] = True
        geom = VoxelGeometry(mask, MNI_2MM_AFFINE)
        t = time.perf_counter()
        proj = VolumeToSurface(geom, mesh)
        setup = time.perf_counter() - t
        values = rng.random(geom.n_voxels).astype(np.float32)
        upd = _best(lambda proj=proj, values=values: proj.project(values), 20)
        lines.append(
            f"atlas VolumeToSurface {mesh} overlay update: ours {upd * 1e3:.2f} ms "
            f"(setup {setup:.2f} s), peer nilearn {theirs:.4f} s, ratio {theirs / upd:.0f}"
        )

    t = time.perf_counter()
    glasser.build_glasser_volume()
    lines.append(f"atlas Glasser MNI 2 mm volume generation: ours {time.perf_counter() - t:.2f} s (no peer)")

    for line in lines:
        print(line)
    append_results("atlas", lines)


if __name__ == "__main__":
    main()
