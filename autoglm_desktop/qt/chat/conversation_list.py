"""The sidebar: a searchable list of conversations."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QInputDialog,
    QLineEdit,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.chat.store import DEFAULT_TITLE, ChatStore, Conversation
from autoglm_desktop.core.common.errors import StoreError
from autoglm_desktop.qt.chat.hint_list import HintListView
from autoglm_desktop.qt.common.plain_text import plain_message_box

log = logging.getLogger(__name__)

ConversationIdRole = Qt.ItemDataRole.UserRole + 1
SEARCH_DEBOUNCE_MS = 200
AnyIndex = QModelIndex | QPersistentModelIndex


class ConversationListModel(QAbstractListModel):
    def __init__(self, store: ChatStore) -> None:
        super().__init__()
        self._store = store
        self._rows: list[Conversation] = []
        self._query = ""

    def set_store(self, store: ChatStore) -> None:
        """List the conversations of another history."""
        self._store = store
        self.refresh()

    def refresh(self, query: str | None = None) -> None:
        """Read the list again; while the history cannot be read (locked...), keep the last."""
        if query is not None:
            self._query = query
        try:
            rows = self._store.list_conversations(query=self._query)
        except StoreError as error:
            log.warning("The conversation list was not refreshed: %s", error)
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        conversation = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            # The store names untitled chats in English; show that name in the UI's language.
            title = conversation.title
            return self.tr("New chat") if title == DEFAULT_TITLE else title
        if role == Qt.ItemDataRole.ToolTipRole:
            updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.updated_at))
            return self.tr("%n message(s), last active %1", "", conversation.message_count).replace(
                "%1", updated
            )
        if role == ConversationIdRole:
            return conversation.id
        return None

    def row_of(self, conversation_id: int) -> int:
        for row, conversation in enumerate(self._rows):
            if conversation.id == conversation_id:
                return row
        return -1


class ConversationSidebar(QWidget):
    """New chat button, search box and the conversation list with rename/delete/export."""

    conversationSelected = Signal(int)
    newConversationRequested = Signal()
    deleteRequested = Signal(int)
    renameRequested = Signal(int, str)
    exportRequested = Signal(int)

    def __init__(self, store: ChatStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ConversationListModel(store)
        self.new_button = QPushButton(self.tr("New chat"))
        self.new_button.clicked.connect(self.newConversationRequested)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search chats…"))
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(lambda: self.model.refresh(self.search.text()))
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.search.textChanged.connect(self._update_hint)
        self.list = HintListView(self.tr("Your chats will appear here."))
        self.list.setModel(self.model)
        self.list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._show_menu)
        self.list.selectionModel().currentChanged.connect(self._on_current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        self.model.refresh()

    def select(self, conversation_id: int) -> None:
        row = self.model.row_of(conversation_id)
        if row < 0 and self.search.text():
            self.search.clear()
            self.model.refresh("")
            row = self.model.row_of(conversation_id)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))

    def set_store(self, store: ChatStore) -> None:
        """Show the conversations of another history."""
        self.model.set_store(store)

    def refresh(self, *, keep: int | None = None) -> None:
        blocker = self.list.selectionModel().blockSignals(True)
        self.model.refresh()
        self.list.selectionModel().blockSignals(blocker)
        if keep is not None:
            row = self.model.row_of(keep)
            if row >= 0:
                self.list.selectionModel().blockSignals(True)
                self.list.setCurrentIndex(self.model.index(row))
                self.list.selectionModel().blockSignals(False)

    def _update_hint(self, query: str) -> None:
        """What the empty list says: no chat yet, or none that matches the search."""
        self.list.set_hint(
            self.tr("No chat matches your search.")
            if query
            else self.tr("Your chats will appear here.")
        )

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        conversation_id = current.data(ConversationIdRole)
        if conversation_id is not None:
            self.conversationSelected.emit(int(conversation_id))

    def _show_menu(self, position: QPoint) -> None:
        index = self.list.indexAt(position)
        if not index.isValid():
            return
        conversation_id = int(index.data(ConversationIdRole))
        menu = QMenu(self)
        rename = menu.addAction(self.tr("Rename…"))
        export = menu.addAction(self.tr("Export…"))
        menu.addSeparator()
        delete = menu.addAction(self.tr("Delete"))
        chosen = menu.exec(self.list.viewport().mapToGlobal(position))
        if chosen is rename:
            self.ask_rename(conversation_id, str(index.data()))
        elif chosen is export:
            self.exportRequested.emit(conversation_id)
        elif chosen is delete:
            self.ask_delete(conversation_id, str(index.data()))

    def ask_rename(self, conversation_id: int, current_title: str) -> None:
        title, ok = QInputDialog.getText(
            self, self.tr("Rename chat"), self.tr("New name:"), text=current_title
        )
        if ok and title.strip():
            self.renameRequested.emit(conversation_id, title.strip())

    def ask_delete(self, conversation_id: int, title: str) -> None:
        box = plain_message_box(  # the title is the user's or the model's text: never HTML
            self,
            QMessageBox.Icon.Question,
            self.tr("Delete chat"),
            self.tr("Delete “%1” and all its messages? This cannot be undone.").replace(
                "%1", title
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        if box.exec() == QMessageBox.StandardButton.Yes:
            self.deleteRequested.emit(conversation_id)
