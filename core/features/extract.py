"""Hidden-state extraction: every layer, masked pooling, length-sorted batches (method.md §3.3).

The paper fed one text at a time (no padding). Here texts are tokenised once without padding,
sorted by token count, cut into batches, right-padded inside each batch and put back in input order.
Right padding keeps every real token at the same position and (for causal models) out of reach of
the pads, and pooling uses the attention mask, so batched results equal one-at-a-time results up to
float rounding (tested: <= 1e-4 in float32), whatever padding side the tokenizer itself prefers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ParameterError
from core.features.loading import LoadedModel, load_model, wrap_loaded
from core.features.pooling import check_poolings, pool_hidden
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress


def as_loaded(
    model: Any, device: str = "auto", dtype: str = "float32", trust_remote_code: bool = False
) -> LoadedModel:
    """Accept a registry key, hub id, folder, ModelSpec, LoadedModel or a (model, tokenizer) pair."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, tuple) and len(model) == 2:
        return wrap_loaded(model[0], model[1], device=device)
    return load_model(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)


def no_image(image: Any) -> bool:
    """True for a missing image (None, NaN or pandas NA)."""
    return image is None or image is pd.NA or (isinstance(image, float) and np.isnan(image))


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices of texts grouped into batches of similar length (stable sort by length)."""
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


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


def _forward_kwargs(model: Any) -> dict:
    """Ask for every hidden state; switch the KV cache off where the model has one."""
    import inspect

    kwargs = {"output_hidden_states": True}
    if "use_cache" in inspect.signature(model.forward).parameters:
        kwargs["use_cache"] = False
    return kwargs


def tokenize(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids per text with the tokenizer's own special tokens and no padding (as the paper)."""
    ids = tokenizer(list(texts), add_special_tokens=True, padding=False, truncation=False)["input_ids"]
    empty = [i for i, s in enumerate(ids) if len(s) == 0]
    if empty:
        raise ParameterError(f"text {empty[0]} ({texts[empty[0]]!r}) gives no tokens")
    return [list(s) for s in ids]


def _extract_text(
    lm: LoadedModel,
    texts: Sequence[str],
    poolings: tuple[str, ...],
    batch_size: int,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> dict[str, np.ndarray]:
    import torch

    tok = lm.tokenizer
    ids = tokenize(tok, texts)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    kwargs = _forward_kwargs(lm.model)
    out: dict[str, np.ndarray] = {}
    batches = length_batches([len(s) for s in ids], batch_size)
    done = 0
    with torch.inference_mode():
        for batch in batches:
            check_cancel(cancel)
            input_ids, mask = pad_right([ids[i] for i in batch], pad_id)
            result = lm.model(input_ids=input_ids.to(lm.device), attention_mask=mask.to(lm.device), **kwargs)
            store_pooled(out, result.hidden_states, mask, poolings, batch, len(texts))
            done += len(batch)
            progress(done / len(texts), f"{lm.spec.key}: {done}/{len(texts)} texts")
    return out


def store_pooled(
    out: dict[str, np.ndarray],
    hidden_states: Sequence,
    mask,
    poolings: tuple[str, ...],
    rows: np.ndarray,
    n_texts: int,
) -> None:
    """Pool each layer of ``hidden_states`` and write the rows of ``out`` (allocated on first use)."""
    for pooling in poolings:
        pooled = np.stack([pool_hidden(h, mask, pooling).cpu().numpy() for h in hidden_states], axis=1)
        if pooling not in out:
            out[pooling] = np.empty((n_texts,) + pooled.shape[1:], np.float32)
        out[pooling][rows] = pooled


def extract_hidden_states(
    model: Any,
    texts: Sequence[str],
    poolings: Sequence[str] = ("mean",),
    batch_size: int = 16,
    device: str = "auto",
    dtype: str = "float32",
    images: Sequence[Any] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    trust_remote_code: bool = False,
) -> dict[str, np.ndarray]:
    """Pooled hidden states of every layer for each text.

    Parameters
    ----------
    model : registry key (``minilm``, ``gpt2``, ...), hub id, local folder, a loaded
        :class:`~core.features.loading.LoadedModel`, or an already-loaded ``(model, tokenizer)`` pair
        (a processor in place of the tokenizer for VLMs).
    texts : n_texts strings.
    poolings : any of ``last_tok``, ``mean``, ``first_tok``.
    batch_size : texts per forward pass (texts are sorted by length first); 1 = the paper's way.
    device : ``auto`` (cuda > mps > cpu), ``cpu``, ``cuda`` or ``mps``.
    dtype : weights and activations: ``float32``, ``bfloat16`` or ``float16``; outputs are float32.
    images : for VLMs, one image (PIL image, path, or None for text-only) per text.
    progress, cancel : progress callback ``(fraction, message)`` and cancel token.
    trust_remote_code : allow custom model code from the checkpoint (off by default).

    Returns
    -------
    ``{pooling: float32 array (n_texts, n_layers + 1, hidden)}``; index 0 on axis 1 is the
    embedding layer. For FLAVA the layers are as in method.md §3.2 (see :mod:`core.features.vlm`).
    """
    poolings = check_poolings(poolings)
    texts = [str(t) for t in texts]
    if images is not None and len(images) != len(texts):
        raise ParameterError(f"{len(images)} images for {len(texts)} texts")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    progress = progress or no_progress
    lm = as_loaded(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
    if not texts:
        return {p: np.zeros((0, 0, 0), np.float32) for p in poolings}
    check_cancel(cancel)
    if lm.spec.is_vlm:
        from core.features.vlm import extract_vlm

        return extract_vlm(lm, texts, images, poolings, batch_size, progress, cancel)
    if images is not None and not all(no_image(im) for im in images):
        raise ParameterError(f"model {lm.spec.key!r} is text-only; it cannot take images")
    return _extract_text(lm, texts, poolings, batch_size, progress, cancel)
