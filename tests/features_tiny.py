"""Tiny random models of every family, built offline from configs in milliseconds (test helpers).

Each builder saves a model folder (config, safetensors weights, tokenizer or processor) that the
normal loading path reads, exactly like a downloaded checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPECIAL = ["<pad>", "<s>", "</s>", "<image>", "<|vision_start|>", "<|image_pad|>", "<|vision_end|>"]
CORPUS = [
    "The dog barked at the mailman.",
    "A pig rolled in the mud on the farm.",
    "Philosophy asks what knowledge is.",
    "The bird flew around the cage.",
    "dog pig bird cage mud farm",
    "Bird",
    "Dog",
    "An apple a day keeps the doctor away, or so they say.",
]
TEXTS = [
    "The dog barked at the mailman.",
    "Bird",
    "A pig rolled in the mud on the farm and slept.",
    "Philosophy asks what knowledge is.",
    "dog",
    "The bird flew around the cage twice.",
    "x",
]


def bpe_tokenizer(bos: bool = False, padding_side: str = "right", pad: bool = True):
    """A byte-level BPE tokenizer trained on :data:`CORPUS` (vocab ~320); ``bos`` prepends ``<s>``;
    ``pad=False`` leaves the pad token unset (as GPT-2's own tokenizer)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 5, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>" if pad else None,
        bos_token="<s>",
        eos_token="</s>",
        padding_side=padding_side,
    )
    return fast


def _text_config(family: str, vocab: int):
    import transformers as tf

    if family == "gpt2":
        return tf.GPT2Config(
            vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=128, bos_token_id=1, eos_token_id=2
        ), tf.GPT2LMHeadModel
    common = dict(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    if family == "qwen2":
        return tf.Qwen2Config(**common), tf.Qwen2ForCausalLM
    if family == "llama":
        return tf.LlamaConfig(**common), tf.LlamaForCausalLM
    raise ValueError(family)


def tiny_text_model(
    folder: Path, family: str = "gpt2", padding_side: str = "right", seed: int = 0, pad: bool = True
) -> Path:
    """Save a random 2-layer ``gpt2`` / ``qwen2`` / ``llama`` causal LM (hidden 32) with a BPE tokenizer
    (``pad=False``: no pad token, as GPT-2)."""
    import torch

    tok = bpe_tokenizer(bos=family == "llama", padding_side=padding_side, pad=pad)
    config, cls = _text_config(family, len(tok))
    torch.manual_seed(seed)
    model = cls(config).eval()
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def draw_image(size: int = 56, seed: int = 0):
    """An RGB PIL image with a few coloured shapes."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x0, y0 = (int(v) for v in rng.integers(0, size // 2, 2))
        draw.ellipse(
            [x0, y0, x0 + size // 3, y0 + size // 3], fill=tuple(int(v) for v in rng.integers(0, 255, 3))
        )
    return img


def tiny_qwen_vl(folder: Path, seed: int = 0) -> Path:
    """Save a random Qwen2.5-VL (2 text layers, 2 vision blocks, hidden 32) with its processor."""
    import torch
    import transformers as tf

    tok = bpe_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    config = tf.Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        ),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            out_hidden_size=32,
            num_heads=4,
            intermediate_size=64,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=56,
            fullatt_block_indexes=[1],
            in_channels=3,
        ),
        image_token_id=ids["<|image_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        video_token_id=ids["<image>"],
    )
    torch.manual_seed(seed)
    model = tf.Qwen2_5_VLForConditionalGeneration(config).eval()
    image_processor = tf.Qwen2VLImageProcessor(
        min_pixels=56 * 56, max_pixels=56 * 56, patch_size=14, merge_size=2, temporal_patch_size=2
    )
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)  # the processor class needs torchvision for videos; save its two parts
    image_processor.save_pretrained(folder)
    return folder


def tiny_llava(folder: Path, seed: int = 0) -> Path:
    """Save a random LLaVA (CLIP vision 2 layers at 28 px, Llama text 2 layers) with its processor."""
    import torch
    import transformers as tf

    tok = bpe_tokenizer(bos=True)
    config = tf.LlavaConfig(
        vision_config=dict(
            model_type="clip_vision_model",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=28,
            patch_size=14,
            projection_dim=32,
        ),
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        ),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = tf.LlavaForConditionalGeneration(config).eval()
    image_processor = tf.CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = tf.LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token="<image>",
        chat_template=None,
    )
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder


def tiny_flava(folder: Path, seed: int = 0) -> Path:
    """Save a random FLAVA (text, image and multimodal encoders of 2 layers, hidden 32) with its processor."""
    import torch
    import transformers as tf

    words = sorted({w.strip(".,").lower() for t in CORPUS + TEXTS for w in t.split()})
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *words,
        *[c for c in "abcdefghijklmnopqrstuvwxyz.,"],
    ]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tok = tf.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    enc = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    config = tf.FlavaConfig(
        text_config=dict(vocab_size=len(tok), max_position_embeddings=64, **enc),
        image_config=dict(image_size=28, patch_size=14, **enc),
        multimodal_config=enc,
        image_codebook_config=dict(hidden_size=16, num_groups=1, num_blocks_per_group=1),
        hidden_size=32,
        projection_dim=32,
    )
    torch.manual_seed(seed)
    model = tf.FlavaModel(config).eval()
    image_processor = tf.FlavaImageProcessor(
        size={"height": 28, "width": 28}, crop_size={"height": 28, "width": 28}
    )
    processor = tf.FlavaProcessor(image_processor=image_processor, tokenizer=tok)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder
