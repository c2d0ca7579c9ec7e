"""Features of a dataset's stimuli, cached on disk, and their alignment to trial tables.

The encoding and RSA analyses call :func:`dataset_features` and then
:meth:`StimulusFeatures.for_events` to get one feature row per trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataError, ParameterError
from core.features.cache import cache_path, feature_cache_dir, load_features, save_features
from core.features.pooling import check_poolings
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress


@dataclass
class StimulusFeatures:
    """Pooled hidden states of every stimulus of one paradigm.

    Attributes
    ----------
    keys : DataFrame(concept, stimulus_idx Int64; NA = one input for the whole concept), row i of hidden.
    hidden : float32 (n_stimuli, n_layers + 1, hidden); layer 0 = embeddings.
    model_id, revision : model identity (registry key / hub id / folder, and revision or fingerprint).
    paradigm, pooling : what was extracted.
    texts : the model input per row.
    cache_file : the safetensors file the features were read from or written to (None if not cached).
    from_cache : True when read from the cache.
    """

    keys: pd.DataFrame
    hidden: np.ndarray
    model_id: str
    revision: str | None
    paradigm: str = ""
    pooling: str = ""
    texts: pd.Series | None = None
    cache_file: Path | None = None
    from_cache: bool = False

    @property
    def n_layers(self) -> int:
        """Number of hidden states per stimulus (transformer layers + 1)."""
        return int(self.hidden.shape[1])

    def row_index(self, events: pd.DataFrame) -> list[np.ndarray]:
        """For each trial, the feature rows it maps to (one row, or all rows of its concept).

        A trial (concept, stimulus_idx) takes the row with the same concept and index; a concept-level
        feature row (NA index) serves every trial of its concept; a trial without an index (concept-level
        data) takes the mean of its concept's rows.
        """
        exact: dict[tuple[str, int], int] = {}
        by_concept: dict[str, list[int]] = {}
        concept_row: dict[str, int] = {}
        for i, (c, s) in enumerate(zip(self.keys["concept"], self.keys["stimulus_idx"], strict=False)):
            by_concept.setdefault(c, []).append(i)
            if pd.isna(s):
                concept_row[c] = i
            else:
                exact[(c, int(s))] = i
        rows = []
        for c, s in zip(events["concept"], events["stimulus_idx"], strict=False):
            if c in concept_row:
                rows.append(np.array([concept_row[c]]))
            elif pd.isna(s) and c in by_concept:
                rows.append(np.array(by_concept[c]))
            elif not pd.isna(s) and (c, int(s)) in exact:
                rows.append(np.array([exact[(c, int(s))]]))
            else:
                where = "" if pd.isna(s) else f" index {int(s)}"
                raise DataError(
                    "stimuli", f"no {self.paradigm or 'stimulus'} features for concept {c!r}{where}"
                )
        return rows

    def for_events(self, events: pd.DataFrame) -> np.ndarray:
        """Feature rows aligned to a trial table: float32 (n_trials, n_layers + 1, hidden)."""
        rows = self.row_index(events)
        if all(len(r) == 1 for r in rows):
            return self.hidden[np.concatenate(rows) if rows else np.zeros(0, int)]
        return np.stack([self.hidden[r].mean(axis=0) for r in rows]).astype(np.float32)

    def layer(self, index: int) -> np.ndarray:
        """Features of one hidden state: float32 (n_stimuli, hidden)."""
        return self.hidden[:, index]


def _stimuli_frame(dataset: Any, stimuli: Any) -> pd.DataFrame:
    from core.data.stimuli import read_stimulus_table

    if stimuli is None:
        stimuli = getattr(dataset, "stimuli", None)
        if stimuli is None:
            where = getattr(dataset, "path", "dataset")
            raise DataError(
                where,
                "no stimulus table (stimuli.tsv); language-model features need the stimulus "
                "texts: add stimuli.tsv or pass the paper's complang_paradigms_stims table",
            )
    if isinstance(stimuli, (str, Path)):
        return read_stimulus_table(stimuli)
    return stimuli


def features_for_texts(
    model: Any,
    frame: pd.DataFrame,
    paradigm: str,
    poolings=("mean",),
    *,
    batch_size: int | None = None,
    device: str = "auto",
    dtype: str = "float32",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    trust_remote_code: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, StimulusFeatures]:
    """Features of a ``stimulus_texts`` frame for several poolings, read from or written to the cache.

    The model is loaded only when some pooling is not cached. Returns ``{pooling: StimulusFeatures}``.
    """
    from core.features.extract import as_loaded, extract_hidden_states
    from core.features.loading import LoadedModel, model_identity
    from core.features.registry import ModelSpec, resolve_model

    poolings = check_poolings(poolings)
    progress = progress or no_progress
    root = Path(cache_dir) if cache_dir is not None else feature_cache_dir()
    keys = frame[["concept", "stimulus_idx"]].reset_index(drop=True)
    texts = frame["text"].reset_index(drop=True)
    if isinstance(model, LoadedModel):
        ident: tuple[str, str | None] | None = (model.model_id, model.revision)
    elif isinstance(model, tuple):
        ident = None  # an in-memory (model, tokenizer) pair has no stable identity: never cached
    else:
        spec = model if isinstance(model, ModelSpec) else resolve_model(model)
        ident, model = model_identity(spec), spec
    cacheable = use_cache and ident is not None and ident[1] is not None
    out: dict[str, StimulusFeatures] = {}
    if cacheable:
        for p in poolings:
            path = cache_path(root, ident[0], ident[1], paradigm, p, frame, dtype)
            if path.is_file():
                hidden, _, _ = load_features(path)
                out[p] = StimulusFeatures(keys, hidden, ident[0], ident[1], paradigm, p, texts, path, True)
    todo = [p for p in poolings if p not in out]
    if todo:
        check_cancel(cancel)
        lm = as_loaded(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        images = list(frame["image"]) if "image" in frame else None
        result = extract_hidden_states(
            lm, list(texts), todo, batch_size=batch_size, images=images, progress=progress, cancel=cancel
        )
        cacheable = use_cache and lm.revision is not None
        for p in todo:
            path = None
            if cacheable:
                path = cache_path(root, lm.model_id, lm.revision, paradigm, p, frame, lm.dtype)
                meta = {
                    "model_id": lm.model_id,
                    "revision": lm.revision,
                    "paradigm": paradigm,
                    "pooling": p,
                    "dtype": lm.dtype,
                    "family": lm.spec.family,
                }
                save_features(path, result[p], frame, meta)
            out[p] = StimulusFeatures(
                keys, result[p], lm.model_id, lm.revision, paradigm, p, texts, path, False
            )
    progress(1.0, "features ready")
    return {p: out[p] for p in poolings}


def dataset_features(
    dataset: Any,
    model: Any,
    paradigm: str,
    pooling: str = "mean",
    device: str = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    **options: Any,
) -> StimulusFeatures:
    """Pooled hidden states of every stimulus of ``paradigm`` in ``dataset`` for one ``pooling`` (see
    :func:`dataset_poolings`, which takes the same keyword options)."""
    if isinstance(pooling, (list, tuple)):
        raise ParameterError("dataset_features takes one pooling; use dataset_poolings for several")
    found = dataset_poolings(dataset, model, paradigm, (pooling,), device, progress, cancel, **options)
    return found[pooling]


def dataset_poolings(
    dataset: Any,
    model: Any,
    paradigm: str,
    poolings: tuple[str, ...] = ("mean",),
    device: str = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    *,
    batch_size: int | None = None,
    dtype: str = "float32",
    stimuli: Any = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    trust_remote_code: bool = False,
) -> dict[str, StimulusFeatures]:
    """Pooled hidden states of every stimulus of ``paradigm`` in ``dataset`` (cached on disk), for
    every pooling in ``poolings`` from one forward pass over the stimuli.

    Parameters
    ----------
    dataset : a :class:`core.data.dataset.Dataset` (its ``stimuli`` table is used), or None with ``stimuli``.
    model : registry key, hub id, local folder, LoadedModel or (model, tokenizer) pair.
    paradigm : ``sentences``, ``pictures`` or ``word_clouds``.
    poolings : any of ``mean``, ``last_tok``, ``first_tok``.
    stimuli : a stimulus table (DataFrame or path) that overrides ``dataset.stimuli``.
    cache_dir : cache root (default :func:`core.features.cache.feature_cache_dir`); ``use_cache=False``
        always recomputes and writes nothing.

    Returns
    -------
    {pooling: :class:`StimulusFeatures`}; ``.for_events(participant.events[paradigm])`` gives per-trial
    rows.
    """
    from core.features.loading import LoadedModel
    from core.features.registry import ModelSpec, resolve_model
    from core.features.texts import stimulus_texts

    table = _stimuli_frame(dataset, stimuli)
    if isinstance(model, LoadedModel):
        vlm = model.spec.is_vlm
    elif isinstance(model, tuple):
        vlm = getattr(model[0].config, "model_type", "") in ("qwen2_5_vl", "llava", "flava")
    else:
        model = model if isinstance(model, ModelSpec) else resolve_model(model)
        vlm = model.is_vlm
    frame = stimulus_texts(table, paradigm, "vlm" if vlm else "text")
    return features_for_texts(
        model,
        frame,
        paradigm,
        tuple(poolings),
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        cache_dir=cache_dir,
        use_cache=use_cache,
        trust_remote_code=trust_remote_code,
        progress=progress,
        cancel=cancel,
    )
