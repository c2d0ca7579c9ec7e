"""Stimulus tables: the paper's wide CSV/XLSX, the native stimuli.tsv and the template texts."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from core.data.concepts import PARADIGMS, load_concepts
from core.data.stimuli import (
    STIMULUS_COLUMNS,
    nearest_words,
    read_stimulus_table,
    stimulus_text_lookup,
    template_stimuli,
)
from core.errors import DataError


def test_template_stimuli_shape_and_content():
    t = template_stimuli()
    assert list(t.columns) == list(STIMULUS_COLUMNS)
    assert len(t) == 180 * 3 * 6
    assert t.groupby("paradigm")["concept"].nunique().to_dict() == {p: 180 for p in PARADIGMS}
    sent = t[t["paradigm"] == "sentences"]
    # six different sentences per concept, each containing the concept word
    assert (sent.groupby("concept")["text"].nunique() == 6).all()
    assert all(f'"{c.lower()}"' in s for c, s in zip(sent["concept"], sent["text"], strict=True))
    clouds = t[t["paradigm"] == "word_clouds"]
    words = clouds["text"].str.split()
    assert (words.str.len() == 6).all()
    assert (words.str[0] == clouds["concept"].str.lower()).all()
    assert (clouds.groupby("concept")["text"].nunique() == 1).all()  # one text per concept, as in the paper
    pics = t[t["paradigm"] == "pictures"]
    assert (pics["text"] == pics["concept"]).all() and pics["image"].isna().all()
    pd.testing.assert_frame_equal(t, template_stimuli())  # deterministic


def test_nearest_words_matches_brute_force():
    rng = np.random.default_rng(3)
    emb = rng.standard_normal((12, 5))
    words = [f"w{i}" for i in range(12)]
    got = nearest_words(emb, words, k=3)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    for i, w in enumerate(words):
        sims = [(float(unit[i] @ unit[j]), words[j]) for j in range(12) if j != i]
        assert got[w] == [name for _, name in sorted(sims, reverse=True)[:3]]


def test_native_table_round_trip(tmp_path):
    t = template_stimuli()
    path = tmp_path / "stimuli.tsv"
    t.sample(frac=1.0, random_state=0).to_csv(path, sep="\t", index=False)  # order is restored on reading
    back = read_stimulus_table(path)
    pd.testing.assert_frame_equal(back, t)
    lookup = stimulus_text_lookup(back, "sentences")
    row = t.query("paradigm == 'sentences' and concept == 'Bird' and stimulus_idx == 3")
    assert lookup[("Bird", 3)] == row["text"].item()


def test_native_concept_level_rows_fill_every_index(tmp_path):
    path = tmp_path / "stimuli.tsv"
    path.write_text("concept\tparadigm\tstimulus_idx\ttext\n"
                    "bird\tword_clouds\t\tbird nest\ncount\tpictures\t2\tCount\n")
    t = read_stimulus_table(path)
    assert t["concept"].tolist() == ["Counting", "Bird"]  # canonical names, paradigm then paper order
    assert t["stimulus_idx"].isna().tolist() == [False, True]
    lookup = stimulus_text_lookup(t, "word_clouds")
    assert {lookup[("Bird", i)] for i in range(1, 7)} == {"bird nest"}


def _paper_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_paper_csv(shared_data):
    path = shared_data / "data" / "stimuli" / "complang_paradigms_stims.csv"
    t = read_stimulus_table(path)
    sent = t[t["paradigm"] == "sentences"]
    assert len(sent) == 1080 and sent["text"].notna().all()
    assert len(t) == 3 * 1080
    assert set(t["concept"]) == set(load_concepts())
    rows = {r["a. wordSent"]: r for r in _paper_rows(path)}
    # independent reference: the csv module on the raw file
    bird = rows["Bird"]
    for idx in range(1, 7):
        assert sent.query("concept == 'Bird' and stimulus_idx == @idx")["text"].item() == \
            bird[f"b{idx}. sent{idx}"].strip()
    cloud = " ".join(bird[f"e{i}. cloud{i}"].strip() for i in range(1, 7))
    wc = t[(t["paradigm"] == "word_clouds") & (t["concept"] == "Bird")]
    assert wc["text"].tolist() == [cloud] * 6 and wc["stimulus_idx"].tolist() == list(range(1, 7))
    pics = t[(t["paradigm"] == "pictures") & (t["concept"] == "Counting")]
    assert pics["text"].tolist() == ["Counting"] * 6  # "Count" row of the paper's table
    assert sent.query("concept == 'Counting' and stimulus_idx == 1")["text"].item() == \
        rows["Count"]["b1. sent1"].strip()


def test_paper_xlsx_equals_csv(shared_data):
    folder = shared_data / "data" / "stimuli"
    pd.testing.assert_frame_equal(read_stimulus_table(folder / "complang_paradigms_stims.xlsx"),
                                  read_stimulus_table(folder / "complang_paradigms_stims.csv"))


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("a.tsv", "concept\ttext\nbird\tx\n", "no 'paradigm' column"),
        ("b.tsv", "concept\tparadigm\nbird\tmovies\n", "unknown paradigm 'movies'"),
        ("c.tsv", "concept\tparadigm\nunicorn\tpictures\n", "unknown concept 'unicorn'"),
        ("d.tsv", "concept\tparadigm\tstimulus_idx\nbird\tpictures\t1\nBird\tpictures\t1\n",
         "duplicate stimulus"),
        ("e.tsv", "concept\tparadigm\tstimulus_idx\nbird\tpictures\tone\n", "must hold integers"),
        ("f.tsv", "", "not a readable table"),
        ("g.csv", "x,y\n1,2\n", "neither a native stimulus table"),
        ("h.csv", "concept,paradigm\n", "no stimuli"),
    ],
)
def test_bad_native_tables(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=reason) as info:
        read_stimulus_table(path)
    assert info.value.path == path


def test_bad_paper_tables(tmp_path):
    header = ["a. wordSent"] + [f"b{i}. sent{i}" for i in range(1, 7)] + ["d. wordCloud"] + \
        [f"e{i}. cloud{i}" for i in range(1, 7)] + ["f. wordImg"]
    row = ["Bird"] + [f"A bird {i}." for i in range(1, 7)] + ["bird"] + \
        ["bird", "a", "b", "c", "d", "e"] + ["Bird"]
    good = pd.DataFrame([row], columns=header)
    good.to_csv(tmp_path / "ok.csv", index=False)
    assert len(read_stimulus_table(tmp_path / "ok.csv")) == 18
    good.drop(columns=["b3. sent3"]).to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(DataError, match="lacks column"):
        read_stimulus_table(tmp_path / "cols.csv")
    empty = good.copy()
    empty.loc[0, "e4. cloud4"] = ""
    empty.to_csv(tmp_path / "cell.csv", index=False)
    with pytest.raises(DataError, match="empty stimulus cell"):
        read_stimulus_table(tmp_path / "cell.csv")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a readable spreadsheet"):
        read_stimulus_table(tmp_path / "bad.xlsx")
    with pytest.raises(DataError, match="missing"):
        read_stimulus_table(tmp_path / "absent.xlsx")
