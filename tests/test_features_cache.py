"""Stimulus texts, the safetensors feature cache, trial alignment and the ``cbstudio features`` CLI."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

import core.features.extract as extract_module
from app.cli import main
from core.errors import DataError, ParameterError
from core.features.dataset import StimulusFeatures, dataset_features
from core.features.extract import extract_hidden_states
from core.features.texts import stimulus_texts
from tests.features_tiny import tiny_text_model

CONCEPTS = ["Bird", "Dog", "Philosophy"]


def small_table() -> pd.DataFrame:
    """3 concepts x 3 paradigms x 2 stimuli in the read_stimulus_table format."""
    rows = []
    for c in CONCEPTS:
        w = c.lower()
        cloud = f"{w} nest flock" if c == "Bird" else f"{w} bark leash" if c == "Dog" else f"{w} mind truth"
        for idx in (1, 2):
            rows.append(
                (c, "sentences", idx, f"  The {w} was seen {'twice' if idx == 2 else 'once'}. ", pd.NA)
            )
            rows.append((c, "word_clouds", idx, cloud, pd.NA))
            rows.append((c, "pictures", idx, c, f"/img/{c}/{w}_{idx}.jpg"))
    out = pd.DataFrame(rows, columns=["concept", "paradigm", "stimulus_idx", "text", "image"])
    out["stimulus_idx"] = out["stimulus_idx"].astype("Int64")
    return out


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    return tiny_text_model(tmp_path_factory.mktemp("cache_model") / "gpt2", "gpt2")


def test_stimulus_texts_per_paradigm():
    table = small_table()
    sent = stimulus_texts(table, "sentences")
    assert len(sent) == 6 and sent["text"].iloc[1] == "The bird was seen twice."  # stripped, as the paper
    assert sent["stimulus_idx"].tolist() == [1, 2] * 3
    clouds = stimulus_texts(table, "word_clouds")
    assert clouds["concept"].tolist() == CONCEPTS and clouds["stimulus_idx"].isna().all()
    assert clouds["text"].iloc[1] == "dog bark leash"
    pics = stimulus_texts(table, "pictures")
    assert pics["text"].tolist() == CONCEPTS and "image" not in pics
    vlm = stimulus_texts(table, "pictures", "vlm")
    assert len(vlm) == 6 and vlm["image"].iloc[3] == "/img/Dog/dog_2.jpg" and vlm["text"].iloc[3] == "Dog"
    with pytest.raises(DataError, match="no image"):
        stimulus_texts(table.assign(image=pd.NA), "pictures", "vlm")
    with pytest.raises(ParameterError):
        stimulus_texts(table, "movies")


def test_stimulus_texts_on_the_paper_table(shared_data):
    from core.data.stimuli import read_stimulus_table

    path = shared_data / "data" / "stimuli" / "complang_paradigms_stims.csv"
    table = read_stimulus_table(path)
    raw = pd.read_csv(path)
    sent = stimulus_texts(table, "sentences")
    clouds = stimulus_texts(table, "word_clouds")
    assert len(sent) == 1080 and len(clouds) == 180 and len(stimulus_texts(table, "pictures")) == 180
    bird = raw[raw["a. wordSent"] == "Bird"].iloc[0]
    assert clouds.set_index("concept").loc["Bird", "text"] == " ".join(
        bird[f"e{i}. cloud{i}"] for i in range(1, 7)
    )
    got = sent[(sent["concept"] == "Bird") & (sent["stimulus_idx"] == 3)]["text"].item()
    assert got == bird["b3. sent3"].strip()
    assert "Counting" in set(sent["concept"])  # the sentence table's "Count" maps to the canonical name


def test_cache_hit_skips_the_model(gpt2, tmp_path, monkeypatch):
    ds = types.SimpleNamespace(stimuli=small_table(), path=tmp_path)
    first = dataset_features(ds, str(gpt2), "sentences", "last_tok", cache_dir=tmp_path / "c")
    assert not first.from_cache and first.cache_file.is_file()
    # the file holds exactly what a direct extraction computes
    texts = stimulus_texts(ds.stimuli, "sentences")["text"].tolist()
    direct = extract_hidden_states(str(gpt2), texts, ("last_tok",))["last_tok"]
    np.testing.assert_array_equal(load_file(str(first.cache_file))["hidden"], direct)

    calls = []
    real = extract_module.extract_hidden_states
    monkeypatch.setattr(
        extract_module, "extract_hidden_states", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    second = dataset_features(ds, str(gpt2), "sentences", "last_tok", cache_dir=tmp_path / "c")
    assert calls == [] and second.from_cache and second.cache_file == first.cache_file
    np.testing.assert_array_equal(second.hidden, first.hidden)
    pd.testing.assert_frame_equal(second.keys, first.keys)
    # another pooling, another stimulus set, or use_cache=False -> computed
    dataset_features(ds, str(gpt2), "sentences", "mean", cache_dir=tmp_path / "c")
    changed = ds.stimuli.copy()
    changed.loc[0, "text"] = "A different sentence."
    dataset_features(None, str(gpt2), "sentences", "last_tok", stimuli=changed, cache_dir=tmp_path / "c")
    dataset_features(ds, str(gpt2), "sentences", "last_tok", cache_dir=tmp_path / "c", use_cache=False)
    assert len(calls) == 3
    files = sorted(p.name for p in (tmp_path / "c").rglob("*.safetensors"))
    assert len(files) == 3 and all(
        p.suffix == ".safetensors" for p in (tmp_path / "c").rglob("*") if p.is_file()
    )


def test_for_events_alignment():
    keys = pd.DataFrame(
        {"concept": ["Bird", "Bird", "Dog"], "stimulus_idx": pd.array([1, 2, pd.NA], dtype="Int64")}
    )
    hidden = np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)
    feats = StimulusFeatures(keys, hidden, "m", "r", "sentences")
    events = pd.DataFrame({"concept": ["Dog", "Bird", "Bird", "Dog"], "stimulus_idx": pd.array([3, 2, 1, 5])})
    got = feats.for_events(events)
    np.testing.assert_array_equal(got, hidden[[2, 1, 0, 2]])
    concept_level = pd.DataFrame({"concept": ["Bird"], "stimulus_idx": pd.array([pd.NA], dtype="Int64")})
    np.testing.assert_allclose(feats.for_events(concept_level)[0], hidden[:2].mean(axis=0))
    with pytest.raises(DataError, match="Bird.*index 7"):
        feats.for_events(pd.DataFrame({"concept": ["Bird"], "stimulus_idx": pd.array([7])}))


def test_dataset_features_on_a_native_dataset(gpt2, tiny_native, tmp_path):
    """Word clouds: one input per concept serve every trial of that concept."""
    from core.data.concepts import load_concepts
    from core.data.readers import open_dataset

    path, truth = tiny_native
    concepts = load_concepts()
    stim = pd.DataFrame(
        {
            "concept": concepts,
            "paradigm": "word_clouds",
            "stimulus_idx": pd.array([pd.NA] * 180, dtype="Int64"),
            "text": [f"{c.lower()} cloud" for c in concepts],
            "image": pd.NA,
        }
    )
    stim.to_csv(path / "stimuli.tsv", sep="\t", index=False)
    ds = open_dataset(path)
    feats = dataset_features(ds, str(gpt2), "word_clouds", cache_dir=tmp_path)
    events = ds.participant("S1").events["word_clouds"]
    rows = feats.for_events(events)
    assert rows.shape == (len(events), 3, 32)
    i = concepts.index(events["concept"].iloc[0])
    np.testing.assert_array_equal(rows[0], feats.hidden[i])


def test_missing_stimuli_is_a_data_error(gpt2, tmp_path):
    with pytest.raises(DataError, match="stimul"):
        dataset_features(types.SimpleNamespace(stimuli=None, path=tmp_path), str(gpt2), "sentences")


def test_cli_writes_features(gpt2, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CBS_FEATURE_CACHE", str(tmp_path / "cache"))
    table = small_table().drop(columns=["image"])
    table.to_csv(tmp_path / "stimuli.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    rc = main(
        [
            "features",
            "--model",
            str(gpt2),
            "--stimuli",
            str(tmp_path / "stimuli.tsv"),
            "--paradigm",
            "sentences",
            "--out",
            str(out),
            "--pooling",
            "mean",
            "--batch-size",
            "4",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    hidden = load_file(str(out / "features.safetensors"))["hidden"]
    rows = pd.read_csv(out / "stimuli.tsv", sep="\t")
    assert hidden.dtype == np.float32 and hidden.shape == (6, 3, 32)
    assert list(rows.columns) == ["concept", "stimulus_idx", "text"]
    direct = extract_hidden_states(str(gpt2), rows["text"].tolist(), ("mean",))["mean"]
    np.testing.assert_allclose(hidden, direct, atol=1e-6)
    assert rows["concept"].tolist() == [c for c in CONCEPTS for _ in (1, 2)]
    rc = main(["features", "--model", str(gpt2), "--stimuli", str(tmp_path / "nope.tsv"), "--out", str(out)])
    assert rc == 2 and "nope.tsv" in capsys.readouterr().err
    rc = main(
        [
            "features",
            "--model",
            str(tmp_path / "no-model"),
            "--stimuli",
            str(tmp_path / "stimuli.tsv"),
            "--out",
            str(tmp_path / "out2"),
        ]
    )
    assert rc == 2 and not (tmp_path / "out2" / "features.safetensors").exists()
    capsys.readouterr()
    assert main(["features", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "smollm2-135m" in listing and "llava-hf/llava-1.5-7b-hf" in listing


def test_several_poolings_come_from_one_forward_pass(gpt2, tmp_path, monkeypatch):
    """dataset_poolings extracts every pooling in one pass (one extraction call), equal to one call per
    pooling, and caches each; a later call with a cached and a new pooling extracts only the new one."""
    from core.features.dataset import dataset_poolings

    ds = types.SimpleNamespace(stimuli=small_table(), path=tmp_path)
    calls = []
    real = extract_module.extract_hidden_states
    monkeypatch.setattr(extract_module, "extract_hidden_states",
                        lambda model, texts, poolings, **k: calls.append(tuple(poolings))
                        or real(model, texts, poolings, **k))
    both = dataset_poolings(ds, str(gpt2), "sentences", ("mean", "last_tok"), cache_dir=tmp_path / "c")
    assert calls == [("mean", "last_tok")] and list(both) == ["mean", "last_tok"]
    for pooling in ("mean", "last_tok"):
        alone = dataset_features(ds, str(gpt2), "sentences", pooling, use_cache=False)
        np.testing.assert_array_equal(both[pooling].hidden, alone.hidden)
        assert both[pooling].cache_file.is_file()
    calls.clear()
    again = dataset_poolings(ds, str(gpt2), "sentences", ("last_tok", "first_tok"), cache_dir=tmp_path / "c")
    assert calls == [("first_tok",)] and again["last_tok"].from_cache
