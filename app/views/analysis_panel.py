"""Analysis panel: discovered plugins, a parameter form generated from the selected plugin's
declarations, preset buttons ("Paper settings"), device choice, Run and Cancel with a progress bar."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from app.plugins.presets import available_presets, preset_values
from app.views.params_form import ParamsForm
from core.cost import estimate_analysis, load_model
from core.errors import ParameterError, StudioError


class AnalysisPanel(QWidget):
    runRequested = Signal(str, dict, str)  # plugin name, raw parameter values, device
    cancelRequested = Signal()

    def __init__(self, registry, parent=None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.plugins: dict[str, type] = {}
        self.saved: dict[str, dict] = {}
        self.list = QListWidget()
        self.list.setMaximumHeight(130)
        self.list.currentItemChanged.connect(self._select)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.form = ParamsForm()
        self.form.validityChanged.connect(self._validity)
        self._running = False
        self.collapsible = QCollapsible("Parameters")
        self.collapsible.addWidget(self.form)
        # the panel sizes the form itself (_fit_form): QCollapsible's resize filter re-reads a size hint
        # that is still 0 while a new form's rows are being laid out, and shrinks the form to nothing
        self.form.removeEventFilter(self.collapsible)
        self.collapsible.expand(animate=False)
        self.preset_row = QHBoxLayout()
        self.preset_buttons: dict[str, QPushButton] = {}
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.run_button.clicked.connect(self._run)
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.estimate = QLabel("")  # predicted kernel time and peak memory (core.cost), under Run
        self.estimate.setObjectName("estimate")
        self.estimate.setWordWrap(True)
        self.dataset_info: dict | None = None
        row = QHBoxLayout()
        row.addWidget(QLabel("device"))
        row.addWidget(self.device)
        row.addStretch(1)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.description)
        layout.addWidget(self.collapsible)
        layout.addLayout(self.preset_row)
        layout.addLayout(row)
        layout.addWidget(self.estimate)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.reload()

    def reload(self) -> None:
        """List every registered plugin; ones that fail to load are shown disabled with the reason."""
        self.list.clear()
        self.plugins = self.registry.describe_all()  # manifests: no plugin code is imported to list
        for name in self.registry.names():
            cls = self.plugins.get(name)
            item = QListWidgetItem(f"{cls.title}" if cls else f"{name} (unavailable)")
            item.setData(Qt.UserRole, name)
            if cls is None:
                item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
                item.setForeground(QColor("grey"))
                item.setToolTip(self.registry.errors.get(name, ""))
            else:
                item.setToolTip(cls.description)
            self.list.addItem(item)
        for row in range(self.list.count()):
            if self.list.item(row).flags() & Qt.ItemIsEnabled:
                self.list.setCurrentRow(row)
                break
        self._fit_form()

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.UserRole)

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.UserRole) == name:
                self.list.setCurrentRow(row)

    def _select(self, current, previous) -> None:
        if previous is not None and previous.data(Qt.UserRole) in self.plugins:
            self.saved[previous.data(Qt.UserRole)] = self.form.values()
        name = None if current is None else current.data(Qt.UserRole)
        cls = self.plugins.get(name)
        self.description.setText(cls.description if cls else "")
        self.form.set_params(cls.params if cls else ())
        if name in self.saved:
            self.form.set_values(self.saved[name])
        self.form.validate()
        self._preset_buttons(cls)
        self._watch_form()
        self.update_estimate()
        self._fit_form()
        QTimer.singleShot(0, self._fit_form)  # new rows are shown (and counted) on the next turn

    def _preset_buttons(self, cls) -> None:
        """One button per preset of the selected plugin ("Paper settings" for ``paper``)."""
        for button in self.preset_buttons.values():
            self.preset_row.removeWidget(button)
            button.hide()  # at once: deleteLater waits for the event loop
            button.deleteLater()
        self.preset_buttons.clear()
        if cls is None:
            return
        for preset in sorted(available_presets(cls), key=lambda n: (n != "paper", n)):
            button = QPushButton(f"{preset.replace('_', ' ').capitalize()} settings")
            button.setObjectName(f"preset_{preset}")
            button.setToolTip(f"set every method parameter of {cls.title} to the {preset!r} preset")
            button.clicked.connect(lambda _=False, p=preset: self.apply_preset(p))
            self.preset_row.addWidget(button)
            button.show()
            self.preset_buttons[preset] = button

    def apply_preset(self, preset: str) -> bool:
        """Fill the form with ``preset``'s values for the selected plugin; False (and a message) when the
        preset does not validate for it or a value cannot be shown."""
        cls = self.plugins.get(self.current_name())
        if cls is None:
            return False
        try:
            values = preset_values(cls, preset)
        except ParameterError as exc:
            self.message.setText(str(exc))
            return False
        missed = self.form.apply_preset(preset, values)
        if missed:
            self.message.setText(f"preset {preset!r}: could not set {', '.join(missed)}")
            return False
        self.message.setText(f"{cls.title}: {preset} settings ({len(values)} parameters)")
        return True

    def set_dataset_info(self, info: dict | None) -> None:
        """The open dataset's ``Dataset.describe()`` (sizes for the estimate; None: no dataset)."""
        self.dataset_info = info
        self.update_estimate()

    def _watch_form(self) -> None:
        """Re-estimate whenever an editor of the (new) form changes."""
        for editor in self.form.editors.values():
            for signal in ("valueChanged", "currentTextChanged", "toggled", "textChanged"):
                if hasattr(editor, signal):
                    getattr(editor, signal).connect(self.update_estimate)
                    break
            else:
                if hasattr(editor, "line"):
                    editor.line.textChanged.connect(self.update_estimate)

    def update_estimate(self, *_args) -> None:
        """Show the predicted time and peak memory of a run with the current parameters (cheap: the
        sizes come from the describe() summary kept when the dataset was opened)."""
        name = self.current_name()
        try:
            machine = load_model().get("machine", "?")  # read once, then cached
            est = estimate_analysis(name, self.form.values(), self.dataset_info) if name else None
        except (StudioError, KeyError, TypeError, ValueError) as exc:
            self.estimate.setText("")
            self.estimate.setToolTip(f"no estimate: {exc}")
            return
        if est is None:
            self.estimate.setText("")
            return
        where = "on this machine" if self.dataset_info else "on this machine, for a 230k-voxel participant"
        self.estimate.setText(f"{est.text()} {where}")
        self.estimate.setToolTip(f"analysis kernels only (features cached): {est.repeats:g} kernel run(s), "
                                 f"{est.cpu_seconds:.3g} CPU s each; model measured by benchmarks/scaling.py "
                                 f"on {machine}")

    def _fit_form(self) -> None:
        """Re-fit the collapsible to the new form (it keeps the height of the form it was opened with)."""
        if self.collapsible.isExpanded():
            self.form.layout().activate()  # so that the size hint counts the new rows
            content = self.collapsible.content()
            margins = content.layout().contentsMargins()
            height = self.form.sizeHint().height() + margins.top() + margins.bottom() + 10
            self.collapsible.expand(animate=False)
            content.setMaximumHeight(height)
            self.form.setMinimumHeight(self.form.sizeHint().height())

    def settings(self) -> dict[str, dict]:
        """Parameter values per plugin (for session restore)."""
        name = self.current_name()
        if name in self.plugins:
            self.saved[name] = self.form.values()
        return dict(self.saved)

    def _run(self) -> None:
        name = self.current_name()
        if name in self.plugins and self.form.validate():
            self.runRequested.emit(name, self.form.values(), self.device.currentText())

    def _validity(self, valid: bool) -> None:
        """Hold Run while a value is invalid, with the reason; release it when all are fixed."""
        self.run_button.setEnabled(valid and not self._running)
        if not valid:
            self.message.setText("; ".join(self.form.problems.values()))
        elif self.message.text() and not self._running:
            self.message.setText("")

    def set_running(self, running: bool) -> None:
        self._running = running
        self.run_button.setEnabled(not running and not self.form.problems)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setValue(0)

    def show_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))
        self.message.setText(message)
