"""Pool every layer's states while the forward pass runs, without keeping full sequences.

``output_hidden_states=True`` keeps all ``n_layers + 1`` full (batch, tokens, hidden) tensors until
the forward returns. Here forward hooks pool each state the moment it exists, so only the running
state of one layer is alive at a time; what is kept per batch is ``(batch, n_layers + 1, hidden)``
per pooling.

The states are those transformers returns as ``hidden_states`` (every version since 4.x, all text
families): the input of the first block (embeddings), the output of every block but the last, and
the model's ``last_hidden_state`` (after the final norm where the model has one). The blocks are
found by attribute (:func:`find_blocks`). :class:`LayerPooler` checks itself on the first batch
against ``output_hidden_states`` and, should an architecture differ, the caller falls back to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from core.features.pooling import pool_hidden

#: where the list of transformer blocks sits in a base model, probed in this order:
#: Llama / Qwen / Mistral / SmolLM (``layers``), GPT-2 (``h``), BERT / MiniLM / RoBERTa
#: (``encoder.layer``), OPT-like (``decoder.layers``), wrapped GPT-like (``transformer.h``)
BLOCK_PATHS = ("layers", "h", "encoder.layer", "decoder.layers", "transformer.h")


def _attr_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def find_blocks(model: Any) -> list | None:
    """The transformer blocks the forward runs, in order, or None when no known attribute holds them."""
    n = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for path in BLOCK_PATHS:
        blocks = _attr_path(model, path)
        if isinstance(blocks, torch.nn.ModuleList) and len(blocks):
            blocks = list(blocks)
            return blocks[:n] if isinstance(n, int) and 0 < n <= len(blocks) else blocks
    return None


def _tensor(value: Any) -> torch.Tensor:
    """The hidden-state tensor of a block output (a tensor in transformers 5, a tuple in 4.x)."""
    return value[0] if isinstance(value, (tuple, list)) else value


def pool_states(states: Sequence[torch.Tensor], mask: torch.Tensor, poolings: Sequence[str]) -> dict:
    """``{pooling: float32 array (B, len(states), H)}`` from full states (B, T, H) and the mask."""
    return {p: torch.stack([pool_hidden(h, mask, p) for h in states], dim=1).cpu().numpy() for p in poolings}


class LayerPooler:
    """Forward hooks on a model's blocks that pool each hidden state as it is produced.

    Use as a context manager (hooks are removed on exit)::

        with LayerPooler(blocks, poolings) as pooler:
            pooler.begin(mask)
            result = model(input_ids=..., attention_mask=mask)
            pooled = pooler.finish(result.last_hidden_state)   # {pooling: (B, L + 1, H)}
    """

    def __init__(self, blocks: Sequence[Any], poolings: Sequence[str]):
        self.blocks = list(blocks)
        self.poolings = tuple(poolings)
        self._handles: list = []
        self._mask: torch.Tensor | None = None
        self._pooled: dict[str, list[torch.Tensor]] = {}

    def __enter__(self) -> LayerPooler:
        self._handles.append(self.blocks[0].register_forward_pre_hook(self._on_input, with_kwargs=True))
        for block in self.blocks[:-1]:
            self._handles.append(block.register_forward_hook(self._on_output))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._mask = None

    def begin(self, mask: torch.Tensor) -> None:
        """Start a batch with its attention mask (B, T)."""
        self._mask = mask
        self._pooled = {p: [] for p in self.poolings}

    def _add(self, hidden: torch.Tensor) -> None:
        if self._mask is None:
            return
        for p in self.poolings:
            self._pooled[p].append(pool_hidden(hidden, self._mask, p))

    def _on_input(self, module, args, kwargs):
        self._add(args[0] if args else kwargs["hidden_states"])

    def _on_output(self, module, args, output):
        self._add(_tensor(output))

    def finish(self, last_hidden: torch.Tensor) -> dict[str, np.ndarray]:
        """Add the model's last hidden state; ``{pooling: float32 array (B, n_layers + 1, H)}``."""
        self._add(last_hidden)
        out = {p: torch.stack(v, dim=1).cpu().numpy() for p, v in self._pooled.items()}
        self._mask, self._pooled = None, {}
        return out


def last_hidden(result: Any) -> torch.Tensor:
    """``last_hidden_state`` of a model output (or its first element)."""
    value = getattr(result, "last_hidden_state", None)
    return value if value is not None else result[0]


def same_pooled(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rtol: float = 1e-6) -> bool:
    """Whether two pooled results agree (same keys and shapes, values within ``rtol`` of the scale)."""
    if a.keys() != b.keys():
        return False
    for p in a:
        if a[p].shape != b[p].shape:
            return False
        scale = max(float(np.abs(b[p]).max()), 1e-30)
        if float(np.abs(a[p] - b[p]).max()) > rtol * scale:
            return False
    return True
