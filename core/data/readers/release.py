"""Reader for the paper's release layout (github.com/ryskina/concepts-brain-llms, method.md §1.2-1.5).

The path is the repository root or its ``data/`` folder::

    data/GLMsingle_outputs/{pid}_{paradigm}_TYPED_FITHRF_GLMDENOISE_RR.npy   GLMsingle dict, 'betasmd' X,Y,Z,T
                                                                          (or a plain float .npy X,Y,Z,T)
    data/stimuli/stimuli_order_{pid}_{paradigm}.csv     run, stimulus, concept, stimulus_idx, onset
    data/stimuli/split_{paradigm}.csv                   concept, stimulus_idx, split   (optional)
    data/stimuli/complang_paradigms_stims.csv           the paper's stimulus texts (or .xlsx; optional)
    data/language_selectivity_nii/{pid}_S-N_contrast.nii[.gz]                        (optional)

Every participant must have every paradigm any participant has. The grid must be the MNI152 2 mm
grid (91 x 109 x 91). Trials are ordered by run, then onset (GLMsingle's column order, method.md §1.2),
and take their split half from ``split_{paradigm}.csv``.

Stimulus texts: the paper's wide table ``complang_paradigms_stims.csv`` (preferred; the paper's code
reads the ``.xlsx`` twin, which holds the same texts) becomes ``Dataset.stimuli`` through
:func:`core.data.stimuli.read_stimulus_table`, so the language-model analyses run on this layout as on
the native one. Without either file ``stimuli`` is None.

Voxel mask: the voxels whose betas are finite on every trial and not constant across trials, in every
paradigm, intersected with the language map's non-NaN voxels when the map is present.

The first load of a participant converts its masked betas once into float32 (T, V) ``.npy`` files under
``user_cache_dir("concept-brain-studio")/release-cache/<hash of the source files' paths, sizes and
mtimes>/``; later loads memory-map them (a changed source file gives a new hash, so a new conversion).
Conversion reads each betas file once, one paradigm at a time, in x-slabs of the grid, writing the
valid voxels' rows to a scratch file that is then transposed in blocks of 4096 voxels, with plain file
reads and writes. Memory: one slab (109 x 91 x T float32, 29 MB at 720 trials) plus one block (12 MB),
for a plain ``.npy`` and for a GLMsingle result dict alike (its large arrays are memory-mapped, see
:mod:`core.data.readers.glmsingle`); only a dict that numpy cannot map (other byte order, an old pickle
protocol) is read whole into memory (3.3 GB for 900 trials). Nothing is written next to the data; the
cache folder appears only when a conversion has finished (it is built in a temporary folder, renamed).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.atomic import atomic_dir
from core.data.concepts import PARADIGMS
from core.data.dataset import Dataset, ParticipantData
from core.data.geometry import MNI_2MM_AFFINE, MNI_2MM_SHAPE, VoxelGeometry
from core.data.readers.glmsingle import read_glmsingle
from core.data.stimuli import read_stimulus_table
from core.data.validate import (
    check_betas_shape,
    check_same_concepts,
    load_nifti,
    normalise_concepts,
    read_table,
)
from core.errors import DataError

NAME = "release"
BETAS_DIR = "GLMsingle_outputs"
BETAS_SUFFIX = "_TYPED_FITHRF_GLMDENOISE_RR.npy"
CACHE_VERSION = 1
STIMULUS_TABLES = ("complang_paradigms_stims.csv", "complang_paradigms_stims.xlsx")  # in preference order
_BETAS_RE = re.compile(r"^(?P<pid>[^_]+)_(?P<token>.+)" + re.escape(BETAS_SUFFIX) + "$")
_ALIASES = {"wordclouds": "word_clouds", "word-clouds": "word_clouds"}


def release_cache_dir() -> Path:
    """Where converted betas are cached (tests monkeypatch this)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concept-brain-studio")) / "release-cache"


def _data_root(path: Path) -> Path | None:
    for root in (path, path / "data"):
        if (root / BETAS_DIR).is_dir() or any((root / "stimuli").glob("stimuli_order_*.csv")):
            return root
    return None


