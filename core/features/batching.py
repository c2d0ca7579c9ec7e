"""Batch forming shared by the text and vision-language paths (method.md §3.3).

One place for the rules both paths follow: which id pads a sequence, how texts are grouped into
length-sorted batches under a token budget, and how a batch is right-padded. Imported by
:mod:`core.features.extract` and :mod:`core.features.vlm`; imports neither of them.

Why right padding: every real token keeps the position it has when the text runs alone, and for
causal models the pads come after every real token, so no real token can attend to them. Pooling
uses the attention mask, so padded results equal one-at-a-time results up to float rounding, whatever
padding side the tokenizer itself prefers.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ParameterError

#: largest padded batch, in tokens, on a CPU: beyond ~1-2k tokens a CPU forward is no faster per
#: token (the GEMMs are already efficient) and the activations fall out of cache
CPU_MAX_TOKENS = 2048
#: largest padded batch on an accelerator (memory decides below this)
GPU_MAX_TOKENS = 65536
#: smallest budget handed out, so that a tight memory estimate still batches a little
MIN_TOKENS = 64
#: share of the free memory one batch may use
MEMORY_SHARE = 0.25
#: activations alive per token and layer, in units of the hidden size (residual stream, q/k/v/o,
#: MLP intermediate of ~4x hidden, norms); a generous upper bound for current transformer blocks
ACTIVATION_FACTOR = 16


def pad_token_id(tokenizer: Any) -> int:
    """The id that fills padded positions: the tokenizer's pad token, else its EOS token, else 0.

    Which id pads does not change any result (pads are masked out of attention and pooling); it must
    only be a valid embedding row. GPT-2-like tokenizers have no pad token, hence the EOS fallback.
    """
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is not None:
        return int(pad)
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    return int(eos) if eos is not None else 0


def no_image(image: Any) -> bool:
    """True for a missing image (None, NaN or pandas NA)."""
    return image is None or image is pd.NA or (isinstance(image, float) and np.isnan(image))


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices of texts grouped into batches of ``batch_size`` texts of similar length (stable sort)."""
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def budget_batches(lengths: Sequence[int], max_tokens: int, max_texts: int | None = None) -> list[np.ndarray]:
    """Indices grouped into length-sorted batches whose padded size stays within a token budget.

    Parameters
    ----------
    lengths : n token counts.
    max_tokens : budget of one batch in padded tokens (batch size x longest length); a text longer
        than the budget forms a batch of its own.
    max_texts : optional cap on texts per batch (None = only the budget decides).

    Returns
    -------
    list of int arrays covering ``range(n)`` once, in increasing length order.
    """
    if max_tokens < 1:
        raise ParameterError(f"max_tokens must be >= 1, got {max_tokens}")
    if max_texts is not None and max_texts < 1:
        raise ParameterError(f"batch_size must be >= 1, got {max_texts}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    for k in range(1, len(order) + 1):
        full = k == len(order)
        if not full:
            n_next = k + 1 - start  # texts if order[k] joined; it is the longest so far
            too_many = max_texts is not None and n_next > max_texts
            full = too_many or n_next * int(lengths[order[k]]) > max_tokens
        if full:
            batches.append(order[start:k])
            start = k
    return batches


def model_dims(model: Any) -> tuple[int, int]:
    """(hidden size, number of layers) of a text model or of a VLM's text decoder (from its config)."""
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden = getattr(text, "hidden_size", None) or getattr(text, "n_embd", None) or 1024
    layers = getattr(text, "num_hidden_layers", None) or getattr(text, "n_layer", None) or 24
    return int(hidden), int(layers)


def token_budget(
    hidden: int, n_layers: int, device: str, dtype_bytes: int = 4, keeps_all_states: bool = False
) -> int:
    """Padded tokens per batch: a share of the free memory over the memory one token needs.

    Parameters
    ----------
    hidden : hidden size of the model.
    n_layers : number of layers (hidden states kept = n_layers + 1 when ``keeps_all_states``).
    device : ``cpu``, ``cuda[:i]`` or ``mps``; free memory is read from psutil (CPU, MPS) or
        ``torch.cuda.mem_get_info`` (CUDA).
    dtype_bytes : bytes per activation value (4 for float32, 2 for bfloat16 / float16).
    keeps_all_states : the forward keeps every layer's full states (``output_hidden_states``).

    Returns
    -------
    int in ``[MIN_TOKENS, CPU_MAX_TOKENS]`` on a CPU, ``[MIN_TOKENS, GPU_MAX_TOKENS]`` elsewhere.
    """
    per_token = dtype_bytes * max(int(hidden), 1) * (ACTIVATION_FACTOR + 4)  # + float32 pooling copies
    if keeps_all_states:
        per_token += dtype_bytes * int(hidden) * (int(n_layers) + 1)
    free = _free_memory(device)
    cap = CPU_MAX_TOKENS if device == "cpu" else GPU_MAX_TOKENS
    return int(min(cap, max(MIN_TOKENS, MEMORY_SHARE * free // per_token)))


def _free_memory(device: str) -> int:
    """Free bytes on ``device``."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    import psutil

    return int(psutil.virtual_memory().available)


def pad_right(seqs: list[list[int]], pad_id: int):
    """Right-pad token id lists: (input_ids (B, T) long, attention_mask (B, T) long)."""
    import torch

    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), t), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def accepts(module: Any, name: str) -> bool:
    """Whether ``module.forward`` takes a keyword argument ``name`` (explicitly)."""
    try:
        return name in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):  # builtins / C extensions without a signature
        return False


def forward_kwargs(model: Any, all_states: bool = True) -> dict:
    """Keyword arguments of an extraction forward: every hidden state when ``all_states``, no KV cache."""
    kwargs = {"output_hidden_states": True} if all_states else {}
    if accepts(model, "use_cache"):
        kwargs["use_cache"] = False
    return kwargs
