"""The main window: conversations on the left, the chat on the right."""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPaintEvent, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop import APP_NAME
from autoglm_desktop.core.chat.export import write_export
from autoglm_desktop.core.chat.history_repair import (
    DAMAGED_MARK,
    SET_ASIDE_MARK,
    RecoveryReport,
    recover_history,
    set_aside,
)
from autoglm_desktop.core.chat.store import ChatStore
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.app_settings import AppSettings, load_settings, save_settings
from autoglm_desktop.core.common.errors import (
    AutoGLMError,
    EngineHungError,
    HistoryDamagedError,
    ModelLoadHungError,
    SettingsFileError,
    StoreError,
)
from autoglm_desktop.core.common.types import GenerationStats, ModelInfo, Thinking
from autoglm_desktop.core.engine import EngineClient
from autoglm_desktop.core.engine.build import (
    CPU_ONLY,
    LlamaBuild,
    cached_llama_build,
)
from autoglm_desktop.core.hub.queue_file import has_unfinished_downloads
from autoglm_desktop.core.machine.hardware import HardwareSnapshot, read_hardware
from autoglm_desktop.core.models.gguf_info import GGUFInfo, read_gguf_info
from autoglm_desktop.core.models.library import (
    LocalModel,
    ModelSource,
    choose_default_model,
    scan_library,
)
from autoglm_desktop.core.planning.machine_plan import tuned_plan
from autoglm_desktop.core.planning.speed_profile import kept_machine_speed, plan_forecast
from autoglm_desktop.core.planning.tuner import TunedPlan
from autoglm_desktop.core.remote.client import RemoteChatClient
from autoglm_desktop.core.remote.keys import LOCAL_SERVER_SERVICE, ApiKeyStore
from autoglm_desktop.core.remote.servers import RemoteServer, RemoteTarget
from autoglm_desktop.qt.chat.composer import Composer
from autoglm_desktop.qt.chat.controller import GUI_BUSY_TIMEOUT_S, ChatController
from autoglm_desktop.qt.chat.conversation_list import ConversationSidebar
from autoglm_desktop.qt.chat.conversation_settings import ConversationSettingsDialog
from autoglm_desktop.qt.chat.edit_dialog import EditMessageDialog
from autoglm_desktop.qt.chat.find_bar import FindBar
from autoglm_desktop.qt.chat.first_screen import FirstScreen
from autoglm_desktop.qt.chat.history_dialog import HistoryChoice, HistoryProblemDialog
from autoglm_desktop.qt.chat.model_bar import ModelBar
from autoglm_desktop.qt.chat.prompt_edit import PromptEdit
from autoglm_desktop.qt.chat.think_switch import ThinkSwitch
from autoglm_desktop.qt.chat.view import ChatView
from autoglm_desktop.qt.common.colors import is_dark
from autoglm_desktop.qt.common.icons import icon, palette_icon
from autoglm_desktop.qt.common.markdown_render import warm_up as warm_up_markdown
from autoglm_desktop.qt.common.plain_text import plain_label, plain_tooltip, set_plain_text
from autoglm_desktop.qt.server.page import LocalServerPage
from autoglm_desktop.qt.settings.pane import SettingsPane, confirm_load_anyway
from autoglm_desktop.qt.workers.background import CallRunner
from autoglm_desktop.qt.workers.engine_worker import EngineWorker, start_engine_thread
from autoglm_desktop.qt.workers.hardware_monitor import start_hardware_monitor
from autoglm_desktop.qt.workers.local_server import LocalServer, ServerState

if TYPE_CHECKING:
    from autoglm_desktop.qt.models.window import ModelsWindow

COMPOSER_MAX_WIDTH = 800  # the message box on wide windows, as wide as the transcript's text
SERVER_DOCK_MIN_WIDTH = 340
SERVER_DOCK_WIDTH = 470  # where the window has room: the request log's six columns fit
SERVING_COLORS = ("#2e7d32", "#81c784")  # the status bar's server icon while on (light, dark)
# The picker's default comes from these first; other apps' models only when there is none.
_OWN_SOURCES = (ModelSource.APP, ModelSource.IMPORTED, ModelSource.FOLDER)


# (background, border, text) of the error banner, per theme.
_ERROR_LIGHT = ("#fdecea", "#f5c2c0", "#611a15")
_ERROR_DARK = ("#3d1f1f", "#7a3431", "#f7d4d1")


