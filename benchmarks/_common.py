"""Shared by the benchmark scripts: the machine line, appending results to BENCHMARKS.md, and a peak
resident-memory sampler."""

from __future__ import annotations

import os
import threading
import time
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


class PeakRSS:
    """This process's resident memory sampled every 5 ms while the block runs: ``base`` at entry, ``peak``,
    and ``delta`` = peak - base (bytes)."""

    def __enter__(self):
        import psutil

        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.delta = self.peak - self.base
