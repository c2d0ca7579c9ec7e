"""The synthetic demo: native files, planted truth recovered by direct numpy formulas, determinism."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from core.data.concepts import PARADIGMS, load_concepts
from core.data.readers import open_dataset
from core.data.stimuli import template_stimuli
from core.demo.synthetic import make_demo
from core.errors import DataError, ParameterError

TRUTH_MAPS = ("consistency_snr", "language", "lm_snr")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One participant, tiny size, synthetic maps only (independent of ../shared)."""
    path = tmp_path_factory.mktemp("demo") / "tiny"
    seen = []
    make_demo(path, n_participants=1, seed=0, size="tiny", shared=None,
              progress=lambda f, m: seen.append(f))
    return path, seen


def _truth(path, name, geometry):
    return geometry.from_volume(np.asarray(nib.load(str(path / "truth" / f"{name}.nii.gz")).dataobj))


def _consistency(data, split=None):
    """C per voxel: mean pairwise Pearson r over the three paradigms' 180-concept means (method.md §2.1)."""
    means = []
    for p in PARADIGMS:
        ev, betas = data.events[p], np.asarray(data.betas(p), dtype=np.float64)
        keep = np.ones(len(ev), bool) if split is None else (ev["split"] == split).to_numpy()
        frame = pd.DataFrame(betas[keep]).groupby(ev["concept"].to_numpy()[keep]).mean()
        means.append(frame.loc[list(load_concepts())].to_numpy())
    z = [(m - m.mean(0)) / m.std(0) for m in means]
    return np.mean([(z[a] * z[b]).mean(0) for a, b in ((0, 1), (0, 2), (1, 2))], axis=0)


