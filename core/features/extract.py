"""Hidden-state extraction: every layer, masked pooling, token-budget batches (method.md §3.3).

The paper fed one text at a time (no padding). Here texts are tokenised once without padding,
sorted by token count and cut into batches whose padded size fits a token budget (sized from the
model's hidden size and the free memory, :func:`core.features.batching.token_budget`), right-padded
inside each batch and put back in input order. Right padding keeps every real token at the position
it has alone and (for causal models) out of reach of the pads, and pooling uses the attention mask,
so batched results equal one-at-a-time results up to float rounding (tested: <= 1e-4 in float32),
whatever padding side the tokenizer itself prefers. Each layer's states are pooled as the forward
produces them (:mod:`core.features.streaming`), under ``torch.inference_mode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import ParameterError
from core.features.batching import (
    budget_batches,
    forward_kwargs,
    length_batches,
    model_dims,
    no_image,
    pad_right,
    pad_token_id,
    token_budget,
)
from core.features.loading import LoadedModel, load_model, wrap_loaded
from core.features.pooling import check_poolings
from core.features.streaming import LayerPooler, find_blocks, last_hidden, pool_states, same_pooled
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress

__all__ = ["as_loaded", "extract_hidden_states", "length_batches", "no_image", "plan_batches", "tokenize"]

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def as_loaded(
    model: Any, device: str = "auto", dtype: str = "float32", trust_remote_code: bool = False
) -> LoadedModel:
    """Accept a registry key, hub id, folder, ModelSpec, LoadedModel or a (model, tokenizer) pair."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, tuple) and len(model) == 2:
        return wrap_loaded(model[0], model[1], device=device)
    return load_model(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)


def plan_batches(
    lm: LoadedModel,
    lengths: Sequence[int],
    batch_size: int | None,
    max_tokens: int | None,
    keeps_all_states: bool = False,
) -> list[np.ndarray]:
    """Length-sorted batches: ``batch_size == 1`` is the paper's one at a time; otherwise a token budget
    (``max_tokens``, or :func:`token_budget` of the model and device) with ``batch_size`` texts at most."""
    if batch_size is not None and batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    if batch_size == 1:
        return length_batches(lengths, 1)
    if max_tokens is None:
        hidden, layers = model_dims(lm.model)
        max_tokens = token_budget(hidden, layers, lm.device, DTYPE_BYTES.get(lm.dtype, 4), keeps_all_states)
    return budget_batches(lengths, max_tokens, batch_size)


