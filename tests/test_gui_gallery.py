"""The figures gallery (pytest-qt, real widgets): it lists the figures of two real runs and exports them
all (PNG, SVG, PDF and the CSV behind each, with provenance), and reopened results keep their table link."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from app.state.model import AppState, LoadedResults

pytestmark = pytest.mark.gl


def _fig(title: str):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(3, 2))
    fig.add_subplot().bar([0, 1], [1, 2])
    fig.suptitle(title)
    return fig


def test_gallery_lists_two_runs_and_exports_them_all(qtbot, tmp_path):
    from app.views.gallery import FiguresGallery
    from core.outputs import Figure, Table

    state = AppState()
    gallery = FiguresGallery(state)
    qtbot.addWidget(gallery)
    cells = Table("quartile_cells", pd.DataFrame({"roi": [1, 2], "r": [0.1, 0.2]}))
    state.add_results(LoadedResults("quartiles", tmp_path / "q", [
        cells, Figure("quartile_lines", _fig("Fig. 4"), "Fig. 4", data="quartile_cells")],
        {"analysis": "quartiles", "parameters": {"model": "minilm"}}))
    state.add_results(LoadedResults("rsa", tmp_path / "r", [Figure("rsa_bars", _fig("Fig. 5"), "Fig. 5")],
                                    {"analysis": "rsa", "parameters": {"seed": 0}}))
    assert gallery.names() == ["quartile_lines", "rsa_bars"]
    assert not gallery.list.item(0).icon().isNull()
    gallery.list.setCurrentRow(0)
    assert "model=minilm" in gallery.details.text() and "quartiles" in gallery.details.text()
    paths = gallery.export_all(tmp_path / "out")
    out = tmp_path / "out"
    for name in ("quartile_lines", "rsa_bars"):
        for suffix in (".png", ".svg", ".pdf"):
            path = out / f"{name}{suffix}"
            assert path in paths and path.stat().st_size > 0
            assert (out / f"{name}{suffix}.provenance.json").is_file()
        assert (out / f"{name}.svg").read_bytes().lstrip().startswith((b"<?xml", b"<svg"))
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    pd.testing.assert_frame_equal(pd.read_csv(out / "quartile_lines.data.csv"), cells.frame)
    assert not (out / "rsa_bars.data.csv").exists()  # no table behind it
    record = json.loads((out / "quartile_lines.png.provenance.json").read_text())
    assert "quartiles" in json.dumps(record)


def test_a_real_run_and_a_reopened_folder_keep_the_table_behind(qtbot, tmp_path):
    from app.plugins.registry import Registry
    from app.plugins.runner import run_analysis
    from app.views.gallery import FiguresGallery
    from core.demo.synthetic import make_demo
    from core.export.readers import read_results_folder

    data = make_demo(tmp_path / "demo", n_participants=2, seed=0, size="tiny")
    record = run_analysis(Registry().load("quartiles"), data,
                          {"model": "minilm", "paradigm": "word_clouds", "layer": 6, "pooling": "mean"},
                          tmp_path / "run", device="cpu")
    outputs, provenance = read_results_folder(tmp_path / "run")
    state = AppState()
    gallery = FiguresGallery(state)
    qtbot.addWidget(gallery)
    state.add_results(LoadedResults("quartiles", tmp_path / "run", outputs, provenance))
    assert sorted(gallery.names()) == ["quartile_heatmaps", "quartile_lines"]
    fig = gallery.figures["quartile_lines"][0]
    assert fig.data == "quartile_cells"
    behind = gallery.table_behind(fig)
    original = next(o for o in record.outputs if o.name == "quartile_cells").frame
    pd.testing.assert_frame_equal(behind.frame.reset_index(drop=True), original.reset_index(drop=True),
                                  check_dtype=False)
