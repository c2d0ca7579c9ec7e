"""The parameter form in words (pytest-qt, real widgets): labels, units, help and choice descriptions come
from the Params; numbers show to their precision; an invalid value is marked with its reason and holds
Run until it is fixed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.plugins.registry import Registry

pytestmark = pytest.mark.gl


@pytest.fixture
def panel(qtbot):
    from app.views.analysis_panel import AnalysisPanel

    widget = AnalysisPanel(Registry())
    qtbot.addWidget(widget)
    widget.show()
    widget.select("consistency")
    return widget


def test_labels_units_help_and_choices_come_from_the_params(panel):
    form = panel.form
    declared = {p.name: p for p in Registry().describe("consistency").params}
    for name, p in declared.items():
        label = form.findChild(type(form.layout_.labelForField(form.editors[name])), f"label_{name}")
        assert label.text() == p.title + (f" ({p.units})" if p.units else "")
        assert label.toolTip() == f"{name}: {p.help}" and form.editors[name].toolTip() == p.help
    assert form.layout_.labelForField(form.editors["n_permutations"]).text() == "Permutations (permutations)"
    correction = form.editors["correction"]
    helps = [correction.itemData(i, Qt.ToolTipRole) for i in range(correction.count())]
    assert helps == list(declared["correction"].choice_help)
    # a float shows to its declared precision, not 0.050000
    assert form.editors["alpha"].text() == f"{0.05:.{declared['alpha'].decimals}f}"


def test_an_invalid_value_is_marked_with_the_reason_and_holds_run(qtbot, panel):
    form, run = panel.form, panel.run_button
    assert run.isEnabled() and not form.problems
    editor = form.editors["n_permutations"]
    editor.clear()
    qtbot.keyClicks(editor, "0")  # below the declared minimum of 1
    assert not run.isEnabled()
    assert form.problems == {"n_permutations": "n_permutations: 0 is outside [1, 100000]"}
    assert "outside [1, 100000]" in panel.message.text() and "outside" in editor.toolTip()
    assert "border" in editor.styleSheet()
    editor.clear()
    qtbot.keyClicks(editor, "500")
    assert run.isEnabled() and not form.problems and editor.styleSheet() == ""
    # an editable choice with a special word (layer: an int or 'select') rejects text
    panel.select("encoding")
    layer = panel.form.editors["layer"]
    layer.setCurrentText("deep")
    assert not panel.run_button.isEnabled() and "layer" in panel.form.problems
    layer.setCurrentText("select")
    assert panel.run_button.isEnabled()


def test_run_is_not_requested_with_an_invalid_value(qtbot, panel):
    requested = []
    panel.runRequested.connect(lambda *args: requested.append(args))
    panel.form.editors["alpha"].setValue(0.9)  # above the declared 0.5
    panel._run()  # e.g. the Ctrl+Return shortcut, which bypasses the disabled button
    assert requested == [] and "alpha" in panel.form.problems
    panel.form.editors["alpha"].setValue(0.01)
    panel._run()
    assert len(requested) == 1 and requested[0][1]["alpha"] == pytest.approx(0.01)
