"""Vision-language paths (Qwen2.5-VL, LLaVA, FLAVA) with tiny random models and drawn images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.features.extract import extract_hidden_states
from core.features.loading import load_model
from tests.features_tiny import draw_image, tiny_flava, tiny_llava, tiny_qwen_vl

POOLS = ("mean", "last_tok", "first_tok")
TEXTS = ["Bird", "Dog", "The dog barked at the mailman.", "Philosophy"]


@pytest.fixture(scope="module")
def vlms(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_vlm")
    return {
        "qwen2_5_vl": tiny_qwen_vl(root / "qwen"),
        "llava": tiny_llava(root / "llava"),
        "flava": tiny_flava(root / "flava"),
    }


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Two drawn images as files (sizes differ), one text-only row and one PIL image."""
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, size in enumerate((56, 40)):
        p = root / f"img{i}.jpg"
        draw_image(size, seed=i).save(p)
        paths.append(str(p))
    return [paths[0], paths[1], None, draw_image(64, seed=2)]


@pytest.mark.parametrize("family", ["qwen2_5_vl", "llava", "flava"])
def test_batched_equals_single(vlms, images, family):
    folder = str(vlms[family])
    batched = extract_hidden_states(folder, TEXTS, POOLS, batch_size=4, images=images)
    single = extract_hidden_states(folder, TEXTS, POOLS, batch_size=1, images=images)
    n_states = 5 if family == "flava" else 3  # FLAVA: 3 encoder states + 2 (method.md §3.2)
    for p in POOLS:
        assert batched[p].shape == (4, n_states, 32)
        np.testing.assert_allclose(batched[p], single[p], atol=1e-4, rtol=0)
    # the picture matters: same word, different image / no image -> different features
    other = extract_hidden_states(folder, TEXTS[:1], ("mean",), images=[images[1]])["mean"][0]
    no_image = extract_hidden_states(folder, TEXTS[:1], ("mean",))["mean"][0]
    assert np.abs(other - batched["mean"][0]).max() > 1e-4
    assert np.abs(no_image - batched["mean"][0]).max() > 1e-4


def test_llava_against_its_processor(vlms, images):
    """Reference: LlavaProcessor + LlavaForConditionalGeneration on '<image> Bird', mean over all tokens."""
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    folder = vlms["llava"]
    proc = AutoProcessor.from_pretrained(folder)
    model = LlavaForConditionalGeneration.from_pretrained(folder).eval()
    img = Image.open(images[0]).convert("RGB")
    inputs = proc(text=["<image> Bird"], images=[img], return_tensors="pt")
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == 4  # (28/14)^2 patches
    with torch.no_grad():
        hs = model(**inputs, output_hidden_states=True).hidden_states
    ref = np.stack([h[0].numpy().mean(axis=0) for h in hs])
    got = extract_hidden_states(str(folder), ["Bird"], ("mean",), images=[images[0]])["mean"][0]
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_qwen_vl_against_full_model(vlms, images):
    """Reference: the full Qwen2.5-VL model on vision_start + 4 image pads + vision_end + ' Bird'."""
    from PIL import Image
    from transformers import AutoImageProcessor, AutoTokenizer, Qwen2_5_VLForConditionalGeneration

    folder = vlms["qwen2_5_vl"]
    tok = AutoTokenizer.from_pretrained(folder)
    improc = AutoImageProcessor.from_pretrained(folder)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder).eval()
    pix = improc(images=[Image.open(images[0]).convert("RGB")], return_tensors="pt")
    assert pix["image_grid_thw"].tolist() == [
        [1, 4, 4]
    ]  # 56 px / 14 = 4 patches a side, merged 2x2 -> 4 tokens
    text = "<|vision_start|>" + "<|image_pad|>" * 4 + "<|vision_end|> Bird"
    ids = tok(text, return_tensors="pt")
    with torch.no_grad():
        hs = model(**ids, **pix, output_hidden_states=True).hidden_states
    ref = {
        "mean": np.stack([h[0].numpy().mean(axis=0) for h in hs]),
        "last_tok": np.stack([h[0, -1] for h in hs]),
    }
    got = extract_hidden_states(str(folder), ["Bird"], ("mean", "last_tok"), images=[images[0]])
    for p in ref:
        np.testing.assert_allclose(got[p][0], ref[p], atol=1e-5)


def test_flava_layers_follow_the_paper(vlms, images):
    """FLAVA text only: text states + text_embeddings + get_text_features; with an image: mean of pooled
    (text, image) states per layer, mean of pooled (text, image) embeddings, pooled multimodal embeddings."""
    from PIL import Image
    from transformers import FlavaModel, FlavaProcessor

    folder = vlms["flava"]
    proc = FlavaProcessor.from_pretrained(folder)
    model = FlavaModel.from_pretrained(folder).eval()
    img = Image.open(images[0]).convert("RGB")
    with torch.no_grad():
        both = model(**proc(text=["Bird"], images=[img], return_tensors="pt"), output_hidden_states=True)
        text_in = proc(text=["Bird"], return_tensors="pt")
        alone = model(**text_in, output_hidden_states=True)
        feats = model.get_text_features(**text_in).pooler_output
    t_states = [h[0].numpy() for h in both.text_output.hidden_states]
    i_states = [h[0].numpy() for h in both.image_output.hidden_states]
    ref_pair = [0.5 * (t.mean(0) + i.mean(0)) for t, i in zip(t_states, i_states, strict=True)]
    ref_pair.append(
        0.5 * (both.text_embeddings[0].numpy().mean(0) + both.image_embeddings[0].numpy().mean(0))
    )
    ref_pair.append(both.multimodal_embeddings[0].numpy().mean(0))
    got = extract_hidden_states(str(folder), ["Bird"], ("mean", "first_tok"), images=[images[0]])
    np.testing.assert_allclose(got["mean"][0], np.stack(ref_pair), atol=1e-5)
    first = 0.5 * (both.text_output.hidden_states[1][0, 0] + both.image_output.hidden_states[1][0, 0]).numpy()
    np.testing.assert_allclose(got["first_tok"][0, 1], first, atol=1e-5)
    ref_text = [h[0].numpy().mean(0) for h in alone.text_output.hidden_states]
    ref_text += [alone.text_embeddings[0].numpy().mean(0), feats[0].numpy().mean(0)]
    got_text = extract_hidden_states(str(folder), ["Bird"], ("mean",))["mean"][0]
    np.testing.assert_allclose(got_text, np.stack(ref_text), atol=1e-5)


def test_vlm_loaded_once_and_flagged(vlms):
    lm = load_model(str(vlms["llava"]))
    assert lm.spec.is_vlm and lm.spec.family == "llava" and lm.processor is not None
    assert load_model(str(vlms["llava"])) is lm
