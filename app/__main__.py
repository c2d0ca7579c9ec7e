"""``python -m app`` / ``cbstudio`` entry: the CLI; with no sub-command, the GUI."""

from __future__ import annotations

import sys
from pathlib import Path


def default_demo_path() -> Path:
    """Where the embedded demo dataset lives (user cache dir)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concept-brain-studio")) / "demo-small"


def ensure_demo(progress=None) -> Path:
    """The demo dataset, generated on first use."""
    path = default_demo_path()
    if not (path / "dataset.json").is_file():
        from core.data.synthetic import make_demo

        make_demo(path, progress=progress)
    return path


def launch_gui(data: str | None = None, screenshot: str | None = None) -> int:
    from app.main_window import run_app

    return run_app(data=data, screenshot=screenshot)


def main() -> int:
    from app.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
