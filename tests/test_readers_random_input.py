"""Random bad input for every reader (hypothesis): random truncations, random bytes and random array shapes
give a one-line DataError naming the file, or success; never another exception. The templates and helpers
are the explicit cases' (tests/test_readers_bad_input.py); the ``templates`` fixture is in conftest.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from core.data.concepts import PARADIGMS
from core.errors import DataError
from tests.reader_files import MAT_TOKENS
from tests.test_readers_bad_input import HYPO, fresh_copy, load_everything, replace_bytes


def _files(template: Path) -> list[Path]:
    return sorted(p.relative_to(template) for p in template.rglob("*") if p.is_file())


def _check(path: Path) -> None:
    """DataError or success; never another exception; DataError messages are one line."""
    try:
        load_everything(path)
    except DataError as err:
        assert "\n" not in str(err) and str(err.path)


@HYPO
@given(data=st.data(), which=st.sampled_from(["native", "pereira", "release"]))
def test_random_truncation(templates, data, which):
    template = templates[which]
    rel = data.draw(st.sampled_from(_files(template)), label="file")
    size = (template / rel).stat().st_size
    keep = data.draw(st.integers(0, max(size - 1, 0)), label="keep")
    with fresh_copy(template) as (p, _cache):
        replace_bytes(p / rel, (template / rel).read_bytes()[:keep])
        _check(p)


@HYPO
@given(data=st.data(), which=st.sampled_from(["native", "pereira", "release"]),
       junk=st.binary(min_size=0, max_size=600))
def test_random_bytes(templates, data, which, junk):
    template = templates[which]
    rel = data.draw(st.sampled_from(_files(template)), label="file")
    keep_header = data.draw(st.integers(0, 256), label="keep_header")
    with fresh_copy(template) as (p, _cache):
        replace_bytes(p / rel, (template / rel).read_bytes()[:keep_header] + junk)
        _check(p)


shapes = st.lists(st.integers(0, 50), min_size=0, max_size=5).map(tuple)


@HYPO
@given(shape=shapes, paradigm=st.sampled_from(PARADIGMS),
       dtype=st.sampled_from(["float32", "float64", "int16", "bool", "complex64"]))
def test_random_native_betas_shapes(templates, shape, paradigm, dtype):
    with fresh_copy(templates["native"]) as (p, _cache):
        f = p / "sub-S1" / f"{paradigm}_betas.npy"
        f.unlink()
        np.save(f, np.zeros(shape, dtype=dtype))
        _check(p)


@HYPO
@given(shape=st.lists(st.integers(1, 12), min_size=0, max_size=5).map(tuple),
       as_dict=st.booleans(), nan_fraction=st.floats(0, 1))
def test_random_release_betas_shapes(templates, shape, as_dict, nan_fraction):
    rng = np.random.default_rng(0)
    arr = rng.standard_normal(shape).astype(np.float32)
    arr[rng.random(shape) < nan_fraction] = np.nan
    with fresh_copy(templates["release"]) as (d, _cache):
        f = d / "GLMsingle_outputs" / "S01_sentences_TYPED_FITHRF_GLMDENOISE_RR.npy"  # converted first
        f.unlink()
        np.save(f, {"betasmd": arr} if as_dict else arr, allow_pickle=as_dict)
        _check(d)


@HYPO
@given(rows=st.integers(0, 200), cols=st.integers(0, 20), which=st.sampled_from(["sentences", "word_clouds"]))
def test_random_pereira_shapes(templates, rows, cols, which):
    with fresh_copy(templates["pereira"]) as (p, _cache):
        f = p / f"data_180concepts_{MAT_TOKENS[which]}.mat"
        import scipy.io

        d = scipy.io.loadmat(str(f), simplify_cells=True)
        f.unlink()
        scipy.io.savemat(str(f), {"examples": np.ones((rows, cols)), "keyConcept": np.array(d["keyConcept"],
                                  dtype=object).reshape(-1, 1), "meta": d["meta"]})
        _check(p)
