"""GUI benchmark under Xvfb: cold start to brain on screen, overlay update on fs_LR 32k (both
hemispheres), pick-to-card latency, and the longest UI stall while an analysis runs.

Goals on this machine: <= 2.5 s (issue 11; the median of 5 cold starts after one that warms the OS file
cache), <= 100 ms, <= 100 ms, <= 100 ms. Peer: MNE-Python's ``mne.viz.Brain``,
whose figures were measured on this machine and are stated in DESIGN.md (3.4 s to its first frame,
735 ms per ``add_data``); MNE is not installed here, so the ratios are against those stated figures.

Run: ``xvfb-run -a python benchmarks/gui.py [--data DATASET] [--no-append]``. Prints
``name: ours X, peer Y, ratio R`` and appends the lines to BENCHMARKS.md with a machine line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import append_results  # noqa: E402

T_PROCESS = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MNE_START_S = 3.4  # DESIGN.md "Environment facts": MNE Brain, fs_LR 32k, Xvfb, this machine
MNE_ADD_DATA_S = 0.735
GOALS = {"cold_start": 2.5, "overlay": 0.100, "pick": 0.100, "stall": 0.100}



def child_cold_start(data: str) -> None:
    """Run in a fresh process: interpreter start -> window with the brain drawn (one frame rendered),
    with the garbage collector off until the window has loaded, as ``cbstudio gui`` starts."""
    import gc

    gc.disable()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat))
        window.show()
        app.processEvents()  # as run_app does: the first frame, then the dataset is read on a worker
        window.cortex.plotter.render()  # the brain is on screen
        elapsed = time.perf_counter() - T_PROCESS
        window.datasets.open_in_background(data)
        window.close()
    del app
    print(json.dumps({"cold_start_s": elapsed}))


def tick_timer(ticks: list):
    """A 5 ms QTimer appending each tick's time to ``ticks`` (not started): the largest gap between ticks,
    minus the interval, is the longest the event loop was blocked."""
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    return timer


def default_dataset(tmp: Path) -> str:
    from core.demo.cache import default_demo_path

    demo = default_demo_path()
    if (demo / "dataset.json").is_file():
        return str(demo)
    from tests.gui_fake_plugin import make_mni_dataset

    return str(make_mni_dataset(tmp / "mni"))


def warm_measures(data: str) -> dict:
    import gc

    import numpy as np
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from core.outputs import VoxelMap

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    gc.disable()  # as ``cbstudio gui`` starts: the window turns the collector on once torch is loaded
    window = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat), results_root=tmp)
    window.resize(1500, 950)
    window.show()
    settle = time.perf_counter() + 0.5  # the window's first paints (the cold start above, not a stall)
    while time.perf_counter() < settle:
        app.processEvents()
        time.sleep(0.005)
    ticks = []  # the event loop's largest gap while the data loads and the heavy modules are imported
    timer = tick_timer(ticks)
    timer.start()
    start = time.perf_counter()
    window.datasets.open_in_background(data)
    # the participant's data loads on a worker; torch and numba are imported on another (device: ...)
    while window.busy() or window.status_device.text().endswith("…"):
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    warm_up_gaps = np.diff([start, *ticks, time.perf_counter()])
    warm_up_s = time.perf_counter() - start
    cortex = window.cortex
    geometry = cortex.reference_geometry
    rng = np.random.default_rng(0)
    # overlay update: a new map projected, coloured and drawn (a synchronous frame) on fs_LR 32k
    times = []
    for n in range(12):
        vmap = VoxelMap(
            f"bench_{n}", rng.standard_normal(geometry.n_voxels), geometry, units="z", two_sided=True
        )
        cortex.maps[vmap.name] = vmap
        start = time.perf_counter()
        cortex.show_map(vmap.name)
        cortex.plotter.render()
        times.append(time.perf_counter() - start)
    overlay = float(np.median(times[2:]))
    # pick to card: ray cast, voxel look-up, every result + concept means + 1000-permutation null, card drawn
    cortex.set_view("lateral")
    cortex.plotter.render()
    verts = cortex.mesh.hemis["left"].vertices
    proj = cortex.projections.get(geometry, cortex.mesh.name)
    candidates = np.flatnonzero(
        (proj.vertex_voxel["left"] >= 0) & (-verts[:, 0] > np.percentile(-verts[:, 0], 90))
    )
    picks, completes, ticks = [], [], []
    timer = tick_timer(ticks)  # the event loop's largest gap while the card's null and plots are computed
    card_gaps = []
    for v in rng.choice(candidates, 20, replace=False):
        x, y, _ = cortex.scene.world_to_display("left", verts[v])
        ticks.clear()
        timer.start()
        start = time.perf_counter()
        cortex.pick_at(x, y)  # card fields filled (area, ROI, C, language, map values, concept means)
        picks.append(time.perf_counter() - start)
        shown = time.perf_counter()
        while window.card.info.null is None:  # then the 1000-permutation null (on a worker)
            app.processEvents()
            time.sleep(0.001)
        completes.append(time.perf_counter() - start)
        settle = time.perf_counter() + 0.15  # the card's plots: painted on the next event-loop turns
        while time.perf_counter() < settle:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        card_gaps.append(float(np.max(np.diff([shown, *ticks, time.perf_counter()]))) - 0.005)
    pick = float(np.median(picks[1:]))
    complete = float(np.median(completes[1:]))
    card_stall = float(np.max(card_gaps[1:]))
    card_stall_median = float(np.median(card_gaps[1:]))
    # UI stall while an analysis runs: the longest gap between 5 ms timer ticks, minus the interval
    name, params = (
        ("consistency", {"n_permutations": 200, "split_halves": False, "atlas": "none"})
        if "consistency" in window.analysis_panel.plugins
        else (None, None)
    )
    if name is None:
        from tests.gui_fake_plugin import fake_registry

        window.registry = fake_registry()
        window.analysis_panel.registry = window.registry
        window.analysis_panel.reload()
        name, params = "fake", {"steps": 40, "delay": 0.05}
    stalls = [_stall_during_run(app, window, name, params) for _ in range(2)]  # first run, then warm
    errors = list(window.errors)
    window.close()
    return {
        "overlay_s": overlay,
        "pick_s": pick,
        "complete_s": complete,
        "card_stall_s": card_stall,
        "card_stall_median_s": card_stall_median,
        "warm_up_s": warm_up_s,
        "warm_up_stall_s": float(warm_up_gaps.max()) - 0.005,
        "warm_up_stalls": int(np.sum(warm_up_gaps > 0.105)),
        "stall_s": stalls[0]["max"],
        "stall_p99_s": stalls[0]["p99"],
        "stall_warm_s": stalls[1]["max"],
        "stall_warm_p99_s": stalls[1]["p99"],
        "analysis": name,
        "analysis_s": stalls[0]["run_s"],
        "load": os.getloadavg()[0],
        "errors": errors,
    }


def _stall_during_run(app, window, name: str, params: dict) -> dict:
    """Run ``name`` through the window (worker thread, progress, result routing) while a 5 ms QTimer
    ticks; the stall is the longest gap between ticks minus the interval, until every result is routed."""
    import numpy as np

    ticks = []
    timer = tick_timer(ticks)
    timer.start()
    start = time.perf_counter()
    window.run_plugin(name, params, "cpu")
    while window.worker is not None:
        app.processEvents()
        time.sleep(0.001)
    run_s = time.perf_counter() - start
    timer.stop()
    gaps = np.diff(ticks)
    if not len(gaps):
        return {"max": float("nan"), "p99": float("nan"), "run_s": run_s}
    return {"max": float(gaps.max() - 0.005), "p99": float(np.percentile(gaps, 99)), "run_s": run_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", help="dataset to open (default: the demo if generated, else a small MNI set)"
    )
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--child-cold", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_cold:
        child_cold_start(args.child_cold)
        return
    if not os.environ.get("DISPLAY"):
        sys.exit("benchmarks/gui.py needs an X display: run it under xvfb-run -a")
    tmp = Path(tempfile.mkdtemp())
    data = args.data or default_dataset(tmp)
    colds = []
    for _ in range(6):  # the first run warms the OS file cache and is not counted
        proc = subprocess.run(
            [sys.executable, __file__, "--child-cold", data],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        line = [s for s in proc.stdout.splitlines() if s.startswith("{")]
        if not line:
            sys.exit(f"cold start run failed:\n{proc.stderr[-3000:]}")
        colds.append(json.loads(line[-1])["cold_start_s"])
    colds = sorted(colds[1:])
    cold = colds[len(colds) // 2]
    warm = warm_measures(data)
    lines = [
        f"gui cold start to brain on screen (fs_LR 32k, both hemis; median of {len(colds)}, range "
        f"{colds[0]:.2f}-{colds[-1]:.2f} s): ours {cold:.2f} s, peer MNE Brain {MNE_START_S} s (DESIGN.md "
        f"figure, mne not installed), ratio {MNE_START_S / cold:.2f}; goal <= {GOALS['cold_start']} s",
        "gui overlay update fs_LR 32k both hemis (project + colour + one frame): "
        f"ours {warm['overlay_s'] * 1e3:.0f} ms, "
        f"peer MNE add_data {MNE_ADD_DATA_S * 1e3:.0f} ms (DESIGN.md figure), "
        f"ratio {MNE_ADD_DATA_S / warm['overlay_s']:.1f}; goal <= 100 ms",
        f"gui pick-to-card latency (ray cast, voxel, every result and concept means on the card): ours "
        f"{warm['pick_s'] * 1e3:.0f} ms (with the 1000-permutation null and 3 plots drawn: "
        f"{warm['complete_s'] * 1e3:.0f} ms; the null and quartile run on a worker, the largest event-loop "
        f"gap over 20 picks after the card is shown {warm['card_stall_s'] * 1e3:.0f} ms, median "
        f"over the picks {warm['card_stall_median_s'] * 1e3:.0f} ms), no peer figure; "
        "goal <= 50 ms to the card, no gap > 100 ms",
        f"gui UI stall while the dataset opens and torch/numba are imported on workers (window shown, "
        f"{warm['warm_up_s']:.1f} s): largest event-loop gap {warm['warm_up_stall_s'] * 1e3:.0f} ms, "
        f"{warm['warm_up_stalls']} gaps > 100 ms, no peer figure; goal: no gap > 100 ms",
        f"gui max UI stall during '{warm['analysis']}' ({warm['analysis_s']:.1f} s run, result routing "
        f"included): first run of the session {warm['stall_s'] * 1e3:.0f} ms (p99 tick gap "
        f"{warm['stall_p99_s'] * 1e3:.0f} ms), second run {warm['stall_warm_s'] * 1e3:.0f} ms (p99 "
        f"{warm['stall_warm_p99_s'] * 1e3:.0f} ms), load average {warm['load']:.1f} on "
        f"{os.cpu_count()} cores, no peer figure; goal <= 100 ms",
    ]
    print(f"dataset: {data}")
    for line in lines:
        print(line)
    if warm["errors"]:
        print("errors during the run:", warm["errors"])
    if not args.no_append:
        append_results("gui", lines, note="Xvfb, software GL")


if __name__ == "__main__":
    main()
