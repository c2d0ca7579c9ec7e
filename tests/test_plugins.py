"""Plugin contract, registry discovery, the runner's atomic outputs and provenance, and `cbstudio run`."""

from __future__ import annotations

import json
import threading
from importlib.metadata import EntryPoint

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from app.cli import main
from app.plugins.base import AnalysisPlugin, Param, RunResult
from app.plugins.registry import GROUP, Registry
from app.plugins.runner import run_analysis
from core.errors import Cancelled, ParameterError, PluginError
from core.outputs import Table
from tests.plugin_fixtures import MeanResponsePlugin
from tests.tolerance import assert_f32_close


def _ep(name, value):
    return EntryPoint(name, value, GROUP)


def test_param_parsing_and_validation():
    p = Param("n", "int", 5, bounds=(1, 10))
    assert p.parse("7") == 7
    with pytest.raises(ParameterError, match="outside"):
        p.parse("11")
    with pytest.raises(ParameterError, match="cannot read"):
        p.parse("seven")
    layer = Param("layer", "int", "select", special=("select",))
    assert layer.parse("select") == "select" and layer.parse("3") == 3
    flag = Param("split_halves", "bool", True)
    assert flag.parse("false") is False and flag.parse("1") is True
    with pytest.raises(ParameterError):
        flag.parse("maybe")
    choice = Param("c", "choice", "none", choices=("none", "fdr_bh", "maxstat"))
    assert choice.parse("maxstat") == "maxstat"
    with pytest.raises(ParameterError, match="not one of"):
        choice.parse("bonferroni")


def test_registry_isolates_failing_plugins():
    registry = Registry(entry_points=[
        _ep("mean_response", "tests.plugin_fixtures:MeanResponsePlugin"),
        _ep("missing", "tests.no_such_module:Plugin"),
        _ep("broken", "tests.plugin_fixtures:NotAPlugin"),
    ])
    assert registry.names() == ["broken", "mean_response", "missing"]
    loaded = registry.load_all()
    assert list(loaded) == ["mean_response"]
    assert "ModuleNotFoundError" in registry.errors["missing"]
    assert "not an AnalysisPlugin" in registry.errors["broken"]
    with pytest.raises(PluginError, match="disabled"):
        registry.load("missing")


def test_runner_writes_outputs_and_provenance(tiny_native, tmp_path):
    path, truth = tiny_native
    out = tmp_path / "out"
    record = run_analysis(MeanResponsePlugin, path, {"paradigm": "pictures", "scale": "2"}, out, device="cpu")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifest.json", "means.csv", "provenance.json", "sub-S1_mean.nii.gz",
                     "sub-S2_mean.nii.gz"]
    img = nib.load(out / "sub-S2_mean.nii.gz")
    geom_mask = np.asarray(nib.load(path / "sub-S2" / "mask.nii.gz").dataobj) != 0
    expected = truth["S2"]["betas"]["pictures"].mean(axis=0) * 2
    assert_f32_close(np.asarray(img.dataobj)[geom_mask], expected)
    table = pd.read_csv(out / "means.csv")
    assert table["grand_mean"].iloc[0] == pytest.approx(truth["S1"]["betas"]["pictures"].mean() * 2, rel=1e-4)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["analysis"] == "mean_response" and prov["parameters"]["scale"] == 2.0
    assert prov["device"] == "cpu" and len(prov["dataset"]["sha256_sampled"]) == 64
    assert "numpy" in prov["versions"] and record.params["paradigm"] == "pictures"
    assert prov["outputs"]["sub-S1_mean"] == {"kind": "VoxelMap", "description": "", "units": "a.u.",
                                              "two_sided": False, "meta": {}}
    assert prov["outputs"]["means"]["kind"] == "Table"


def test_failed_or_cancelled_run_leaves_nothing(tiny_native, tmp_path):
    path, _ = tiny_native
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="planted"):
        run_analysis(MeanResponsePlugin, path, {"fail_after": "1"}, out, device="cpu")
    assert not out.exists() or list(out.iterdir()) == []
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        run_analysis(MeanResponsePlugin, path, {}, out, device="cpu", cancel=cancel)
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_parameter_fails_before_work(tiny_native, tmp_path):
    path, _ = tiny_native
    with pytest.raises(ParameterError, match="unknown parameter"):
        run_analysis(MeanResponsePlugin, path, {"nope": "1"}, tmp_path / "o", device="cpu")
    assert not (tmp_path / "o").exists()


def test_cli_run_and_errors(tiny_native, tmp_path, monkeypatch, capsys):
    path, _ = tiny_native
    registry = Registry(entry_points=[_ep("mean_response", "tests.plugin_fixtures:MeanResponsePlugin")])
    monkeypatch.setattr("app.plugins.registry.Registry", lambda: registry)
    out = tmp_path / "cli"
    assert main(["run", "mean_response", "--data", str(path), "--out", str(out), "--device", "cpu"]) == 0
    assert (out / "provenance.json").is_file()
    capsys.readouterr()
    bad = ["--out", str(tmp_path / "x"), "--set", "scale=99"]
    rc = main(["run", "mean_response", "--data", str(path), *bad])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "outside" in err[0]
    assert main(["run", "nope", "--data", str(path), "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_failed_run_removes_the_output_folder_it_created(tiny_native, tmp_path, monkeypatch):
    """Regression: a run interrupted while writing its files (Ctrl-C, disk full) left an empty --out
    folder behind; a folder that existed before the run (with its files) is kept as it was."""
    import app.plugins.runner as runner

    def interrupted(outputs, folder):
        (folder / "half_written.csv").write_text("x\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "write_outputs", interrupted)
    path, _ = tiny_native
    out = tmp_path / "new" / "out"
    with pytest.raises(KeyboardInterrupt):
        run_analysis(MeanResponsePlugin, path, {}, out, device="cpu")
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "earlier.csv").write_text("a\n1\n")
    with pytest.raises(KeyboardInterrupt):
        run_analysis(MeanResponsePlugin, path, {}, kept, device="cpu")
    assert [p.name for p in kept.iterdir()] == ["earlier.csv"]


class _TablesPlugin(AnalysisPlugin):
    """Writes tables t0 .. t{k-1}: a rerun with a smaller k produces fewer files."""

    name = "tables"
    title = "Tables"
    description = "k small tables"
    params = (Param("k", "int", 3, bounds=(0, 10)),)
    outputs = ("Table",)

    def run(self, inputs, params, progress, cancel):
        return RunResult([Table(f"t{i}", pd.DataFrame({"i": [i]})) for i in range(params["k"])])


def test_rerun_removes_only_what_the_previous_run_listed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # a user's file: never touched
    (out / "t9.csv").write_text("not from a run")  # same pattern as an output, but not in any manifest
    run_analysis(_TablesPlugin, None, {"k": "3"}, out, device="cpu")
    assert {"t0.csv", "t1.csv", "t2.csv", "manifest.json"} <= {p.name for p in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"] == ["manifest.json", "provenance.json", "t0.csv", "t1.csv", "t2.csv"]
    record = run_analysis(_TablesPlugin, None, {"k": "1"}, out, device="cpu")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifest.json", "notes.txt", "provenance.json", "t0.csv", "t9.csv"]
    assert [p.name for p in record.paths] == ["manifest.json", "provenance.json", "t0.csv"]
    # a failed run changes nothing
    with pytest.raises(ParameterError):
        run_analysis(_TablesPlugin, None, {"k": "99"}, out, device="cpu")
    assert json.loads((out / "manifest.json").read_text())["files"] == ["manifest.json", "provenance.json",
                                                                         "t0.csv"]
