"""Writers for the third-party formats the readers accept, used by the reader tests.

They write the formats the way their producers do (scipy.io.savemat for MATLAB v5, the MATLAB v7.3
HDF5 layout through h5py, ``np.save`` of a GLMsingle result dict), independently of the readers.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.data.concepts import PARADIGMS, load_concepts
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
from core.data.readers.native import write_native
from tests.conftest import make_events

MAT_TOKENS = {"sentences": "sentences", "pictures": "pictures", "word_clouds": "wordclouds"}


def pereira_voxels(rng: np.random.Generator, dims=(7, 6, 5), n: int = 40) -> np.ndarray:
    """n distinct 0-based voxel indices (n, 3) in MATLAB column order (sorted by column-major index)."""
    lin = np.sort(rng.choice(int(np.prod(dims)), size=n, replace=False))
    return np.stack(np.unravel_index(lin, dims, order="F"), axis=1)


def write_pereira_v5(path: Path, examples: np.ndarray, concepts, ijk: np.ndarray, dims,
                     key_concept_lower: bool = True) -> Path:
    import scipy.io

    names = [c.lower() if key_concept_lower else c for c in concepts]
    cell = np.empty((len(names), 1), dtype=object)
    for i, c in enumerate(names):
        cell[i, 0] = c
    meta = {
        "dimx": dims[0], "dimy": dims[1], "dimz": dims[2],
        "dimensions": np.array(dims, dtype=float).reshape(1, 3),
        "colToCoord": (np.asarray(ijk) + 1).astype(float),
        "indicesIn3D": (np.ravel_multi_index(tuple(np.asarray(ijk).T), dims, order="F") + 1).astype(float)
        .reshape(-1, 1),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"examples": np.asarray(examples, dtype=float), "keyConcept": cell,
                                 "labelsConcept": np.arange(1, len(names) + 1).reshape(-1, 1), "meta": meta},
                     do_compression=True)
    return path


def write_pereira_exp23(path: Path, n_sentences: int, ijk: np.ndarray, dims) -> Path:
    """A Pereira Experiment 2/3 file (``data_384sentences.mat`` style): sentence-level
    ``examples_passagesentences``, ``keySentences`` and the same ``meta``, which the Experiment-1 reader
    must leave alone."""
    import scipy.io

    rng = np.random.default_rng(n_sentences)
    sentences = np.empty((n_sentences, 1), dtype=object)
    sentences[:, 0] = [f"Sentence number {i}." for i in range(n_sentences)]
    meta = {"dimensions": np.array(dims, dtype=float).reshape(1, 3),
            "colToCoord": (np.asarray(ijk) + 1).astype(float)}
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"examples_passagesentences": rng.standard_normal((n_sentences, len(ijk))),
                                 "keySentences": sentences, "meta": meta}, do_compression=True)
    return path


def write_pereira_v73(path: Path, examples: np.ndarray, concepts, ijk: np.ndarray, dims) -> Path:
    """A MATLAB v7.3 file: HDF5 with a 512-byte user block, arrays stored transposed, cells as references."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        ex = f.create_dataset("examples", data=np.asarray(examples, dtype=float).T)
        ex.attrs["MATLAB_class"] = np.bytes_("double")
        refs = f.create_group("#refs#")
        ref_list = []
        for i, c in enumerate(concepts):
            chars = np.array([ord(ch) for ch in c.lower()], np.uint16).reshape(-1, 1)
            d = refs.create_dataset(f"c{i}", data=chars)
            d.attrs["MATLAB_class"] = np.bytes_("char")
            d.attrs["MATLAB_int_decode"] = np.int32(2)
            ref_list.append(d.ref)
        kc = f.create_dataset("keyConcept", data=np.array(ref_list, dtype=h5py.ref_dtype).reshape(1, -1))
        kc.attrs["MATLAB_class"] = np.bytes_("cell")
        meta = f.create_group("meta")
        meta.attrs["MATLAB_class"] = np.bytes_("struct")
        meta.create_dataset("colToCoord", data=(np.asarray(ijk, float) + 1).T)
        lin = np.ravel_multi_index(tuple(np.asarray(ijk).T), dims, order="F") + 1
        meta.create_dataset("indicesIn3D", data=lin.astype(float).reshape(1, -1))
        meta.create_dataset("dimensions", data=np.array(dims, float).reshape(3, 1))
        for d in meta.values():
            d.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Fri Nov 27 00:00:00 2026 " \
               b"HDF5 schema 1.00 ."
        fh.write(text.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path


def write_glmsingle_dict(path: Path, betasmd: np.ndarray) -> Path:
    """A GLMsingle ``TYPED_FITHRF_GLMDENOISE_RR.npy``: np.save of the result dict (pickled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "betasmd": betasmd,
        "R2": np.zeros(betasmd.shape[:3], np.float32),
        "HRFindex": np.ones(betasmd.shape[:3], np.int64),
        "FRACvalue": np.float32(0.05),
        "pcnum": 5,
        "xvaltrend": [0.1, 0.2],
        "noisepool": None,
    }
    np.save(path, results, allow_pickle=True)
    return path


def write_release_participant(root: Path, pid: str, paradigm: str, order: pd.DataFrame, betas: np.ndarray,
                              as_dict: bool = True) -> None:
    """One participant x paradigm of the release layout under ``root`` (the ``data/`` folder)."""
    (root / "stimuli").mkdir(parents=True, exist_ok=True)
    order.to_csv(root / "stimuli" / f"stimuli_order_{pid}_{paradigm}.csv", index=False)
    target = root / "GLMsingle_outputs" / f"{pid}_{paradigm}_TYPED_FITHRF_GLMDENOISE_RR.npy"
    if as_dict:
        write_glmsingle_dict(target, betas)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target, betas)


def build_native(root: Path) -> Path:
    """A valid one-participant native dataset (20 concepts x 2 stimuli x 3 paradigms, 24 voxels)."""
    rng = np.random.default_rng(0)
    mask = np.zeros((4, 4, 3), bool)
    mask[1:3, :, :] = True
    geom = VoxelGeometry(mask, np.diag([2.0, 2.0, 2.0, 1.0]))
    events = {p: make_events(rng, load_concepts()[:20], n_stim=2) for p in PARADIGMS}
    betas = {p: rng.standard_normal((len(events[p]), geom.n_voxels)).astype(np.float32) for p in PARADIGMS}
    betas["sentences"][:, 0] = np.nan  # NaN and zero-variance voxels are allowed
    betas["sentences"][:, 1] = 1.0
    sub = {"geometry": geom, "events": events, "betas": betas,
           "language": rng.standard_normal(geom.n_voxels).astype(np.float32)}
    return write_native(root / "native", "bad-input", {"S1": sub})


def build_pereira(root: Path) -> Path:
    """A valid Pereira participant folder P01 (v5 sentences and word clouds, v7.3 pictures; 12 voxels)."""
    rng = np.random.default_rng(1)
    concepts = list(load_concepts())
    dims = (5, 4, 3)
    ijk = pereira_voxels(rng, dims, 12)
    folder = root / "pereira" / "P01"
    for paradigm, token in MAT_TOKENS.items():
        ex = rng.standard_normal((180, 12))
        ex[:, 3] = np.nan
        writer = write_pereira_v73 if paradigm == "pictures" else write_pereira_v5
        writer(folder / f"data_180concepts_{token}.mat", ex, concepts, ijk, dims)
    return folder


def release_order(concepts=("Dog", "Bird")) -> pd.DataFrame:
    rows = [(run, f"stim/{c}{run}", c, run, 10 + 5 * k) for run in (1, 2) for k, c in enumerate(concepts)]
    return pd.DataFrame(rows, columns=["run", "stimulus", "concept", "stimulus_idx", "onset"])


def build_release(root: Path) -> Path:
    """A valid release ``data/`` folder: S01 x (sentences dict, pictures plain) x 4 trials, full MNI grid."""
    rng = np.random.default_rng(2)
    data = root / "release" / "data"
    order = release_order()
    for paradigm, as_dict in (("sentences", True), ("pictures", False)):
        b = np.full(MNI_2MM_SHAPE + (len(order),), np.nan, np.float32)
        b[44:47, 50:53, 40:42] = rng.standard_normal((3, 3, 2, len(order)))
        write_release_participant(data, "S01", paradigm, order, b, as_dict=as_dict)
    pd.DataFrame({"concept": ["Dog", "Dog", "Bird", "Bird"], "stimulus_idx": [1, 2, 1, 2],
                  "split": [1, 2, 2, 1]}).to_csv(data / "stimuli" / "split_sentences.csv", index=False)
    lang = rng.standard_normal(MNI_2MM_SHAPE).astype(np.float32)
    (data / "language_selectivity_nii").mkdir()
    nib.save(nib.Nifti1Image(lang, MNI_2MM_AFFINE),
             data / "language_selectivity_nii" / "S01_S-N_contrast.nii.gz")
    return data
