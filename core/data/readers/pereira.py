"""Reader for the public Pereira et al. (2018) Experiment-1 ``.mat`` files (method.md §1.6).

Accepted paths:

- one file ``.../<participant>/data_180concepts_<paradigm>.mat`` (or ``examples_180concepts_*``); the
  participant id is the folder name;
- a participant folder holding one to three such files (sentences, pictures, wordclouds);
- a root folder whose sub-folders are participant folders (every participant must have the same paradigms).

Participant folders of the public release hold more than the three Experiment-1 files. Where a folder has
both ``data_180concepts_<p>.mat`` and its older twin ``examples_180concepts_<p>.mat``, the ``data_``
file is read; two files of the same kind for one paradigm are an error. Other ``.mat`` files, such as
Experiments 2 and 3 (``data_384sentences.mat``, ``data_243sentences.mat``), are not read. Both kinds of
skipped file are listed by :func:`core.data.readers.ignored_files` (and ``cbstudio info``).

The file format (``examples``, ``keyConcept``, ``meta``; MATLAB v5 or v7.3) is read by
:mod:`core.data.readers.pereira_mat`. The data are concept-level: the events table has one row per
concept, with ``stimulus_idx`` and ``split`` NA. Rows are put in the paper's concept order and columns in
the project's voxel order (C-order of the mask).

Grid and affine. ``meta`` holds voxel indices only (``colToCoord``, ``coordToCol``, ``indicesIn3D``:
1-based, MATLAB column-major, indexing the volume as SPM's ``spm_read_vols`` returns it, i.e. in stored
voxel order) and no voxel-to-mm matrix, so the affine is inferred from the grid size:

- **79 x 95 x 69**, the grid of the public files, is SPM's default normalisation bounding box at 2 mm.
  SPM2-SPM8 ``spm_defaults.m`` set ``defaults.normalise.write.bb = [-78 -112 -50; 78 76 85]``;
  ``spm_write_sn`` rounds the box to whole voxels (z: 85 -> 86) and writes one voxel per 2 mm from the
  lower corner: x -78..78 (79), y -112..76 (95), z -50..86 (69). No other common template grid has
  this size (FSL's MNI152 2 mm grid is 91 x 109 x 91; SPM12's default box ``[-78 -112 -70; 78 76 85]``
  gives 79 x 95 x 79). ``spm_write_sn`` (``get_xyzmat``, ``LEFTHANDED = true``) then flips the x axis of
  the output matrix whenever its determinant is positive (``mat = mat * Flp``,
  ``Flp = [-1 0 0 nx+1; ...]``), so the written 1-based ``mat`` is ``[-2 0 0 80; 0 2 0 -114;
  0 0 2 -52]``: MATLAB voxel 1 lies at x = +78 mm. With 0-based indices (``colToCoord - 1``) this is
  :data:`SPM_BB_AFFINE` = ``[[-2, 0, 0, 78], [0, 2, 0, -112], [0, 0, 2, -50]]``: x = 78 - 2 i,
  y = -112 + 2 j, z = -50 + 2 k (mm, MNI). Array index i = 0 is the right edge (x = +78), i = 39 the
  midline, and **i = 40..78 (x < 0) the left hemisphere**; y grows anterior, z superior. This is the same
  x-reversed ("radiological") storage as the 91 x 109 x 91 grid (:data:`MNI_2MM_AFFINE`, x = 90 - 2 i,
  index 0 right), and the same voxel lattice: voxel (i, j, k) here has the centre of voxel
  (i + 6, j + 7, k + 11) there, so atlas labels on the 91 x 109 x 91 grid sample onto these data
  (nearest neighbour by world position, :meth:`core.atlas.labels.LabelVolume.sample`) without
  interpolation. Space: ``MNI152_2mm_SPM``.
- **91 x 109 x 91**: the MNI152 2 mm grid, :data:`MNI_2MM_AFFINE`, space ``MNI152_2mm``.
- any other grid: identity affine (voxel units), space ``native`` (no atlas labels).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.concepts import PARADIGMS, load_concepts
from core.data.dataset import Dataset, ParticipantData
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
from core.data.readers.pereira_mat import MatHeader, read_examples, read_header
from core.data.validate import check_same_concepts
from core.errors import DataError

NAME = "pereira"
FILE_TOKEN = "180concepts_"
# file-name token -> project paradigm name
PARADIGM_TOKENS = {"sentences": "sentences", "pictures": "pictures", "wordclouds": "word_clouds",
                   "word_clouds": "word_clouds"}
# file-name prefixes in order of preference ("data_" over its older "examples_" twin)
PREFIX_RANK = {"data_": 0, "examples_": 1}

SPM_BB_SHAPE = (79, 95, 69)
SPM_BB_AFFINE = np.array(
    [[-2.0, 0, 0, 78], [0, 2, 0, -112], [0, 0, 2, -50], [0, 0, 0, 1]], dtype=np.float64
)
SPM_BB_SPACE = "MNI152_2mm_SPM"
_OTHER_EXPERIMENT = re.compile(r"(\d+)sentences", re.IGNORECASE)

__all__ = ["MatHeader", "read_examples", "read_header"]


def grid_space(dims: tuple[int, int, int]) -> tuple[np.ndarray, str]:
    """Affine (4, 4) voxel index -> mm and space name for a grid of shape ``dims`` (module docstring)."""
    dims = tuple(int(d) for d in dims)
    if dims == MNI_2MM_SHAPE:
        return MNI_2MM_AFFINE.copy(), "MNI152_2mm"
    if dims == SPM_BB_SHAPE:
        return SPM_BB_AFFINE.copy(), SPM_BB_SPACE
    return np.eye(4), "native"


def detect(path: Path) -> bool:
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".mat"
    if not path.is_dir():
        return False
    if _paradigm_files(path):
        return True
    return any(sub.is_dir() and _paradigm_files(sub) for sub in _subdirs(path))


def open_pereira(path: Path) -> Dataset:
    """Open Pereira 2018 data: one file, one participant folder, or a root of participant folders."""
    path = Path(path)
    ignored: list[tuple[Path, str]] = []
    if path.is_file():
        if FILE_TOKEN not in path.name and _OTHER_EXPERIMENT.search(path.stem):
            raise DataError(path, f"{_other_reason(path)}; this reader takes data_{FILE_TOKEN}"
                                  "{sentences,pictures,wordclouds}.mat")
        paradigm = paradigm_of(path)
        files = {path.parent.name or "P": {paradigm: path}}
    elif _paradigm_files(path):
        chosen, skipped = _participant_files(path)
        files = {path.name: chosen}
        ignored += skipped
    else:
        files = {}
        for sub in _subdirs(path):
            if _paradigm_files(sub):
                files[sub.name], skipped = _participant_files(sub)
                ignored += skipped
        if not files:
            raise DataError(path, f"no *_{FILE_TOKEN}<paradigm>.mat files in this folder or its sub-folders")
    paradigms = tuple(p for p in PARADIGMS if any(p in f for f in files.values()))
    for pid, by_paradigm in files.items():
        for paradigm in paradigms:
            if paradigm not in by_paradigm:
                token = next(t for t, p in PARADIGM_TOKENS.items() if p == paradigm)
                other = next(iter(by_paradigm.values()))
                prefix = other.name.split(FILE_TOKEN)[0]
                raise DataError(other.parent / f"{prefix}{FILE_TOKEN}{token}.mat",
                                f"missing: participant {pid} lacks paradigm {paradigm!r} that others have")
    first = next(iter(files.values()))
    _, space = grid_space(read_header(first[paradigms[0]]).dimensions)
    frozen = tuple((pid, tuple((p, by[p]) for p in paradigms)) for pid, by in files.items())
    return Dataset(
        path=path,
        name=path.stem if path.is_file() else path.name,
        reader=NAME,
        space=space,
        paradigms=paradigms,
        participants=tuple(files),
        loader=PereiraLoader(frozen, tuple((str(p), why) for p, why in ignored)),
    )


def paradigm_of(path: Path) -> str:
    """The project paradigm name from a file name like ``data_180concepts_wordclouds.mat``."""
    stem = Path(path).stem
    match = re.search(FILE_TOKEN + r"(\w+)$", stem)
    token = (match.group(1) if match else stem).lower()
    if token in PARADIGM_TOKENS:
        return PARADIGM_TOKENS[token]
    if match:
        raise DataError(path, f"unknown paradigm {token!r}; expected sentences, pictures or wordclouds")
    raise DataError(path, f"cannot tell the paradigm from the file name; expected data_{FILE_TOKEN}"
                          "{sentences,pictures,wordclouds}.mat")


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return []


def _paradigm_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.glob(f"*{FILE_TOKEN}*.mat") if p.is_file())
    except OSError:
        return []


def _prefix_rank(path: Path) -> int:
    prefix = path.name.split(FILE_TOKEN)[0].lower()
    return PREFIX_RANK.get(prefix, len(PREFIX_RANK))


def _other_reason(path: Path) -> str:
    match = _OTHER_EXPERIMENT.search(path.stem)
    if match:
        return f"Pereira Experiment 2/3 file ({match.group(1)} sentences), not Experiment 1"
    return f"not an Experiment 1 file (*_{FILE_TOKEN}<paradigm>.mat)"


def _participant_files(folder: Path) -> tuple[dict[str, Path], list[tuple[Path, str]]]:
    """The Experiment-1 file per paradigm of one participant folder, and the files skipped (path, reason)."""
    candidates: dict[str, list[Path]] = {}
    for f in _paradigm_files(folder):
        candidates.setdefault(paradigm_of(f), []).append(f)
    out: dict[str, Path] = {}
    ignored: list[tuple[Path, str]] = []
    for paradigm, found in candidates.items():
        found = sorted(found, key=lambda f: (_prefix_rank(f), f.name))
        if len(found) > 1 and _prefix_rank(found[0]) == _prefix_rank(found[1]):
            raise DataError(found[1], f"a second file for paradigm {paradigm!r} (also {found[0].name})")
        out[paradigm] = found[0]
        ignored += [(f, f"twin of {found[0].name}, which is read instead") for f in found[1:]]
    read = set(_paradigm_files(folder))
    try:
        others = sorted(p for p in folder.glob("*.mat") if p.is_file() and p not in read)
    except OSError:
        others = []
    ignored += [(f, _other_reason(f)) for f in others]
    return out, ignored


# ---------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class PereiraLoader:
    """Loads one participant's ``.mat`` files (picklable: paths only).

    ``ignored`` lists (path, reason) of the files in the participant folders that are not read.
    """

    files: tuple[tuple[str, tuple[tuple[str, Path], ...]], ...]
    ignored: tuple[tuple[str, str], ...] = ()

    def load_participant(self, participant: str) -> ParticipantData:
        by_paradigm = dict(dict(self.files)[participant])
        headers = {p: read_header(f) for p, f in by_paradigm.items()}
        first = next(iter(headers.values()))
        for h in headers.values():
            if h.dimensions != first.dimensions:
                raise DataError(h.path, f"grid {h.dimensions} differs from {first.path.name}")
            if not np.array_equal(h.coords, first.coords):
                raise DataError(h.path, f"voxel columns differ from {first.path.name} "
                                        f"({h.n_cols} vs {first.n_cols} voxels or another order)")
        check_same_concepts({p: h.concepts for p, h in headers.items()},
                            {p: h.path for p, h in headers.items()})
        dims = first.dimensions
        mask = np.zeros(dims, dtype=bool)
        mask[tuple(first.coords.T)] = True
        affine, _ = grid_space(dims)
        geometry = VoxelGeometry(mask, affine)
        col_order = np.argsort(np.ravel_multi_index(tuple(first.coords.T), dims)).astype(np.int64)
        rank = {c: i for i, c in enumerate(load_concepts())}
        events, sources = {}, {}
        for paradigm, h in headers.items():
            row_order = np.argsort([rank[c] for c in h.concepts]).astype(np.int64)
            concepts = [h.concepts[i] for i in row_order]
            events[paradigm] = pd.DataFrame({
                "concept": concepts,
                "stimulus_idx": pd.array([pd.NA] * len(concepts), dtype="Int64"),
                "split": pd.array([pd.NA] * len(concepts), dtype="Int64"),
            })
            sources[paradigm] = MatBetas(h, row_order, col_order)
        return ParticipantData(participant, geometry, events, sources, None)


@dataclass(frozen=True, eq=False)
class MatBetas:
    """One file's ``examples`` read on first use, rows in paper concept order, columns in voxel C-order."""

    header: MatHeader
    row_order: np.ndarray
    col_order: np.ndarray

    def __call__(self) -> np.ndarray:
        arr = read_examples(self.header)
        return np.ascontiguousarray(arr[self.row_order][:, self.col_order])
