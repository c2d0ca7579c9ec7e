"""Shared by the benchmark scripts: the machine line and appending results to BENCHMARKS.md."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine_line() -> str:
    """CPU model, cores, UTC time and the load average when the benchmark started."""
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load:.1f}"


def append_results(title: str, lines: list[str], note: str = "") -> None:
    """Append one block (a heading with the machine line, then one bullet per line) to BENCHMARKS.md."""
    heading = f"\n### {title} ({machine_line()}{'; ' + note if note else ''})\n"
    with open(REPO / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
        fh.write(heading + "".join(f"- {line}\n" for line in lines))
