"""Start-up stays light: ``cbstudio --help`` and ``cbstudio plugins`` import neither torch, numba, pandas,
transformers nor Qt (issue 11 item 5; timings in benchmarks/startup.py). Each command runs in a fresh
interpreter, and the test reads that interpreter's ``sys.modules`` after the command returns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "numba", "pandas", "transformers", "PySide6")

_PROBE = """
import contextlib, io, json, sys
sys.argv = ["cbstudio", *{argv!r}]
from app.__main__ import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main()
    except SystemExit as exc:  # argparse's --help
        code = exc.code
print(json.dumps({{"code": code, "stdout": out.getvalue(), "modules": sorted(sys.modules)}}))
"""


def _probe(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(argv=list(argv))], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


@pytest.mark.parametrize("argv", [("--help",), ("features", "--help"), ("figure", "--help")])
def test_help_imports_nothing_heavy(argv):
    result = _probe(*argv)
    assert result["code"] == 0
    assert "usage: cbstudio" in result["stdout"]
    assert _heavy(result["modules"]) == []


def test_plugins_listing_imports_nothing_heavy():
    result = _probe("plugins", "--json")
    assert result["code"] == 0
    listing = json.loads(result["stdout"])
    assert {"consistency", "encoding", "quartiles", "rsa"} <= {row["name"] for row in listing["plugins"]}
    assert listing["errors"] == {}
    assert _heavy(result["modules"]) == []
    # listed from their manifests: no plugin module, analysis or output module was imported
    plugin_code = ("app.plugins.consistency", "app.plugins.encoding", "app.plugins.quartiles",
                   "app.plugins.rsa", "core.analyses", "core.outputs")
    assert not [m for m in result["modules"] if m.startswith(plugin_code)]


def test_light_names_equal_the_implementing_modules():
    """core.names repeats no rule by accident: each tuple is the one its implementing module uses."""
    from app.plugins.params import POOLINGS
    from core import backend, names
    from core.analyses.encoding import cv, selection
    from core.analyses.rsa import pipeline as rsa_pipeline
    from core.analyses.rsa import rdm as rsa
    from core.analyses.rsa import stats as rsa_stats
    from core.data import concepts
    from core.features import pooling, registry
    from core.outputs import OUTPUT_KINDS
    from core.stats import correction

    assert names.PARADIGMS == concepts.PARADIGMS
    assert names.CORRECTIONS == correction.CORRECTIONS and names.BACKENDS == backend.BACKENDS
    assert names.CV_GROUPS == cv.CV_GROUPS
    assert names.OUTPUT_KINDS == OUTPUT_KINDS
    assert names.SELECTIONS == selection.SELECTIONS
    assert names.DISTANCES == rsa.DISTANCES
    assert names.COMPARISONS == rsa.COMPARISONS
    assert names.BASELINES == rsa_pipeline.BASELINES
    assert names.SCHEMES == rsa_stats.SCHEMES
    assert registry.POOLINGS == pooling.POOLINGS  # the CLI's --pooling choices come from the light one
    assert set(POOLINGS) == {*pooling.POOLINGS, "select"}  # the plugins' pooling parameter


def test_demo_service_is_reexported_by_the_entry_shim():
    import app.__main__ as entry
    from core.demo import cache

    assert entry.default_demo_path is cache.default_demo_path
    assert entry.ensure_demo is cache.ensure_demo
    assert cache.default_demo_path().name == "demo-small"


def test_the_window_module_imports_no_analysis_library():
    """The GUI's window (and every view it builds at start) imports no pandas, torch, numba or
    transformers: the brain is on screen first, the analyses' libraries come on a worker or on use."""
    probe = "import json, sys\nimport app.main_window\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [m for m in _heavy(modules) if m != "PySide6"] == []
