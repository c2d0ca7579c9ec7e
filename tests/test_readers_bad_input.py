"""Bad input for every reader: each failure is a one-line DataError naming the file, and nothing is written.

Explicit cases (truncated / corrupt files, wrong shapes, missing paradigms, differing concept lists,
unknown paradigms and concepts, row-count mismatches); the hypothesis property tests are in
tests/test_readers_random_input.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

import core.data.readers.release as release
from core.data.concepts import load_concepts
from core.data.geometry import MNI_2MM_SHAPE
from core.data.readers import open_dataset
from core.errors import DataError
from tests.reader_files import (
    MAT_TOKENS,
    pereira_voxels,
    release_order,
    write_pereira_v5,
)

HYPO = settings(max_examples=int(os.environ.get("CBS_HYPO_EXAMPLES", "25")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------- templates


@contextmanager
def fresh_copy(template: Path):
    """A hard-linked copy of a template dataset in a new temporary folder, with its own release cache.
    Mutations must replace files (unlink + write), never write into the shared inodes."""
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / template.name
        shutil.copytree(template, dst, copy_function=os.link)
        with mock.patch.object(release, "release_cache_dir", lambda: Path(tmp) / "cache"):
            yield dst, Path(tmp) / "cache"


def replace_bytes(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def load_everything(path: Path) -> None:
    """Open, load every participant and read every paradigm's betas and concept means."""
    ds = open_dataset(path)
    for data in ds.iter_participants():
        for p in data.paradigms:
            np.asarray(data.betas(p)).sum()
            data.concept_means(p)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def expect_data_error(path: Path, cache: Path, file: Path | None, reason: str) -> DataError:
    before = snapshot(path)
    with pytest.raises(DataError) as err:
        load_everything(path)
    message = str(err.value)
    assert "\n" not in message and reason.lower() in message.lower(), message
    if file is not None:
        assert err.value.path == file, message
    assert snapshot(path) == before  # nothing written next to the data
    leftovers = list(cache.iterdir()) if cache.exists() else []
    assert not leftovers, leftovers  # and no partial cache
    return err.value


def test_templates_are_valid(templates):
    for path in templates.values():
        with fresh_copy(path) as (p, _cache):
            load_everything(p)


# --------------------------------------------------------------------------------------- native cases


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    replace_bytes(path, data[: int(len(data) * keep)])


