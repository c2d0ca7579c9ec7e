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


def _bare(model):
    """The installed transformers' (>= 4.52) layout, spelled out: model.model.language_model is the bare
    text decoder, model.model holds the vision tower."""
    return model.model.language_model


@pytest.mark.parametrize("family", ["qwen2_5_vl", "llava"])
def test_parts_found_on_installed_layout(vlms, family):
    from core.features.vlm_parts import vlm_parts

    model = load_model(str(vlms[family])).model
    parts = vlm_parts(model)
    decoder = _bare(model)
    assert parts.decoder is decoder
    assert type(decoder).__name__ == {"llava": "LlamaModel", "qwen2_5_vl": "Qwen2_5_VLTextModel"}[family]
    assert parts.embeddings is decoder.embed_tokens
    assert parts.vision is getattr(model.model, {"llava": "vision_tower", "qwen2_5_vl": "visual"}[family])
    assert parts.multimodal is model.model and parts.multimodal_kwargs == {}


@pytest.mark.parametrize("family", ["qwen2_5_vl", "llava"])
def test_text_path_equals_the_bare_decoder(vlms, family):
    """Text-only rows, padded in one batch, equal the bare decoder run on each text alone (atol 1e-5)."""
    lm = load_model(str(vlms[family]))
    decoder = _bare(lm.model)
    got = extract_hidden_states(lm, TEXTS, POOLS, batch_size=4)
    for i, text in enumerate(TEXTS):
        ids = lm.tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            hs = decoder(input_ids=ids, output_hidden_states=True).hidden_states
        h = np.stack([x[0].numpy() for x in hs])  # (L + 1, T, H)
        ref = {"mean": h.mean(axis=1), "last_tok": h[:, -1], "first_tok": h[:, 0]}
        for p in POOLS:
            np.testing.assert_allclose(got[p][i], ref[p], atol=1e-5, rtol=0)


class _Legacy(torch.nn.Module):
    """A transformers <= 4.51 layout built from the parts of an installed model (no ``.model`` wrapper
    holding the vision tower): LLaVA kept ``vision_tower`` and a causal ``language_model`` on top;
    Qwen2.5-VL kept ``visual`` on top and the bare decoder as ``.model``."""

    def __init__(self, model, family):
        super().__init__()
        decoder = model.model.language_model
        self.lm_head = model.lm_head
        if family == "llava":
            self.vision_tower = model.model.vision_tower
            self.language_model = torch.nn.Module()
            self.language_model.model, self.language_model.lm_head = decoder, model.lm_head
            self.forward = self._forward_llava
        else:
            self.visual, self.model = model.model.visual, decoder

    def get_input_embeddings(self):
        dec = self.model if hasattr(self, "visual") else self.language_model.model
        return dec.get_input_embeddings()

    def forward(self, input_ids=None, pixel_values=None):  # Qwen2.5-VL 4.49: no logits_to_keep
        raise NotImplementedError

    def _forward_llava(self, input_ids=None, pixel_values=None, logits_to_keep=0):
        raise NotImplementedError


@pytest.mark.parametrize("family", ["qwen2_5_vl", "llava"])
def test_parts_found_on_the_old_layout(vlms, family):
    from core.features.vlm_parts import vlm_parts

    model = load_model(str(vlms[family])).model
    legacy = _Legacy(model, family)
    parts = vlm_parts(legacy)
    assert parts.decoder is model.model.language_model
    assert parts.vision is (legacy.vision_tower if family == "llava" else legacy.visual)
    assert parts.multimodal is legacy  # the whole model, asked for one logit where it can be
    assert parts.multimodal_kwargs == ({"logits_to_keep": 1} if family == "llava" else {})


def test_parts_missing_fail_loudly(vlms):
    from core.errors import ParameterError
    from core.features.vlm_parts import vlm_parts

    model = load_model(str(vlms["llava"])).model
    with pytest.raises(ParameterError, match="no text decoder"):
        vlm_parts(torch.nn.Linear(2, 2))
    legacy = _Legacy(model, "llava")
    del legacy.vision_tower
    with pytest.raises(ParameterError, match="no vision tower"):
        vlm_parts(legacy)
