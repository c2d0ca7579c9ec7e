"""Per-layer pooling by forward hooks equals pooling ``output_hidden_states`` (same batch, same tensors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ModelNotFoundError
from core.features.batching import pad_right, pad_token_id
from core.features.extract import tokenize
from core.features.loading import load_model
from core.features.streaming import LayerPooler, find_blocks, last_hidden, pool_states
from tests.features_tiny import TEXTS, tiny_text_model

POOLS = ("mean", "last_tok", "first_tok")


def _both_ways(lm, texts):
    """(hooked, from output_hidden_states) pooled results of one padded batch."""
    ids, mask = pad_right(tokenize(lm.tokenizer, texts), pad_token_id(lm.tokenizer))
    blocks = find_blocks(lm.model)
    assert blocks is not None and len(blocks) == lm.model.config.num_hidden_layers
    with torch.inference_mode(), LayerPooler(blocks, POOLS) as pooler:
        pooler.begin(mask)
        result = lm.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        hooked = pooler.finish(last_hidden(result))
        full = pool_states(result.hidden_states, mask, POOLS)
    return hooked, full


@pytest.mark.parametrize("family", ["gpt2", "qwen2", "llama"])
def test_hooks_see_the_returned_states(tmp_path, family):
    lm = load_model(str(tiny_text_model(tmp_path / family, family)))
    _both_ways(lm, TEXTS[:1])  # transformers installs its own capture hooks once
    counts = [(len(b._forward_hooks), len(b._forward_pre_hooks)) for b in find_blocks(lm.model)]
    hooked, full = _both_ways(lm, TEXTS)
    for p in POOLS:
        assert hooked[p].shape == (len(TEXTS), 3, 32)
        np.testing.assert_array_equal(hooked[p], full[p])
    after = [(len(b._forward_hooks), len(b._forward_pre_hooks)) for b in find_blocks(lm.model)]
    assert after == counts  # ours are removed on exit


@pytest.mark.parametrize("key", ["minilm", "smollm2-135m"])
def test_hooks_on_packaged_models(key):
    """BERT-type (encoder.layer, no final norm) and Llama-type (layers + final RMSNorm) real models."""
    try:
        lm = load_model(key, device="cpu")
    except ModelNotFoundError:
        pytest.skip(f"{key} is not installed")
    hooked, full = _both_ways(lm, TEXTS[:4])
    for p in POOLS:
        assert hooked[p].shape[1] == lm.model.config.num_hidden_layers + 1
        np.testing.assert_array_equal(hooked[p], full[p])


def test_no_blocks_found():
    assert find_blocks(torch.nn.Linear(2, 2)) is None


def test_extraction_streams_after_the_first_batch(tmp_path, monkeypatch):
    """Only the first batch is pooled from output_hidden_states (the check); the others stream."""
    import core.features.extract as ex

    calls = []
    real = ex.pool_states
    monkeypatch.setattr(ex, "pool_states", lambda *a: calls.append(1) or real(*a))
    lm = load_model(str(tiny_text_model(tmp_path / "gpt2", "gpt2")))
    progress = []
    ex.extract_hidden_states(lm, TEXTS, POOLS, max_tokens=12, progress=lambda f, m: progress.append(f))
    assert len(progress) > 2 and len(calls) == 1
