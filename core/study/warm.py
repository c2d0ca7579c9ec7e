"""Imported by every Dask worker of a study as it starts (the cluster's ``preload``): the libraries the
study's tasks need, so that a worker's first task does not load them in the middle of the graph.

Measured on the project's 2-core machine: torch 1.3 s, transformers' model machinery (auto classes,
activations, attention masks, layers: what every model's ``from_pretrained`` imports) 2.7 s, the
study figures' matplotlib and nilearn stack 0.8 + 2.5 s. Without this, each worker paid them inside
its first feature or figures task, on the study's critical path; with it, all workers load them at
once while the client plans the graph. Model weights are not loaded here (each feature task loads
its own model). A module that cannot be imported (another transformers version) is skipped: a
preload that raised would stop the worker.
"""

from __future__ import annotations

import importlib

MODULES = (
    "numba",
    "pandas",
    "torch",
    "transformers",
    "transformers.modeling_utils",
    "transformers.activations",
    "transformers.masking_utils",
    "transformers.modeling_layers",
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
    "core.analyses.consistency",
    "core.analyses.encoding",
    "core.features.extract",
    "core.figures.study_figures",
    "core.figures.encoding_figures",
    "core.figures.rsa_figure",
    "nilearn.datasets",
    "nilearn.plotting",
    "nilearn.surface",
)


def warm(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules``; returns the names that could not be imported."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


warm()
