"""Vision-language models: Qwen2.5-VL, LLaVA and FLAVA with image + text inputs (method.md §3.2).

Inputs per stimulus, as in the paper:
- LLaVA: ``"<image> Bird"`` with the picture (text alone for sentences / word clouds);
- Qwen2.5-VL: ``"<|vision_start|><|image_pad|><|vision_end|> Bird"`` with the picture;
- FLAVA: ``"Bird"`` plus the picture.

Each item is encoded on its own (no padding), items are sorted by length and batched, token
sequences are right-padded and pooled with the attention mask, so batching does not change results.
Text-only rows are batched by the token budget (:mod:`core.features.batching`); rows with an image
by ``batch_size`` (default :data:`IMAGE_BATCH`), as their token count is known only once processed.
For LLaVA and Qwen2.5-VL the hidden states are the language model's (image tokens included in
``mean``): image rows go through the image + text forward, text-only rows straight through the bare
text decoder; both are found by attribute whatever the transformers version
(:mod:`core.features.vlm_parts`). FLAVA gives 15 states per input:
- text only: the 13 text-encoder hidden states, ``text_embeddings`` (final-norm output) and the
  text projection of it (``get_text_features``);
- text + image: for each of the 13 layers the average of the pooled text and pooled image states,
  the average of pooled ``text_embeddings`` and ``image_embeddings``, then pooled
  ``multimodal_embeddings`` (multimodal CLS + image tokens + text tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DataError, ParameterError
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
from core.features.loading import LoadedModel
from core.features.pooling import pool_hidden
from core.features.streaming import pool_states
from core.features.vlm_parts import vlm_parts
from core.progress import CancelToken, ProgressFn, check_cancel

QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
LLAVA_IMAGE = "<image>"
#: texts with an image per forward pass when ``batch_size`` is not given
IMAGE_BATCH = 16


@dataclass
class _Item:
    ids: list[int]
    image: dict[str, Any] = field(default_factory=dict)  # processed image tensors for this item


def open_image(image: Any):
    """A PIL RGB image from a path or a PIL image; None stays None."""
    if no_image(image):
        return None
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    path = Path(str(image))
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError) as exc:
        raise DataError(path, f"not a readable image ({exc})") from None


def _encode_qwen(lm: LoadedModel, text: str, image: Any) -> _Item:
    tok, improc = lm.tokenizer, getattr(lm.processor, "image_processor", lm.processor)
    if image is None:
        return _Item(tok(text, add_special_tokens=True)["input_ids"])
    out = improc(images=[image], return_tensors="pt")
    merge = getattr(improc, "merge_size", 2)
    n_tokens = int(out["image_grid_thw"].prod()) // (merge * merge)
    prompt = f"{QWEN_IMAGE} {text}".replace("<|image_pad|>", "<|image_pad|>" * n_tokens)
    ids = tok(prompt, add_special_tokens=True)["input_ids"]
    return _Item(ids, {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]})


def _encode_llava(lm: LoadedModel, text: str, image: Any) -> _Item:
    proc = lm.processor
    if image is None:
        return _Item(lm.tokenizer(text, add_special_tokens=True)["input_ids"])
    out = proc(text=[f"{LLAVA_IMAGE} {text}"], images=[image], return_tensors="pt")
    return _Item(out["input_ids"][0].tolist(), {"pixel_values": out["pixel_values"]})


def _encode_flava(lm: LoadedModel, text: str, image: Any) -> _Item:
    ids = lm.tokenizer(text, add_special_tokens=True)["input_ids"]
    if image is None:
        return _Item(ids)
    out = lm.processor.image_processor(images=[image], return_tensors="pt")
    return _Item(ids, {"pixel_values": out["pixel_values"]})


ENCODERS = {"qwen2_5_vl": _encode_qwen, "llava": _encode_llava, "flava": _encode_flava}


def _collate(items: list[_Item], pad_id: int, device: str, dtype) -> dict[str, Any]:
    import torch

    ids, mask = pad_right([it.ids for it in items], pad_id)
    batch: dict[str, Any] = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    with_image = [it for it in items if it.image]
    if with_image:
        for key in with_image[0].image:
            value = torch.cat([it.image[key] for it in with_image], dim=0).to(device)
            batch[key] = value.to(dtype) if value.is_floating_point() else value
    return batch


def _flava_states(model: Any, batch: dict[str, Any]) -> list[tuple]:
    """FLAVA's 15 states as ``(states, mask, image_states or None, image_mask or None)`` entries."""
    import torch

    out = model(**batch, output_hidden_states=True)
    mask = batch["attention_mask"]
    text_states = out.text_output.hidden_states
    if "pixel_values" not in batch:
        projected = model.text_projection(out.text_embeddings)  # = get_text_features
        return [(h, mask, None, None) for h in (*text_states, out.text_embeddings, projected)]
    image_states = out.image_output.hidden_states
    b, t_img = image_states[0].shape[:2]
    img_mask = torch.ones((b, t_img), dtype=mask.dtype, device=mask.device)
    pairs = [*zip(text_states, image_states, strict=False), (out.text_embeddings, out.image_embeddings)]
    mm = out.multimodal_embeddings  # multimodal CLS + image tokens + text tokens
    mm_mask = torch.cat(
        [torch.ones((b, mm.shape[1] - mask.shape[1]), dtype=mask.dtype, device=mask.device), mask], dim=1
    )
    return [(th, mask, ih, img_mask) for th, ih in pairs] + [(mm, mm_mask, None, None)]


