"""Regenerate the README's pictures from the demo: the main window with a consistency map, the voxel card
of the vertex under the map's largest value, and a cortex figure (``make screenshots``; needs an X
display: the Makefile runs it under ``xvfb-run``).

    python docs/make_screenshots.py [--data DATASET] [--out docs/images]

Writes main_window.png (1000 px wide), voxel_card.png (360 px wide) and figure.png. The pictures are
rendered by the app itself (``cbstudio gui --screenshot/--card-screenshot``, ``cbstudio figure``) from a
consistency run on the dataset (200 permutations), with the user's settings left untouched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTHS = {"main_window.png": 1000, "voxel_card.png": 360, "figure.png": 800}
MAP = "group_probabilistic"


def _shrink(path: Path, width: int) -> None:
    from PIL import Image

    with Image.open(path) as image:
        height = round(image.height * width / image.width)
        small = image.convert("RGB").resize((width, height), Image.LANCZOS)
    small.save(path, optimize=True)


def make(data: str | None, out: Path) -> list[Path]:
    from app.plugins.registry import Registry
    from app.plugins.runner import run_analysis

    if data is None:
        from core.demo.cache import ensure_demo

        data = str(ensure_demo())
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "consistency"
        run_analysis(Registry().load("consistency"), data, {"n_permutations": 200, "split_halves": False},
                     results, device="cpu")
        env = {**os.environ, "XDG_CONFIG_HOME": tmp, "XDG_DATA_HOME": tmp}  # the user's settings untouched
        cli = [sys.executable, "-m", "app"]
        subprocess.run([*cli, "figure", str(results / f"{MAP}.nii.gz"), "--out", str(out / "figure.png"),
                        "--vmax", "1", "--size", "400x300", "--title", "group consistency map"],
                       check=True, env=env, timeout=600)
        subprocess.run([*cli, "gui", "--data", data, "--results", str(results), "--show-map", MAP,
                        "--screenshot", str(out / "main_window.png"),
                        "--card-screenshot", str(out / "voxel_card.png")], check=True, env=env, timeout=600)
    paths = []
    for name, width in WIDTHS.items():
        _shrink(out / name, width)
        paths.append(out / name)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset (default: the embedded demo, generated on first use)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "images"))
    args = parser.parse_args()
    for path in make(args.data, Path(args.out)):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
