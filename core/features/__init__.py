"""Language-model and vision-language-model features of the stimuli (method.md §3.1–3.3).

- :mod:`core.features.registry`: ``MODELS`` (the paper's 15 models + ``minilm``, ``smollm2-135m``),
  ``resolve_model(key | hub id | folder)``;
- :mod:`core.features.extract`: ``extract_hidden_states(model, texts, poolings, ...)`` ->
  ``{pooling: float32 (n_texts, n_layers + 1, hidden)}``;
- :mod:`core.features.texts`: ``stimulus_texts(stimuli_table, paradigm, model_kind)``;
- :mod:`core.features.dataset`: ``dataset_features(dataset, model, paradigm, pooling)`` ->
  ``StimulusFeatures`` (cached as safetensors by :mod:`core.features.cache`), ``.for_events(events)``;
  ``dataset_poolings(..., poolings)`` -> ``{pooling: StimulusFeatures}`` from one forward pass;
- :mod:`core.features.batching`: the pad-id rule, token-budget batches, right padding (shared by the
  text and VLM paths); :mod:`core.features.streaming`: per-layer pooling by forward hooks;
- :mod:`core.features.vlm`: Qwen2.5-VL, LLaVA and FLAVA inputs; :mod:`core.features.vlm_parts`: their
  decoder / embeddings / vision tower found by attribute across transformers versions;
  :mod:`core.features.gguf`: GGUF checkpoints dequantised once into the user cache.

Nothing here imports torch or transformers at package import time.
"""
