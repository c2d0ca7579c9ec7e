"""The array namespace (core.backend.get_backend): its operations equal numpy's on every backend here, and
the kernels that take it give the same numbers on every backend (float32 tolerance: different paths)."""

from __future__ import annotations

import numpy as np
import pytest

from core.backend import ArrayNamespace, get_backend, has_numba
from core.errors import ParameterError
from tests.tolerance import assert_f32_close

NAMES = ["numpy", "torch"] + (["numba"] if has_numba() else [])


@pytest.mark.parametrize("name", NAMES)
def test_namespace_operations_equal_numpy(name):
    xp = get_backend(name, "cpu")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    assert xp.to_numpy(xp.asarray(a)).dtype == np.float32
    assert_f32_close(xp.to_numpy(xp.matmul(xp.asarray(a), xp.asarray(b))), a @ b)
    sq = xp.asarray(a)
    xp.square_(sq)
    assert_f32_close(xp.to_numpy(sq), a**2)
    idx = xp.index_array([3, 0, 3])
    assert np.array_equal(xp.to_numpy(xp.take_rows(xp.from_numpy(a), idx)), a[[3, 0, 3]])
    assert xp.to_numpy(xp.from_numpy(a)).dtype == np.float64  # from_numpy keeps the dtype
    assert np.array_equal(xp.to_numpy(xp.amax(xp.from_numpy(a), 1)), a.max(axis=1))
    assert xp.to_numpy(xp.zeros((2, 3))).sum() == 0 and xp.empty((2, 3)).shape == (2, 3)
    w1 = xp.workspace((4, 5))
    w2 = xp.workspace((2, 3))  # reused: no new allocation for a smaller request
    assert w1.shape == (4, 5) and w2.shape == (2, 3)
    with xp.no_grad():
        pass


def test_bad_backends_are_refused():
    with pytest.raises(ParameterError, match="unknown array backend"):
        ArrayNamespace("jax")
    with pytest.raises(ParameterError, match="CPU only"):
        ArrayNamespace("numpy", "cuda")
    with pytest.raises(ParameterError, match="float32 or float64"):
        ArrayNamespace("numpy", "cpu", "float16")


def test_consistency_kernels_agree_across_backends():
    from core.analyses.consistency.kernels import counts_and_max, permuted_sums
    from core.stats.permutation import make_permutations, relative_permutations

    rng = np.random.default_rng(1)
    z = rng.standard_normal((3, 20, 30)).astype(np.float32)
    rel = relative_permutations(make_permutations(20, 3, 50, seed=0))
    # the reference: S[k, v] = sum_i (sum_p z[p, rel[k, p, i], v])^2, written out
    ref = np.array([[np.sum(sum(z[p, rel[k, p], v] for p in range(3)) ** 2) for v in range(30)]
                    for k in range(50)])
    valid = np.ones(30, bool)
    valid[::7] = False
    for name in NAMES:
        xp = get_backend(name, "cpu")
        assert_f32_close(permuted_sums(z, rel, xp), ref)
        s_obs, counts, best = counts_and_max(z, rel, valid, xp)
        identity = np.sum(z.sum(axis=0) ** 2, axis=0)
        assert_f32_close(s_obs, identity)
        near_tie = (np.abs(ref - identity) <= 1e-4 * np.abs(identity)).any(axis=0)
        clear = valid & ~near_tie  # float32 rounding may decide an exact tie either way
        assert clear.sum() > 10
        assert np.array_equal(counts[clear], (ref[:, clear] >= identity[clear]).sum(axis=0))
        assert np.all(counts[~valid] == 0)
        assert_f32_close(best, ref[:, valid].max(axis=1))


def test_rsa_null_agrees_across_backends():
    from core.analyses.rsa.kernels import independent_null

    rng = np.random.default_rng(2)
    n = 12
    m = n * (n - 1) // 2
    a, b = rng.standard_normal((2, m)), rng.standard_normal((3, m))
    perms = np.array([rng.permutation(n) for _ in range(40)])
    iu, ju = np.triu_indices(n, k=1)
    ref = np.empty((2, 40, 3))
    for r in range(2):
        sq = np.zeros((n, n))
        sq[iu, ju] = a[r]
        sq = sq + sq.T
        for q, pi in enumerate(perms):
            ref[r, q] = b @ sq[pi[iu], pi[ju]]
    for name in NAMES:
        got = independent_null(a, b, perms, get_backend(name, "cpu"), lambda f, s: None, None)
        assert_f32_close(got, ref)