def detect(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and _data_root(path) is not None


def paradigm_name(token: str, path: Path) -> str:
    name = _ALIASES.get(token.lower(), token.lower())
    if name not in PARADIGMS:
        raise DataError(path, f"unknown paradigm {token!r}; expected {', '.join(PARADIGMS)}")
    return name


def open_release(path: Path) -> Dataset:
    """Open the release layout at the repository root or its ``data/`` folder."""
    path = Path(path)
    root = _data_root(path)
    if root is None:
        raise DataError(path, f"no {BETAS_DIR}/ or stimuli/stimuli_order_*.csv here or in data/")
    betas_dir = root / BETAS_DIR
    if not betas_dir.is_dir():
        raise DataError(betas_dir, "missing: the single-trial GLMsingle betas are not in the public release; "
                                   f"put {{pid}}_{{paradigm}}{BETAS_SUFFIX} files here")
    found: dict[str, dict[str, str]] = {}
    for f in sorted(betas_dir.glob("*.npy")):
        m = _BETAS_RE.match(f.name)
        if not m:
            continue
        paradigm = paradigm_name(m["token"], f)
        if paradigm in found.setdefault(m["pid"], {}):
            raise DataError(f, f"a second betas file for {m['pid']} {paradigm}")
        found[m["pid"]][paradigm] = m["token"]
    if not found:
        raise DataError(betas_dir, f"no {{pid}}_{{paradigm}}{BETAS_SUFFIX} files")
    paradigms = tuple(p for p in PARADIGMS if any(p in d for d in found.values()))
    for pid, tokens in found.items():
        for paradigm in paradigms:
            if paradigm not in tokens:
                raise DataError(betas_dir / f"{pid}_{paradigm}{BETAS_SUFFIX}",
                                f"missing: participant {pid} lacks paradigm {paradigm!r} that others have")
    for pid, tokens in found.items():
        for paradigm in paradigms:
            order = root / "stimuli" / f"stimuli_order_{pid}_{tokens[paradigm]}.csv"
            if not order.is_file():
                raise DataError(order, f"missing: trial order for {pid} {paradigm}")
    frozen = tuple((pid, tuple((p, found[pid][p]) for p in paradigms)) for pid in sorted(found))
    return Dataset(
        path=path,
        name=path.name if path.name != "data" else path.parent.name,
        reader=NAME,
        space="MNI152_2mm",
        paradigms=paradigms,
        participants=tuple(sorted(found)),
        loader=ReleaseLoader(root, frozen),
        stimuli=read_release_stimuli(root),
    )


def read_release_stimuli(root: Path) -> pd.DataFrame | None:
    """The stimulus table of the layout at ``root`` (the ``data/`` folder): ``stimuli/`` + the first of
    :data:`STIMULUS_TABLES` present, in the long format of :data:`core.data.stimuli.STIMULUS_COLUMNS`;
    None when there is none."""
    path = next((root / "stimuli" / n for n in STIMULUS_TABLES if (root / "stimuli" / n).is_file()), None)
    return None if path is None else read_stimulus_table(path)


# ---------------------------------------------------------------------------------------------- events


def read_trial_order(path: Path, split_path: Path | None) -> pd.DataFrame:
    """Trial table of one participant x paradigm: sorted by run then onset, merged with the split file.

    Returns a DataFrame (concept, stimulus_idx Int64, split Int64[, stimulus str]) with row i =
    GLMsingle trial i; ``stimulus`` is the file's stimulus path when it has one.
    """
    frame = read_table(path, sep=",")
    for col in ("run", "concept", "stimulus_idx", "onset"):
        if col not in frame:
            raise DataError(path, f"no '{col}' column")
    if len(frame) == 0:
        raise DataError(path, "no trials")
    try:
        run = pd.to_numeric(frame["run"], errors="raise")
        onset = pd.to_numeric(frame["onset"], errors="raise").astype(float)
        idx = pd.to_numeric(frame["stimulus_idx"], errors="raise").astype("Int64")
    except (ValueError, TypeError):
        raise DataError(path, "columns run, onset and stimulus_idx must be numeric") from None
    if run.isna().any() or onset.isna().any() or idx.isna().any():
        raise DataError(path, "empty run, onset or stimulus_idx cells")
    events = pd.DataFrame({"concept": normalise_concepts(frame, path), "stimulus_idx": idx,
                           "run": run, "onset": onset})
    # the stimulus path orders items as the paper's pivot tables do (core.analyses.encoding.model.make_items)
    events["stimulus"] = frame["stimulus"].astype(str).to_numpy() if "stimulus" in frame else pd.NA
    if events.duplicated(["run", "onset"]).any():
        raise DataError(path, "two trials share the same run and onset")
    events = events.sort_values(["run", "onset"], kind="stable").reset_index(drop=True)
    split = pd.Series(pd.NA, index=events.index, dtype="Int64")
    if split_path is not None and split_path.is_file():
        table = read_split_table(split_path)
        merged = events[["concept", "stimulus_idx"]].merge(table, on=["concept", "stimulus_idx"], how="left")
        missing = merged["split"].isna()
        if missing.any():
            row = merged[missing].iloc[0]
            raise DataError(split_path, f"no split for {row['concept']} stimulus {row['stimulus_idx']} "
                                        f"(trial in {path.name})")
        split = merged["split"].astype("Int64")
    out = pd.DataFrame({"concept": events["concept"], "stimulus_idx": events["stimulus_idx"], "split": split})
    if events["stimulus"].notna().all():
        out["stimulus"] = events["stimulus"].to_numpy()
    return out


def read_split_table(path: Path) -> pd.DataFrame:
    frame = read_table(path, sep=",")
    for col in ("concept", "stimulus_idx", "split"):
        if col not in frame:
            raise DataError(path, f"no '{col}' column")
    try:
        idx = pd.to_numeric(frame["stimulus_idx"], errors="raise").astype("Int64")
        split = pd.to_numeric(frame["split"], errors="raise").astype("Int64")
    except (ValueError, TypeError):
        raise DataError(path, "columns stimulus_idx and split must hold integers") from None
    if not split.isin([1, 2]).all():
        raise DataError(path, "column 'split' must be 1 or 2")
    table = pd.DataFrame({"concept": normalise_concepts(frame, path), "stimulus_idx": idx, "split": split})
    if table.duplicated(["concept", "stimulus_idx"]).any():
        raise DataError(path, "a (concept, stimulus_idx) pair appears twice")
    return table


# ---------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class ReleaseLoader:
    """Loads one participant of the release layout (picklable: paths and names only)."""

    root: Path
    files: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

    def _language_path(self, pid: str) -> Path | None:
        for suffix in (".nii.gz", ".nii"):
            p = self.root / "language_selectivity_nii" / f"{pid}_S-N_contrast{suffix}"
            if p.is_file():
                return p
        return None

    def load_participant(self, participant: str) -> ParticipantData:
        tokens = dict(dict(self.files)[participant])
        stim = self.root / "stimuli"
        order_files = {p: stim / f"stimuli_order_{participant}_{t}.csv" for p, t in tokens.items()}
        events = {p: read_trial_order(order_files[p], stim / f"split_{t}.csv") for p, t in tokens.items()}
        check_same_concepts({p: ev["concept"] for p, ev in events.items()}, order_files)
        betas_files = {p: self.root / BETAS_DIR / f"{participant}_{t}{BETAS_SUFFIX}"
                       for p, t in tokens.items()}
        lang_path = self._language_path(participant)
        language_vol, affine = None, MNI_2MM_AFFINE
        if lang_path is not None:
            img = load_nifti(lang_path, ndim=3)
            if tuple(img.shape) != MNI_2MM_SHAPE:
                raise DataError(lang_path, f"grid {img.shape} is not the MNI152 2 mm grid {MNI_2MM_SHAPE}")
            language_vol = np.asarray(img.dataobj, dtype=np.float32)
            affine = img.affine
        # the trial orders are hashed too, so an edited order is checked against the betas again
        sources = [*betas_files.values(), *order_files.values()] + ([lang_path] if lang_path else [])
        folder = release_cache_dir() / _cache_key(participant, sources)
        if not (folder / "done.json").is_file():
            try:
                _convert(folder, betas_files, {p: len(ev) for p, ev in events.items()}, language_vol)
            except OSError as exc:  # cache not writable, disk full, I/O error
                raise DataError(folder.parent, f"cannot write the conversion cache "
                                               f"({exc.strerror or type(exc).__name__})") from None
        mask = _load_cached(folder / "mask.npy")
        if mask.shape != MNI_2MM_SHAPE or mask.dtype != bool:
            raise DataError(folder / "mask.npy", "cache is damaged; delete this folder")
        geometry = VoxelGeometry(mask, affine)
        betas = {}
        for paradigm, ev in events.items():
            cached = folder / f"{paradigm}.npy"
            check_betas_shape(cached, _load_cached(cached).shape, len(ev), geometry.n_voxels)
            betas[paradigm] = CachedBetas(cached)
        language = None if language_vol is None else geometry.from_volume(language_vol).astype(np.float32)
        return ParticipantData(participant, geometry, events, betas, language)


def _cache_key(participant: str, sources: list[Path]) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}:{participant}".encode())
    for p in sources:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _load_cached(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"cache is damaged ({exc}); delete this folder") from None


