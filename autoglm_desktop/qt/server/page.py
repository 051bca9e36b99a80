"""The *Local server* page: serve the loaded model to other programs, and watch what they ask.

As LM Studio's Developer page: an on/off switch, the port, whether other devices on the network
may call it (then only with an API key, kept in the OS keyring like remote servers' keys), the
address with a ready-to-copy ``curl`` command, who is being answered and who waits (the
window's own reply included), and a log of the requests. The server itself runs in
:class:`~autoglm_desktop.qt.workers.local_server.LocalServer`; nothing here blocks the GUI
thread (the keyring is asked off it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.errors import AutoGLMError, PortInUseError, ServerConfigError
from autoglm_desktop.core.engine.request_queue import SOURCE_WINDOW, QueueSnapshot
from autoglm_desktop.core.engine.shared_engine import SharedEngine
from autoglm_desktop.core.remote.keys import ApiKeyStore, KeyringStatus
from autoglm_desktop.core.server.config import (
    DEFAULT_HOST,
    NETWORK_HOST,
    ServerConfig,
    lan_address,
)
from autoglm_desktop.core.server.request_log import RequestRecord
from autoglm_desktop.qt.common.colors import is_dark
from autoglm_desktop.qt.common.plain_text import set_plain_text
from autoglm_desktop.qt.common.toggle_switch import ToggleSwitch
from autoglm_desktop.qt.server.request_log import RequestLogTable
from autoglm_desktop.qt.workers.background import CallRunner
from autoglm_desktop.qt.workers.local_server import LocalServer, ServerState

KEY_ID = "api-key"  # the local server's one key, in the keyring's LOCAL_SERVER_SERVICE
QUEUE_POLL_MS = 500
LOG_MIN_HEIGHT = 180
NOTE_STYLE = "color: palette(placeholder-text);"
# (on a light background, on a dark one)
ON_COLORS = ("#2e7d32", "#81c784")
ERROR_COLORS = ("#c0392b", "#ff8a80")
MODEL_PLACEHOLDER = "MODEL"
KEY_PLACEHOLDER = "YOUR_API_KEY"


@dataclass(frozen=True)
class _StartRequest:
    """What the page asks the server to start with (the key is resolved off the GUI thread)."""

    port: int
    network: bool
    typed_key: str  # "": use the stored one


class LocalServerPage(QWidget):
    settingsChanged = Signal(int, bool)  # port, allow other devices: to be kept

    def __init__(
        self,
        *,
        server: LocalServer,
        engine: SharedEngine,
        keys: ApiKeyStore,
        port: int,
        network: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._server = server
        self._engine = engine
        self._keys = keys
        self._model: str | None = None
        self._has_stored_key = False
        self._key_call = CallRunner(self, name="local server key")
        self._key_asked = False
        self._lan: str | None = None
        self._base_url = ""  # the address the example uses (the network's, where allowed)

        self.switch = ToggleSwitch(self.tr("Serve the model"))
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # may quote the system's errors
        self.status.setWordWrap(True)
        self.port = QSpinBox(minimum=1, maximum=65535, value=port)
        self.port.setAccessibleName(self.tr("Port"))
        self.network = QCheckBox(self.tr("Allow other devices on the network"))
        self.network.setChecked(network)
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName(self.tr("API key"))
        self.generate_button = QPushButton(self.tr("Generate"))
        self.generate_button.setToolTip(self.tr("Make a new random key"))
        self.copy_key_button = QPushButton(self.tr("Copy key"))
        self.key_note = QLabel()
        self.key_note.setWordWrap(True)
        self.key_note.setStyleSheet(NOTE_STYLE)
        self.locked_note = QLabel(self.tr("Turn the server off to change these."))
        self.locked_note.setStyleSheet(NOTE_STYLE)
        self.address = QLabel()
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.address.setWordWrap(True)
        self.copy_address_button = QPushButton(self.tr("Copy address"))
        self.example = QPlainTextEdit()
        self.example.setReadOnly(True)
        self.example.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.example.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.example.setMaximumHeight(self.example.fontMetrics().lineSpacing() * 6 + 16)
        self.copy_example_button = QPushButton(self.tr("Copy"))
        self.copy_example_button.setToolTip(self.tr("Copy the command"))
        self.model_note = QLabel()
        self.model_note.setWordWrap(True)
        self.model_note.setStyleSheet(NOTE_STYLE)
        self.queue_label = QLabel()
        self.queue_label.setWordWrap(True)
        self.log = RequestLogTable()
        self.log.setMinimumHeight(LOG_MIN_HEIGHT)
        self.clear_log_button = QPushButton(self.tr("Clear"))
        self._queue_timer = QTimer(self, interval=QUEUE_POLL_MS)
        self._queue_timer.timeout.connect(self._show_queue)
        self._build_layout()
        self._connect()
        self._show_state(server.state)

    # -- construction --------------------------------------------------------------------

    def _build_layout(self) -> None:
        title = QLabel(self.tr("Local server"))
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.switch)
        intro = QLabel(
            self.tr(
                "Serve the loaded model to other programs through the OpenAI API: any OpenAI "
                "client, editor plug-in or script can use it. Your chats and their requests "
                "take turns on the same model."
            )
        )
        intro.setWordWrap(True)
        intro.setStyleSheet(NOTE_STYLE)

        settings = QGroupBox(self.tr("Settings"))
        form = QFormLayout()
        form.addRow(self.tr("Port:"), self.port)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.generate_button)
        key_row.addWidget(self.copy_key_button)
        settings_layout = QVBoxLayout(settings)
        settings_layout.addLayout(form)
        settings_layout.addWidget(self.network)
        key_form = QFormLayout()
        key_form.addRow(self.tr("API key:"), key_row)
        settings_layout.addLayout(key_form)
        settings_layout.addWidget(self.key_note)  # outside the form: wrapped labels get clipped
        settings_layout.addWidget(self.locked_note)

        use = QGroupBox(self.tr("Use it"))
        address_row = QHBoxLayout()
        address_row.addWidget(self.address, 1)
        address_row.addWidget(self.copy_address_button, 0, Qt.AlignmentFlag.AlignTop)
        example_head = QHBoxLayout()
        example_head.addWidget(QLabel(self.tr("Try it from a terminal:")), 1)
        example_head.addWidget(self.copy_example_button)
        use_layout = QVBoxLayout(use)
        use_layout.addLayout(address_row)
        use_layout.addLayout(example_head)
        use_layout.addWidget(self.example)
        use_layout.addWidget(self.model_note)

        activity = QGroupBox(self.tr("Requests"))
        log_head = QHBoxLayout()
        log_head.addWidget(self.queue_label, 1)
        log_head.addWidget(self.clear_log_button, 0, Qt.AlignmentFlag.AlignTop)
        activity_layout = QVBoxLayout(activity)
        activity_layout.addLayout(log_head)
        activity_layout.addWidget(self.log, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(intro)
        layout.addWidget(settings)
        layout.addWidget(use)
        layout.addWidget(activity, 1)

    def _connect(self) -> None:
        self.switch.toggled.connect(self._on_switch)
        self.port.valueChanged.connect(self._on_settings_edited)
        self.network.toggled.connect(self._on_settings_edited)
        self.generate_button.clicked.connect(self._generate_key)
        self.copy_key_button.clicked.connect(self._copy_key)
        self.copy_address_button.clicked.connect(lambda: self._copy(self._base_url))
        self.copy_example_button.clicked.connect(lambda: self._copy(self.example.toPlainText()))
        self.clear_log_button.clicked.connect(lambda: self.log.setRowCount(0))
        self.key_edit.textChanged.connect(lambda _text: self._show_key_controls())
        self._server.stateChanged.connect(self._show_state)
        self._server.failed.connect(self._on_failed)
        self._server.requestLogged.connect(self._on_request)

    # -- inputs --------------------------------------------------------------------------

    def set_model(self, name: str | None) -> None:
        """The model the server answers with (None: none loaded)."""
        self._model = name
        self._show_usage()

    def turn_on(self) -> None:
        """Start serving with the settings shown (as the switch does)."""
        self.switch.setChecked(True)

    def turn_off(self) -> None:
        self.switch.setChecked(False)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._key_asked:  # the keyring, off the GUI thread: once, when first shown
            self._key_asked = True
            keys = self._keys
            self._key_call.run(
                lambda: (keys.get(KEY_ID) is not None, keys.status()),
                on_success=self._on_key_known,
                on_failure=lambda _error: None,
            )
        self._lan = lan_address()
        self._show_usage()
        self._update_queue_timer()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._update_queue_timer()

    # -- the switch ----------------------------------------------------------------------

    def _on_switch(self, on: bool) -> None:
        state = self._server.state
        if on and state is ServerState.OFF:
            self._start()
        elif not on and state is ServerState.ON:
            self._server.stop()

    def _start(self) -> None:
        request = _StartRequest(
            port=self.port.value(),
            network=self.network.isChecked(),
            typed_key=self.key_edit.text().strip(),
        )
        if request.network and not request.typed_key and not self._has_stored_key:
            self._say_error(
                self.tr(
                    "Other devices may use the model only with an API key: type one or press "
                    "Generate, then turn the server on."
                )
            )
            self.switch.setChecked(False)
            return
        keys = self._keys
        self._server.start(lambda: _config(request, keys))

    def _show_state(self, state: ServerState) -> None:
        on = state is ServerState.ON
        if on:
            self._key_kept()
        blocked = self.switch.blockSignals(True)
        self.switch.setChecked(state in (ServerState.ON, ServerState.STARTING))
        self.switch.blockSignals(blocked)
        self.switch.setEnabled(state in (ServerState.ON, ServerState.OFF))
        editable = state is ServerState.OFF
        for widget in (self.port, self.network):
            widget.setEnabled(editable)
        self.locked_note.setVisible(not editable)
        self._show_key_controls()
        self._show_usage()
        dark = is_dark(self.palette())
        if state is ServerState.ON:
            text = self.tr("Running at %1").replace("%1", self._base_url)
            self.status.setStyleSheet(f"color: {ON_COLORS[dark]};")
            self.status.setText("● " + text)
        elif state is ServerState.STARTING:
            self.status.setStyleSheet("")
            self.status.setText(self.tr("Starting…"))
        elif state is ServerState.STOPPING:
            self.status.setStyleSheet("")
            self.status.setText(self.tr("Stopping…"))
        else:
            self.status.setStyleSheet(NOTE_STYLE)
            self.status.setText(self.tr("Off: other programs cannot reach the model."))
        self._update_queue_timer()
        if on:
            self._show_queue()

    def _on_failed(self, error: AutoGLMError) -> None:
        if isinstance(error, PortInUseError):
            text = self.tr(
                "Port %1 is in use by another program. Choose another port, or close that "
                "program, then turn the server on again."
            ).replace("%1", str(self.port.value()))
        elif isinstance(error, ServerConfigError):
            text = self.tr("The server could not start: %1").replace("%1", str(error))
        else:
            text = str(error)
        self._say_error(text)

    def _say_error(self, text: str) -> None:
        self.status.setStyleSheet(f"color: {ERROR_COLORS[is_dark(self.palette())]};")
        set_plain_text(self.status, text)  # may quote the system's error

    # -- settings and the key ------------------------------------------------------------

    def _on_settings_edited(self, _value: object = None) -> None:
        self._show_key_controls()
        self._show_usage()
        self.settingsChanged.emit(self.port.value(), self.network.isChecked())

    def _show_key_controls(self) -> None:
        editable = self._server.state is ServerState.OFF
        keyed = self.network.isChecked()
        self.key_edit.setEnabled(editable and keyed)
        self.generate_button.setEnabled(editable and keyed)
        has_key = bool(self.key_edit.text().strip()) or self._has_stored_key
        self.copy_key_button.setEnabled(keyed and has_key)
        if self._has_stored_key:
            self.key_edit.setPlaceholderText(self.tr("Stored; type a new key to replace it"))
        else:
            self.key_edit.setPlaceholderText(self.tr("Needed for other devices"))
        self.key_edit.setToolTip(
            self.tr("Programs on other devices must send it as 'Authorization: Bearer KEY'.")
        )

    def _on_key_known(self, known: tuple[bool, KeyringStatus]) -> None:
        stored, status = known
        self._has_stored_key = self._has_stored_key or stored
        if status.persistent:
            text = self.tr("The key is kept in the system keyring (%1), never in a file.")
            text = text.replace("%1", status.backend)
        else:
            text = self.tr(
                "This computer has no usable system keyring: the key is kept in memory until "
                "the app closes."
            )
        set_plain_text(self.key_note, text)
        self._show_key_controls()

    def _key_kept(self) -> None:
        """The server started with the key typed: it is stored now, and hidden again."""
        config = self._server.config
        if config is not None and config.api_key and self.key_edit.text().strip():
            self._has_stored_key = True
            self.key_edit.clear()
            self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)

    def _generate_key(self) -> None:
        self.key_edit.setText(secrets.token_urlsafe(24))
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Normal)  # shown once, to be copied

    def _copy_key(self) -> None:
        typed = self.key_edit.text().strip()
        if typed:
            self._copy(typed)
            return
        keys = self._keys
        self._key_call.run(
            lambda: keys.get(KEY_ID) or "",
            on_success=lambda key: self._copy(key) if key else None,
            on_failure=lambda _error: None,
        )

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    # -- what other programs use ---------------------------------------------------------

    def _local_base(self) -> str:
        return f"{DEFAULT_HOST}:{self._shown_port()}"

    def _shown_port(self) -> int:
        return self._server.port or self.port.value()

    def _address_of(self, host_port: str) -> str:
        return f"http://{host_port}/v1"

    def _show_usage(self) -> None:
        """The addresses and the curl command, as the settings (or the running server) say."""
        config = self._server.config
        network = config.host == NETWORK_HOST if config is not None else self.network.isChecked()
        local = self._address_of(self._local_base())
        lines = [self.tr("On this computer: %1").replace("%1", local)]
        base = local
        if network:
            lan = self._lan
            if lan is not None:
                base = self._address_of(f"{lan}:{self._shown_port()}")
                lines.append(self.tr("From other devices: %1").replace("%1", base))
            else:
                lines.append(self.tr("From other devices: this computer's network address"))
        self.address.setText("\n".join(lines))
        model = self._model or MODEL_PLACEHOLDER
        auth = f' \\\n  -H "Authorization: Bearer {KEY_PLACEHOLDER}"' if network else ""
        self._base_url = base
        self.example.setPlainText(
            f"curl {base}/chat/completions{auth} \\\n"
            '  -H "Content-Type: application/json" \\\n'
            f'  -d \'{{"model": "{_json_text(model)}",\n'
            '       "messages": [{"role": "user", "content": "Hello!"}]}\''
        )
        if self._model is None:
            self.model_note.setText(
                self.tr(
                    "No model is loaded: until one is, the server answers every request with "
                    "“503 model not loaded”."
                )
            )
        else:
            self.model_note.setText(
                self.tr("Model name for requests: %1").replace("%1", self._model)
            )

    # -- activity ------------------------------------------------------------------------

    def _update_queue_timer(self) -> None:
        if self._server.state is ServerState.ON and self.isVisible():
            self._queue_timer.start()
        else:
            self._queue_timer.stop()
            if self._server.state is not ServerState.ON:
                self.queue_label.setText(self.tr("No requests: the server is off."))

    def _show_queue(self) -> None:
        self.queue_label.setText(self.queue_text(self._engine.snapshot()))

    def queue_text(self, snapshot: QueueSnapshot | None) -> str:
        """Who is being answered and who waits, in words."""
        if snapshot is None:
            return self.tr("No model is loaded: requests are refused.")
        text = (
            self.tr("Answering: %1 · Waiting: %2")
            .replace("%1", str(len(snapshot.running)))
            .replace("%2", str(len(snapshot.waiting)))
        )
        if SOURCE_WINDOW in snapshot.running:
            text += " · " + self.tr("your chat's reply is being written")
        elif SOURCE_WINDOW in snapshot.waiting:
            text += " · " + self.tr("your chat's reply waits its turn")
        return text

    def _on_request(self, record: RequestRecord) -> None:
        self.log.add_record(record)
        if self.isVisible():
            self._show_queue()

    def close_calls(self) -> None:
        self._key_call.close()
        self._queue_timer.stop()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "log"):
            self._show_state(self._server.state)  # the status line's colour


def _config(request: _StartRequest, keys: ApiKeyStore) -> ServerConfig:
    """The server's settings; stores a newly typed key (runs off the GUI thread).

    Raises:
        ServerConfigError: other devices are allowed and there is no key.
    """
    api_key: str | None = None
    if request.network:
        if request.typed_key:
            keys.set(KEY_ID, request.typed_key)
            api_key = request.typed_key
        else:
            api_key = keys.get(KEY_ID)
        if not api_key:
            raise ServerConfigError("Other devices may use the model only with an API key.")
    return ServerConfig(
        host=NETWORK_HOST if request.network else DEFAULT_HOST,
        port=request.port,
        api_key=api_key,
        allow_network=request.network,
    )


def _json_text(text: str) -> str:
    """``text`` inside a JSON string inside single shell quotes (a model's file name)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("'", "")
