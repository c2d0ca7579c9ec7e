"""Presets (``--preset paper``, the "Paper settings" button): declared keys, the paper's values checked
against independent references (scikit-learn KFold, pandas sampling), overrides, provenance, the CLI
and the GUI form."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest

from app.cli import main
from app.plugins.base import Param
from app.plugins.presets import PRESETS, apply_preset, available_presets, matching_presets, preset_values
from app.plugins.registry import GROUP, Registry
from app.plugins.runner import run_analysis
from core.errors import ParameterError
from tests.plugin_fixtures import MeanResponsePlugin

BUILT_INS = ("consistency", "encoding", "quartiles", "rsa")


class PresetPlugin(MeanResponsePlugin):
    """A third-party plugin that declares its own presets."""

    name = "preset_plugin"
    presets = {"double": {"scale": 2.0, "paradigm": "pictures"}, "paper": {"scale": "3"}}


class BadPresetPlugin(MeanResponsePlugin):
    name = "bad_preset"
    presets = {"oops": {"no_such_parameter": 1}}


def _registry(*pairs):
    return Registry(entry_points=[EntryPoint(n, v, GROUP) for n, v in pairs])


@pytest.fixture(scope="module")
def built_ins():
    registry = Registry()
    return {name: registry.load(name) for name in BUILT_INS}


def test_every_paper_key_is_a_declared_parameter_of_each_built_in(built_ins):
    assert set(PRESETS["paper"]) == set(BUILT_INS)
    for name, cls in built_ins.items():
        declared = {p.name for p in cls.params}
        keys = set(PRESETS["paper"][name])
        assert keys <= declared, f"{name}: preset keys not declared: {sorted(keys - declared)}"
        values = preset_values(cls, "paper")
        assert cls.resolve_params(values) == {**cls.defaults(), **values}
        # what a preset leaves to the user: data, models, compute
        assert not keys & {"model", "paradigm", "participants", "backend", "layer_maps"}
        assert "paper" in available_presets(cls)


def test_paper_folds_are_sklearn_kfold_of_the_papers_call(built_ins):
    """lm_utils.py:563 ``KFold(n_splits=5, shuffle=True, random_state=0)`` over the stimulus rows."""
    from sklearn.model_selection import KFold

    from core.analyses.encoding.cv import kfold_labels

    for name in ("encoding", "quartiles"):
        v = preset_values(built_ins[name], "paper")
        assert v["cv_groups"] == "stimulus" and v["selection"] == "paper"
        assert v["layer"] == "select" and v["pooling"] == "select"
        for n_items in (1080, 180):
            labels = kfold_labels(n_items, v["cv_folds"], v["seed"])
            papers = KFold(n_splits=5, shuffle=True, random_state=0).split(np.zeros(n_items))
            for f, (_, test) in enumerate(papers):
                np.testing.assert_array_equal(np.flatnonzero(labels == f), test)


def test_paper_rsa_baseline_is_the_papers_single_shuffle(built_ins):
    """rsa.py:85-89: ``df.sample(frac=1, random_state=0)`` of the 180 brain rows, then 1 - Pearson and
    Spearman (rsa.py:98) against pdist 'correlation' model RDMs (rsa.py:72)."""
    from scipy.spatial.distance import pdist, squareform
    from scipy.stats import spearmanr

    from core.analyses.rsa.rdm import compare_many, rdms
    from core.analyses.rsa.stats import paper_shuffle, permute_condensed

    v = preset_values(built_ins["rsa"], "paper")
    assert (v["baseline"], v["distance"], v["comparison"]) == ("single_shuffle", "correlation", "spearman")
    rng = np.random.default_rng(3)
    brain = pd.DataFrame(rng.normal(size=(180, 40)))
    model = rng.normal(size=(180, 24))
    shuffled = brain.sample(frac=1, random_state=0)
    reference = spearmanr(squareform(1 - shuffled.T.corr().to_numpy(), checks=False),
                          pdist(model, "correlation")).correlation
    ours_brain = rdms(brain.to_numpy()[None], v["distance"])
    ours_model = rdms(model[None], v["distance"])
    permuted = permute_condensed(ours_brain, paper_shuffle(180, v["seed"]))
    rho = compare_many(permuted, ours_model, v["comparison"])
    assert float(np.ravel(rho)[0]) == pytest.approx(reference, abs=1e-5)


def test_paper_consistency_values(built_ins):
    v = preset_values(built_ins["consistency"], "paper")
    assert v == {**v, "n_permutations": 1000, "alpha": 0.05, "correction": "none", "split_halves": True,
                 "rois": "paper"}


def test_overrides_win_and_are_recorded():
    params, record = apply_preset(PresetPlugin, "double", {"scale": "5"})
    assert params == {"scale": "5", "paradigm": "pictures"}
    assert record == {"name": "double", "set": {"paradigm": "pictures"}, "overridden": {"scale": "5"}}
    assert apply_preset(PresetPlugin, None, {"scale": "5"}) == ({"scale": "5"}, None)
    # a plugin's own preset replaces a built-in of the same name; values are parsed
    assert preset_values(PresetPlugin, "paper") == {"scale": 3.0}


def test_unknown_preset_names_the_available_ones(built_ins):
    with pytest.raises(ParameterError, match=r"unknown preset 'nope'; available: double, paper"):
        preset_values(PresetPlugin, "nope")
    with pytest.raises(ParameterError, match="available: none"):
        preset_values(MeanResponsePlugin, "paper")
    with pytest.raises(ParameterError, match="available: paper"):
        preset_values(built_ins["rsa"], "fast")


def test_malformed_plugin_presets_disable_the_plugin_alone():
    registry = _registry(("preset_plugin", "tests.test_presets:PresetPlugin"),
                         ("bad_preset", "tests.test_presets:BadPresetPlugin"))
    assert list(registry.load_all()) == ["preset_plugin"]
    assert "no_such_parameter" in registry.errors["bad_preset"]


def test_matching_presets():
    values = PresetPlugin.resolve_params({"scale": 2, "paradigm": "pictures"})
    assert matching_presets(PresetPlugin, values) == ["double"]
    assert matching_presets(PresetPlugin, PresetPlugin.defaults()) == []


def test_runner_records_the_preset_in_provenance(tiny_native, tmp_path):
    path, truth = tiny_native
    out = tmp_path / "out"
    record = run_analysis(PresetPlugin, path, {"scale": "0.5"}, out, device="cpu", preset="double")
    assert record.params == {"paradigm": "pictures", "scale": 0.5, "fail_after": -1}
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["preset"] == {"name": "double", "set": {"paradigm": "pictures"}, "overridden": {"scale": 0.5}}
    assert prov["parameters"]["paradigm"] == "pictures" and prov["presets_matched"] == []
    table = pd.read_csv(out / "means.csv")
    expected = truth["S1"]["betas"]["pictures"].mean() * 0.5
    assert table["grand_mean"].iloc[0] == pytest.approx(expected, rel=1e-5)
    # without --preset, values equal to a preset are still named (a GUI run after the button)
    record = run_analysis(PresetPlugin, path, {"scale": 2, "paradigm": "pictures"}, None, device="cpu")
    assert "preset" not in record.provenance and record.provenance["presets_matched"] == ["double"]


def test_cli_preset(tiny_native, tmp_path, monkeypatch, capsys):
    path, _ = tiny_native
    registry = _registry(("preset_plugin", "tests.test_presets:PresetPlugin"))
    monkeypatch.setattr("app.plugins.registry.Registry", lambda: registry)
    out = tmp_path / "cli"
    argv = ["run", "preset_plugin", "--data", str(path), "--out", str(out), "--device", "cpu"]
    assert main([*argv, "--preset", "double", "--set", "scale=4"]) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["scale"] == 4.0 and prov["parameters"]["paradigm"] == "pictures"
    assert prov["preset"]["name"] == "double" and prov["preset"]["overridden"] == {"scale": 4.0}
    capsys.readouterr()
    bad = tmp_path / "bad"
    rc = main(["run", "preset_plugin", "--data", str(path), "--out", str(bad), "--preset", "nope"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "unknown preset 'nope'; available: double, paper" in err[0]
    assert not bad.exists()


def test_plugins_json_lists_presets(capsys):
    assert main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["plugins"]}
    for name in BUILT_INS:
        assert rows[name]["presets"]["paper"] == PRESETS["paper"][name]


@pytest.mark.gl  # a Qt application needs an X display (Xvfb)
def test_paper_settings_button_fills_the_form(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    from app.views.analysis_panel import AnalysisPanel

    panel = AnalysisPanel(Registry())
    qtbot.addWidget(panel)
    panel.show()
    for name in BUILT_INS:
        panel.select(name)
        cls = Registry().load(name)  # the panel lists manifests; the class resolves values
        button = panel.preset_buttons["paper"]
        assert button.text() == "Paper settings" and button.isEnabled()
        shown_buttons = [b for b in panel.findChildren(QPushButton)
                         if b.objectName().startswith("preset_") and not b.isHidden()]
        assert shown_buttons == [button]  # the previous plugin's button is gone at once
        kept = {p.name: p for p in cls.params if p.name not in PRESETS["paper"][name]}
        # scramble every preset parameter away from the paper's value first, and set a model by hand
        scrambled = {k: _other(cls.param(k), v) for k, v in preset_values(cls, "paper").items()}
        if "model" in kept:
            scrambled["model"] = "my-model"
        panel.form.set_values(scrambled)
        shown = cls.resolve_params(panel.form.values())
        assert any(shown[k] != v for k, v in preset_values(cls, "paper").items())
        qtbot.mouseClick(button, Qt.LeftButton)
        shown = cls.resolve_params(panel.form.values())
        for key, value in preset_values(cls, "paper").items():
            assert shown[key] == value, (name, key)
        if "model" in kept:
            assert shown["model"] == "my-model"
        assert "paper settings" in panel.message.text()
    # a plugin without presets shows no preset button
    panel2 = AnalysisPanel(_registry(("mean_response", "tests.plugin_fixtures:MeanResponsePlugin")))
    qtbot.addWidget(panel2)
    assert panel2.preset_buttons == {}


def _other(param: Param, value):
    """A valid value of ``param`` different from ``value`` (to show the button changes the form)."""
    if param.type == "bool":
        return not value
    if param.choices:
        options = [c for c in (*param.choices, *param.special) if c != value]
        return options[0]
    if param.type in ("int", "float") and not isinstance(value, str):
        high = (param.bounds or (None, None))[1]
        if high is None or value + 1 <= high:
            return value + 1
        low = (param.bounds or (None, None))[0]
        return (value + low) / 2 if param.type == "float" else value - 1  # inside the declared range
    if param.special and value in param.special:
        return 2
    return "elsewhere.nii.gz" if value else "x.nii.gz"