def _native_case(name: str, p: Path) -> tuple[Path | None, str]:
    sub = p / "sub-S1"
    if name == "truncated_npy":
        _truncate(sub / "pictures_betas.npy")
        return sub / "pictures_betas.npy", "not a readable .npy"
    if name == "corrupt_mask":
        _truncate(sub / "mask.nii.gz", 0.6)
        return sub / "mask.nii.gz", "not a readable NIfTI"
    if name == "garbage_langloc":
        replace_bytes(sub / "langloc.nii.gz", b"\x1f\x8b" + os.urandom(300))
        return sub / "langloc.nii.gz", "not a readable NIfTI"
    if name == "rows_differ":
        b = np.load(sub / "word_clouds_betas.npy")
        (sub / "word_clouds_betas.npy").unlink()
        np.save(sub / "word_clouds_betas.npy", b[:-1])
        return sub / "word_clouds_betas.npy", "response rows but the events table has"
    if name == "voxels_differ":
        b = np.load(sub / "sentences_betas.npy")
        (sub / "sentences_betas.npy").unlink()
        np.save(sub / "sentences_betas.npy", b[:, :-2])
        return sub / "sentences_betas.npy", "voxel columns but the mask has"
    if name == "betas_3d":
        (sub / "sentences_betas.npy").unlink()
        np.save(sub / "sentences_betas.npy", np.zeros((2, 3, 4), np.float32))
        return sub / "sentences_betas.npy", "must be 2D"
    if name == "pickled_npy":
        (sub / "sentences_betas.npy").unlink()
        np.save(sub / "sentences_betas.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return sub / "sentences_betas.npy", "not a readable .npy"
    if name == "missing_paradigm":
        (sub / "pictures_events.tsv").unlink()
        return sub / "pictures_events.tsv", "missing"
    if name == "missing_betas":
        (sub / "pictures_betas.npy").unlink()
        return sub / "pictures_betas.npy", "missing"
    if name == "unknown_paradigm":
        (p / "dataset.json").unlink()
        (p / "dataset.json").write_text('{"paradigms": ["sentences", "movies"], "participants": ["S1"]}')
        return p / "dataset.json", "unknown paradigm(s) movies"
    if name == "unknown_concept":
        ev = pd.read_csv(sub / "sentences_events.tsv", sep="\t")
        ev.loc[3, "concept"] = "Unicorn"
        (sub / "sentences_events.tsv").unlink()
        ev.to_csv(sub / "sentences_events.tsv", sep="\t", index=False)
        return sub / "sentences_events.tsv", "unknown concept 'Unicorn'"
    if name == "concepts_differ":
        ev = pd.read_csv(sub / "pictures_events.tsv", sep="\t")
        b = np.load(sub / "pictures_betas.npy")
        keep = (ev["concept"] != "Ability").to_numpy()
        for f in ("pictures_events.tsv", "pictures_betas.npy"):
            (sub / f).unlink()
        ev[keep].to_csv(sub / "pictures_events.tsv", sep="\t", index=False)
        np.save(sub / "pictures_betas.npy", b[keep])
        return sub / "pictures_events.tsv", "concepts differ from sentences_events.tsv: missing Ability"
    if name == "bad_json":
        replace_bytes(p / "dataset.json", b'{"paradigms": [')
        return p / "dataset.json", "not valid JSON"
    if name == "bad_split":
        ev = pd.read_csv(sub / "sentences_events.tsv", sep="\t")
        ev.loc[0, "split"] = 3
        (sub / "sentences_events.tsv").unlink()
        ev.to_csv(sub / "sentences_events.tsv", sep="\t", index=False)
        return sub / "sentences_events.tsv", "must be 1 or 2"
    raise AssertionError(name)


NATIVE_CASES = ["truncated_npy", "corrupt_mask", "garbage_langloc", "rows_differ", "voxels_differ",
                "betas_3d", "pickled_npy", "missing_paradigm", "missing_betas", "unknown_paradigm",
                "unknown_concept", "concepts_differ", "bad_json", "bad_split"]


@pytest.mark.parametrize("case", NATIVE_CASES)
def test_native_bad_input(templates, case):
    with fresh_copy(templates["native"]) as (p, cache):
        file, reason = _native_case(case, p)
        expect_data_error(p, cache, file, reason)


# -------------------------------------------------------------------------------------- pereira cases


def _rewrite_pereira(p: Path, paradigm: str, *, concepts=None, ex=None, ijk=None):
    """Rewrite one paradigm file (v5) with changed content."""
    import scipy.io

    src = p / "data_180concepts_sentences.mat"
    d = scipy.io.loadmat(str(src), simplify_cells=True)
    base_ijk = np.asarray(d["meta"]["colToCoord"], int) - 1
    concepts = concepts if concepts is not None else list(load_concepts())
    ex = ex if ex is not None else np.asarray(d["examples"])[: len(concepts)]
    target = p / f"data_180concepts_{MAT_TOKENS[paradigm]}.mat"
    target.unlink()
    write_pereira_v5(target, ex, concepts, base_ijk if ijk is None else ijk, (5, 4, 3))
    return target


def _pereira_case(name: str, p: Path) -> tuple[Path | None, str]:
    sent = p / "data_180concepts_sentences.mat"
    pict = p / "data_180concepts_pictures.mat"
    if name == "truncated_v5":
        _truncate(sent, 0.5)
        return sent, "sentences.mat"
    if name == "truncated_v73":
        _truncate(pict, 0.5)
        return pict, "not a readable MATLAB v7.3"
    if name == "garbage_mat":
        replace_bytes(sent, os.urandom(500))
        return sent, "MATLAB"
    if name == "missing_variable":
        sent.unlink()
        import scipy.io
        scipy.io.savemat(str(sent), {"examples": np.zeros((180, 12))})
        return sent, "no 'keyConcept' variable"
    if name == "concepts_differ":
        concepts = [c for c in load_concepts() if c != "Dog"]
        f = _rewrite_pereira(p, "word_clouds", concepts=concepts)
        return f, "concepts differ from data_180concepts_sentences.mat: missing Dog"
    if name == "unknown_concept":
        concepts = list(load_concepts())
        concepts[5] = "Unicorn"
        f = _rewrite_pereira(p, "word_clouds", concepts=concepts)
        return f, "unknown concept 'unicorn'"
    if name == "rows_differ":
        f = _rewrite_pereira(p, "word_clouds", ex=np.zeros((179, 12)))
        return f, "keyConcept has 180 names but 'examples' has 179 rows"
    if name == "columns_differ":
        f = _rewrite_pereira(p, "word_clouds", ex=np.zeros((180, 11)))
        return f, "meta.colToCoord must be 11 x 3"
    if name == "voxels_differ":
        ijk = pereira_voxels(np.random.default_rng(9), (5, 4, 3), 12)
        f = _rewrite_pereira(p, "word_clouds", ijk=ijk)
        return f, "voxel columns differ from data_180concepts_sentences.mat"
    if name == "coords_outside_grid":
        import scipy.io

        d = scipy.io.loadmat(str(sent), simplify_cells=True)
        d["meta"]["dimensions"] = np.array([[2.0, 2.0, 2.0]])
        sent.unlink()
        scipy.io.savemat(str(sent), {k: v for k, v in d.items() if not k.startswith("__")})
        return sent, "colToCoord has voxel coordinates outside the grid"
    if name == "unknown_paradigm":
        shutil.copy(sent, p / "data_180concepts_movies.mat")
        return p / "data_180concepts_movies.mat", "unknown paradigm 'movies'"
    if name == "missing_paradigm":  # a second participant without pictures
        other = p.parent / "P02"
        other.mkdir()
        for f in ("data_180concepts_sentences.mat", "data_180concepts_wordclouds.mat"):
            os.link(p / f, other / f)
        return other / "data_180concepts_pictures.mat", "missing: participant P02 lacks paradigm 'pictures'"
    raise AssertionError(name)


PEREIRA_CASES = ["truncated_v5", "truncated_v73", "garbage_mat", "missing_variable", "concepts_differ",
                 "unknown_concept", "rows_differ", "columns_differ", "voxels_differ", "coords_outside_grid",
                 "unknown_paradigm", "missing_paradigm"]


@pytest.mark.parametrize("case", PEREIRA_CASES)
def test_pereira_bad_input(templates, case):
    with fresh_copy(templates["pereira"].parent) as (root, cache):
        p = root / "P01"
        file, reason = _pereira_case(case, p)
        target = root if case == "missing_paradigm" else p
        expect_data_error(target, cache, file, reason)


# -------------------------------------------------------------------------------------- release cases


def _release_case(name: str, d: Path) -> tuple[Path | None, str]:
    betas = d / "GLMsingle_outputs"
    sent = betas / "S01_sentences_TYPED_FITHRF_GLMDENOISE_RR.npy"
    pict = betas / "S01_pictures_TYPED_FITHRF_GLMDENOISE_RR.npy"
    order = d / "stimuli" / "stimuli_order_S01_sentences.csv"
    if name == "truncated_dict":
        _truncate(sent, 0.5)
        return sent, "not a readable .npy"
    if name == "truncated_plain":
        _truncate(pict, 0.7)
        return pict, "not a readable .npy"
    if name == "trials_differ":
        o = pd.read_csv(order)
        order.unlink()
        o.iloc[:-1].to_csv(order, index=False)
        return sent, "4 trials but the trial order lists 3"
    if name == "wrong_grid":
        pict.unlink()
        np.save(pict, np.ones((10, 10, 10, 4), np.float32))
        return pict, "not the MNI152 2 mm grid"
    if name == "not_4d":
        pict.unlink()
        np.save(pict, np.ones((10, 4), np.float32))
        return pict, "must be 4D"
    if name == "missing_paradigm":
        os.link(sent, betas / "S02_sentences_TYPED_FITHRF_GLMDENOISE_RR.npy")
        return betas / "S02_pictures_TYPED_FITHRF_GLMDENOISE_RR.npy", "S02 lacks paradigm 'pictures'"
    if name == "missing_order":
        order.unlink()
        return order, "missing: trial order"
    if name == "unknown_paradigm":
        os.link(sent, betas / "S01_movies_TYPED_FITHRF_GLMDENOISE_RR.npy")
        return betas / "S01_movies_TYPED_FITHRF_GLMDENOISE_RR.npy", "unknown paradigm 'movies'"
    if name == "unknown_concept":
        o = pd.read_csv(order)
        o.loc[0, "concept"] = "Unicorn"
        order.unlink()
        o.to_csv(order, index=False)
        return order, "unknown concept 'Unicorn'"
    if name == "concepts_differ":
        o = release_order(("Dog", "Ability"))
        order_p = d / "stimuli" / "stimuli_order_S01_pictures.csv"
        order_p.unlink()
        o.to_csv(order_p, index=False)
        return order_p, "concepts differ from stimuli_order_S01_sentences.csv: missing Bird"
    if name == "split_missing_trial":
        split = d / "stimuli" / "split_sentences.csv"
        s = pd.read_csv(split)
        split.unlink()
        s.iloc[1:].to_csv(split, index=False)
        return split, "no split for Dog stimulus 1"
    if name == "bad_language_map":
        lang = d / "language_selectivity_nii" / "S01_S-N_contrast.nii.gz"
        _truncate(lang, 0.5)
        return lang, "not a readable NIfTI"
    if name == "all_nan":
        sent.unlink()
        np.save(sent, {"betasmd": np.full(MNI_2MM_SHAPE + (4,), np.nan, np.float32)}, allow_pickle=True)
        return sent, "no voxel has finite, non-constant betas"
    if name == "no_betasmd":
        sent.unlink()
        np.save(sent, {"R2": np.zeros((2, 2))}, allow_pickle=True)
        return sent, "no 'betasmd' entry"
    if name == "no_betas_folder":
        shutil.rmtree(betas)
        return betas, "missing: the single-trial GLMsingle betas"
    raise AssertionError(name)


RELEASE_CASES = ["truncated_dict", "truncated_plain", "trials_differ", "wrong_grid", "not_4d",
                 "missing_paradigm", "missing_order", "unknown_paradigm", "unknown_concept",
                 "concepts_differ", "split_missing_trial", "bad_language_map", "all_nan", "no_betas_folder",
                 "no_betasmd"]


@pytest.mark.parametrize("case", RELEASE_CASES)
def test_release_bad_input(templates, case):
    with fresh_copy(templates["release"]) as (d, cache):
        file, reason = _release_case(case, d)
        expect_data_error(d, cache, file, reason)
