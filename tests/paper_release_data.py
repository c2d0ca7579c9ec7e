"""A small dataset in the paper's release layout, for the paper-parity tests (issue 14).

Three participants (M01-M03) with their real trial orders (``stimuli_order_*.csv`` from the public
release), the release's split files and stimulus table, synthetic S-N maps and GLMsingle result dicts on
the full MNI 2 mm grid (91 x 109 x 91 x T). Only 24 voxels per ROI of the published ROI map carry data
(a planted language-model signal at a known layer and pooling per ROI, a concept component shared by
the paradigms, noise); the other ROI voxels are NaN and everything outside the ROIs is 0 (constant, so
readers drop it, and the paper's ROI analyses never read it).

A full-grid float32 file of 900 trials is 3.3 GB, so the result dicts are written as *sparse* files:
:func:`write_sparse_glmsingle` emits the byte stream ``np.save(path, {"betasmd": arr}, allow_pickle=True)``
writes (``test_paper_parity.py`` checks byte identity on a small array) but seeks over the zero bytes, so
the file system stores only the ROI voxels' rows.
"""

from __future__ import annotations

import io
import pickle
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE

PIDS = ("M01", "M02", "M03")
PARADIGMS = ("sentences", "pictures", "word_clouds")
N_PER_ROI = 24
#: planted truth: ROI label -> (pooling, layer) of the model signal (minilm: layers 0..6)
PLANTED = {1: ("mean", 3), 2: ("last_tok", 5), 3: ("mean", 1)}
MODEL = "minilm"


# ------------------------------------------------------------------------------------ sparse writer


class _Hole:
    """The raw data of the big array: written with seeks, zero bytes left as file-system holes."""

    def __init__(self, shape: tuple[int, ...], rows: dict[int, np.ndarray]):
        self.shape = shape
        self.rows = rows  # flat voxel index (C order over X, Y, Z) -> float32 (T,)
        self.nbytes = int(np.prod(shape)) * 4


