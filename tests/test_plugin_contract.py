"""The plugin contract: manifests (declarations read without importing plugin code), RunResult, declared
output kinds checked by the runner, required prior results, and `cbstudio run NAME --help`."""

from __future__ import annotations

import dataclasses
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from app.cli import main
from app.cli_help import format_value, plugin_help
from app.plugins.base import SHARED_PARAMS, AnalysisPlugin, RunInputs, RunResult
from app.plugins.manifest import parse_manifest, read_manifest
from app.plugins.presets import available_presets
from app.plugins.registry import GROUP, MANIFEST_GROUP, Registry
from app.plugins.runner import run_analysis
from core.errors import ParameterError, PluginError
from core.names import PARADIGMS
from core.outputs import Table
from tests.plugin_fixtures import MeanResponsePlugin

RESOURCE = "tests.manifests:mean_prior.toml"


class MeanPriorPlugin(AnalysisPlugin):
    """The fixture plugin's computation, declared by a manifest that requires consistency results."""

    manifest = RESOURCE

    def run(self, inputs, params, progress, cancel):
        result = MeanResponsePlugin().run(inputs, params, progress, cancel)
        return RunResult(result.outputs, {"prior_seen": sorted(inputs.prior)})


class WrongKindPlugin(AnalysisPlugin):
    name, title, outputs = "wrong_kind", "Wrong kind", ("VoxelMap",)

    def run(self, inputs, params, progress, cancel):
        import pandas as pd

        return RunResult([Table("t", pd.DataFrame({"a": [1]}))])


class ListPlugin(AnalysisPlugin):
    name, title, outputs = "bare_list", "Bare list", ("Table",)

    def run(self, inputs, params, progress, cancel):
        return []


def test_manifest_is_the_one_declaration():
    declared = read_manifest(RESOURCE)
    assert MeanPriorPlugin.name == "mean_prior" and MeanPriorPlugin.params == declared.params
    assert MeanPriorPlugin.requires == ("consistency",) and MeanPriorPlugin.outputs == ("VoxelMap", "Table")
    paradigm, scale, fail_after, who = declared.params
    assert paradigm.choices == PARADIGMS and paradigm.choice_help[2] == "word clouds"
    assert scale.bounds == (0.0, 10.0) and scale.units == "a.u." and scale.decimals == 2
    assert fail_after.title == "Fail after"  # no label: the key in words
    # a shared parameter: the one definition, with the manifest's override
    assert who == dataclasses.replace(SHARED_PARAMS["participants"], label="Who")


def test_built_in_manifests_declare_every_parameter_in_words():
    registry = Registry()
    for name in ("consistency", "encoding", "quartiles", "rsa"):
        declared = registry.describe(name)
        assert declared.params == registry.load(name).params
        for p in declared.params:
            assert p.label and p.help.endswith("."), (name, p.name)
            assert not re.search(r"(?<!e\.g)\. [A-Z]", p.help), (name, p.name, p.help)  # one sentence
            assert not p.choices or len(p.choice_help) == len(p.choices), (name, p.name)
            if p.type in ("int", "float") and not p.name.endswith("seed"):
                assert p.bounds is not None, (name, p.name)
            if p.type == "float":
                assert p.decimals is not None, (name, p.name)


def test_quartiles_declares_only_parameters_it_uses():
    """The quartile pipeline computes no noise ceiling (figures.py:320-322 averages raw r): no such knob."""
    names = [p.name for p in Registry().describe("quartiles").params]
    assert "noise_ceiling" not in names and "seed" in names


@pytest.mark.parametrize(("data", "message"), [
    ({"plugin": {"name": "x", "title": "X", "class": "m:C", "colour": "red"}}, r"unknown key\(s\) colour"),
    ({"plugin": {"name": "x", "title": "X", "class": "m:C", "outputs": ["Picture"]}}, "unknown output kind"),
    ({"plugin": {"name": "x", "title": "X", "class": "m:C"}, "params": [{"name": "a", "type": "int"}]},
     r"params\[0\] \(a\).*'default' is required"),
    ({"plugin": {"name": "x", "title": "X", "class": "m:C"}, "params": [{"shared": "nope"}]},
     "no shared parameter 'nope'"),
    ({"plugin": {"name": "x", "title": "X", "class": "m:C"},
      "params": [{"name": "c", "type": "choice", "default": "a", "choices": ["a", "b"],
                  "choice_help": ["x"]}]},
     "choice_help has 1 entries for 2 choices"),
    ({"plugin": {"name": "x", "title": "X", "class": "m:C"},
      "params": [{"shared": "seed"}, {"shared": "seed"}]},
     "declared twice: seed"),
    ({"title": "no plugin table"}, "unknown section"),
])
def test_bad_manifests_name_the_file_and_the_key(data, message):
    with pytest.raises(PluginError, match=message) as info:
        parse_manifest(data, "pkg:bad.toml")
    assert "pkg:bad.toml" in str(info.value)


@pytest.fixture
def tiny_native_path(tiny_native):
    return tiny_native[0]


def _manifest_registry():
    return Registry(manifest_points=[EntryPoint("mean_prior", RESOURCE, MANIFEST_GROUP)])


def test_listing_a_manifest_plugin_imports_nothing():
    registry = Registry(manifest_points=[
        EntryPoint("ghost", "tests.manifests:mean_prior.toml", MANIFEST_GROUP)])
    with pytest.raises(PluginError, match="declares name 'mean_prior', registered as 'ghost'"):
        registry.describe("ghost")
    registry = _manifest_registry()
    assert registry.names() == ["mean_prior"] and registry.describe("mean_prior").title.startswith("Mean")


