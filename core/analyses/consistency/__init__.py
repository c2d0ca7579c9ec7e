"""Semantic consistency: per voxel, the mean pairwise Pearson r of its 180 concept responses across paradigms.

Stack: ``_numba`` (compiled kernels) -> ``kernels`` (backend dispatch) -> ``statistic`` (C, permutation
tests, split halves) -> ``maps`` (per-participant tables and volumes) and ``areas`` (atlas summaries).
"""

from core.analyses import lazy_api

__all__, __getattr__, __dir__ = lazy_api(__name__, {
    "statistic": ("PermutationTest", "consistency", "permutation_test", "permutation_tests", "voxel_test"),
    "maps": ("consistency_results", "group_fraction", "participant_consistency", "read_consistency_voxels",
             "union_geometry"),
    "areas": ("area_consistency", "area_frame"),
})
