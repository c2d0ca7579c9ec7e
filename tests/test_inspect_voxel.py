"""The voxel card's C, null and p (core.inspect.voxel) are the consistency map's numbers for that voxel."""

from __future__ import annotations

import numpy as np
import pytest

from core.analyses.consistency import permutation_test
from core.inspect.voxel import NULL_PERMUTATIONS, NULL_SEED, VoxelInfo, add_null


@pytest.mark.parametrize("signal", [0.0, 0.3, 2.0])
def test_card_null_and_p_match_the_map_and_the_formula(signal):
    rng = np.random.default_rng(5)
    shared = rng.standard_normal(180)
    profiles = signal * shared + rng.standard_normal((3, 180))  # (paradigms, concepts), one voxel
    pairs = [np.corrcoef(profiles[a], profiles[b])[0, 1] for a, b in ((0, 1), (0, 2), (1, 2))]
    info = VoxelInfo(None, None, np.zeros(3), concept_means=dict(zip("abc", profiles, strict=True)))
    info.C = float(np.mean(pairs))
    add_null(info)
    assert info.null.shape == (NULL_PERMUTATIONS,)
    assert info.p == pytest.approx((1 + np.sum(info.null >= info.C)) / (1 + NULL_PERMUTATIONS), rel=1e-12)
    mapped = permutation_test(profiles[:, :, None], NULL_PERMUTATIONS, NULL_SEED, backend="numpy")
    assert info.p == pytest.approx(float(mapped.p[0]), rel=1e-12)
    assert float(mapped.C[0]) == pytest.approx(info.C, rel=1e-5)  # float32 map vs float64 card


def test_no_null_without_c():
    info = add_null(VoxelInfo(None, None, np.zeros(3)))
    assert info.null is None and info.p is None
