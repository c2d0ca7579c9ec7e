"""A parameter form generated from a plugin's declared :class:`~app.plugins.params.Param` tuple: each row
shows the parameter's label (with its units) and carries the key and the one-sentence help as tooltips;
numbers show to their declared precision, choices carry their descriptions, and every value is checked
as it is typed (``Param.parse``): an invalid one is marked with the reason and :attr:`ParamsForm.
validityChanged` tells the panel to hold Run until it is fixed."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

BIG = 1_000_000_000
INVALID_STYLE = "border: 2px solid #d33;"


class ParamsForm(QWidget):
    """One editor per parameter; :meth:`values` returns {name: value} ready for ``resolve_params``.

    Signal ``validityChanged(bool)``: every value parses (True) or one does not (False; :attr:`problems`
    holds {key: reason})."""

    validityChanged = Signal(bool)

    def __init__(self, params=(), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.editors: dict[str, QWidget] = {}
        self.problems: dict[str, str] = {}
        self.params = ()
        self.set_params(params)

    def set_params(self, params) -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.editors.clear()
        self.params = tuple(params)
        for p in self.params:
            editor = self._make_editor(p)
            editor.setToolTip(p.help)
            editor.setObjectName(f"param_{p.name}")
            self.editors[p.name] = editor
            label = QLabel(p.title + (f" ({p.units})" if p.units else ""))
            label.setToolTip(f"{p.name}: {p.help}")
            label.setObjectName(f"label_{p.name}")
            self.layout_.addRow(label, editor)
            for signal in ("valueChanged", "currentTextChanged", "toggled", "textChanged"):
                if hasattr(editor, signal):
                    getattr(editor, signal).connect(lambda *_a, p=p: self._check(p))
        self.set_values({p.name: p.default for p in self.params})
        self.validate()

    def _make_editor(self, p) -> QWidget:
        if p.special or (p.type == "choice"):
            box = QComboBox()
            items = [str(c) for c in (p.choices or ())] + list(p.special)
            box.addItems(items)
            for i, about in enumerate(p.choice_help[: len(items)]):
                box.setItemData(i, about, Qt.ToolTipRole)
            box.setEditable(p.type != "choice")
            return box
        # numbers accept any value as typed; the declared range is checked by validate() with the reason
        if p.type == "int":
            box = QSpinBox()
            box.setRange(-BIG, BIG)
            return box
        if p.type == "float":
            box = QDoubleSpinBox()
            box.setDecimals(p.decimals if p.decimals is not None else 4)
            box.setRange(-1e12, 1e12)
            return box
        if p.type == "bool":
            return QCheckBox()
        if p.type == "path":
            holder = QWidget()
            row = QHBoxLayout(holder)
            row.setContentsMargins(0, 0, 0, 0)
            holder.line = QLineEdit()
            browse = QPushButton("…")
            browse.setFixedWidth(28)
            browse.clicked.connect(lambda: self._browse(holder.line))
            row.addWidget(holder.line)
            row.addWidget(browse)
            return holder
        return QLineEdit()

    def _browse(self, line: QLineEdit) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder", line.text())
        if path:
            line.setText(path)

    def _check(self, p) -> str | None:
        """Parse one editor's value; mark it (red border, reason as tooltip) when it does not parse."""
        from core.errors import StudioError

        editor = self.editors[p.name]
        try:
            p.parse(self.values()[p.name])
            reason = None
        except StudioError as exc:
            reason = str(exc)
        was_valid = not self.problems
        if reason is None:
            self.problems.pop(p.name, None)
            editor.setStyleSheet("")
            editor.setToolTip(p.help)
        else:
            self.problems[p.name] = reason
            editor.setStyleSheet(INVALID_STYLE)
            editor.setToolTip(f"{reason}\n{p.help}")
        if was_valid != (not self.problems):
            self.validityChanged.emit(not self.problems)
        return reason

    def validate(self) -> bool:
        """Check every value now; True when all parse."""
        for p in self.params:
            self._check(p)
        self.validityChanged.emit(not self.problems)
        return not self.problems

    def values(self) -> dict[str, Any]:
        out = {}
        for p in self.params:
            e = self.editors[p.name]
            if isinstance(e, QComboBox):
                out[p.name] = e.currentText()
            elif isinstance(e, (QSpinBox, QDoubleSpinBox)):
                out[p.name] = e.value()
            elif isinstance(e, QCheckBox):
                out[p.name] = e.isChecked()
            elif isinstance(e, QLineEdit):
                out[p.name] = e.text()
            else:
                out[p.name] = e.line.text()
        return out

    def apply_preset(self, name: str, values: dict[str, Any]) -> list[str]:
        """Fill the editors with a preset's (parsed) values and note the preset in each row's label
        tooltip; returns the names whose editor could not show the value (empty when all were set)."""
        self.set_values(values)
        shown = self.values()
        missed = []
        for key, value in values.items():
            if key not in self.editors:
                missed.append(key)
                continue
            label = self.layout_.labelForField(self.editors[key])
            if label is not None:
                label.setToolTip(f"set by the {name!r} preset")
            if str(shown[key]) != str(value) and shown[key] != value:
                missed.append(key)
        return missed

    def set_values(self, values: dict[str, Any]) -> None:
        for p in self.params:
            if p.name not in values or values[p.name] is None:
                continue
            v = values[p.name]
            e = self.editors[p.name]
            try:
                if isinstance(e, QComboBox):
                    e.setCurrentText(str(v))
                elif isinstance(e, QSpinBox):
                    e.setValue(int(v))
                elif isinstance(e, QDoubleSpinBox):
                    e.setValue(float(v))
                elif isinstance(e, QCheckBox):
                    e.setChecked(v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes", "on"))
                elif isinstance(e, QLineEdit):
                    e.setText(str(v))
                else:
                    e.line.setText(str(v))
            except (TypeError, ValueError):
                continue
