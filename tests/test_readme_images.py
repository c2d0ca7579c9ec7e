"""The README's pictures exist, are small, and the documented script regenerates them (sizes compared,
not pixels: fonts and GL differ between machines)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.gl


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_screenshots", REPO / "docs" / "make_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_shows_the_pictures():
    readme = (REPO / "README.md").read_text()
    assert "make screenshots" in readme
    for name in _script().WIDTHS:
        path = REPO / "docs" / "images" / name
        assert f"docs/images/{name}" in readme and path.is_file(), name
        assert 5_000 < path.stat().st_size < 400_000, name


def test_the_script_regenerates_them(tmp_path):
    from PIL import Image

    from core.demo.synthetic import make_demo

    script = _script()
    data = make_demo(tmp_path / "demo", n_participants=1, seed=0, size="tiny")
    made = script.make(str(data), tmp_path / "images")
    assert [p.name for p in made] == list(script.WIDTHS)
    for path in made:
        with Image.open(path) as new, Image.open(REPO / "docs" / "images" / path.name) as old:
            assert new.width == old.width == script.WIDTHS[path.name]
            assert abs(new.height - old.height) <= 0.3 * old.height, path.name
