"""Pinned voxel cards: up to four earlier cards kept side by side for comparison (the oldest goes when a
fifth is pinned); each has its own Unpin button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.views.voxel_card import VoxelCard

MAX_PINNED = 4


def card_title(info) -> str:
    """A card's title: the vertex (hemisphere, index) and its area, e.g. ``left #8360 · L_TPOJ2``."""
    where = "–" if info.hemi is None else f"{info.hemi} #{info.vertex}"
    return f"{where} · {info.area}" if info.area else where


class PinnedCards(QScrollArea):
    """A row of frozen :class:`VoxelCard` copies."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        body = QWidget()
        self.row = QHBoxLayout(body)
        self.hint = QLabel("Pin a voxel card to keep it here for comparison (up to four).")
        self.row.addWidget(self.hint)
        self.row.addStretch(1)
        self.setWidget(body)
        self.cards: list[tuple[QWidget, VoxelCard]] = []

    def pin(self, info) -> VoxelCard:
        """Keep a card showing ``info`` (a :class:`~core.inspect.voxel.VoxelInfo`); returns it."""
        if len(self.cards) == MAX_PINNED:
            self.unpin(self.cards[0][0])
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"<b>{card_title(info)}</b>")
        unpin = QPushButton("Unpin")
        card = VoxelCard()
        card.pin_button.hide()
        card.nearest_button.hide()
        card.hint.hide()
        card.show_info(info)
        column.addWidget(title)
        column.addWidget(card, 1)
        column.addWidget(unpin)
        unpin.clicked.connect(lambda _=False, h=holder: self.unpin(h))
        self.row.insertWidget(self.row.count() - 1, holder)
        self.cards.append((holder, card))
        self.hint.setVisible(False)
        return card

    def unpin(self, holder: QWidget) -> None:
        self.cards = [(h, c) for h, c in self.cards if h is not holder]
        self.row.removeWidget(holder)
        holder.deleteLater()
        self.hint.setVisible(not self.cards)

    def infos(self) -> list:
        return [card.info for _, card in self.cards]
