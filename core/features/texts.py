"""What each model reads per stimulus (method.md §3.2).

- sentences: the sentence, one text per stimulus;
- word clouds: the concept word followed by its related words, one text per concept;
- pictures: the concept word alone for text models (one per concept); for vision-language models
  the picture plus the word, one input per stimulus (the family's image-token convention is added
  by :mod:`core.features.vlm`).

A concept whose stimuli all carry the same input becomes a single concept-level row
(``stimulus_idx`` NA); :meth:`StimulusFeatures.for_events` matches such rows by concept.
"""

from __future__ import annotations

import pandas as pd

from core.data.concepts import PARADIGMS
from core.errors import DataError, ParameterError

MODEL_KINDS = ("text", "vlm")


def stimulus_texts(stimuli_table: pd.DataFrame, paradigm: str, model_kind: str = "text") -> pd.DataFrame:
    """Model inputs for one paradigm.

    Parameters
    ----------
    stimuli_table : DataFrame(concept, paradigm, stimulus_idx, text, image) as returned by
        :func:`core.data.stimuli.read_stimulus_table`.
    paradigm : ``sentences``, ``pictures`` or ``word_clouds``.
    model_kind : ``text`` or ``vlm``.

    Returns
    -------
    DataFrame(concept, stimulus_idx Int64 (NA for concept-level rows), text) and, for a VLM on
    pictures, ``image`` (path). Rows keep the table's order (concepts in paper order).
    """
    if paradigm not in PARADIGMS:
        raise ParameterError(f"unknown paradigm {paradigm!r}; choose one of {', '.join(PARADIGMS)}")
    if model_kind not in MODEL_KINDS:
        raise ParameterError(f"unknown model kind {model_kind!r}; choose 'text' or 'vlm'")
    missing = [c for c in ("concept", "paradigm", "stimulus_idx", "text") if c not in stimuli_table]
    if missing:
        raise ParameterError(f"stimulus table lacks column(s) {', '.join(missing)}")
    rows = stimuli_table[stimuli_table["paradigm"] == paradigm]
    if rows.empty:
        raise ParameterError(f"the stimulus table has no {paradigm} stimuli")
    with_image = model_kind == "vlm" and paradigm == "pictures"
    frame = pd.DataFrame(
        {
            "concept": rows["concept"].astype(str).to_numpy(),
            "stimulus_idx": pd.array(rows["stimulus_idx"], dtype="Int64"),
            "text": rows["text"].to_numpy(dtype=object),
        }
    )
    if frame["text"].isna().any():
        bad = frame[frame["text"].isna()].iloc[0]
        raise ParameterError(
            f"{paradigm} stimulus {bad['concept']!r} index {bad['stimulus_idx']} has no text"
        )
    frame["text"] = [str(t).strip() for t in frame["text"]]
    if with_image:
        images = rows["image"] if "image" in rows else pd.Series(pd.NA, index=rows.index)
        if images.isna().any():
            n = int(images.isna().sum())
            raise DataError(
                "stimuli",
                f"{n} of {len(images)} pictures have no image file; a vision-language "
                "model needs images/{Concept}/{concept}_{idx}.jpg beside the stimulus table",
            )
        frame["image"] = images.astype(str).to_numpy()
    keys = ["text", "image"] if with_image else ["text"]
    groups = frame.groupby("concept", sort=False)
    single = groups[keys].nunique().eq(1).all(axis=1) & groups.size().gt(1)
    concept_level = frame["concept"].map(single).astype(bool)
    frame.loc[concept_level, "stimulus_idx"] = pd.NA
    frame = frame[~(concept_level & frame.duplicated("concept"))]
    return frame.reset_index(drop=True)
