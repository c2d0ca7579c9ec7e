"""On-disk feature cache: one safetensors file per (model, revision, paradigm, pooling, stimulus set).

Layout: ``<root>/<model>/<revision>/<paradigm>/<pooling>[-<dtype>]-<hash>.safetensors`` where
``<hash>`` is a SHA-256 of the model inputs (concept, stimulus index, text and image fingerprint
of every row, in order). Each file holds one float32 tensor ``hidden`` (n_stimuli, n_layers + 1,
hidden) and string metadata (model id, revision, paradigm, pooling, dtype, and the row keys as JSON).
No pickle anywhere. Writes are atomic (temporary file renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.atomic import atomic_file
from core.errors import DataError


def feature_cache_dir() -> Path:
    """Default cache root (``$CBS_FEATURE_CACHE`` overrides it)."""
    env = os.environ.get("CBS_FEATURE_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concept-brain-studio")) / "features"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "_"


def _image_fingerprint(image) -> str:
    if image is None or (isinstance(image, float) and np.isnan(image)) or image is pd.NA:
        return ""
    path = Path(str(image))
    if path.is_file():
        st = path.stat()
        return f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}"
    return str(image)


def stimulus_hash(frame: pd.DataFrame) -> str:
    """SHA-256 (16 hex digits) of the rows of a ``stimulus_texts`` frame, in order."""
    h = hashlib.sha256()
    images = frame["image"] if "image" in frame else [None] * len(frame)
    for concept, idx, text, image in zip(
        frame["concept"], frame["stimulus_idx"], frame["text"], images, strict=False
    ):
        idx_s = "" if pd.isna(idx) else str(int(idx))
        h.update(json.dumps([str(concept), idx_s, str(text), _image_fingerprint(image)]).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def cache_path(
    root: Path,
    model_id: str,
    revision: str | None,
    paradigm: str,
    pooling: str,
    frame: pd.DataFrame,
    dtype: str = "float32",
) -> Path:
    """Where the features of ``frame`` for this model / revision / paradigm / pooling live."""
    suffix = "" if dtype == "float32" else f"-{dtype}"
    name = f"{pooling}{suffix}-{stimulus_hash(frame)}.safetensors"
    return Path(root) / _slug(model_id) / _slug(revision or "unknown") / paradigm / name


def _keys_json(frame: pd.DataFrame) -> str:
    return json.dumps(
        {
            "concept": [str(c) for c in frame["concept"]],
            "stimulus_idx": [None if pd.isna(i) else int(i) for i in frame["stimulus_idx"]],
            "text": [str(t) for t in frame["text"]],
        }
    )


def save_features(path: Path, hidden: np.ndarray, frame: pd.DataFrame, meta: dict[str, str]) -> Path:
    """Write ``hidden`` (float32 (n, L+1, H)) and the row keys of ``frame`` atomically."""
    from safetensors.numpy import save_file

    hidden = np.ascontiguousarray(hidden, dtype=np.float32)
    if hidden.shape[0] != len(frame):
        raise ValueError(f"{hidden.shape[0]} feature rows for {len(frame)} stimuli")
    path = Path(path)
    metadata = {k: "" if v is None else str(v) for k, v in meta.items()}
    metadata["keys"] = _keys_json(frame)
    with atomic_file(path) as tmp:
        save_file({"hidden": hidden}, str(tmp), metadata=metadata)
    return path


def load_features(path: Path) -> tuple[np.ndarray, pd.DataFrame, dict[str, str]]:
    """Read a cached file.

    Returns (hidden float32 (n, L+1, H), keys DataFrame(concept, stimulus_idx, text), metadata).
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
            hidden = f.get_tensor("hidden")
        keys = json.loads(meta.pop("keys"))
    except (OSError, KeyError, ValueError, Exception) as exc:  # noqa: BLE001 - safetensors raises its own types
        raise DataError(path, f"unreadable feature file ({type(exc).__name__}: {exc})") from None
    frame = pd.DataFrame(
        {
            "concept": keys["concept"],
            "stimulus_idx": pd.array(keys["stimulus_idx"], dtype="Int64"),
            "text": keys["text"],
        }
    )
    if len(frame) != hidden.shape[0]:
        raise DataError(path, f"{hidden.shape[0]} feature rows but {len(frame)} keys")
    return hidden.astype(np.float32, copy=False), frame, meta
