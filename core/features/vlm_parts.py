"""The parts of a LLaVA / Qwen2.5-VL model, found by attribute whatever the transformers version.

What ``model.model`` holds changed in transformers 4.52 (the paper pinned 4.49; this project runs 5.x):

================================  =======================================  ==================================
part                              transformers <= 4.51                     transformers >= 4.52 (5.x included)
================================  =======================================  ==================================
LLaVA text decoder                ``model.language_model.model``           ``model.model.language_model``
                                  (``language_model`` is the causal LM)
LLaVA vision tower                ``model.vision_tower``                   ``model.model.vision_tower``
Qwen2.5-VL text decoder           ``model.model``                          ``model.model.language_model``
Qwen2.5-VL vision tower           ``model.visual``                         ``model.model.visual``
image + text forward without the  none: the ``*ForConditionalGeneration``  ``model.model`` (``LlavaModel``,
vocabulary head                   itself (asked for 1 logit where it can)  ``Qwen2_5_VLModel``)
================================  =======================================  ==================================

:func:`vlm_parts` probes the attributes in the documented orders below (never a version string), and
accepts a candidate only if it has the right shape (a decoder has a list of blocks and no vocabulary
head), so a future layout that moves things again fails loudly instead of silently using the wrong
module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ParameterError
from core.features.batching import accepts
from core.features.streaming import find_blocks

#: where the bare text decoder may sit, probed in this order
DECODER_PATHS = ("model.language_model", "language_model.model", "language_model", "model")
#: where the vision tower may sit, probed in this order
VISION_PATHS = ("model.visual", "model.vision_tower", "visual", "vision_tower")
_VISION_ATTRS = ("visual", "vision_tower")


@dataclass(frozen=True)
class VLMParts:
    """The modules extraction uses.

    Attributes
    ----------
    decoder : the bare text decoder (embeddings + blocks + final norm, no vocabulary head); text-only
        inputs go through it directly.
    embeddings : its token embedding layer (``decoder.get_input_embeddings()``).
    vision : the vision tower.
    multimodal : the module that takes ``input_ids`` + ``pixel_values`` (+ ``image_grid_thw``) and
        returns the text decoder's ``hidden_states``.
    multimodal_kwargs : extra keyword arguments for ``multimodal`` (``logits_to_keep=1`` when it is the
        whole ``*ForConditionalGeneration`` and accepts it: the hidden states do not change).
    """

    decoder: Any
    embeddings: Any
    vision: Any
    multimodal: Any
    multimodal_kwargs: dict = field(default_factory=dict)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _is_bare_decoder(module: Any) -> bool:
    """A text decoder without the vocabulary head and without a vision tower of its own."""
    return (
        module is not None
        and find_blocks(module) is not None
        and hasattr(module, "get_input_embeddings")
        and not hasattr(module, "lm_head")
        and not any(getattr(module, a, None) is not None for a in _VISION_ATTRS)
    )


def vlm_parts(model: Any) -> VLMParts:
    """Resolve decoder, embeddings, vision tower and image+text forward of a LLaVA / Qwen2.5-VL model.

    Raises :class:`ParameterError` naming the model class when a part cannot be found.
    """
    name = type(model).__name__
    decoder = next((m for m in (_get(model, p) for p in DECODER_PATHS) if _is_bare_decoder(m)), None)
    if decoder is None:
        raise ParameterError(f"{name}: no text decoder at any of {', '.join(DECODER_PATHS)}")
    found = [(p, _get(model, p)) for p in VISION_PATHS]
    path, vision = next(((p, m) for p, m in found if m is not None), (None, None))
    if vision is None:
        raise ParameterError(f"{name}: no vision tower at any of {', '.join(VISION_PATHS)}")
    embeddings = decoder.get_input_embeddings()
    if model.get_input_embeddings() is not embeddings:
        raise ParameterError(f"{name}: the model's token embeddings are not its text decoder's")
    if path.startswith("model."):  # the base multimodal model holds the vision tower: no vocabulary head
        return VLMParts(decoder, embeddings, vision, model.model)
    extra = {"logits_to_keep": 1} if accepts(model, "logits_to_keep") else {}
    return VLMParts(decoder, embeddings, vision, model, extra)