@dataclass(frozen=True)
class CachedBetas:
    """A converted float32 (T, V) betas file, memory-mapped on use."""

    path: Path

    def __call__(self) -> np.ndarray:
        return _load_cached(self.path)


def _convert(folder: Path, betas_files: dict[str, Path], n_trials: dict[str, int],
             language_vol: np.ndarray | None) -> None:
    """Write mask.npy and {paradigm}.npy (float32 T x V) into ``folder`` atomically."""
    # another process finishing the same conversion first keeps its copy
    with atomic_dir(folder, complete=lambda f: (f / "done.json").is_file()) as tmp:
        valid = {}
        for paradigm, path in betas_files.items():
            arr = read_glmsingle(path)
            if tuple(arr.shape[:3]) != MNI_2MM_SHAPE:
                raise DataError(path, f"grid {arr.shape[:3]} is not the MNI152 2 mm grid {MNI_2MM_SHAPE}")
            if arr.shape[3] != n_trials[paradigm]:
                raise DataError(path, f"{arr.shape[3]} trials but the trial order lists {n_trials[paradigm]}")
            valid[paradigm] = _write_valid(arr, tmp / f"{paradigm}.valid.raw")
            del arr
        mask = np.logical_and.reduce(list(valid.values()))
        if language_vol is not None:
            mask &= np.isfinite(language_vol)
        if not mask.any():
            raise DataError(next(iter(betas_files.values())),
                            "no voxel has finite, non-constant betas in every paradigm "
                            "(and a language value)")
        for paradigm, v in valid.items():
            shape = (int(v.sum()), n_trials[paradigm])
            _transpose_columns(tmp / f"{paradigm}.valid.raw", shape, mask[v], tmp / f"{paradigm}.npy")
        np.save(tmp / "mask.npy", mask)
        (tmp / "done.json").write_text(json.dumps({
            "version": CACHE_VERSION, "sources": {p: str(f) for p, f in betas_files.items()},
            "n_voxels": int(mask.sum()), "n_trials": n_trials}))