def test_required_prior_results_are_checked_before_any_work(tiny_native_path, tmp_path):
    cls = _manifest_registry().load("mean_prior")
    needs = r"needs earlier results of consistency \(--prior consistency=DIR\)"
    with pytest.raises(ParameterError, match=needs):
        run_analysis(cls, tiny_native_path, {}, tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ParameterError, match="is not a folder"):
        run_analysis(cls, tiny_native_path, {}, device="cpu", prior={"consistency": tmp_path / "missing"})
    (tmp_path / "cons").mkdir()
    record = run_analysis(cls, tiny_native_path, {"scale": "2"}, tmp_path / "out", device="cpu",
                          prior={"consistency": tmp_path / "cons", "rsa": tmp_path / "ignored"})
    assert record.provenance["prior"] == {"consistency": str(tmp_path / "cons")}
    assert record.provenance["prior_seen"] == ["consistency"]  # what run() returned reaches provenance
    # the numbers are the fixture's: mean over trials x scale
    means = next(o for o in record.outputs if o.name == "means").frame["grand_mean"].to_numpy()
    plain = run_analysis(MeanResponsePlugin, tiny_native_path, {}, device="cpu")
    reference = next(o for o in plain.outputs if o.name == "means").frame["grand_mean"].to_numpy()
    assert means == pytest.approx(2 * reference, rel=1e-6)


def test_run_inputs_results_dir_is_the_consistency_prior(tmp_path):
    old = RunInputs(None, "cpu", results_dir=tmp_path)
    assert old.prior == {"consistency": tmp_path} and old.results_dir == tmp_path
    both = RunInputs(None, prior={"consistency": str(tmp_path / "a")}, results_dir=tmp_path / "b")
    assert both.results_dir == tmp_path / "a" and RunInputs(None).results_dir is None


def test_runner_rejects_undeclared_output_kinds_and_bare_lists(tiny_native_path, tmp_path):
    undeclared = r"'wrong_kind' returned output kind\(s\) Table it does not declare"
    with pytest.raises(PluginError, match=undeclared):
        run_analysis(WrongKindPlugin, tiny_native_path, {}, tmp_path / "w", device="cpu")
    assert not (tmp_path / "w").exists()
    with pytest.raises(PluginError, match="returned list, not a RunResult"):
        run_analysis(ListPlugin, tiny_native_path, {}, device="cpu")


def test_run_help_is_generated_from_the_params(capsys):
    registry = Registry()
    for name in ("consistency", "encoding", "quartiles", "rsa"):
        assert main(["run", name, "--help"]) == 0
        text = capsys.readouterr().out
        declared = registry.describe(name)
        assert text == plugin_help(declared) + "\n"
        flat = " ".join(text.split())  # help sentences are wrapped
        for p in declared.params:
            assert f"  {p.name}  ({p.title}; {p.type}, default " in text
            assert " ".join(p.help.split()) in flat, (name, p.name)
            if p.units:
                assert f"units: {p.units}" in text
            for choice, about in zip(p.choices or (), p.choice_help, strict=False):
                assert f"      {choice}: {about}" in text, (name, p.name, choice)
        for preset in available_presets(declared):
            assert f"  {preset}: " in text
    assert "  range: 2 .. 50" in plugin_help(registry.describe("encoding"))  # cv_folds
    assert "requires" not in plugin_help(registry.describe("quartiles"))
    assert "accepts earlier results of: consistency" in plugin_help(registry.describe("rsa"))
    assert "maxstat: family-wise error" in plugin_help(registry.describe("consistency"))
    consistency = plugin_help(registry.describe("consistency"))
    assert "  alpha  (Significance level; float, default 0.050)" in consistency
    assert "presets (--preset NAME):" in plugin_help(registry.describe("consistency"))


def test_run_help_of_a_class_plugin_without_manifest(monkeypatch, capsys):
    """A third-party plugin registered under the old ``concept_brain_studio.analyses`` group: describing
    it imports it, and its help comes from its class attributes."""
    point = EntryPoint("mean_response", "tests.plugin_fixtures:MeanResponsePlugin", GROUP)
    monkeypatch.setattr("app.plugins.registry.Registry", lambda: Registry(entry_points=[point]))
    assert main(["run", "mean_response", "--help"]) == 0
    text = capsys.readouterr().out
    assert text == plugin_help(MeanResponsePlugin) + "\n"
    assert "  scale  (Scale; float, default 1)" in text and "      range: 0.0 .. 10.0" in text
    assert "      word_clouds" in text and "raise after this many participants" in text


def test_float_values_show_to_their_precision():
    alpha = next(p for p in Registry().describe("consistency").params if p.name == "alpha")
    assert format_value(alpha, 0.05) == "0.050"
    assert format_value(dataclasses.replace(alpha, decimals=None), 0.05) == "0.05"


def test_cli_prior_flag(tiny_native_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("app.plugins.registry.Registry", lambda: _manifest_registry())
    code = main(["run", "mean_prior", "--data", str(tiny_native_path), "--out", str(tmp_path / "o")])
    assert code == 2 and "--prior consistency=DIR" in capsys.readouterr().err
    (tmp_path / "c").mkdir()
    assert main(["run", "mean_prior", "--data", str(tiny_native_path), "--out", str(tmp_path / "o"),
                 "--prior", f"consistency={tmp_path / 'c'}"]) == 0
    assert (tmp_path / "o" / "means.csv").is_file()
    assert main(["run", "mean_prior", "--prior", "nonsense", "--out", str(tmp_path / "o"),
                 "--data", str(tiny_native_path)]) == 2
    assert "--prior expects ANALYSIS=DIR" in capsys.readouterr().err
    assert Path(tmp_path / "o").is_dir()
