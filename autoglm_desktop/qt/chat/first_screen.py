"""The transcript area: the empty state while the open conversation has no message, else the chat.

It follows the engine worker (a load starts, progresses, ends or fails; a model unloads) and
the chat controller (a conversation opens, a message is sent, a reply's speed is measured)
to show the right page and to keep the empty state's model facts current. The speed shown is
the last reply's measured tokens/s with the loaded model, else the forecast for its load plan
from this PC's measured speed (worked out off the GUI thread: it reads the model's header).
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QStackedWidget, QWidget

from autoglm_desktop.core.chat.store import ChatStore
from autoglm_desktop.core.common.errors import AutoGLMError, StoreError
from autoglm_desktop.core.common.types import GenerationStats, LoadPlan, ModelInfo
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.starter_model import STARTER_MODEL_FILENAME
from autoglm_desktop.core.planning.speed_forecast import SpeedForecast
from autoglm_desktop.core.planning.speed_profile import kept_machine_speed, plan_forecast
from autoglm_desktop.qt.chat.controller import ChatController
from autoglm_desktop.qt.chat.empty_state import EmptyState, ModelState, ShownModel
from autoglm_desktop.qt.chat.view import ChatView
from autoglm_desktop.qt.workers.background import CallRunner
from autoglm_desktop.qt.workers.engine_worker import EngineWorker


def is_starter_model(path: Path) -> bool:
    return path.name == STARTER_MODEL_FILENAME


class FirstScreen(QObject):
    """Owns ``stack``: the empty state (page 0) and the chat view (page 1).

    Signals:
        promptChosen(str): a suggested prompt was clicked.
        modelsRequested(str): the user asks for the Models window on this page.
        speedTestRequested(): the user asks to measure this PC's speed.
        emptyChanged(bool): which page shows, after each refresh (True: the empty state).
    """

    promptChosen = Signal(str)
    modelsRequested = Signal(str)
    speedTestRequested = Signal()
    emptyChanged = Signal(bool)  # True: the empty state is shown (after each refresh)

    def __init__(
        self,
        *,
        view: ChatView,
        controller: ChatController,
        worker: EngineWorker,
        store: ChatStore,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.view = view
        self.empty_state = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(view)
        self._controller = controller
        self._store = store
        self._plan: LoadPlan | None = None  # of the model loading or loaded
        self._measured_path: Path | None = None  # the model the measured speed is for
        self._forecast_call = CallRunner(self, name="speed forecast")
        self.empty_state.promptChosen.connect(self.promptChosen)
        self.empty_state.modelsRequested.connect(self.modelsRequested)
        self.empty_state.speedTestRequested.connect(self.speedTestRequested)
        worker.loadProgress.connect(self.empty_state.set_load_progress)
        worker.modelLoaded.connect(self._on_model_loaded)
        worker.unloaded.connect(self._on_no_model)
        worker.loadFailed.connect(self._on_no_model)
        controller.statsUpdated.connect(self._on_stats)
        controller.conversationOpened.connect(self.refresh)
        controller.conversationsChanged.connect(self.refresh)
        self.refresh()

    @property
    def showing_empty_state(self) -> bool:
        return self.stack.currentWidget() is self.empty_state

    # -- which page ----------------------------------------------------------------------

    def refresh(self, _conversation_id: int = -1) -> None:
        """Show the empty state when the open conversation (if any) has no message."""
        empty = self._conversation_is_empty()
        self.stack.setCurrentWidget(self.empty_state if empty else self.view)
        self.emptyChanged.emit(empty)

    def _conversation_is_empty(self) -> bool:
        if self._controller.reply_running:
            return False
        conversation_id = self._controller.conversation_id
        if conversation_id is None:
            return True
        # A conversation gone meanwhile: nothing to show either way; keep the transcript.
        with contextlib.suppress(StoreError):
            return self._store.get_conversation(conversation_id).message_count == 0
        return False

    # -- what it says about the model ----------------------------------------------------

    def set_has_models(self, has_models: bool) -> None:
        """The library was scanned: say there is no model yet, unless one is loading."""
        shown = self.empty_state.shown
        state = ModelState.NONE if shown.state is ModelState.STARTING else shown.state
        self._show(dataclasses.replace(shown, state=state, has_models=has_models))

    def set_remote(self, label: str) -> None:
        """Replies come from this remote model ("": from the local one again)."""
        self._show(dataclasses.replace(self.empty_state.shown, remote=label))

    def load_started(self, plan: LoadPlan) -> None:
        """A model starts loading with ``plan``."""
        self._plan = plan
        path = plan.model_path
        measured = self.empty_state.shown.measured and path == self._measured_path
        self._show(
            dataclasses.replace(
                self.empty_state.shown,
                state=ModelState.LOADING,
                name=path.stem,
                n_ctx=plan.n_ctx or 0,
                starter=is_starter_model(path),
                has_models=True,
                tokens_per_s=self.empty_state.shown.tokens_per_s if measured else 0.0,
                measured=measured,
            )
        )

    def _on_model_loaded(self, info: ModelInfo) -> None:
        shown = self.empty_state.shown
        measured = shown.measured and info.path == self._measured_path
        self._show(
            dataclasses.replace(
                shown,
                state=ModelState.READY,
                name=info.name,
                n_ctx=info.n_ctx,
                starter=is_starter_model(info.path),
                has_models=True,
                tokens_per_s=shown.tokens_per_s if measured else 0.0,
                measured=measured,
            )
        )
        if not measured:
            self._forecast(info.path)

    def speed_measured(self) -> None:
        """This PC's speed was measured (again): forecast the loaded model's speed anew."""
        shown = self.empty_state.shown
        if shown.state is ModelState.READY and not shown.measured and self._plan is not None:
            self._forecast(self._plan.model_path)

    def _on_no_model(self, _error: AutoGLMError | None = None) -> None:
        self._plan = None
        self._show(
            dataclasses.replace(
                self.empty_state.shown, state=ModelState.NONE, tokens_per_s=0.0, measured=False
            )
        )

    def _on_stats(self, stats: GenerationStats) -> None:
        if stats.tokens_per_s <= 0 or self._plan is None or self.empty_state.shown.remote:
            return
        self._measured_path = self._plan.model_path
        self._show(
            dataclasses.replace(
                self.empty_state.shown, tokens_per_s=stats.tokens_per_s, measured=True
            )
        )

    def _forecast(self, path: Path) -> None:
        plan = self._plan
        if plan is None or plan.model_path != path:
            return

        def forecast() -> SpeedForecast | None:
            speed = kept_machine_speed(hardware=read_hardware())
            if speed is None:
                return None
            return plan_forecast(info=read_gguf_info(path), plan=plan, speed=speed)

        def show(result: SpeedForecast | None) -> None:
            shown = self.empty_state.shown
            current = self._plan is not None and self._plan.model_path == path
            if result is not None and current and not shown.measured:
                self._show(dataclasses.replace(shown, tokens_per_s=result.decode_tokens_per_s))

        # No forecast (a header that cannot be read): the empty state just leaves it out.
        self._forecast_call.run(forecast, on_success=show, on_failure=lambda _error: None)

    def _show(self, shown: ShownModel) -> None:
        self.empty_state.show_model(shown)
