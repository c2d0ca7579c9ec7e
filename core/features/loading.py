"""Load a model and its tokenizer / processor offline, once per process.

Loaded models are kept in a small in-process LRU cache keyed by (source, device, dtype,
trust_remote_code), so repeated extraction calls do not reload weights.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.backend import resolve_device
from core.errors import ModelNotFoundError, ParameterError
from core.features.registry import ModelSpec, ensure_offline, resolve_model

DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model ready for extraction.

    ``tokenizer`` is the text tokenizer (for VLMs, the processor's tokenizer); ``processor`` is the
    multimodal processor (LLaVA, FLAVA), the image processor (Qwen2.5-VL), or None for text models.
    ``model_id`` and ``revision`` go into provenance and cache keys.
    """

    spec: ModelSpec
    model: Any
    tokenizer: Any
    processor: Any
    device: str
    dtype: str
    model_id: str
    revision: str | None
    attention: str = ""  # the attention implementation in use (sdpa, eager, flash_attention_2, ...)


def torch_dtype(dtype: str):
    import torch

    if dtype not in DTYPES:
        raise ParameterError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def folder_revision(folder: Path) -> str:
    """A short content fingerprint of a local model folder (file names, sizes, mtimes)."""
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}|{st.st_size}|{int(st.st_mtime)};".encode())
    return "local-" + h.hexdigest()[:12]


def model_identity(spec: ModelSpec) -> tuple[str, str | None]:
    """(model id, revision) of a spec without loading it: the package version for packaged models,
    a folder fingerprint for local folders, the cached snapshot commit for hub ids (None if absent)."""
    if spec.packaged:
        return spec.key, spec.revision
    path = Path(spec.source)
    if path.is_dir():
        return str(path.resolve()), folder_revision(path)
    if spec.revision:
        return spec.source, spec.revision
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(spec.source, "config.json")
    except Exception:  # noqa: BLE001 - malformed ids etc.: unknown revision
        found = None
    if isinstance(found, str):
        return spec.source, Path(found).parent.name
    return spec.source, None


def _hub_help(spec: ModelSpec) -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover
        HF_HUB_CACHE = "~/.cache/huggingface/hub"
    return (
        f"model {spec.key!r} ({spec.source}) is not available offline: looked for a local folder "
        f"'{spec.source}' and in the Hugging Face cache {HF_HUB_CACHE} (HF_HUB_OFFLINE="
        f"{os.environ.get('HF_HUB_OFFLINE', '')}); download it there first, or use a packaged model "
        "(minilm, smollm2-135m)"
    )


def _classes(family: str):
    """(model class, function folder, **kwargs -> (tokenizer, processor or None)) for a family."""
    import transformers as tf

    def text(source, **kw):
        return tf.AutoTokenizer.from_pretrained(source, **kw), None

    def processor(cls):
        def load(source, **kw):
            proc = cls.from_pretrained(source, **kw)
            return proc.tokenizer, proc

        return load

    def qwen_vl(source, **kw):
        # the Qwen2.5-VL processor class also needs a video processor (torchvision); images need only these
        return tf.AutoTokenizer.from_pretrained(source, **kw), tf.AutoImageProcessor.from_pretrained(
            source, **kw
        )

    if family == "qwen2_5_vl":
        return tf.Qwen2_5_VLForConditionalGeneration, qwen_vl
    if family == "llava":
        return tf.LlavaForConditionalGeneration, processor(tf.AutoProcessor)
    if family == "flava":
        return tf.FlavaModel, processor(tf.FlavaProcessor)
    return tf.AutoModel, text


def attention_choices(device: str, dtype: str) -> tuple[str, ...]:
    """Attention implementations to try, fastest first: FlashAttention 2 on CUDA in half precision when
    the ``flash_attn`` package is installed, then PyTorch's fused ``sdpa``, then ``eager`` (always there).
    """
    import importlib.util

    choices = ["sdpa", "eager"]
    if device.startswith("cuda") and dtype != "float32" and importlib.util.find_spec("flash_attn"):
        choices.insert(0, "flash_attention_2")
    return tuple(choices)


def _unsupported_attention(exc: Exception) -> bool:
    text = str(exc).lower()
    return "attn" in text or "attention" in text or "flash" in text or "sdpa" in text


