"""GGUF checkpoints: dequantise once with transformers, then keep a safetensors copy in the user cache.

Dequantising SmolLM2-135M takes ~15-20 s on a laptop CPU; loading the safetensors copy takes well
under a second. The copy lives in ``user_cache_dir("concept-brain-studio")/models/<name>/`` and is
written atomically (a temporary folder renamed into place), so a killed run never leaves half a model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from core.atomic import atomic_dir
from core.errors import ModelNotFoundError


def models_cache_dir() -> Path:
    """Folder that holds dequantised models (``$CBS_MODEL_CACHE`` overrides the default)."""
    env = os.environ.get("CBS_MODEL_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concept-brain-studio")) / "models"


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}".encode()).hexdigest()[:12]


def dequantised_folder(folder: str | Path, gguf_file: str, name: str | None = None) -> Path:
    """Return a folder with ``config.json``, ``model.safetensors`` and the tokenizer for a GGUF file.

    Parameters
    ----------
    folder : folder that holds the GGUF file.
    gguf_file : file name of the GGUF checkpoint inside ``folder``.
    name : readable prefix for the cache folder (default: the GGUF file stem).
    """
    src = Path(folder) / gguf_file
    if not src.is_file():
        raise ModelNotFoundError(f"GGUF file not found: {src}")
    target = models_cache_dir() / f"{name or src.stem}-{_fingerprint(src)}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file)
    model = AutoModel.from_pretrained(str(folder), gguf_file=gguf_file)
    # the weights are plain float32 tensors now; drop the GGUF quantiser so that saving is allowed
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # another process finishing first keeps its copy
    with atomic_dir(target, complete=lambda t: (t / "model.safetensors").is_file()) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return target