def test_files_and_metadata(tiny):
    path, seen = tiny
    ds = open_dataset(path)
    assert ds.reader == "native" and ds.participants == ("M01",) and ds.paradigms == PARADIGMS
    data = ds.participant("M01")
    assert data.geometry.shape == (91, 109, 91) and data.n_voxels == 4902
    assert np.allclose(data.geometry.affine, [[-2, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])
    for p in PARADIGMS:
        assert data.betas(p).dtype == np.float32 and data.betas(p).shape == (720, 4902)
    assert data.language is not None and data.language.shape == (4902,)
    stim = ds.stimuli
    assert stim.groupby("paradigm")["concept"].nunique().to_dict() == {p: 180 for p in PARADIGMS}
    assert stim["text"].notna().all()
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    for name in TRUTH_MAPS:
        img = nib.load(str(path / "truth" / f"{name}.nii.gz"))
        assert img.shape == (91, 109, 91) and np.allclose(img.affine, data.geometry.affine)
    readme = (path / "truth" / "README.txt").read_text()
    assert all(f"{name}.nii.gz:" in readme for name in TRUTH_MAPS)


def test_trial_structure(tiny):
    data = open_dataset(tiny[0]).participant("M01")
    for p in PARADIGMS:
        ev = data.events[p]
        # tiny: 4 stimuli per concept, 8 runs of 90 trials; each 180-trial run pair shows every concept once
        assert (ev.groupby("concept").size() == 4).all()
        assert (ev.groupby("concept")["stimulus_idx"].nunique() == 4).all()
        for pair in range(4):
            assert ev["concept"].iloc[180 * pair:180 * (pair + 1)].nunique() == 180
        assert ev["stimulus_idx"].between(1, 6).all()
        assert (ev.loc[ev["stimulus_idx"] == 1, "split"] == 1).all()  # stimulus 1 always in half 1
        # at most 3 of the 6 indices of a concept in each half; both halves present for every concept
        per_half = ev.groupby(["concept", "split"])["stimulus_idx"].nunique().unstack()
        assert per_half.notna().all().all() and (per_half <= 3).all().all()
    orders = [tuple(data.events[p]["concept"]) for p in PARADIGMS]
    assert len(set(orders)) == 3  # shuffled independently per paradigm


def test_planted_consistency_is_recovered(tiny):
    path, _ = tiny
    data = open_dataset(path).participant("M01")
    snr, lm = (_truth(path, n, data.geometry) for n in ("consistency_snr", "lm_snr"))
    c = _consistency(data)
    planted, null = snr > 0, (snr == 0) & (lm == 0)
    assert planted.sum() >= 60 and null.sum() > 4000
    assert c[planted].mean() > 0.2
    assert abs(c[null].mean()) < 0.01 and c[null].std() < 0.06  # null sd ~ 1/sqrt(3 * 179)
    assert abs(c[(snr == 0) & (lm > 0)].mean()) < 0.05  # LM signal is paradigm-specific
    # graded: C follows the planted strength; expected C = a^2 / (a^2 + 1/n_trials_per_concept)
    assert np.corrcoef(snr[planted], c[planted])[0, 1] > 0.6
    expected = snr[planted] ** 2 / (snr[planted] ** 2 + 1 / 4)
    assert abs(c[planted].mean() - expected.mean()) < 0.06
    half = (snr[planted] ** 2 / (snr[planted] ** 2 + 1 / 2)).mean()  # 2 trials per concept per half
    for split in (1, 2):
        cs = _consistency(data, split)
        assert cs[planted].mean() > 0.1 and abs(cs[planted].mean() - half) < 0.06
        assert abs(cs[null].mean()) < 0.01


def test_truth_maps_match_regions(tiny):
    path, _ = tiny
    geom = open_dataset(path).participant("M01").geometry
    regions = pd.read_csv(path / "truth" / "regions.tsv", sep="\t")
    assert (regions["shape"] == "sphere").all()  # shared=None: spheres at the paper's ROI centroids
    assert regions.loc[regions["kind"] == "consistency", ["x", "y", "z"]].iloc[:3].values.tolist() == \
        [[-57, -33, 1], [-46, 28, 5], [-48, -51, -17]]
    for kind, name in (("consistency", "consistency_snr"), ("lm", "lm_snr")):
        truth = _truth(path, name, geom)
        expected = np.zeros(geom.n_voxels)
        for r in regions[regions["kind"] == kind].itertuples():
            d = np.linalg.norm(geom.xyz - [r.x, r.y, r.z], axis=1)
            inside = (d <= r.radius_mm) & (expected == 0)
            expected[inside] = r.peak_snr * (1 - 0.5 * (d[inside] / r.radius_mm) ** 2)
            assert inside.sum() == r.n_voxels
        np.testing.assert_allclose(truth, expected, atol=1e-6)
    cons, lm = _truth(path, "consistency_snr", geom), _truth(path, "lm_snr", geom)
    overlap = (cons > 0) & (lm > 0)
    assert 0 < overlap.sum() < min((cons > 0).sum(), (lm > 0).sum())  # partial overlap, not identical
    lang = _truth(path, "language", geom)
    data = open_dataset(path).participant("M01")
    np.testing.assert_allclose(lang, data.language, atol=1e-6)  # one participant: the mean is its map
    assert abs(np.corrcoef(lang, cons)[0, 1]) < 0.5  # language map is not the consistency map


def test_lm_signal_is_predictable_from_minilm_features(tiny):
    from core.demo.synthetic import _paradigm_features

    path, _ = tiny
    ds = open_dataset(path)
    data = ds.participant("M01")
    lm = _truth(path, "lm_snr", data.geometry)
    cons = _truth(path, "consistency_snr", data.geometry)
    ev = data.events["sentences"]
    feats = _paradigm_features(ds.stimuli, None)["sentences"]  # rows: concepts x indices 1-6 (cached)
    row = {c: k for k, c in enumerate(load_concepts())}
    keys = zip(ev["concept"], ev["stimulus_idx"], strict=True)
    x = feats.astype(np.float64)[[6 * row[c] + int(i) - 1 for c, i in keys]]
    betas = np.asarray(data.betas("sentences"), dtype=np.float64)
    sphere = np.linalg.norm(data.geometry.xyz - [-52, 6, -26], axis=1) <= 10  # L anterior temporal LM region
    target = betas[:, sphere & (lm > 0)]
    control = betas[:, (lm == 0) & (cons == 0)][:, : target.shape[1]]
    folds = np.random.default_rng(0).permutation(len(x)) % 5
    r = []
    for y in (target, control):  # 5-fold ridge (alpha 1) in closed form, Pearson r per voxel
        pred = np.empty_like(y, dtype=np.float64)
        for k in range(5):
            tr, te = folds != k, folds == k
            xm, ym = x[tr].mean(0), y[tr].mean(0)
            xt = x[tr] - xm
            w = np.linalg.solve(xt.T @ xt + np.eye(x.shape[1]), xt.T @ (y[tr] - ym))
            pred[te] = (x[te] - xm) @ w + ym
        r.append(np.mean([np.corrcoef(pred[:, j], y[:, j])[0, 1] for j in range(y.shape[1])]))
    assert r[0] > 0.15 and abs(r[1]) < 0.05


def test_same_seed_identical_different_seed_differs(tiny, tmp_path):
    path, _ = tiny
    again = make_demo(tmp_path / "again", n_participants=1, seed=0, size="tiny", shared=None)
    for rel in ["stimuli.tsv", "dataset.json", "truth/regions.tsv"] + \
            [f"sub-M01/{p}_{k}" for p in PARADIGMS for k in ("betas.npy", "events.tsv")]:
        assert (path / rel).read_bytes() == (again / rel).read_bytes(), rel
    for rel in ["sub-M01/langloc.nii.gz", "sub-M01/mask.nii.gz"] + [f"truth/{n}.nii.gz" for n in TRUTH_MAPS]:
        a, b = (np.asarray(nib.load(str(root / rel)).dataobj) for root in (path, again))
        np.testing.assert_array_equal(a, b)


def test_with_release_maps(shared_data, tmp_path):
    path = make_demo(tmp_path / "real", n_participants=2, seed=1, size="tiny", shared=shared_data)
    ds = open_dataset(path)
    regions = pd.read_csv(path / "truth" / "regions.tsv", sep="\t")
    assert (regions["shape"].iloc[:3] == "published ROI map label").all()
    roi = np.asarray(nib.load(str(shared_data / "outputs" / "roi_map.nii.gz")).dataobj)
    for k, pid in enumerate(ds.participants, start=1):
        data = ds.participant(pid)
        real = np.asarray(nib.load(str(shared_data / "data" / "language_selectivity_nii" /
                                       f"M{k:02d}_S-N_contrast.nii.gz")).dataobj)
        np.testing.assert_allclose(data.language, np.nan_to_num(data.geometry.from_volume(real)), atol=1e-6)
    snr = _truth(path, "consistency_snr", data.geometry)
    labels = data.geometry.from_volume(roi)
    assert (snr[labels > 0] > 0).all()
    assert "real localizer maps" in (path / "truth" / "README.txt").read_text()
    m1, m2 = (ds.participant(p).betas("sentences") for p in ds.participants)
    assert not np.array_equal(np.asarray(m1[:5]), np.asarray(m2[:5]))


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="size"):
        make_demo(tmp_path / "x", size="huge")
    with pytest.raises(ParameterError, match="participants"):
        make_demo(tmp_path / "x", n_participants=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        make_demo(tmp_path / "file", size="tiny")
    with pytest.raises(DataError, match="missing"):
        make_demo(tmp_path / "x", size="tiny", stimuli_path=tmp_path / "absent.csv")
    partial = tmp_path / "partial.tsv"
    partial.write_text("concept\tparadigm\tstimulus_idx\ttext\nbird\tsentences\t1\tA bird.\n")
    with pytest.raises(DataError, match="no sentences text for 'Ability'"):
        make_demo(tmp_path / "x", size="tiny", stimuli_path=partial)
    assert not (tmp_path / "x" / "dataset.json").exists()


@pytest.mark.slow
def test_cli_demo_then_info(tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "demo"
    assert main(["demo", str(out), "--participants", "1"]) == 0
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "M01" in text and "30753 voxels" in text and "stimuli   3240 rows" in text
    assert "sentences, pictures, word_clouds" in text


def test_real_stimulus_texts(shared_data, tmp_path, monkeypatch):
    """The --stimuli path: the paper's table is written as stimuli.tsv and its texts drive the LM signal
    (features replaced by a cheap deterministic stand-in here; the real ones are tested above)."""
    import hashlib

    import core.demo.synthetic as synthetic
    from core.data.stimuli import read_stimulus_table

    seen = []

    def fake_features(texts, progress=None):
        seen.extend(texts)
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.stack([np.random.default_rng(k).standard_normal(8) for k in seeds]).astype(np.float32)

    monkeypatch.setattr(synthetic, "cached_text_features", fake_features)
    csv_path = shared_data / "data" / "stimuli" / "complang_paradigms_stims.csv"
    path = make_demo(tmp_path / "stims", n_participants=1, size="tiny", stimuli_path=csv_path, shared=None)
    table = read_stimulus_table(csv_path)
    pd.testing.assert_frame_equal(open_dataset(path).stimuli, table)
    assert set(seen) == set(table["text"]) and len(seen) == len(set(seen)) == 1080 + 180 + 180


@pytest.mark.slow
def test_shipped_template_features_match_the_model():
    """resources/demo_features holds all-MiniLM-L6-v2 features of the template texts; recompute some."""
    from core.demo.features import minilm_last_layer
    from core.demo.synthetic import _paradigm_features

    table = template_stimuli()
    feats = _paradigm_features(table)
    rows = [0, 7, 500, 1079]  # table rows: concepts in paper order x indices 1-6, as the features
    texts = {p: table[table["paradigm"] == p].reset_index(drop=True)["text"]
             for p in ("sentences", "word_clouds")}
    fresh = minilm_last_layer([texts[p][r] for p in texts for r in rows])
    shipped = np.concatenate([feats[p][rows] for p in texts])
    np.testing.assert_allclose(shipped, fresh, atol=2e-4)


def test_cancel_leaves_no_dataset(tmp_path):
    import threading

    from core.errors import Cancelled

    cancel = threading.Event()

    def progress(fraction, message):
        if fraction >= 0.4:  # responses started
            cancel.set()

    with pytest.raises(Cancelled):
        make_demo(tmp_path / "c", n_participants=1, size="tiny", shared=None, progress=progress,
                  cancel=cancel)
    assert not (tmp_path / "c" / "dataset.json").exists()
    assert not any(p.is_file() for p in (tmp_path / "c").rglob("*"))