def tokenize(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids per text with the tokenizer's own special tokens and no padding (as the paper)."""
    ids = tokenizer(list(texts), add_special_tokens=True, padding=False, truncation=False)["input_ids"]
    empty = [i for i, s in enumerate(ids) if len(s) == 0]
    if empty:
        raise ParameterError(f"text {empty[0]} ({texts[empty[0]]!r}) gives no tokens")
    return [list(s) for s in ids]


def write_rows(out: dict[str, np.ndarray], pooled: dict[str, np.ndarray], rows: np.ndarray, n: int) -> None:
    """Write pooled batch rows into ``out[pooling]`` (float32 (n, L + 1, H), allocated on first use)."""
    for p, values in pooled.items():
        if p not in out:
            out[p] = np.empty((n,) + values.shape[1:], np.float32)
        out[p][rows] = values


def _extract_text(
    lm: LoadedModel,
    texts: Sequence[str],
    poolings: tuple[str, ...],
    batch_size: int | None,
    max_tokens: int | None,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> dict[str, np.ndarray]:
    import torch

    ids = tokenize(lm.tokenizer, texts)
    pad_id = pad_token_id(lm.tokenizer)
    blocks = find_blocks(lm.model)
    batches = plan_batches(lm, [len(s) for s in ids], batch_size, max_tokens, keeps_all_states=blocks is None)
    pooler = LayerPooler(blocks, poolings) if blocks is not None else None
    all_states, streamed = forward_kwargs(lm.model), forward_kwargs(lm.model, all_states=False)
    out: dict[str, np.ndarray] = {}
    done = 0
    try:
        if pooler is not None:
            pooler.__enter__()
        with torch.inference_mode():
            for k, rows in enumerate(batches):
                check_cancel(cancel)
                input_ids, mask = pad_right([ids[i] for i in rows], pad_id)
                input_ids, mask = input_ids.to(lm.device), mask.to(lm.device)
                if pooler is None:
                    result = lm.model(input_ids=input_ids, attention_mask=mask, **all_states)
                    pooled = pool_states(result.hidden_states, mask, poolings)
                else:
                    pooler.begin(mask)
                    kwargs = streamed if k else all_states
                    result = lm.model(input_ids=input_ids, attention_mask=mask, **kwargs)
                    pooled = pooler.finish(last_hidden(result))
                    if k == 0:  # the hooks must see exactly the states transformers returns
                        full = pool_states(result.hidden_states, mask, poolings)
                        if not same_pooled(pooled, full):
                            pooler.__exit__(None, None, None)
                            pooler, pooled = None, full
                write_rows(out, pooled, rows, len(texts))
                done += len(rows)
                progress(done / len(texts), f"{lm.spec.key}: {done}/{len(texts)} texts")
    finally:
        if pooler is not None:
            pooler.__exit__(None, None, None)
    return out


def extract_hidden_states(
    model: Any,
    texts: Sequence[str],
    poolings: Sequence[str] = ("mean",),
    batch_size: int | None = None,
    device: str = "auto",
    dtype: str = "float32",
    images: Sequence[Any] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    trust_remote_code: bool = False,
    max_tokens: int | None = None,
) -> dict[str, np.ndarray]:
    """Pooled hidden states of every layer for each text.

    Parameters
    ----------
    model : registry key (``minilm``, ``gpt2``, ...), hub id, local folder, a loaded
        :class:`~core.features.loading.LoadedModel`, or an already-loaded ``(model, tokenizer)`` pair
        (a processor in place of the tokenizer for VLMs).
    texts : n_texts strings.
    poolings : any of ``last_tok``, ``mean``, ``first_tok``.
    batch_size : at most this many texts per forward pass; None = the token budget alone decides;
        1 = the paper's way (one text at a time, no padding).
    device : ``auto`` (cuda > mps > cpu), ``cpu``, ``cuda`` or ``mps``.
    dtype : weights and activations: ``float32`` (default), ``bfloat16`` or ``float16``; outputs are
        float32. bfloat16 error against float32 (BENCHMARKS.md, features): median ~1e-5 to 3e-4, max
        1e-2 (minilm) to 0.23 (smollm2-135m) of each layer's largest |value|.
    images : for VLMs, one image (PIL image, path, or None for text-only) per text.
    progress, cancel : progress callback ``(fraction, message)`` and cancel token.
    trust_remote_code : allow custom model code from the checkpoint (off by default).
    max_tokens : padded tokens per batch (batch size x longest text); None = sized from the model's
        hidden size and the free memory of the device.

    Returns
    -------
    ``{pooling: float32 array (n_texts, n_layers + 1, hidden)}``; index 0 on axis 1 is the
    embedding layer. For FLAVA the layers are as in method.md §3.2 (see :mod:`core.features.vlm`).
    """
    poolings = check_poolings(poolings)
    texts = [str(t) for t in texts]
    if images is not None and len(images) != len(texts):
        raise ParameterError(f"{len(images)} images for {len(texts)} texts")
    if batch_size is not None and batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ParameterError(f"max_tokens must be >= 1, got {max_tokens}")
    progress = progress or no_progress
    lm = as_loaded(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    if not texts:
        return {p: np.zeros((0, 0, 0), np.float32) for p in poolings}
    check_cancel(cancel)
    if lm.spec.is_vlm:
        from core.features.vlm import extract_vlm

        return extract_vlm(lm, texts, images, poolings, batch_size, progress, cancel, max_tokens)
    if images is not None and not all(no_image(im) for im in images):
        raise ParameterError(f"model {lm.spec.key!r} is text-only; it cannot take images")
    return _extract_text(lm, texts, poolings, batch_size, max_tokens, progress, cancel)