class _SparsePickler(pickle._Pickler):
    """The pure-Python pickler at ``np.save``'s protocol (4 in numpy 2), writing ``_Hole`` payloads with
    seeks, as the C pickler writes large bytes: outside any frame, after flushing the current one."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, fh, big: np.ndarray, hole: _Hole):
        super().__init__(fh, protocol=4, fix_imports=True)
        self._fh, self._big, self._hole = fh, big, hole

    def reducer_override(self, obj):
        if obj is self._big:  # numpy's own ndarray.__reduce__, with the data replaced by the hole
            rv = obj.__reduce__()
            state = rv[2]
            return rv[0], rv[1], (state[0], tuple(self._hole.shape), state[2], state[3], self._hole)
        return NotImplemented

    def save_hole(self, obj: _Hole):
        if obj.nbytes > 0xFFFFFFFF:
            header = pickle.BINBYTES8 + struct.pack("<Q", obj.nbytes)
        else:
            header = pickle.BINBYTES + struct.pack("<I", obj.nbytes)
        if obj.nbytes < self.framer._FRAME_SIZE_TARGET:
            raise ValueError("the sparse writer is for large arrays only")
        if self.framer.current_frame:
            self.framer.commit_frame(force=True)
        self._fh.write(header)
        start = self._fh.tell()
        T = obj.shape[-1]
        for flat in sorted(obj.rows):
            self._fh.seek(start + flat * T * 4)
            self._fh.write(np.ascontiguousarray(obj.rows[flat], dtype="<f4").tobytes())
        self._fh.seek(start + obj.nbytes)
        self.memoize(obj)

    dispatch[_Hole] = save_hole


def write_sparse_glmsingle(fh, shape: tuple[int, int, int, int], rows: dict[int, np.ndarray]) -> None:
    """Write ``np.save(fh, {"betasmd": B}, allow_pickle=True)`` where B (X, Y, Z, T) float32 is 0 except
    ``B[unravel(flat)] = rows[flat]``; ``fh`` is a seekable binary file opened for writing."""
    placeholder = np.zeros((1,), np.float32)
    obj = np.empty((), dtype=object)
    obj[()] = {"betasmd": placeholder}
    np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(obj))
    _SparsePickler(fh, placeholder, _Hole(shape, rows)).dump(obj)


def dense_reference_bytes(arr: np.ndarray) -> bytes:
    """What np.save writes for {"betasmd": arr} (for the byte-identity check on small arrays)."""
    buf = io.BytesIO()
    np.save(buf, {"betasmd": arr}, allow_pickle=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------------ the dataset


@dataclass
class ReleaseTruth:
    """What was written. ``betas[(pid, paradigm)]`` : float32 (T, V) for the data voxels ``ijk`` (V, 3)
    in the trial order of the order file (rows = GLMsingle columns); ``roi_of`` : (V,) ROI label;
    ``language[pid]`` : (V,) S-N values; ``roi_map`` : int (91, 109, 91) published ROI labels."""

    root: Path
    data: Path
    ijk: np.ndarray
    roi_of: np.ndarray
    roi_map: np.ndarray
    betas: dict = field(default_factory=dict)
    language: dict = field(default_factory=dict)


def published_roi_map(shared: Path) -> np.ndarray:
    img = nib.load(shared / "outputs" / "roi_map.nii.gz")
    if tuple(img.shape) != MNI_2MM_SHAPE or not np.allclose(img.affine, MNI_2MM_AFFINE):
        raise AssertionError("the published ROI map is not on the MNI 2 mm grid")
    return np.rint(np.asarray(img.dataobj, dtype=np.float64)).astype(np.int64)


def _signal(features: dict, paradigm: str, concepts: pd.Series, idx: pd.Series, pooling: str, layer: int,
            direction: np.ndarray) -> np.ndarray:
    """Planted model signal per trial: z-scored projection of the stimulus features on ``direction``."""
    feats = features[paradigm, pooling]
    proj = feats.hidden[:, layer].astype(np.float64) @ direction
    proj = (proj - proj.mean()) / proj.std()
    keys = feats.keys
    lookup = {}
    for n, (c, s) in enumerate(zip(keys["concept"], keys["stimulus_idx"], strict=True)):
        lookup[(c, None if pd.isna(s) else int(s))] = proj[n]
    per_concept = keys["stimulus_idx"].isna().all()
    pairs = zip(concepts, idx, strict=True)
    return np.array([lookup[(c, None if per_concept else int(s))] for c, s in pairs])


def build_release(root: Path, shared: Path, features: dict, seed: int = 0) -> ReleaseTruth:
    """Write the dataset under ``root/data`` (release layout). ``features[(paradigm, pooling)]`` are the
    model's StimulusFeatures (used to plant the signal)."""
    rng = np.random.default_rng(seed)
    data = root / "data"
    stim = data / "stimuli"
    stim.mkdir(parents=True)
    src = shared / "data" / "stimuli"
    for name in ["complang_paradigms_stims.csv", *[f"split_{p}.csv" for p in PARADIGMS]]:
        shutil.copy(src / name, stim / name)
    roi_map = published_roi_map(shared)
    ijk, roi_of = [], []
    for label in (1, 2, 3):
        vox = np.argwhere(roi_map == label)
        pick = np.sort(rng.choice(len(vox), N_PER_ROI, replace=False))
        ijk.append(vox[pick])
        roi_of += [label] * N_PER_ROI
    ijk, roi_of = np.concatenate(ijk), np.asarray(roi_of)
    flat = np.ravel_multi_index(tuple(ijk.T), MNI_2MM_SHAPE)
    roi_flat = np.flatnonzero(roi_map.reshape(-1) > 0)
    truth = ReleaseTruth(root, data, ijk, roi_of, roi_map)
    concepts = sorted(pd.read_csv(stim / "split_sentences.csv")["concept"].unique())
    shared_concept = dict(zip(concepts, rng.standard_normal(len(concepts)), strict=True))
    directions = {k: rng.standard_normal(384) for k in PLANTED}
    a_voxel = rng.uniform(0.3, 1.0, len(flat))
    b_voxel = rng.uniform(0.0, 0.8, len(flat))
    (data / "GLMsingle_outputs").mkdir()
    (data / "language_selectivity_nii").mkdir()
    for pid in PIDS:
        a_pid = a_voxel * rng.uniform(0.7, 1.3, len(flat))
        for paradigm in PARADIGMS:
            name = f"stimuli_order_{pid}_{paradigm}.csv"
            shutil.copy(src / name, stim / name)
            order = pd.read_csv(stim / name)
            # GLMsingle columns: runs in sorted order, file order within a run (the paper's load_events)
            runs = sorted(set(order["run"]))
            order = pd.concat([order[order["run"] == r] for r in runs], ignore_index=True)
            T = len(order)
            sig = np.zeros((T, len(flat)))
            for label, (pooling, layer) in PLANTED.items():
                s = _signal(features, paradigm, order["concept"], order["stimulus_idx"], pooling, layer,
                            directions[label])
                sig[:, roi_of == label] = s[:, None]
            g = order["concept"].map(shared_concept).to_numpy()[:, None]
            betas = (a_pid * sig + b_voxel * g + rng.standard_normal((T, len(flat)))).astype(np.float32)
            truth.betas[pid, paradigm] = betas
            rows = {int(f): np.full(T, np.nan, np.float32) for f in roi_flat}
            rows.update({int(f): betas[:, n] for n, f in enumerate(flat)})
            path = data / "GLMsingle_outputs" / f"{pid}_{paradigm}_TYPED_FITHRF_GLMDENOISE_RR.npy"
            with open(path, "wb") as fh:
                write_sparse_glmsingle(fh, (*MNI_2MM_SHAPE, T), rows)
        lang = np.zeros(MNI_2MM_SHAPE, np.float32)
        values = (rng.standard_normal(len(flat)) + 0.5 * b_voxel).astype(np.float32)
        lang[tuple(ijk.T)] = values
        truth.language[pid] = values
        nib.save(nib.Nifti1Image(lang, MNI_2MM_AFFINE), data / "language_selectivity_nii" /
                 f"{pid}_S-N_contrast.nii.gz")
    return truth
