"""core.cost: the power-law fit recovers planted exponents; the shipped model reproduces its measurements."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from core.cost import (
    AXES,
    MODEL_PATH,
    Estimate,
    estimate_analysis,
    fit_exponent,
    fit_model,
    load_model,
    predict,
)
from core.errors import DataError, ParameterError

REF = {"voxels": 10_000, "items": 180, "layers": 7, "permutations": 100}
GRID = {"voxels": [40_000, 100_000, 230_000], "items": [360, 720, 1080], "layers": [13, 25, 33],
        "permutations": [1000, 3000, 10_000]}  # fmt: skip


def planted_points(constant: float, exponents: dict[str, float]) -> list[dict]:
    def value(sizes):
        return constant * np.prod([(sizes[a] / REF[a]) ** exponents.get(a, 0.0) for a in AXES])

    rows = [{"axis": "reference", **REF, "seconds": value(REF), "peak_mb": 2 * value(REF)}]
    for axis in exponents:
        for size in GRID[axis]:
            sizes = dict(REF, **{axis: size})
            rows.append({"axis": axis, **sizes, "seconds": value(sizes), "peak_mb": 2 * value(sizes)})
    return rows


def test_fit_exponent_recovers_planted_power_law():
    sizes = np.array([180.0, 360.0, 720.0, 1080.0])
    e, c = fit_exponent(sizes, 3.5e-6 * sizes**2.37)
    assert e == pytest.approx(2.37, abs=1e-12)
    assert c == pytest.approx(3.5e-6, rel=1e-10)


def test_fit_exponent_rejects_degenerate_input():
    with pytest.raises(ParameterError):
        fit_exponent([10, 10], [1.0, 2.0])
    with pytest.raises(ParameterError):
        fit_exponent([10, 20], [0.0, 2.0])


def test_fit_model_recovers_planted_exponents_and_constant():
    planted = {"voxels": 1.0, "items": 2.0, "permutations": 0.85}
    model = fit_model({"consistency": planted_points(0.37, planted)}, REF)
    fit = model["analyses"]["consistency"]
    assert fit["seconds"]["exponents"] == pytest.approx(planted, abs=1e-4)
    assert "layers" not in fit["seconds"]["exponents"]  # not measured: exponent 0
    assert fit["seconds"]["constant"] == pytest.approx(0.37, rel=1e-9)
    assert fit["peak_mb"]["constant"] == pytest.approx(0.74, rel=1e-9)
    # a point off every grid: the product of the planted laws
    sizes = {"voxels": 230_000, "items": 540, "layers": 33, "permutations": 1000}
    expected = 0.37 * 23.0 * 3.0**2 * 10.0**0.85
    assert predict("consistency", sizes, model).seconds == pytest.approx(expected, rel=1e-3)


def test_predict_uses_reference_for_missing_axes_and_counts_repeats():
    model = fit_model({"rsa": planted_points(2.0, {"permutations": 1.0})}, REF)
    est = predict("rsa", {"permutations": 1000}, model, repeats=3)
    assert est.seconds == pytest.approx(20.0, rel=1e-6)
    assert est.total_seconds == pytest.approx(60.0, rel=1e-6)
    assert est.peak_mb == pytest.approx(40.0, rel=1e-6)
    with pytest.raises(ParameterError):
        predict("nope", {}, model)
    with pytest.raises(ParameterError):
        predict("rsa", {"permutations": 0}, model)


def test_estimate_text():
    assert Estimate(120.0, 1200.0).text() == "about 2 min, 1.2 GB"
    assert Estimate(3.21, 350.0, repeats=2).text() == "about 6.4 s, 350 MB"
    assert Estimate(7200.0, 10.0).text() == "about 2.0 h, 10 MB"


def test_shipped_model_reproduces_its_measurements_within_factor_two():
    model = load_model()
    assert model["machine"]
    for analysis in ("consistency", "encoding", "rsa"):
        rows = model["measured"][analysis]
        assert len({r["axis"] for r in rows}) >= 3
        for row in rows:
            est = predict(analysis, row, model)
            assert 0.5 <= est.cpu_seconds / row["cpu_seconds"] <= 2.0, (analysis, row, est)
            assert 0.5 <= est.peak_mb / row["peak_mb"] <= 2.0, (analysis, row, est)
            # wall-clock on a shared machine (load average recorded per point): a looser factor 3
            assert 1 / 3 <= est.seconds / row["seconds"] <= 3.0, (analysis, row, est)


def test_shipped_model_exponents_are_plausible():
    fits = load_model()["analyses"]
    # linear in voxels (targets) and in permutations where they apply, within measurement noise
    assert 0.7 <= fits["consistency"]["seconds"]["exponents"]["voxels"] <= 1.3
    assert 0.7 <= fits["encoding"]["seconds"]["exponents"]["layers"] <= 1.3
    assert 0.6 <= fits["consistency"]["peak_mb"]["exponents"]["voxels"] <= 1.3


def test_load_model_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x": 1}))
    with pytest.raises(DataError, match="bad.json"):
        load_model(bad)
    with pytest.raises(DataError, match="missing.json"):
        load_model(tmp_path / "missing.json")
    assert MODEL_PATH.name == "cost_model.json"


def _info(voxels: int, n_participants: int = 2) -> dict:
    return {"n_concepts": 180, "participants": [
        {"participant": f"P{i}", "voxels": voxels, "trials": {"sentences": 540, "pictures": 540}}
        for i in range(n_participants)]}  # fmt: skip


def test_estimate_analysis_counts_runs_from_the_parameters():
    model = fit_model({"consistency": planted_points(1.0, {"voxels": 1.0, "permutations": 1.0})}, REF)
    est = estimate_analysis("consistency", {"n_permutations": 1000, "split_halves": True}, _info(20_000),
                            model)  # fmt: skip
    assert est.seconds == pytest.approx(2 * 10, rel=1e-6)  # 2x voxels, 10x permutations
    assert est.repeats == 2 * 3  # two participants, all trials + two halves
    one = estimate_analysis("consistency", {"n_permutations": 1000, "split_halves": False,
                                            "participants": "P1"}, _info(20_000), model)  # fmt: skip
    assert one.repeats == 1
    assert estimate_analysis("quartiles", {}, _info(20_000), model) is None


@pytest.mark.gl  # a Qt application needs an X display (Xvfb)
def test_panel_shows_estimate_that_follows_n_permutations(qtbot):
    from app.plugins.registry import Registry
    from app.views.analysis_panel import AnalysisPanel

    panel = AnalysisPanel(Registry())
    qtbot.addWidget(panel)
    panel.show()
    panel.set_dataset_info(_info(230_000))
    panel.select("consistency")
    assert "paper" in panel.preset_buttons  # the preset row is kept
    spin = panel.form.editors["n_permutations"]
    spin.setValue(100)
    before = panel.estimate.text()
    assert re.search(r"about \d+(\.\d+)? (s|min|h), \d+(\.\d+)? (MB|GB)", before), before
    spin.setValue(10_000)
    after = panel.estimate.text()
    assert after != before and re.search(r"\d", after)
    expected = estimate_analysis("consistency", panel.form.values(), panel.dataset_info)
    assert after.startswith(expected.text())
    panel.select("rsa")
    assert panel.estimate.text().startswith("about ")
