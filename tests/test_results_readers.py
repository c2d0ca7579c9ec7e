"""core.export.readers mirrors core.export.writers: every output kind written comes back typed, with its
values, labels and descriptions."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure as MplFigure

from core.data.geometry import VoxelGeometry
from core.errors import DataError
from core.export.readers import read_results_folder
from core.export.writers import describe_output, write_outputs
from core.outputs import RDM, AreaTable, Figure, LayerCurve, Table, VoxelMap


def _outputs():
    rng = np.random.default_rng(0)
    mask = rng.random((5, 4, 3)) > 0.4
    geometry = VoxelGeometry(mask, np.diag([2.0, 2.0, 2.0, 1.0]))
    values = rng.standard_normal(geometry.n_voxels).astype(np.float32)
    fig = MplFigure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    frame = pd.DataFrame({"participant": ["S1", "S2", "S3"], "r": [0.1, np.nan, -0.25],
                          "significant": [True, False, True], "n": [3, 4, 5]})
    return [
        VoxelMap("sub-S1_r_layer03", values, geometry, units="Pearson r", description="r map", two_sided=True,
                 meta={"participant": "S1", "stat": "r"}),
        Table("scores", frame, "scores per participant"),
        AreaTable("areas", pd.DataFrame({"area": ["L_V1", "R_V1"], "consistency": [0.02, 0.03]}), "per area"),
        RDM("rdm_roi1", rng.random((4, 4)), ["apple", "bird", "car", "dog"], "brain RDM", {"roi": 1}),
        LayerCurve("curve", np.arange(3), {"mean": np.array([0.1, 0.2, 0.15]), "last_tok": np.arange(3.0)},
                   "r", {"mean": np.array([0.01, 0.02, 0.01])}, "r per layer"),
        Figure("bars", fig, "a figure"),
    ]


def _write(folder, outputs):
    folder.mkdir()
    write_outputs(outputs, folder)
    record = {"analysis": "test", "outputs": {o.name: describe_output(o) for o in outputs}}
    (folder / "provenance.json").write_text(json.dumps(record, default=str))


def test_every_kind_comes_back_typed(tmp_path):
    written = {o.name: o for o in _outputs()}
    _write(tmp_path / "out", list(written.values()))
    outputs, provenance = read_results_folder(tmp_path / "out")
    back = {o.name: o for o in outputs}
    assert sorted(back) == sorted(written) and provenance["analysis"] == "test"
    for name, original in written.items():
        assert type(back[name]) is type(original), name
        assert back[name].description == original.description, name
    vm, vm0 = back["sub-S1_r_layer03"], written["sub-S1_r_layer03"]
    assert np.array_equal(vm.geometry.mask, vm0.geometry.mask) and np.array_equal(vm.values, vm0.values)
    assert vm.units == "Pearson r" and vm.two_sided
    assert vm.meta == {"participant": "S1", "stat": "r", "layer": 3}
    pd.testing.assert_frame_equal(back["scores"].frame, written["scores"].frame)
    pd.testing.assert_frame_equal(back["areas"].frame, written["areas"].frame)
    rdm = back["rdm_roi1"]
    assert rdm.labels == ["apple", "bird", "car", "dog"] and rdm.meta == {"roi": 1}
    assert np.array_equal(rdm.matrix, written["rdm_roi1"].matrix)
    curve, curve0 = back["curve"], written["curve"]
    assert curve.ylabel == "r" and list(curve.series) == ["mean", "last_tok"]
    assert list(curve.errors) == ["mean"]
    assert np.array_equal(curve.layers, curve0.layers)
    for label in curve0.series:
        np.testing.assert_array_equal(curve.series[label], curve0.series[label])
    np.testing.assert_array_equal(curve.errors["mean"], curve0.errors["mean"])
    from matplotlib.image import imread

    image = np.asarray(back["bars"].figure.axes[0].images[0].get_array())
    assert np.array_equal(image, imread(tmp_path / "out" / "bars.png"))  # the saved PNG, pixel for pixel
    assert not [o for o in outputs if o.name == "bars" and o is not back["bars"]]  # the SVG twin is not read


def test_without_provenance_files_still_read(tmp_path):
    outputs = _outputs()
    _write(tmp_path / "out", outputs)
    (tmp_path / "out" / "provenance.json").unlink()
    back = {o.name: o for o in read_results_folder(tmp_path / "out")[0]}
    assert type(back["areas"]) is Table and type(back["curve"]) is Table  # kinds need provenance
    assert back["rdm_roi1"].labels == ["0", "1", "2", "3"]


def test_bad_folders_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        read_results_folder(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no results"):
        read_results_folder(tmp_path / "empty")
    _write(tmp_path / "out", _outputs()[:2])
    (tmp_path / "out" / "provenance.json").write_text("{not json")
    with pytest.raises(DataError, match="provenance.json.*unreadable provenance"):
        read_results_folder(tmp_path / "out")


def _same(back, original, folder):
    """Exact equality of a read-back output and the one written, per kind."""
    assert type(back) is type(original) and back.name == original.name
    assert back.description == original.description
    if isinstance(original, VoxelMap):
        assert np.array_equal(back.geometry.mask, original.geometry.mask)
        np.testing.assert_array_equal(back.geometry.affine, original.geometry.affine)
        assert back.values.dtype == original.values.dtype and np.array_equal(back.values, original.values)
        assert back.units == original.units and back.two_sided == original.two_sided
    elif isinstance(original, RDM):
        assert back.labels == list(original.labels) and back.meta == original.meta
        assert back.matrix.dtype == original.matrix.dtype and np.array_equal(back.matrix, original.matrix)
    elif isinstance(original, LayerCurve):
        assert back.ylabel == original.ylabel and np.array_equal(back.layers, original.layers)
        assert list(back.series) == list(original.series) and list(back.errors) == list(original.errors)
        for label, values in original.series.items():
            np.testing.assert_array_equal(back.series[label], values)
        for label, values in original.errors.items():
            np.testing.assert_array_equal(back.errors[label], values)
    elif isinstance(original, Table):  # AreaTable too: same columns, dtypes and values
        pd.testing.assert_frame_equal(back.frame, original.frame, check_exact=True)
    elif isinstance(original, Figure):
        from matplotlib.image import imread

        shown = np.asarray(back.figure.axes[0].images[0].get_array())
        assert np.array_equal(shown, imread(folder / f"{original.name}.png"))


@pytest.mark.parametrize("kind", ["VoxelMap", "Table", "AreaTable", "RDM", "LayerCurve", "Figure"])
def test_each_kind_round_trips_exactly(tmp_path, kind):
    original = next(o for o in _outputs() if type(o).__name__ == kind)
    _write(tmp_path / "out", [original])
    outputs, provenance = read_results_folder(tmp_path / "out")
    assert len(outputs) == 1 and provenance["outputs"][original.name]["kind"] == kind
    _same(outputs[0], original, tmp_path / "out")
