"""Representational similarity: concept RDMs of models and brain regions, compared with permutation tests.

Stack: ``_numba`` and ``kernels`` (permutation gathers) -> ``rdm`` (RDMs, comparisons) -> ``stats``
(concept permutations, nulls, p-values, selection) -> ``inputs`` (ROIs, voxels, model features) and
``pipeline`` (participants x layers x ROIs).
"""

from core.analyses import lazy_api

__all__, __getattr__, __dir__ = lazy_api(__name__, {
    "rdm": ("compare_many", "compare_rdms", "concept_vectors", "rdm", "rdms", "square"),
    "stats": ("make_concept_permutations", "permutation_null"),
    "inputs": ("ROISet", "load_rois", "model_features", "model_layer_rdms", "participant_rdms",
               "reported_layers", "seen_stimuli", "significant_voxels", "union_events"),
    "pipeline": ("ParticipantRDMs", "RSAResult", "public_scores", "run_rsa"),
})