def _pool_flava(states: list[tuple], pooling: str) -> np.ndarray:
    """(B, 15, H): each entry pooled; text + image entries are the mean of the two pooled vectors."""
    layers = []
    for h, m, image_h, image_m in states:
        v = pool_hidden(h, m, pooling)
        if image_h is not None:
            v = 0.5 * (v + pool_hidden(image_h, image_m, pooling))
        layers.append(v.cpu().numpy())
    return np.stack(layers, axis=1)


def extract_vlm(
    lm: LoadedModel,
    texts: Sequence[str],
    images: Sequence[Any] | None,
    poolings: tuple[str, ...],
    batch_size: int | None,
    progress: ProgressFn,
    cancel: CancelToken | None,
    max_tokens: int | None = None,
) -> dict[str, np.ndarray]:
    """Pooled hidden states of a VLM for texts with optional images (see the module docstring).

    ``batch_size`` caps texts per forward pass (1 = one at a time); ``max_tokens`` is the padded
    token budget of text-only batches (None = sized from the model and the free memory).
    """
    import torch

    from core.features.loading import torch_dtype

    family = lm.spec.family
    if family not in ENCODERS:
        raise ParameterError(f"no vision-language path for model family {family!r}")
    if lm.processor is None:
        raise ParameterError(f"model {lm.spec.key!r} has no image processor")
    images = list(images) if images is not None else [None] * len(texts)
    encode = ENCODERS[family]
    n = len(texts)
    has_image = np.array([not no_image(im) for im in images], dtype=bool)
    tok = lm.tokenizer
    pad_id = pad_token_id(tok)
    dtype = torch_dtype(lm.dtype)
    parts = None if family == "flava" else vlm_parts(lm.model)
    # length of the text part decides the batches; image and text-only inputs never share a batch
    lengths = np.array([len(tok(t, add_special_tokens=True)["input_ids"]) for t in texts])
    with_image, text_only = np.flatnonzero(has_image), np.flatnonzero(~has_image)
    batches = [with_image[b] for b in length_batches(lengths[with_image], batch_size or IMAGE_BATCH)]
    if batch_size == 1:
        batches += [text_only[b] for b in length_batches(lengths[text_only], 1)]
    elif len(text_only):
        if max_tokens is None:
            hidden, layers = model_dims(lm.model)
            max_tokens = token_budget(hidden, layers, lm.device, dtype.itemsize, keeps_all_states=True)
        batches += [text_only[b] for b in budget_batches(lengths[text_only], max_tokens, batch_size)]
    out: dict[str, np.ndarray] = {}
    done = 0
    with torch.inference_mode():
        for rows in batches:
            check_cancel(cancel)
            items = [encode(lm, texts[i], open_image(images[i])) for i in rows]
            batch = _collate(items, pad_id, lm.device, dtype)
            if family == "flava":
                states = _flava_states(lm.model, batch)
                pooled = {p: _pool_flava(states, p) for p in poolings}
            elif "pixel_values" in batch:
                net = parts.multimodal
                result = net(**batch, **forward_kwargs(net), **parts.multimodal_kwargs)
                pooled = pool_states(result.hidden_states, batch["attention_mask"], poolings)
            else:
                result = parts.decoder(**batch, **forward_kwargs(parts.decoder))
                pooled = pool_states(result.hidden_states, batch["attention_mask"], poolings)
            for p, values in pooled.items():
                if p not in out:
                    out[p] = np.empty((n,) + values.shape[1:], np.float32)
                out[p][rows] = values
            done += len(rows)
            progress(done / n, f"{lm.spec.key}: {done}/{n} inputs")
    return out
