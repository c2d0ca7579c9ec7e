"""Table views: a QAbstractTableModel over a pandas DataFrame and a tab listing every table result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QTableView, QVBoxLayout, QWidget

if TYPE_CHECKING:  # no frame until a table is shown: the window starts without pandas
    import pandas as pd

RESIZE_MAX_ROWS = 5000


class PandasModel(QAbstractTableModel):
    """Read-only model of a DataFrame (numbers shown with 4 significant digits, sortable); None: empty."""

    def __init__(self, frame: pd.DataFrame | None = None, parent=None) -> None:
        super().__init__(parent)
        self.frame = frame

    def set_frame(self, frame: pd.DataFrame | None) -> None:
        self.beginResetModel()
        self.frame = frame
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() or self.frame is None else len(self.frame)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() or self.frame is None else self.frame.shape[1]

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or self.frame is None or role not in (Qt.DisplayRole, Qt.ToolTipRole):
            return None
        value = self.frame.iat[index.row(), index.column()]
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.4g}"
        return str(value)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if role != Qt.DisplayRole or self.frame is None:
            return None
        if orientation == Qt.Horizontal:
            return str(self.frame.columns[section])
        return str(section + 1)

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        if self.frame is None or self.frame.empty:
            return
        self.beginResetModel()
        self.frame = self.frame.sort_values(
            self.frame.columns[column], ascending=order == Qt.AscendingOrder, kind="stable"
        ).reset_index(drop=True)
        self.endResetModel()


class TablesView(QWidget):
    """A selector of table results over one QTableView, with CSV export."""

    exportRequested = Signal(str)  # table name

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tables: dict[str, object] = {}
        self.selector = QComboBox()
        self.selector.currentTextChanged.connect(self._show)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(lambda: self.exportRequested.emit(self.selector.currentText()))
        self.model = PandasModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setResizeContentsPrecision(200)
        top = QHBoxLayout()
        top.addWidget(self.selector, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.view)

    def add_table(self, table) -> None:
        """Add a Table/AreaTable (or replace one with the same name) and show it."""
        self.tables[table.name] = table
        self.selector.blockSignals(True)  # one model reset, not two
        if self.selector.findText(table.name) < 0:
            self.selector.addItem(table.name)
        self.selector.setCurrentText(table.name)
        self.selector.blockSignals(False)
        self._show(table.name)

    def current(self):
        return self.tables.get(self.selector.currentText())

    def _show(self, name: str) -> None:
        table = self.tables.get(name)
        self.model.set_frame(table.frame if table is not None else None)
        if table is not None and self.isVisible() and len(table.frame) <= RESIZE_MAX_ROWS:
            self.view.resizeColumnsToContents()  # fit the headers (slow on large tables: skipped)