def _write_valid(arr: np.ndarray, out_path: Path) -> np.ndarray:
    """Append the betas of voxels that are finite and not constant across trials to ``out_path`` as raw
    float32 rows (V_valid, T), reading the source once, one x-slab at a time (slab by slab is the C-order
    of the mask). Returns the (X, Y, Z) validity mask."""
    nx, ny, nz, nt = arr.shape
    valid = np.zeros((nx, ny, nz), dtype=bool)
    with open(out_path, "wb") as fh:
        for x, slab in enumerate(_slabs(arr)):
            lo, hi = slab.min(axis=1), slab.max(axis=1)  # NaN propagates into both
            ok = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
            valid[x] = ok.reshape(ny, nz)
            if ok.any():
                fh.write(np.ascontiguousarray(slab[ok]).tobytes())
    return valid


def _slabs(arr: np.ndarray):
    """The x-slabs of an (X, Y, Z, T) array as float32 (Y*Z, T). A C-ordered memory map is read with plain
    file reads into one reused buffer, so its pages land in the page cache rather than in this process's
    resident memory; other arrays are sliced."""
    nx, ny, nz, nt = arr.shape
    if isinstance(arr, np.memmap) and arr.flags.c_contiguous and arr.filename:
        buf = np.empty((ny * nz, nt), dtype=arr.dtype)
        view = memoryview(buf).cast("B")
        with open(arr.filename, "rb") as fh:
            for x in range(nx):
                fh.seek(arr.offset + x * buf.nbytes)
                if fh.readinto(view) != buf.nbytes:
                    raise DataError(Path(arr.filename), "file ends inside the responses")
                yield buf if buf.dtype == np.float32 else buf.astype(np.float32)
        return
    for x in range(nx):
        yield np.asarray(arr[x], dtype=np.float32).reshape(ny * nz, nt)


def _transpose_columns(src: Path, shape: tuple[int, int], keep: np.ndarray, dst: Path,
                       chunk: int = 4096) -> None:
    """Write rows ``keep`` (bool, V_valid) of the raw (V_valid, T) file ``src`` as a float32 (T, V) ``.npy``,
    ``chunk`` source rows at a time (chunk x T x 4 bytes of memory) with plain file reads and writes, so
    neither file is mapped into this process; then delete ``src``."""
    n_rows, nt = shape
    n_keep = int(keep.sum())
    row_bytes = nt * 4
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        np.lib.format.write_array_header_1_0(
            fout, {"descr": np.dtype(np.float32).str, "fortran_order": False, "shape": (nt, n_keep)})
        header = fout.tell()
        fout.truncate(header + nt * n_keep * 4)
        fd = fout.fileno()
        col = 0
        for start in range(0, n_rows, chunk):
            stop = min(start + chunk, n_rows)
            sel = keep[start:stop]
            raw = fin.read((stop - start) * row_bytes)
            if not sel.any():
                continue
            block = np.frombuffer(raw, dtype=np.float32).reshape(stop - start, nt)[sel]
            cols = np.ascontiguousarray(block.T)  # (T, k)
            for t in range(nt):
                os.pwrite(fd, cols[t], header + (t * n_keep + col) * 4)
            col += cols.shape[1]
    src.unlink()
