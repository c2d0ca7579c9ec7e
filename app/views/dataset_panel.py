"""Dataset panel: open a dataset (dialog or recent list), see what it holds, choose a participant."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MAX_RECENT = 8


class DatasetPanel(QWidget):
    openRequested = Signal(str)
    participantChanged = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.open_folder = QPushButton("Open folder…")
        self.open_file = QPushButton("Open file…")
        self.open_folder.clicked.connect(self._choose_folder)
        self.open_file.clicked.connect(self._choose_file)
        self.name = QLabel("–")
        self.reader = QLabel("–")
        self.paradigms = QLabel("–")
        self.voxels = QLabel("–")
        self.participant = QComboBox()
        self.participant.currentTextChanged.connect(lambda t: t and self.participantChanged.emit(t))
        self.recent = QListWidget()
        self.recent.setMaximumHeight(110)
        self.recent.itemActivated.connect(lambda item: self.openRequested.emit(item.data(Qt.UserRole)))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder)
        buttons.addWidget(self.open_file)
        form = QFormLayout()
        form.addRow("name", self.name)
        form.addRow("reader", self.reader)
        form.addRow("participant", self.participant)
        form.addRow("paradigms", self.paradigms)
        form.addRow("voxels", self.voxels)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(QLabel("Recent:"))
        layout.addWidget(self.recent)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        if path:
            self.openRequested.emit(path)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a dataset file", "", "Datasets (*.mat *.json);;All (*)"
        )
        if path:
            self.openRequested.emit(path)

    def show_dataset(self, info: dict) -> None:
        """Fill the panel from ``Dataset.describe()``."""
        self.name.setText(str(info.get("name", "")))
        self.reader.setText(f"{info.get('reader', '')} ({info.get('space', '')})")
        self.paradigms.setText(", ".join(info.get("paradigms", [])))
        parts = info.get("participants", [])
        self.participant.blockSignals(True)
        self.participant.clear()
        self.participant.addItems([str(p["participant"]) for p in parts])
        self.participant.blockSignals(False)
        self.voxels.setText(", ".join(f"{p['participant']}: {p['voxels']}" for p in parts[:4]))

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        from PySide6.QtWidgets import QListWidgetItem

        for path in paths[:MAX_RECENT]:
            item = QListWidgetItem(path.rstrip("/").split("/")[-1] or path)
            item.setToolTip(path)
            item.setData(Qt.UserRole, path)
            self.recent.addItem(item)
