"""Token pooling over all hidden states, computed with the attention mask (method.md §3.3).

The paper ran one text at a time without padding, so ``last_tok`` was ``h[-1]``, ``first_tok``
``h[0]`` and ``mean`` the mean over every position. With padding, the same quantities are taken
over the positions where ``attention_mask == 1``, whichever side the padding is on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.errors import ParameterError
from core.features.registry import POOLINGS


def check_poolings(poolings: Sequence[str]) -> tuple[str, ...]:
    """Validate and de-duplicate pooling names (order kept)."""
    if isinstance(poolings, str):
        poolings = (poolings,)
    out = tuple(dict.fromkeys(poolings))
    bad = [p for p in out if p not in POOLINGS]
    if bad or not out:
        raise ParameterError(f"unknown pooling {bad or poolings!r}; choose from {', '.join(POOLINGS)}")
    return out


def pool_hidden(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool token states.

    Parameters
    ----------
    hidden : (B, L, T, H) stacked hidden states (L = layers + 1) or (B, T, H).
    mask : (B, T) attention mask, 1 for real tokens (any padding side).
    pooling : ``last_tok``, ``mean`` or ``first_tok``.

    Returns
    -------
    (B, L, H) or (B, H) float32 tensor.
    """
    squeeze = hidden.dim() == 3
    if squeeze:
        hidden = hidden.unsqueeze(1)
    b, _, t, _ = hidden.shape
    mask = mask.to(hidden.device).bool()
    positions = torch.arange(t, device=hidden.device).expand(b, t)
    rows = torch.arange(b, device=hidden.device)
    if pooling == "mean":
        w = mask.to(torch.float32)[:, None, :, None]
        out = (hidden.float() * w).sum(dim=2) / w.sum(dim=2).clamp(min=1.0)
    elif pooling == "last_tok":
        idx = torch.where(mask, positions, -1).max(dim=1).values
        out = hidden[rows, :, idx].float()
    elif pooling == "first_tok":
        idx = torch.where(mask, positions, t).min(dim=1).values
        out = hidden[rows, :, idx].float()
    else:
        raise ParameterError(f"unknown pooling {pooling!r}; choose from {', '.join(POOLINGS)}")
    return out[:, 0] if squeeze else out
