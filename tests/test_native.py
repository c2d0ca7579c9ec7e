"""core.native: the heavy packages' shared libraries loaded ahead of their imports, without importing them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
from core.native import library_paths, preload_native
expected = [str(p) for p in library_paths()]
loaded = preload_native()
imported_early = [m for m in ("torch", "llvmlite", "numba") if m in sys.modules]
maps = open("/proc/self/maps").read()
in_maps = [p for p in loaded if p in maps]
import numba, torch
@numba.njit
def total(x):
    s = 0.0
    for v in x:
        s += v
    return s
print(json.dumps({"expected": expected, "loaded": loaded, "imported_early": imported_early,
                  "in_maps": in_maps, "torch_sum": float(torch.arange(5.0).sum()),
                  "numba_sum": total(torch.arange(5.0).numpy())}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_preload_loads_the_libraries_and_the_packages_still_work():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    names = sorted(Path(p).name for p in got["expected"])
    assert names == ["libllvmlite.so", "libtorch_cpu.so"]  # both packages are dependencies
    assert got["loaded"] == got["expected"]
    assert got["in_maps"] == got["loaded"]  # mapped into the process
    assert got["imported_early"] == []  # found and loaded without importing the packages
    assert got["torch_sum"] == 10.0 and got["numba_sum"] == 10.0  # their imports work on top of it


def test_library_paths_skips_packages_that_are_not_installed(monkeypatch):
    from core import native

    monkeypatch.setitem(native.LIBRARIES, "no_such_package_cbs", ("lib", "libnothing"))
    assert native.library_paths(("no_such_package_cbs",)) == []
    assert [p.stem for p in native.library_paths(("torch",))] == ["libtorch_cpu"]