class ErrorBanner(QFrame):
    """A dismissable strip above the prompt box for problems the user should read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self._follow_theme()
        self.label = plain_label()  # errors quote models' and files' text: never HTML
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton(self.tr("Dismiss"))
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        set_plain_text(self.label, text)
        self.show()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._follow_theme()

    def _follow_theme(self) -> None:
        background, border, text = _ERROR_DARK if is_dark(self.palette()) else _ERROR_LIGHT
        style = (
            f"#errorBanner {{ background: {background}; border: 1px solid {border}; "
            f"border-radius: 4px; }} #errorBanner QLabel {{ color: {text}; }}"
        )
        if style != self.styleSheet():  # setting it changes the palette again
            self.setStyleSheet(style)


class MainWindow(QMainWindow):
    requestLoad = Signal(object)  # LoadPlan, queued to the worker thread
    requestUnload = Signal()
    requestRelease = Signal()  # free the engine's memory, keep the model for the next reply
    requestServing = Signal(bool)  # share the engine with the local server, or take it back

    def __init__(
        self,
        *,
        store: ChatStore | None = None,
        client: EngineClient | None = None,
        remote: RemoteChatClient | None = None,
        server_keys: ApiKeyStore | None = None,
        autoload: bool = True,
    ) -> None:
        """The window, over the history, engine and remote client given (or its own).

        ``server_keys``: where the local server's API key is kept (the OS keyring unless given).
        """
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1100, 720)
        self.settings: AppSettings = load_settings()
        self._history_problem: StoreError | None = None
        self.store = store or self._open_history()
        self.api_keys = ApiKeyStore()  # remote servers' keys, shared by the pane and the worker
        self.worker = EngineWorker(
            client or EngineClient(log_path=_engine_log_path()),
            remote=remote or RemoteChatClient(keys=self.api_keys),
        )
        self.engine = start_engine_thread(self.worker)
        self.model_info: ModelInfo | None = None
        self._loading_name = ""  # the model being loaded at the user's request
        self.hardware: HardwareSnapshot | None = None
        # Until the monitor has asked llama.cpp, plan as if it had no GPU backend (the safe side).
        self.llama_build: LlamaBuild = cached_llama_build() or CPU_ONLY
        self._closed = False
        self.monitor = start_hardware_monitor()
        self.settings_pane = SettingsPane(api_keys=remote.keys if remote else self.api_keys)
        self.settings_pane.set_idle_release(self.settings.release_when_idle_minutes)
        self._idle_timer = QTimer(self, singleShot=True)
        self._idle_timer.timeout.connect(self._release_when_idle)
        self.local_server = LocalServer(self.worker.shared, self)
        self.server_page = LocalServerPage(
            server=self.local_server,
            engine=self.worker.shared,
            keys=server_keys or ApiKeyStore(service=LOCAL_SERVER_SERVICE),
            port=self.settings.local_server_port,
            network=self.settings.local_server_network,
        )

        self.chat_view = ChatView()
        self.find_bar = FindBar()
        self.controller = ChatController(store=self.store, worker=self.worker, view=self.chat_view)
        self.sidebar = ConversationSidebar(self.store)
        self.model_bar = ModelBar()
        self.prompt = PromptEdit()
        self.think_switch = ThinkSwitch()
        self.composer = Composer(self.prompt, self.think_switch)
        self.send_button = self.composer.send_button
        self.regenerate_button = self.composer.regenerate_button
        self.settings_button = QPushButton(self.tr("Chat settings…"))
        self.first_screen = FirstScreen(
            view=self.chat_view,
            controller=self.controller,
            worker=self.worker,
            store=self.store,
            parent=self,
        )
        self.error_banner = ErrorBanner()
        self._models_window: ModelsWindow | None = None
        self._server_dock_shown = False
        self._build_layout()
        self._build_status_bar()
        self._build_menu()
        self._connect()
        self._startup_call = CallRunner(self, name="startup models")
        self._forecast_call = CallRunner(self, name="picker speed forecast")
        self.settings_pane.speed_test.measured.connect(lambda _speed: self._forecast_picker())
        self._history_call = CallRunner(self, name="history recovery")
        self._warm_up_call = CallRunner(self, name="transcript warm-up")
        self._autoload_at_start: bool | None = autoload  # None once the window has shown
        self._open_latest_conversation()
        if self._history_problem is not None:
            self._ask_about_history(self._history_problem)

    # -- construction --------------------------------------------------------------------

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.model_bar, 1)
        self.models_button = QPushButton(self.tr("Models…"))
        self.models_button.setToolTip(self.tr("Find, download and manage models"))
        top.addWidget(self.models_button)
        top.addWidget(self.settings_button)
        self.pane_button = QPushButton(self.tr("Model settings"))
        self.pane_button.setCheckable(True)
        top.addWidget(self.pane_button)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 4, 0, 4)
        bottom.addStretch(1)
        bottom.addWidget(self.composer, 100)
        bottom.addStretch(1)
        self.composer.setMaximumWidth(COMPOSER_MAX_WIDTH)
        chat = QWidget()
        chat_layout = QVBoxLayout(chat)
        chat_layout.addLayout(top)
        chat_layout.addWidget(self.first_screen.stack, 1)
        chat_layout.addWidget(self.find_bar)
        chat_layout.addWidget(self.error_banner)
        chat_layout.addLayout(bottom)
        splitter = QSplitter()
        splitter.addWidget(self.sidebar)
        splitter.addWidget(chat)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 840])
        self.setCentralWidget(splitter)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.settings_pane)
        self.settings_dock = QDockWidget(self.tr("Settings"), self)
        self.settings_dock.setObjectName("settingsDock")
        self.settings_dock.setWidget(scroll)
        self.settings_dock.setMinimumWidth(330)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.settings_dock)
        self.settings_dock.hide()
        server_scroll = QScrollArea()
        server_scroll.setWidgetResizable(True)
        server_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        server_scroll.setWidget(self.server_page)
        self.server_dock = QDockWidget(self.tr("Local server"), self)
        self.server_dock.setObjectName("serverDock")
        self.server_dock.setWidget(server_scroll)
        self.server_dock.setMinimumWidth(SERVER_DOCK_MIN_WIDTH)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.server_dock)
        self.server_dock.hide()
        self.prompt.setFocus()

    def _apply_icons(self) -> None:
        """Toolbar icons in the palette's text colour (again when the scheme changes)."""
        palette = self.palette()
        for button, name in (
            (self.sidebar.new_button, "new-chat"),
            (self.models_button, "models"),
            (self.settings_button, "chat-settings"),
            (self.pane_button, "model-settings"),
        ):
            button.setIcon(palette_icon(name, palette))
        self._show_server_button()  # its icon is green while serving

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "server_button"):
            self._apply_icons()

    def _build_status_bar(self) -> None:
        self.model_label = plain_label(self.tr("No model loaded"))
        self.speed_label = QLabel()
        self.context_label = QLabel()
        # The local server's switch page, and where it serves while on: LM Studio's users look
        # for the server in the status bar.
        self.server_button = QToolButton()
        self.server_button.setCheckable(True)
        self.server_button.setAutoRaise(True)
        self.server_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.server_button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self._show_server_button()
        bar = self.statusBar()
        bar.addPermanentWidget(self.server_button)  # permanent: messages never cover it
        for label in (self.model_label, self.speed_label, self.context_label):
            label.setContentsMargins(8, 0, 8, 0)
            # Long temporary messages must not squeeze these: they may only grow.
            label.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
            bar.addPermanentWidget(label)
        self._apply_icons()

    def _build_menu(self) -> None:
        chat_menu = self.menuBar().addMenu(self.tr("&Chat"))
        new_chat = QAction(
            self.tr("New chat"), self, shortcut=QKeySequence(QKeySequence.StandardKey.New)
        )
        new_chat.triggered.connect(self.controller.new_conversation)
        export = QAction(self.tr("Export chat…"), self)
        export.triggered.connect(
            lambda: self.export_conversation(self.controller.conversation_id or -1)
        )
        quit_action = QAction(
            self.tr("Quit"), self, shortcut=QKeySequence(QKeySequence.StandardKey.Quit)
        )
        quit_action.triggered.connect(self.close)
        find = QAction(
            self.tr("Find in chat…"), self, shortcut=QKeySequence(QKeySequence.StandardKey.Find)
        )
        find.triggered.connect(self.find_bar.open_bar)
        for action in (new_chat, find, export, quit_action):
            chat_menu.addAction(action)
        models_menu = self.menuBar().addMenu(self.tr("&Models"))
        models_menu.addAction(self.tr("Discover models…"), lambda: self.open_models("discover"))
        models_menu.addAction(self.tr("Downloads"), lambda: self.open_models("downloads"))
        models_menu.addAction(self.tr("My models"), lambda: self.open_models("library"))
        models_menu.addSeparator()
        models_menu.addAction(self.tr("Local server…"), self.show_server_page)

    def _connect(self) -> None:
        worker, controller = self.worker, self.controller
        self.requestLoad.connect(worker.load)
        self.requestUnload.connect(worker.unload)
        self.requestRelease.connect(worker.release_memory)
        self.requestServing.connect(worker.set_serving)
        self.local_server.stateChanged.connect(self._on_server_state)
        self.server_page.settingsChanged.connect(self._on_server_settings)
        self.server_button.toggled.connect(self._toggle_server_page)
        self.server_dock.visibilityChanged.connect(self._on_server_dock_visibility)
        worker.released.connect(self._on_released)
        worker.engineDied.connect(self._on_engine_died)
        self.monitor.worker.snapshot.connect(self._on_snapshot)
        self.monitor.worker.buildProbed.connect(self._on_build_probed)
        self.pane_button.toggled.connect(self.settings_dock.setVisible)
        self.settings_dock.visibilityChanged.connect(self.pane_button.setChecked)
        self.settings_pane.applyRequested.connect(self._load_tuned)
        self.settings_pane.idleReleaseChanged.connect(self._on_idle_setting)
        self.settings_pane.remote_servers.serversChanged.connect(self._on_remote_servers_changed)
        self._on_remote_servers_changed(self.settings_pane.remote_servers.servers)
        self._pick_last_remote_model()
        self.model_bar.combo.currentIndexChanged.connect(self._on_model_selected)
        self.models_button.clicked.connect(lambda: self.open_models("discover"))
        worker.loadStarted.connect(self._on_load_started)
        worker.loadProgress.connect(self.model_bar.set_progress)
        worker.modelLoaded.connect(self._on_model_loaded)
        worker.unloaded.connect(self._on_unloaded)
        worker.loadFailed.connect(self._on_load_failed)  # reply failures: the controller's
        worker.replyFailed.connect(self._on_reply_failed)  # ...but a hung model is named here
        worker.busyChanged.connect(self._on_worker_busy)
        self.model_bar.loadRequested.connect(self.load_model)
        self.model_bar.unloadRequested.connect(self.requestUnload)
        self.model_bar.cancelRequested.connect(worker.stop)
        controller.replyRunningChanged.connect(self._on_reply_running)
        controller.replyRunningChanged.connect(self._restart_idle_timer)
        controller.statsUpdated.connect(self._show_stats)
        controller.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))
        controller.errorOccurred.connect(self.error_banner.show_message)
        controller.conversationsChanged.connect(lambda cid: self.sidebar.refresh(keep=cid))
        controller.conversationOpened.connect(self.sidebar.select)
        controller.conversationOpened.connect(self._show_think_setting)
        self.first_screen.promptChosen.connect(self._use_suggestion)
        self.first_screen.modelsRequested.connect(self.open_models)
        self.first_screen.speedTestRequested.connect(self._show_speed_test)
        self.settings_pane.speed_test.measured.connect(
            lambda _speed: self.first_screen.speed_measured()
        )
        self.first_screen.emptyChanged.connect(
            lambda empty: self.regenerate_button.setVisible(not empty)
        )
        self.first_screen.refresh()
        self.think_switch.changed.connect(self._on_think_changed)
        controller.editRequested.connect(self._edit_message)
        self.chat_view.copiedToClipboard.connect(
            lambda what: self.statusBar().showMessage(what, 3000)
        )
        self.find_bar.findRequested.connect(
            lambda text, older: self.chat_view.find_text(text, backward=older)
        )
        self.chat_view.searchFinished.connect(self.find_bar.show_result)
        self.sidebar.conversationSelected.connect(controller.open_conversation)
        self.sidebar.newConversationRequested.connect(controller.new_conversation)
        self.sidebar.deleteRequested.connect(controller.delete_conversation)
        self.sidebar.renameRequested.connect(controller.rename_conversation)
        self.sidebar.exportRequested.connect(self.export_conversation)
        self.prompt.submitted.connect(self.send_prompt)
        self.prompt.stopRequested.connect(controller.stop)
        self.send_button.clicked.connect(self._on_send_clicked)
        self.regenerate_button.clicked.connect(controller.regenerate)
        self.settings_button.clicked.connect(self.edit_conversation_settings)
        self._on_reply_running(False)

    # -- models --------------------------------------------------------------------------

    def refresh_models(
        self, models: list[LocalModel] | None = None, *, info: GGUFInfo | None = None
    ) -> None:
        """Fill the picker from the library.

        Args:
            models: a scan just made elsewhere (else the library is scanned now).
            info: the header of one of them, already read.
        """
        if models is None:
            models = scan_library()
        keep = self.model_bar.selected_path() or self._last_model_path()
        chosen = _default_model(models, keep=keep)
        self.model_bar.set_models(models, current=chosen.path if chosen else None)
        self.first_screen.set_has_models(bool(models))
        self._forecast_picker()
        self._use_picked_model()
        selected = self.model_bar.selected_path()
        self.settings_pane.set_model(
            selected, info=info if info and info.path == selected else None
        )
        # With no local model the empty state says so, and a remote model needs none: the
        # library scan, finishing late on a busy PC, must not cover a remote reply's error.
        usable = self.first_screen.showing_empty_state or self.model_bar.selected_remote()
        if not models and not usable:
            self.error_banner.show_message(
                self.tr(
                    "No model found in %1. Open “Models…” to download one, or import a .gguf "
                    "file you already have."
                ).replace("%1", str(paths.models_dir()))
            )

    @property
    def models_window(self) -> ModelsWindow:
        """The Models window, built when first needed (it loads the hub client)."""
        if self._models_window is None:
            from autoglm_desktop.qt.models.window import ModelsWindow

            self._models_window = ModelsWindow()
            self._models_window.useModelRequested.connect(self.use_model)
            self._models_window.libraryChanged.connect(self.refresh_models)
        return self._models_window

    def _continue_downloads(self) -> None:
        """Interrupted downloads go on (hidden) once the window shows, as when the app quit."""
        if not self._closed and has_unfinished_downloads():
            _ = self.models_window

    def open_models(self, page: str = "discover") -> None:
        from autoglm_desktop.qt.models.window import open_models_window

        open_models_window(self.models_window, page)

    def use_model(self, path: Path) -> None:
        """Load a model picked in the Models window, and bring the chat forward."""
        if not self.model_bar.select_path(path):
            self.refresh_models()
            self.model_bar.select_path(path)
        self.raise_()
        self.activateWindow()
        self.load_model(path)

    def _last_model_path(self) -> Path | None:
        return Path(self.settings.last_model_path) if self.settings.last_model_path else None

    def _forecast_picker(self) -> None:
        """Each local model's "~N tok/s" in the picker, off the GUI thread (headers are read)."""
        models, known, build = self.model_bar.local_models, self.hardware, self.llama_build
        if self._forecast_call.busy or not models:
            return

        def forecast() -> dict[Path, float]:
            speeds: dict[Path, float] = {}
            hardware = known or read_hardware()
            kept = kept_machine_speed(hardware=hardware)
            if kept is None:
                return speeds  # not measured yet: Settings → Speed of this PC
            for model in models:
                try:
                    info = read_gguf_info(model.path)
                    tuned = tuned_plan(model.path, hardware=hardware, build=build, info=info)
                except (AutoGLMError, OSError, ValueError):
                    continue  # the picker shows it without a forecast
                speed = plan_forecast(info=info, plan=tuned.plan, speed=kept)
                if speed is not None:
                    speeds[model.path] = speed.decode_tokens_per_s
            return speeds

        self._forecast_call.run(
            forecast, on_success=self.model_bar.set_speeds, on_failure=lambda _error: None
        )

    def _find_models_at_start(self, *, autoload: bool) -> None:
        """Scan the library and plan the default model off the GUI thread, then use them.

        The picker fills and (``autoload``) the model loads once the answer comes: the window
        shows at once, even on a slow disk or with a large Hugging Face cache.
        """
        keep, hardware, build = self._last_model_path(), self.hardware, self.llama_build

        def scan_and_plan() -> _StartupModels:
            models = scan_library()
            chosen = _default_model(models, keep=keep)
            if chosen is None:
                return _StartupModels(models)
            try:
                info = read_gguf_info(chosen.path)
                if not autoload:
                    return _StartupModels(models, info)
                tuned = tuned_plan(chosen.path, hardware=hardware, build=build, info=info)
                return _StartupModels(models, info, tuned)
            except AutoGLMError as error:
                return _StartupModels(models, planned=error)

        def found(result: _StartupModels) -> None:
            self.refresh_models(result.models, info=result.info)
            planned = result.planned
            if isinstance(planned, AutoGLMError):
                self.error_banner.show_message(str(planned))
            elif planned is not None and planned.plan.model_path == self.model_bar.selected_path():
                self._autoload(planned)

        self._startup_call.run(
            scan_and_plan,
            on_success=found,
            on_failure=lambda error: self.error_banner.show_message(str(error)),
        )

    def _autoload(self, tuned: TunedPlan) -> None:
        path = tuned.plan.model_path
        if tuned.fits:
            self._load_tuned(tuned)
        else:
            self.error_banner.show_message(
                self.tr(
                    "%1 was not loaded: %2 Open “Model settings” to choose a smaller plan, or "
                    "press Load to load it anyway."
                )
                .replace("%1", path.name)
                .replace("%2", tuned.explanation)
            )

    def load_model(self, path: Path, *, confirm: bool = True) -> None:
        """Load ``path`` with the tuned plan (automatic values, except those fixed by hand)."""
        try:
            tuned = self.plan_for_model(path)
        except AutoGLMError as exc:
            self.error_banner.show_message(str(exc))
            return
        if confirm and not tuned.fits and not confirm_load_anyway(self, tuned):
            return
        self._load_tuned(tuned)

    def plan_for_model(self, path: Path) -> TunedPlan:
        if path == self.settings_pane.model_path and self.hardware is not None:
            tuned = self.settings_pane.plan_now()
            if tuned is not None:
                return tuned
        return tuned_plan(path, hardware=self.hardware, build=self.llama_build)

    def _load_tuned(self, tuned: TunedPlan) -> None:
        plan = tuned.plan
        self.error_banner.hide()
        self.model_bar.set_loading(True)
        self._loading_name = plan.model_path.stem
        self.model_label.setText(self.tr("Loading %1…").replace("%1", plan.model_path.stem))
        self.model_label.setToolTip(plain_tooltip(tuned.explanation))
        self.first_screen.load_started(plan)
        self.requestLoad.emit(plan)

    def _on_model_selected(self, _index: int) -> None:
        self.settings_pane.set_model(self.model_bar.selected_path())
        self._use_picked_model()

    def _on_remote_servers_changed(self, servers: list[RemoteServer]) -> None:
        self.model_bar.set_remote_servers(servers)
        if self.model_bar.selected_remote() != self.controller.remote:
            self._on_model_selected(self.model_bar.combo.currentIndex())

    def _use_picked_model(self) -> None:
        """Replies come from the remote model picked, or from the local engine."""
        remote = self.model_bar.selected_remote()
        if remote != self.controller.remote:
            self.controller.remote = remote
            self._show_model_in_use()
            if not self.model_bar.remote_is_automatic:
                self._remember_remote_model(remote)

    def _pick_last_remote_model(self) -> None:
        """At start: the remote model used last, if it is still listed (no local model loads)."""
        server_id, model = self.settings.last_remote_server, self.settings.last_remote_model
        for server in self.settings_pane.remote_servers.servers:
            if server.id == server_id and model in server.models:
                self.model_bar.select_remote(RemoteTarget(server=server, model=model))
                return

    def _remember_remote_model(self, remote: RemoteTarget | None) -> None:
        server_id = remote.server.id if remote is not None else ""
        model = remote.model if remote is not None else ""
        settings = self.settings
        if (server_id, model) == (settings.last_remote_server, settings.last_remote_model):
            return
        self.settings = self.settings.updated(last_remote_server=server_id, last_remote_model=model)
        try:
            save_settings(self.settings)
        except AutoGLMError as error:
            self.error_banner.show_message(str(error))

    def _show_local_model(self, text: str) -> None:
        """Name the local model's state in the status bar, unless a remote model is in use."""
        if self.controller.remote is None:
            self.model_label.setText(text)

    def _show_model_in_use(self) -> None:
        """The status bar names the model replies come from: a remote one, or the loaded one."""
        remote: RemoteTarget | None = self.controller.remote
        self.first_screen.set_remote(remote.label if remote is not None else "")
        self.speed_label.clear()
        self.context_label.clear()
        if remote is not None:
            self.model_label.setText(self.tr("%1 (remote)").replace("%1", remote.label))
            self.model_label.setToolTip(remote.server.base_url)
        elif self.model_info is not None:
            self.model_label.setText(self.model_info.name)
            self.model_label.setToolTip("")
        else:
            self.model_label.setText(self.tr("No model loaded"))
            self.model_label.setToolTip("")

    def _on_build_probed(self, build: LlamaBuild) -> None:
        self.llama_build = build
        self.settings_pane.set_llama_build(build)

    def _on_snapshot(self, snapshot: HardwareSnapshot) -> None:
        self.hardware = snapshot
        self.settings_pane.show_snapshot(snapshot, refresh=self.settings_dock.isVisible())

    # -- idle release --------------------------------------------------------------------

    def _on_idle_setting(self, minutes: int) -> None:
        self.settings = self.settings.updated(release_when_idle_minutes=minutes)
        self._save_settings()
        self._restart_idle_timer()

    def _save_settings(self) -> None:
        """Keep the settings; a read-only or full disk is said, and the app goes on."""
        try:
            save_settings(self.settings)
        except SettingsFileError as error:
            self.error_banner.show_message(str(error))

    def _restart_idle_timer(self, _running: bool = False) -> None:
        minutes = self.settings.release_when_idle_minutes
        serving = self.local_server.state is not ServerState.OFF  # other programs need it
        idle = self.model_info is not None and not self.controller.reply_running and not serving
        if minutes > 0 and idle:
            self._idle_timer.start(minutes * 60_000)
        else:
            self._idle_timer.stop()

    def _release_when_idle(self) -> None:
        serving = self.local_server.state is not ServerState.OFF
        if self.model_info is not None and not self.controller.reply_running and not serving:
            self.requestRelease.emit()

    # -- the local server ----------------------------------------------------------------

    def show_server_page(self) -> None:
        """Open the Local server page beside the chat, which makes room for it."""
        first = not self._server_dock_shown
        self._server_dock_shown = True
        window_width = self.width()
        self.server_dock.show()
        self.server_dock.raise_()
        if first:  # as wide as the log needs, as far as the window has room
            central = self.centralWidget()
            room = window_width - (central.minimumSizeHint().width() if central else 0)
            width = max(SERVER_DOCK_MIN_WIDTH, min(SERVER_DOCK_WIDTH, room))
            self.resizeDocks([self.server_dock], [width], Qt.Orientation.Horizontal)
        if not (self.isMaximized() or self.isFullScreen()):
            # Once the dock is laid out: the chat narrows, the window keeps its width.
            QTimer.singleShot(0, self, lambda: self.resize(window_width, self.height()))

    def _toggle_server_page(self, checked: bool) -> None:
        if checked:
            self.show_server_page()
        else:
            self.server_dock.hide()

    def _on_server_dock_visibility(self, visible: bool) -> None:
        blocked = self.server_button.blockSignals(True)
        self.server_button.setChecked(visible)
        self.server_button.blockSignals(blocked)

    def _on_server_state(self, state: ServerState) -> None:
        """The engine is shared while the server is on; the status bar says where it is."""
        if state is ServerState.ON:
            self.requestServing.emit(True)
        elif state is ServerState.OFF:
            self.requestServing.emit(False)
        self._show_server_button()
        self._restart_idle_timer()
        if state in (ServerState.ON, ServerState.OFF) and not self._closed:
            on = state is ServerState.ON
            if self.settings.local_server_on != on:
                self.settings = self.settings.updated(local_server_on=on)
                self._save_settings()

    def _show_server_button(self) -> None:
        """The status bar's server button: off, or where the model is served."""
        port = self.local_server.port
        serving = self.local_server.state is ServerState.ON and port is not None
        palette = self.palette()
        self.server_button.setIcon(
            icon("server", SERVING_COLORS[is_dark(palette)])
            if serving
            else palette_icon("server", palette)
        )
        if serving:
            self.server_button.setText(self.tr("Serving on port %1").replace("%1", str(port)))
            self.server_button.setToolTip(
                self.tr("Other programs can use the model at %1").replace(
                    "%1", self.local_server.base_url
                )
            )
        else:
            self.server_button.setText(self.tr("Local server"))
            self.server_button.setToolTip(
                self.tr("Serve the loaded model to other programs through the OpenAI API")
            )

    def _on_server_settings(self, port: int, network: bool) -> None:
        self.settings = self.settings.updated(local_server_port=port, local_server_network=network)
        self._save_settings()

    def _restore_server(self) -> None:
        """The server was on when the app closed: serve again (the model follows when loaded)."""
        if self.settings.local_server_on and not self._closed:
            self.server_page.turn_on()

    def _on_released(self) -> None:
        name = self.model_info.name if self.model_info else ""
        self.model_info = None
        self.monitor.worker.engine_pid = None
        self._show_local_model(self.tr("%1 (unloaded while idle)").replace("%1", name))
        self.statusBar().showMessage(
            self.tr("The model was unloaded to free memory; it reloads with your next message."),
            10000,
        )

    def _on_engine_died(self, error: AutoGLMError) -> None:
        """The engine died between requests: say so once; the next message reloads the model."""
        name = self.model_info.name if self.model_info else ""
        self.model_info = None
        self.monitor.worker.engine_pid = None
        self._restart_idle_timer()
        self._show_local_model(
            self.tr("%1 (engine stopped; reloads with your next message)").replace("%1", name)
        )
        self.error_banner.show_message(str(error))

    def _on_load_started(self) -> None:
        self.model_bar.set_loading(True)

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_info = info
        self.monitor.worker.engine_pid = self.worker.engine_pid
        self._restart_idle_timer()
        self.model_bar.set_loaded(info.path)
        self.server_page.set_model(info.path.stem)
        self.controller.model_name = info.name
        self.think_switch.set_support(info.reasoning)
        self._show_think_setting(self.controller.conversation_id or -1)
        if self.controller.remote is None:
            self.model_label.setText(info.name)
            self.context_label.setText(self.tr("context %1").replace("%1", f"0 / {info.n_ctx}"))
        if self.settings.last_model_path != str(info.path):
            self.settings = self.settings.updated(last_model_path=str(info.path))
            self._save_settings()

    def _on_unloaded(self) -> None:
        self.model_info = None
        self.model_bar.set_loaded(None)
        self.server_page.set_model(None)
        self._show_local_model(self.tr("No model loaded"))

    def _on_load_failed(self, error: AutoGLMError) -> None:
        # The engine lets the previous model go before it loads another: none is loaded now.
        self._on_unloaded()
        self._restart_idle_timer()
        if isinstance(error, EngineHungError):
            self._show_hung_model(self._loading_name)
        self.error_banner.show_message(str(error))

    def _on_reply_failed(self, error: AutoGLMError) -> None:
        """The controller reports the error; a model whose load hung is named as such."""
        if isinstance(error, ModelLoadHungError):
            self._show_hung_model(error.model_name)

    def _show_hung_model(self, name: str) -> None:
        """A model whose load hung is not loaded again by itself: the status bar says so."""
        self._show_local_model(
            self.tr("%1 (hung while loading; Load to try again)").replace("%1", name)
        )

    def _on_worker_busy(self, busy: bool) -> None:
        """An idle engine loads nothing (a reply's reload of the model may have failed)."""
        if not busy:
            self.model_bar.set_loaded(self.model_info.path if self.model_info else None)

    # -- chatting ------------------------------------------------------------------------

    def send_prompt(self, text: str) -> None:
        if self.controller.reply_running:
            return
        if self.controller.send(text):
            self.prompt.clear()
            self.error_banner.hide()

    def _on_send_clicked(self) -> None:
        if self.controller.reply_running:
            self.controller.stop()
        else:
            self.send_prompt(self.prompt.prompt_text())

    def _on_reply_running(self, running: bool) -> None:
        self.composer.set_running(running)
        self.first_screen.refresh()

    def _show_speed_test(self) -> None:
        """Open the Settings pane where this PC's speed is measured."""
        self.settings_dock.show()
        scroll = self.settings_dock.widget()
        if isinstance(scroll, QScrollArea):
            scroll.ensureWidgetVisible(self.settings_pane.speed_test)

    def _use_suggestion(self, text: str) -> None:
        """A suggested prompt goes into the message box, ready to send or to finish."""
        self.prompt.setPlainText(text)
        self.prompt.moveCursor(QTextCursor.MoveOperation.End)
        self.prompt.setFocus()

    def _show_stats(self, stats: GenerationStats) -> None:
        self.speed_label.setText(
            self.tr("first token %1 s · %2 tokens/s")
            .replace("%1", f"{stats.ttft_s:.2f}")
            .replace("%2", f"{stats.tokens_per_s:.1f}")
        )
        if stats.context_size == 0:  # a remote server's context is not known
            self.context_label.clear()
            return
        self.context_label.setText(
            self.tr("context %1").replace("%1", f"{stats.context_used} / {stats.context_size}")
        )

    def _edit_message(self, message_id: int) -> None:
        message = next((m for m in self.controller.messages() if m.id == message_id), None)
        if message is None or self.controller.reply_running:
            return
        dialog = EditMessageDialog(message.content, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.controller.edit_and_resend(message_id, dialog.text())

    def edit_conversation_settings(self) -> None:
        conversation_id = self.controller.conversation_id
        if conversation_id is None:
            conversation_id = self.controller.new_conversation()
            if conversation_id is None:
                return  # the history could not be written; the controller said so
        try:
            conversation = self.store.get_conversation(conversation_id)
        except StoreError as error:
            self.error_banner.show_message(str(error))
            return
        dialog = ConversationSettingsDialog(
            system_prompt=conversation.system_prompt, sampling=conversation.sampling, parent=self
        )
        if dialog.exec() == QDialog.DialogCode.Accepted:
            try:
                self.store.update_conversation_settings(
                    conversation_id,
                    system_prompt=dialog.system_prompt.toPlainText(),
                    sampling=dialog.sampling(),
                )
            except StoreError as error:
                self.error_banner.show_message(str(error))

    def _show_think_setting(self, conversation_id: int) -> None:
        """The Think switch shows the open conversation's setting (a new one: the model's)."""
        setting = Thinking.DEFAULT
        # A conversation gone meanwhile: show the model's default.
        with contextlib.suppress(StoreError):
            if conversation_id >= 0:
                setting = self.store.get_conversation(conversation_id).thinking
        self.think_switch.show_setting(setting)

    def _on_think_changed(self, setting: Thinking) -> None:
        conversation_id = self.controller.conversation_id
        if conversation_id is None:
            conversation_id = self.controller.new_conversation()
            if conversation_id is None:
                return  # the history could not be written; the controller said so
        try:
            self.store.update_conversation_settings(conversation_id, thinking=setting)
        except StoreError as exc:
            self.error_banner.show_message(str(exc))
        self._show_think_setting(conversation_id)

    def export_conversation(self, conversation_id: int) -> None:
        if conversation_id < 0:
            return
        try:
            title = self.store.get_conversation(conversation_id).title
        except StoreError as error:
            self.error_banner.show_message(str(error))
            return
        path, _filter = QFileDialog.getSaveFileName(
            self,
            self.tr("Export chat"),
            str(Path.home() / f"{title}.md"),
            self.tr("Markdown (*.md);;JSON (*.json)"),
        )
        if not path:
            return
        try:
            write_export(self.store, conversation_id, path=Path(path))
        except AutoGLMError as exc:
            self.error_banner.show_message(str(exc))
        else:
            self.statusBar().showMessage(self.tr("Exported to %1").replace("%1", path), 5000)

    def _open_latest_conversation(self) -> None:
        try:
            conversations = self.store.list_conversations()
        except StoreError as error:
            self.error_banner.show_message(str(error))
            return
        if conversations:
            self.controller.open_conversation(conversations[0].id)

    # -- a history that does not open ----------------------------------------------------

    def _open_history(self) -> ChatStore:
        """The user's history; one kept in memory when it does not open (the dialog says why)."""
        try:
            return ChatStore(
                paths.history_db_path(),
                busy_timeout_s=GUI_BUSY_TIMEOUT_S,
                flush_in_background=True,
            )
        except StoreError as error:
            self._history_problem = error
            return ChatStore.unsaved()

    def _ask_about_history(self, error: StoreError) -> None:
        """Say why the history did not open and offer what can be done; the window works."""
        self._show_history_mode()
        dialog = HistoryProblemDialog(
            error, file_exists=paths.history_db_path().exists(), parent=self
        )
        dialog.finished.connect(lambda _result: self._on_history_choice(dialog))
        dialog.open()

    def _on_history_choice(self, dialog: HistoryProblemDialog) -> None:
        dialog.deleteLater()
        choice, path = dialog.choice, paths.history_db_path()
        if choice is HistoryChoice.QUIT:
            self.close()
        elif choice is HistoryChoice.UNSAVED:
            self.error_banner.show_message(
                self.tr(
                    "Chats in this window are not saved: your chat history could not be opened."
                )
            )
        elif choice is HistoryChoice.RECOVER:
            self.statusBar().showMessage(self.tr("Recovering your chat history…"))
            self._history_call.run(
                lambda: recover_history(path=path),
                on_success=self._on_history_recovered,
                on_failure=self._on_history_failure,
            )
        else:
            try:
                kept = (
                    set_aside(path=path, mark=_set_aside_mark(dialog.error))
                    if choice is HistoryChoice.FRESH
                    else None
                )
                store = self._reopen_history(read_only=choice is HistoryChoice.READ_ONLY)
            except StoreError as error:
                self._ask_about_history(error)
                return
            self._use_store(store)
            if kept is not None:
                self.error_banner.show_message(
                    self.tr(
                        "A fresh chat history was started. The old file is kept as %1."
                    ).replace("%1", str(kept))
                )

    def _on_history_recovered(self, report: RecoveryReport) -> None:
        self.statusBar().clearMessage()
        try:
            store = self._reopen_history(read_only=False)
        except StoreError as error:
            self._ask_about_history(error)
            return
        self._use_store(store)
        self.error_banner.show_message(
            self.tr(
                "Recovered %1 conversation(s) and %2 message(s). The damaged file is kept as %3."
            )
            .replace("%1", str(report.conversations))
            .replace("%2", str(report.messages))
            .replace("%3", str(report.kept_as))
        )

    def _on_history_failure(self, error: AutoGLMError) -> None:
        self.statusBar().clearMessage()
        self._ask_about_history(error if isinstance(error, StoreError) else StoreError(str(error)))

    def _reopen_history(self, *, read_only: bool) -> ChatStore:
        return ChatStore(
            paths.history_db_path(),
            read_only=read_only,
            busy_timeout_s=GUI_BUSY_TIMEOUT_S,
            flush_in_background=True,
        )

    def _use_store(self, store: ChatStore) -> None:
        """Show and use ``store`` from now on, in place of the one in use."""
        old, self.store = self.store, store
        self.controller.set_store(store)
        self.sidebar.set_store(store)
        with contextlib.suppress(StoreError):
            old.close()
        self.error_banner.hide()
        self._show_history_mode()
        self._open_latest_conversation()
        if store.read_only:
            self.error_banner.show_message(
                self.tr(
                    "Your chat history is open read-only: you can read your conversations, "
                    "but nothing new is saved."
                )
            )

    def _show_history_mode(self) -> None:
        """The window title says when chats are not saved."""
        if self.store.in_memory:
            self.setWindowTitle(self.tr("%1 (chats are not saved)").replace("%1", APP_NAME))
        elif self.store.read_only:
            self.setWindowTitle(self.tr("%1 (read-only history)").replace("%1", APP_NAME))
        else:
            self.setWindowTitle(APP_NAME)

    # -- shutdown ------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._autoload_at_start is not None:
            # Models are found, the default one loads and downloads continue only once the
            # window has painted: no thread or process competes with the first paint.
            autoload, self._autoload_at_start = self._autoload_at_start, None
            # What start-up built (modules, Qt wrappers, this window) lives as long as the app:
            # the cyclic garbage collector need not walk it again, which keeps its full passes
            # (tens of ms on a big heap, on the GUI thread) short.
            gc.freeze()
            QTimer.singleShot(0, lambda: self._find_models_at_start(autoload=autoload))
            QTimer.singleShot(0, self._continue_downloads)
            QTimer.singleShot(0, self._restore_server)
            # The first reply or opened conversation would otherwise pay for it.
            self._warm_up_call.run(warm_up_markdown, on_success=_ignore, on_failure=_ignore)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.controller.shutdown()
            self._idle_timer.stop()
            self.monitor.close()
            self.settings_pane.close_workers()
            self.server_page.close_calls()
            self.local_server.close()  # before the engine: the server's requests end first
            if self._models_window is not None:
                self._models_window.shutdown()
            self.engine.close()
            self.store.close()
        super().closeEvent(event)


def _ignore(_result: object) -> None:
    """For background calls whose outcome does not matter (a warm-up)."""


def _set_aside_mark(error: StoreError) -> str:
    """How the old file's new name says why it was set aside."""
    return DAMAGED_MARK if isinstance(error, HistoryDamagedError) else SET_ASIDE_MARK


def _engine_log_path() -> Path | None:
    """Where the engine logs; nowhere when the data folder is read-only or full."""
    try:
        return paths.engine_log_path()
    except OSError:
        return None


def _default_model(models: list[LocalModel], *, keep: Path | None) -> LocalModel | None:
    """The picker's choice: ``keep`` when present, else our own models before other apps'."""
    own_first = sorted(models, key=lambda m: m.source not in _OWN_SOURCES)
    return choose_default_model(own_first, last_used=keep)


@dataclass(frozen=True)
class _StartupModels:
    """What the start-up scan found: the models, the default one's header and plan."""

    models: list[LocalModel]
    info: GGUFInfo | None = None
    planned: TunedPlan | AutoGLMError | None = None