def _from_pretrained(model_cls, source: str, dtype: str, device: str, kwargs: dict):
    """Load with the fastest attention implementation the model supports (see :func:`attention_choices`)."""
    choices = attention_choices(device, dtype)
    for k, attention in enumerate(choices):
        try:
            try:
                return model_cls.from_pretrained(
                    source, dtype=torch_dtype(dtype), attn_implementation=attention, **kwargs
                )
            except TypeError as exc:  # transformers < 4.56 names it torch_dtype
                if "dtype" not in str(exc):
                    raise
                return model_cls.from_pretrained(
                    source, torch_dtype=torch_dtype(dtype), attn_implementation=attention, **kwargs
                )
        except (ValueError, ImportError) as exc:
            if k == len(choices) - 1 or not _unsupported_attention(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def attention_of(model: Any) -> str:
    """The attention implementation a loaded model uses (``""`` when it does not say)."""
    return str(getattr(model.config, "_attn_implementation", "") or "")


@lru_cache(maxsize=2)
def _load(spec: ModelSpec, device: str, dtype: str, trust_remote_code: bool) -> LoadedModel:
    offline = ensure_offline()
    source = spec.source
    if spec.gguf_file:
        from core.features.gguf import dequantised_folder

        source = str(dequantised_folder(spec.source, spec.gguf_file, spec.key if spec.packaged else None))
    local = Path(source).is_dir()
    model_cls, load_prep = _classes(spec.family)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "unexpected key lm_head.weight" etc. are expected here
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if not local:
        kwargs["local_files_only"] = offline
        if spec.revision:
            kwargs["revision"] = spec.revision
    try:
        model = _from_pretrained(model_cls, source, dtype, device, kwargs)
        tokenizer, processor = load_prep(source, **kwargs)
    except OSError as exc:
        if local:
            raise ModelNotFoundError(
                f"model {spec.key!r}: cannot load from {source}: {str(exc).splitlines()[0]}"
            ) from None
        raise ModelNotFoundError(_hub_help(spec)) from None
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelNotFoundError(
                f"model {spec.key!r} needs custom code; allow trust_remote_code to load it"
            ) from None
        raise
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval().to(device)
    model_id, revision = model_identity(spec)
    if revision is None and not local:
        revision = getattr(model.config, "_commit_hash", None)
    return LoadedModel(
        spec, model, tokenizer, processor, device, dtype, model_id, revision, attention_of(model)
    )


def load_model(
    model: str | os.PathLike | ModelSpec,
    device: str = "auto",
    dtype: str = "float32",
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load ``model`` (registry key, hub id, local folder or :class:`ModelSpec`) for extraction.

    Raises :class:`ModelNotFoundError` when the weights are not available locally.
    """
    spec = model if isinstance(model, ModelSpec) else resolve_model(model)
    torch_dtype(dtype)
    return _load(spec, resolve_device(device), dtype, bool(trust_remote_code))


def wrap_loaded(
    model: Any, tokenizer: Any, device: str = "auto", dtype: str | None = None, name: str | None = None
) -> LoadedModel:
    """Wrap an already-loaded (model, tokenizer-or-processor) pair as a :class:`LoadedModel`."""
    import torch

    family = {"qwen2_5_vl": "qwen2_5_vl", "llava": "llava", "flava": "flava"}.get(
        getattr(model.config, "model_type", ""), "text"
    )
    if family != "text" and not hasattr(tokenizer, "tokenizer"):
        raise ParameterError(f"a {family} model needs its processor, not a bare tokenizer")
    processor, tok = (tokenizer, tokenizer.tokenizer) if family != "text" else (None, tokenizer)
    if family == "qwen2_5_vl":
        processor = processor.image_processor
    dev = resolve_device(device)
    model.eval().to(dev)
    param = next(model.parameters())
    dtype = dtype or {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}.get(
        param.dtype, "float32"
    )
    ident = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
    spec = ModelSpec(
        ident,
        ident,
        family,
        getattr(model.config, "num_hidden_layers", None),
        getattr(model.config, "hidden_size", None),
        display=ident,
    )
    return LoadedModel(spec, model, tok, processor, dev, dtype, ident, None, attention_of(model))
