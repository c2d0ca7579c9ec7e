"""Stimulus tables: what each (concept, paradigm, stimulus_idx) showed, as text (and image path).

One long format everywhere, :data:`STIMULUS_COLUMNS` = ``concept, paradigm, stimulus_idx, text, image``:

- :func:`read_stimulus_table` reads the native ``stimuli.tsv`` or the paper's wide table
  (``complang_paradigms_stims.csv`` / ``.xlsx``, method.md §3.2);
- :func:`template_stimuli` builds the project's own template texts over the 180 concept words
  (``resources/stimulus_templates.json``), used by the synthetic demo when no real table is given.

Texts follow the paper's ``get_stim_text`` (method.md §3.2): sentences are one text per stimulus index
1–6; a word cloud is ``" ".join(concept word + 5 related words)``, the same text for all six indices;
a picture's text is the concept word (the image path is filled only where the file exists).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.concepts import PARADIGMS, load_concepts
from core.data.validate import _int_column, normalise_concepts, read_table
from core.errors import DataError

STIMULUS_COLUMNS = ("concept", "paradigm", "stimulus_idx", "text", "image")
N_STIMULI = 6  # stimulus indices per concept and paradigm in Pereira et al. (2018) Exp. 1

# The paper's wide table (method.md §3.2)
_WORD_SENT = "a. wordSent"
_SENT = [f"b{i}. sent{i}" for i in range(1, N_STIMULI + 1)]
_CLOUD = [f"e{i}. cloud{i}" for i in range(1, N_STIMULI + 1)]
_WORD_IMG = "f. wordImg"


def read_stimulus_table(path: str | Path) -> pd.DataFrame:
    """Read a stimulus table in the native long format or the paper's wide format.

    Parameters
    ----------
    path : ``stimuli.tsv`` (native: columns concept, paradigm[, stimulus_idx, text, image]) or the
        paper's ``complang_paradigms_stims.csv`` / ``.xlsx`` (180 rows, one per concept).

    Returns
    -------
    DataFrame with :data:`STIMULUS_COLUMNS`: canonical concept names, paradigm in PARADIGMS,
    ``stimulus_idx`` Int64 (NA for concept-level rows), ``text`` and ``image`` (str or NA); sorted by
    paradigm, concept (paper order) and stimulus index.

    Raises
    ------
    DataError : unreadable file, missing columns, unknown concepts or paradigms, duplicate stimuli.
    """
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xls"):
        frame = _read_excel(path)
    else:
        sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
        frame = read_table(path, sep=sep)
        if sep == "\t" and len(frame.columns) == 1 and "," in str(frame.columns[0]):
            frame = read_table(path, sep=",")  # a CSV saved with a .tsv/.txt name
    if _WORD_SENT in frame.columns:
        return _finish(_from_paper_table(frame, path), path)
    if "paradigm" in frame.columns or "concept" in frame.columns:
        return _finish(_from_native_table(frame, path), path)
    columns = ", ".join(map(str, frame.columns[:6]))
    raise DataError(path, f"neither a native stimulus table (concept, paradigm, ...) nor the paper's "
                          f"table ('{_WORD_SENT}', 'b1. sent1', ...); columns: {columns}")


def _read_excel(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(path, "missing")
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False, na_values=[""])
    except ImportError as exc:
        raise DataError(path, f"reading .xlsx needs openpyxl ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl/zipfile raise many types for corrupt files
        raise DataError(path, f"not a readable spreadsheet ({type(exc).__name__}: {exc})") from None
    return frame


def _from_native_table(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    for col in ("concept", "paradigm"):
        if col not in frame:
            raise DataError(path, f"no '{col}' column")
    if frame["paradigm"].isna().any():
        raise DataError(path, f"empty paradigm (row {int(np.flatnonzero(frame['paradigm'].isna())[0]) + 2})")
    unknown = sorted(set(frame["paradigm"]) - set(PARADIGMS))
    if unknown:
        raise DataError(path, f"unknown paradigm {unknown[0]!r}; expected {', '.join(PARADIGMS)}")
    out = pd.DataFrame(
        {
            "concept": normalise_concepts(frame, path),
            "paradigm": frame["paradigm"],
            "stimulus_idx": _int_column(frame, "stimulus_idx", path),
        }
    )
    for col in ("text", "image"):
        out[col] = frame[col] if col in frame else pd.NA
    return out


def _from_paper_table(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in (_WORD_SENT, *_SENT, *_CLOUD, _WORD_IMG) if c not in frame]
    if missing:
        raise DataError(path, f"the paper's stimulus table lacks column(s) {', '.join(missing)}")
    if len(frame) == 0:
        raise DataError(path, "no concepts")
    concepts = normalise_concepts(frame.rename(columns={_WORD_SENT: "concept"}), path)
    folder = path.parent / "images"
    rows = []
    for r, concept in enumerate(concepts):
        row = frame.iloc[r]
        cells = [row[c] for c in (*_SENT, *_CLOUD, _WORD_IMG)]
        if any(not isinstance(c, str) or not c.strip() for c in cells):
            raise DataError(path, f"empty stimulus cell for concept {concept!r} (row {r + 2})")
        cloud = " ".join(str(row[c]).strip() for c in _CLOUD)
        word = str(row[_WORD_IMG]).strip()
        for idx in range(1, N_STIMULI + 1):
            rows.append((concept, "sentences", idx, str(row[_SENT[idx - 1]]).strip(), pd.NA))
            image = folder / word / f"{word.lower()}_{idx}.jpg"
            rows.append((concept, "pictures", idx, word, str(image) if image.is_file() else pd.NA))
            rows.append((concept, "word_clouds", idx, cloud, pd.NA))
    out = pd.DataFrame(rows, columns=list(STIMULUS_COLUMNS))
    out["stimulus_idx"] = out["stimulus_idx"].astype("Int64")
    return out


def _finish(out: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Check for duplicates, fix dtypes and sort by paradigm, concept (paper order), index."""
    if len(out) == 0:
        raise DataError(path, "no stimuli")
    dup = out.duplicated(["concept", "paradigm", "stimulus_idx"], keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise DataError(path, f"duplicate stimulus {first['concept']!r} {first['paradigm']} "
                              f"index {first['stimulus_idx']}")
    order = {c: i for i, c in enumerate(load_concepts())}
    out = out.assign(
        _p=out["paradigm"].map(PARADIGMS.index), _c=out["concept"].map(order)
    ).sort_values(["_p", "_c", "stimulus_idx"], kind="stable")
    out = out.drop(columns=["_p", "_c"]).reset_index(drop=True)
    for col in ("text", "image"):
        out[col] = out[col].astype(object).where(out[col].notna(), pd.NA)
    return out.loc[:, list(STIMULUS_COLUMNS)]


@lru_cache(maxsize=1)
def _templates() -> dict:
    text = resources.files("resources").joinpath("stimulus_templates.json").read_text(encoding="utf-8")
    return json.loads(text)


def concept_word(concept: str) -> str:
    """The lower-case word shown for a concept (``"Counting"`` -> ``"counting"``)."""
    return concept.lower()


def template_stimuli(n_stimuli: int = N_STIMULI) -> pd.DataFrame:
    """The project's own stimulus texts over the 180 concept words (deterministic).

    - sentences: ``n_stimuli`` different template sentences per concept (templates drawn without
      replacement from ``resources/stimulus_templates.json``, a fixed rotation per concept so
      neighbouring concepts use different templates);
    - word clouds: the concept word plus its 5 listed related words (the five nearest other
      concept words in all-MiniLM-L6-v2 space, precomputed), the same text for every index;
    - pictures: the capitalised concept word, no image.

    Returns a DataFrame with :data:`STIMULUS_COLUMNS`, 180 x 3 x ``n_stimuli`` rows.
    """
    spec = _templates()
    sentences: list[str] = spec["sentences"]
    related: dict[str, list[str]] = spec["word_cloud_related"]
    if not 1 <= n_stimuli <= len(sentences):
        raise ValueError(f"n_stimuli must be in 1..{len(sentences)}")
    n_t = len(sentences)
    step = 7 if np.gcd(7, n_t) == 1 else 1  # rotation stride coprime to the template count
    rows = []
    for c, concept in enumerate(load_concepts()):
        word = concept_word(concept)
        cloud = " ".join([word, *related[concept]])
        for idx in range(1, n_stimuli + 1):
            template = sentences[(c * step + (idx - 1) * 5) % n_t]
            rows.append((concept, "sentences", idx, template.format(w=word), pd.NA))
            rows.append((concept, "pictures", idx, concept, pd.NA))
            rows.append((concept, "word_clouds", idx, cloud, pd.NA))
    out = pd.DataFrame(rows, columns=list(STIMULUS_COLUMNS))
    out["stimulus_idx"] = out["stimulus_idx"].astype("Int64")
    return _finish(out, Path("resources/stimulus_templates.json"))


def nearest_words(embeddings: np.ndarray, words: list[str], k: int = 5) -> dict[str, list[str]]:
    """The ``k`` nearest other words of each word by cosine similarity of ``embeddings`` (n, H).

    This is how ``word_cloud_related`` in ``resources/stimulus_templates.json`` was made (from the
    mean-pooled last-layer all-MiniLM-L6-v2 states of the 180 lower-case concept words).
    """
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return {w: [words[j] for j in order[i]] for i, w in enumerate(words)}


def stimulus_text_lookup(table: pd.DataFrame, paradigm: str) -> dict[tuple[str, int], str]:
    """(concept, stimulus_idx) -> text for one paradigm; concept-level rows (NA index) fill indices 1–6."""
    rows = table[table["paradigm"] == paradigm]
    out: dict[tuple[str, int], str] = {}
    for concept, idx, text in rows[["concept", "stimulus_idx", "text"]].itertuples(index=False):
        if not isinstance(text, str):
            continue
        if pd.isna(idx):
            for i in range(1, N_STIMULI + 1):
                out.setdefault((concept, i), text)
        else:
            out[(concept, int(idx))] = text
    return out

