"""The two packaged real models on the paper's sentences (subset of 6 concepts x 6 sentences)."""

from __future__ import annotations

import numpy as np
import pytest

from core.features.extract import extract_hidden_states

CONCEPTS = ["Dog", "Pig", "Bird", "Fish", "Philosophy", "Science"]


@pytest.fixture(scope="module")
def sentences(shared_data):
    from core.data.stimuli import read_stimulus_table
    from core.features.texts import stimulus_texts

    table = read_stimulus_table(shared_data / "data" / "stimuli" / "complang_paradigms_stims.csv")
    sent = stimulus_texts(table, "sentences")
    return sent[sent["concept"].isin(CONCEPTS)].reset_index(drop=True)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def _check_semantics(sent, hidden: np.ndarray, layer: int) -> None:
    """Related concepts (Dog-Pig, Bird-Fish) are closer than unrelated ones (Dog-Philosophy, Fish-Science)."""
    mean = {c: hidden[(sent["concept"] == c).to_numpy(), layer].mean(axis=0) for c in CONCEPTS}
    assert _cos(mean["Dog"], mean["Pig"]) > _cos(mean["Dog"], mean["Philosophy"])
    assert _cos(mean["Bird"], mean["Fish"]) > _cos(mean["Fish"], mean["Science"])


def _check_batching(model: str, texts: list[str], batched: np.ndarray) -> None:
    single = np.concatenate([extract_hidden_states(model, [t], ("mean",))["mean"] for t in texts])
    scale = np.abs(single).max(axis=(0, 2), keepdims=True)  # per layer (decoders have huge outlier dims)
    assert (np.abs(batched - single) / scale).max() < 1e-5


def test_minilm_on_real_sentences(sentences):
    texts = sentences["text"].tolist()
    out = extract_hidden_states("minilm", texts, ("mean", "last_tok"), batch_size=16)
    assert out["mean"].shape == (36, 7, 384)
    _check_semantics(sentences, out["mean"], layer=6)
    _check_batching("minilm", texts[:4], out["mean"][:4])


def test_minilm_matches_sentence_transformers(sentences):
    """Mean pooling of the last layer, L2-normalised, is what all-MiniLM-L6-v2's sentence encoder returns."""
    st = pytest.importorskip("sentence_transformers")
    from core.features.registry import resolve_model

    texts = sentences["text"].tolist()[:6]
    ref = st.SentenceTransformer(resolve_model("minilm").source, device="cpu").encode(
        texts, normalize_embeddings=True
    )
    ours = extract_hidden_states("minilm", texts)["mean"][:, -1]
    np.testing.assert_allclose(ours / np.linalg.norm(ours, axis=1, keepdims=True), ref, atol=1e-5)


@pytest.mark.slow
def test_smollm2_on_real_sentences(sentences):
    sent = sentences[sentences["stimulus_idx"] <= 3].reset_index(drop=True)  # 3 sentences per concept
    texts = sent["text"].tolist()
    out = extract_hidden_states("smollm2-135m", texts, ("mean",), batch_size=16)
    assert out["mean"].shape == (18, 31, 576)
    _check_semantics(sent, out["mean"], layer=30)
    _check_batching("smollm2-135m", texts[:3], out["mean"][:3])
