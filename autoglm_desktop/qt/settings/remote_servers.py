"""Settings → Remote servers: add, edit, test and remove OpenAI-compatible servers.

The list keeps each server's name, address and the models it listed at the last *Test
connection* (the model picker shows those). API keys go to the OS keyring through
:class:`~autoglm_desktop.core.remote.keys.ApiKeyStore`; the section says where they are kept,
and says so plainly when there is no keyring. Nothing here contacts a server except *Test
connection*, which runs off the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.remote.client import ConnectionCheck, check_connection
from autoglm_desktop.core.remote.keys import ApiKeyStore, KeyringStatus
from autoglm_desktop.core.remote.servers import (
    RemoteServer,
    check_name,
    load_remote_servers,
    new_server,
    normalize_base_url,
    save_remote_servers,
)
from autoglm_desktop.qt.common.plain_text import plain_label, plain_tooltip, set_plain_text
from autoglm_desktop.qt.workers.background import CallRunner

# (on a light background, on a dark one)
ERROR_COLORS = ("#c0392b", "#ff8a80")
OK_COLORS = ("#2e7d32", "#81c784")
NOTE_STYLE = "color: palette(placeholder-text);"
MODELS_SHOWN = 8  # in the status line; the picker has them all


class RemoteServersSection(QGroupBox):
    serversChanged = Signal(object)  # list[RemoteServer], as saved

    def __init__(self, *, keys: ApiKeyStore, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Remote servers"), parent)
        self._keys = keys
        self._servers: list[RemoteServer] = load_remote_servers()
        self._editing: str | None = None  # id of the server in the form; None: a new one
        # The models the last Test connection listed, and for which address.
        self._tested: tuple[str, tuple[str, ...]] | None = None
        self._test_call = CallRunner(self, name="remote server test")
        self._keyring_shown = False

        intro = QLabel(
            self.tr(
                "Chat with models on another machine through any OpenAI-compatible server "
                "(vLLM, SGLang, llama-server, Ollama, LM Studio…). A server is contacted only "
                "when you choose one of its models or test it."
            )
        )
        intro.setWordWrap(True)
        intro.setStyleSheet(NOTE_STYLE)
        self.server_list = QListWidget()
        self.server_list.setMaximumHeight(90)
        self.add_button = QPushButton(self.tr("Add"))
        self.remove_button = QPushButton(self.tr("Remove"))
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(self.tr("GPU box"))
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("http://192.168.1.20:8000/v1")
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_note = plain_label()  # may quote the keyring's error
        self.key_note.setWordWrap(True)
        self.key_note.setStyleSheet(NOTE_STYLE)
        self.test_button = QPushButton(self.tr("Test connection"))
        self.save_button = QPushButton(self.tr("Save"))
        self.status = plain_label()  # quotes servers' errors and model names
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._build_layout(intro)
        self._connect()
        self._fill_list()
        self._edit(None)

    # -- construction --------------------------------------------------------------------

    def _build_layout(self, intro: QLabel) -> None:
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        list_buttons.addStretch(1)
        form = QFormLayout()
        form.addRow(self.tr("Name:"), self.name_edit)
        form.addRow(self.tr("Address:"), self.url_edit)
        form.addRow(self.tr("API key:"), self.key_edit)
        form_buttons = QHBoxLayout()
        form_buttons.addWidget(self.test_button)
        form_buttons.addStretch(1)
        form_buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.server_list)
        layout.addLayout(list_buttons)
        layout.addLayout(form)
        layout.addWidget(self.key_note)  # outside the form: a wrapped label there gets clipped
        layout.addLayout(form_buttons)
        layout.addWidget(self.status)

    def _connect(self) -> None:
        self.server_list.currentItemChanged.connect(self._on_current_changed)
        self.add_button.clicked.connect(self.start_new)
        self.remove_button.clicked.connect(self.remove_selected)
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test_connection)

    # -- state ---------------------------------------------------------------------------

    @property
    def servers(self) -> list[RemoteServer]:
        return list(self._servers)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._keyring_shown:  # asks keyring for its backend: not at start-up
            self._keyring_shown = True
            self._show_key_note(self._keys.status())

    # -- actions -------------------------------------------------------------------------

    def start_new(self) -> None:
        self.server_list.setCurrentRow(-1)
        self._edit(None)
        self.name_edit.setFocus()
        self._say(self.tr("Enter a name and the server's address, then Save."))

    def save(self) -> RemoteServer | None:
        """Save the form as a new server or over the one edited; None when it is not valid."""
        key = self.key_edit.text().strip()
        try:
            name = check_name(self.name_edit.text())
            url = normalize_base_url(self.url_edit.text())
            server = self._server_from_form(name=name, url=url, has_key=bool(key))
        except AutoGLMError as error:
            self._say(str(error), colors=ERROR_COLORS)
            return None
        stored: KeyringStatus | None = self._keys.set(server.id, key) if key else None
        servers = [s for s in self._servers if s.id != server.id]
        index = next((i for i, s in enumerate(self._servers) if s.id == server.id), len(servers))
        servers.insert(index, server)
        if not self._store(servers):
            return None
        self._editing = server.id
        self._fill_list(select=server.id)
        self.key_edit.clear()
        self._show_key_placeholder(server)
        text = self.tr("Saved.")
        if not server.models:
            text += " " + self.tr("Press Test connection to list its models.")
        if stored is not None:
            self._show_key_note(stored)
            if not stored.persistent:
                text += " " + self._session_only_text(stored)
        self._say(text, colors=OK_COLORS)
        return server

    def remove_selected(self, *, confirm: bool = True) -> None:
        server = self._selected()
        if server is None:
            return
        if confirm and not self._confirm_remove(server):
            return
        servers = [s for s in self._servers if s.id != server.id]
        if not self._store(servers):
            return
        self._keys.delete(server.id)
        self._fill_list()
        self._edit(None)
        self._say(self.tr("Removed %1.").replace("%1", server.name))

    def test_connection(self) -> None:
        """List the models of the address in the form (off the GUI thread)."""
        try:
            url = normalize_base_url(self.url_edit.text())
        except AutoGLMError as error:
            self._say(str(error), colors=ERROR_COLORS)
            return
        typed, editing, keys = self.key_edit.text().strip(), self._editing, self._keys
        name = self.name_edit.text().strip() or url

        def ask() -> ConnectionCheck:
            stored = keys.get(editing) if editing is not None and not typed else None
            return check_connection(base_url=url, api_key=typed or stored, server_name=name)

        self.test_button.setEnabled(False)
        self._say(self.tr("Connecting to %1…").replace("%1", url))
        self._test_call.run(
            ask,
            on_success=lambda check: self._on_tested(check, url=url, editing=editing),
            on_failure=self._on_test_failed,
        )

    def close_calls(self) -> None:
        self._test_call.close()

    # -- internals -----------------------------------------------------------------------

    def _server_from_form(self, *, name: str, url: str, has_key: bool) -> RemoteServer:
        models = self._tested[1] if self._tested is not None and self._tested[0] == url else None
        current = self._find(self._editing)
        if current is None:
            server = new_server(name=name, base_url=url, has_key=has_key)
            return server.updated(models=models or ())
        moved = current.base_url != url
        return current.updated(
            name=name,
            base_url=url,
            has_key=has_key or current.has_key,
            models=models if models is not None else (() if moved else current.models),
        )

    def _on_tested(self, check: ConnectionCheck, *, url: str, editing: str | None) -> None:
        self.test_button.setEnabled(True)
        if editing != self._editing:
            return  # the form shows another server now
        self._tested = (url, check.models)
        shown = ", ".join(check.models[:MODELS_SHOWN])
        if len(check.models) > MODELS_SHOWN:
            shown += ", …"
        text = (
            self.tr("Connected in %1 s. Models (%2): %3")
            .replace("%1", f"{check.seconds:.2f}")
            .replace("%2", str(len(check.models)))
            .replace("%3", shown)
        )
        current = self._find(editing)
        if current is not None and current.base_url == url:
            servers = [
                s.updated(models=check.models) if s.id == editing else s for s in self._servers
            ]
            if self._store(servers):
                self._fill_list(select=editing)
                text += "\n" + self.tr("They are in the model picker now.")
        else:
            text += "\n" + self.tr("Save to add them to the model picker.")
        self._say(text, colors=OK_COLORS)

    def _on_test_failed(self, error: AutoGLMError) -> None:
        self.test_button.setEnabled(True)
        self._say(str(error), colors=ERROR_COLORS)

    def _store(self, servers: list[RemoteServer]) -> bool:
        try:
            save_remote_servers(servers)
        except AutoGLMError as error:
            self._say(str(error), colors=ERROR_COLORS)
            return False
        self._servers = servers
        self.serversChanged.emit(list(servers))
        return True

    def _fill_list(self, *, select: str | None = None) -> None:
        self.server_list.blockSignals(True)
        self.server_list.clear()
        for server in self._servers:
            count = len(server.models)
            text = self.tr("%1 — models: %2").replace("%1", server.name).replace("%2", str(count))
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, server.id)
            item.setToolTip(plain_tooltip(server.base_url))
            self.server_list.addItem(item)
            if server.id == select:
                self.server_list.setCurrentItem(item)
        self.server_list.blockSignals(False)
        self.remove_button.setEnabled(self._selected() is not None)

    def _on_current_changed(self, item: QListWidgetItem | None, _previous: object) -> None:
        server = self._find(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None
        self._edit(server)
        self.remove_button.setEnabled(server is not None)
        if server is not None:
            self._say("")

    def _edit(self, server: RemoteServer | None) -> None:
        self._editing = server.id if server is not None else None
        self._tested = None
        self.name_edit.setText(server.name if server is not None else "")
        self.url_edit.setText(server.base_url if server is not None else "")
        self.key_edit.clear()
        self._show_key_placeholder(server)
        self.remove_button.setEnabled(server is not None)

    def _show_key_placeholder(self, server: RemoteServer | None) -> None:
        if server is not None and server.has_key:
            self.key_edit.setPlaceholderText(self.tr("Stored; type a new key to replace it"))
        else:
            self.key_edit.setPlaceholderText(self.tr("Optional"))
        self.key_edit.setToolTip(
            self.tr("Leave empty if the server needs no key. The key is never shown again.")
        )

    def _show_key_note(self, status: KeyringStatus) -> None:
        if status.persistent:
            text = self.tr("Keys are kept in the system keyring (%1), never in a file.").replace(
                "%1", status.backend
            )
        else:
            text = self._session_only_text(status)
        set_plain_text(self.key_note, text)

    def _session_only_text(self, status: KeyringStatus) -> str:
        if not status.backend:
            return self.tr(
                "This computer has no system keyring: keys are kept in memory until the app "
                "closes, and you will be asked for them again next time."
            )
        return self.tr(
            "The system keyring failed (%1): keys are kept in memory until the app closes, and "
            "you will be asked for them again next time."
        ).replace("%1", status.backend)

    def _selected(self) -> RemoteServer | None:
        item = self.server_list.currentItem()
        return self._find(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _find(self, server_id: str | None) -> RemoteServer | None:
        return next((s for s in self._servers if s.id == server_id), None)

    def _say(self, text: str, *, colors: tuple[str, str] | None = None) -> None:
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        self.status.setStyleSheet(f"color: {colors[dark]};" if colors else "")
        set_plain_text(self.status, text)

    def _confirm_remove(self, server: RemoteServer) -> bool:
        answer = QMessageBox.question(
            self,
            self.tr("Remove server"),
            self.tr(
                "Remove %1 and forget its API key? Conversations with its models stay in the "
                "history."
            ).replace("%1", server.name),
        )
        return answer == QMessageBox.StandardButton.Yes
