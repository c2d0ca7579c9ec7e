"""The demo dataset in the user cache: its location and generation on first use (CLI and GUI)."""

from __future__ import annotations

from pathlib import Path

from core.progress import ProgressFn


def default_demo_path() -> Path:
    """The folder of the embedded demo dataset (``<user cache>/concept-brain-studio/demo-small``)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("concept-brain-studio")) / "demo-small"


def ensure_demo(progress: ProgressFn | None = None) -> Path:
    """The demo dataset folder, generated with :func:`core.demo.synthetic.make_demo` when it is missing."""
    path = default_demo_path()
    if not (path / "dataset.json").is_file():
        from core.demo.synthetic import make_demo

        make_demo(path, progress=progress)
    return path
