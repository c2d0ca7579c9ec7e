"""The names a user or a plugin declaration picks from, as plain tuples (standard library only).

Declaring a parameter (``Param(..., choices=SELECTIONS)``) or checking a plugin's declared output
kinds must not import pandas, scipy, numba or torch, so ``cbstudio --help`` and ``cbstudio plugins``
stay fast. The modules that implement these choices are the authority on what each name means;
``tests/test_startup.py`` checks that every tuple here equals the one the implementing module uses.
"""

from __future__ import annotations

#: stimulus paradigms of the Pereira design (:mod:`core.data.concepts`)
PARADIGMS: tuple[str, ...] = ("sentences", "pictures", "word_clouds")
#: typed output classes of :mod:`core.outputs`
OUTPUT_KINDS: tuple[str, ...] = ("VoxelMap", "Table", "AreaTable", "RDM", "LayerCurve", "Figure")
#: layer/pooling selection schemes (:mod:`core.analyses.encoding.selection`)
SELECTIONS: tuple[str, ...] = ("paper", "nested")
#: RDM distances and RDM comparisons (:mod:`core.analyses.rsa.rdm`)
DISTANCES: tuple[str, ...] = ("correlation", "cosine", "euclidean")
COMPARISONS: tuple[str, ...] = ("spearman", "kendall_tau_a", "pearson")
#: RSA baselines (:mod:`core.analyses.rsa.pipeline`) and permutation schemes (:mod:`core.analyses.rsa.stats`)
BASELINES: tuple[str, ...] = ("permutation", "single_shuffle")
SCHEMES: tuple[str, ...] = ("independent", "product")
#: fold units of encoding cross-validation (:mod:`core.analyses.encoding.cv`)
CV_GROUPS: tuple[str, ...] = ("stimulus", "concept")
#: multiple-comparison corrections (:mod:`core.stats.correction`) and array backends (:mod:`core.backend`)
CORRECTIONS: tuple[str, ...] = ("none", "fdr_bh", "maxstat")
BACKENDS: tuple[str, ...] = ("auto", "numba", "numpy", "torch")
