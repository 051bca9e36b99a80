"""``autoglm-desktop self-test``: the real window, the real model, one reply, checked.

Installers run it as their smoke test. It uses a temporary chat history so the user's own
history is never touched, and the model from the app's models folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Slot
from PySide6.QtGui import QGuiApplication

from autoglm_desktop.core.chat.store import ChatStore
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import GenerationStats, MessageStatus, Role
from autoglm_desktop.core.models.library import choose_default_model, find_local_models
from autoglm_desktop.qt.app import create_application
from autoglm_desktop.qt.main_window import MainWindow

DEFAULT_PROMPT = "Say hello in one short sentence."


def run_self_test(
    *,
    prompt: str = DEFAULT_PROMPT,
    model: Path | None = None,
    timeout_s: float = 120.0,
    screenshot: Path | None = None,
) -> dict[str, Any]:
    """Open the main window, chat once, verify the saved history. Returns the result dict."""
    if model is None:
        chosen = choose_default_model(find_local_models(folders=paths.model_folders()))
        if chosen is None:
            return {"ok": False, "reason": f"no model found in {paths.models_dir()}"}
        model = chosen.path
    models_dir = paths.models_dir()
    with tempfile.TemporaryDirectory(prefix="autoglm-self-test-") as home:
        os.environ.setdefault("AUTOGLM_MODELS_DIR", str(models_dir))
        paths.set_base_dir(Path(home))
        try:
            return _chat_once(
                prompt=prompt, model=model, timeout_s=timeout_s, screenshot=screenshot
            )
        finally:
            paths.set_base_dir(None)


def _chat_once(
    *, prompt: str, model: Path, timeout_s: float, screenshot: Path | None
) -> dict[str, Any]:
    app = create_application()
    window = MainWindow(autoload=False)
    window.show()
    result: dict[str, Any] = {"ok": False, "reason": "timed out"}
    stats: list[GenerationStats] = []
    failures: list[str] = []

    driver = _Driver(window, prompt=prompt, failures=failures, stats=stats)
    window.worker.modelLoaded.connect(driver.on_loaded)
    window.worker.loadFailed.connect(driver.on_failed)
    window.worker.replyFailed.connect(driver.on_failed)
    window.controller.replyRunningChanged.connect(driver.on_running)
    window.controller.statsUpdated.connect(driver.on_stats)
    QTimer.singleShot(int(timeout_s * 1000), lambda: app.exit(2))
    window.load_model(model)
    app.exec()
    if screenshot is not None:
        QCoreApplication.sendPostedEvents()  # let the status bar lay out its last figures
        QCoreApplication.processEvents()
        window.grab().save(str(screenshot))
    conversation_id = window.controller.conversation_id
    db_path = paths.history_db_path()
    window.close()
    QGuiApplication.processEvents()
    if failures:
        result = {"ok": False, "reason": failures[-1]}
    elif stats and conversation_id is not None:
        result = _verify_saved(db_path, conversation_id, stats[-1])
    return result


class _Driver(QObject):
    """Plays the user. A QObject on the GUI thread, so worker signals arrive queued here."""

    def __init__(
        self, window: Any, *, prompt: str, failures: list[str], stats: list[GenerationStats]
    ) -> None:
        super().__init__(window)
        self._window, self._prompt, self._failures, self._stats = window, prompt, failures, stats

    @Slot(object)
    def on_loaded(self, _info: object) -> None:
        self._window.prompt.setPlainText(self._prompt)
        self._window.send_button.click()

    @Slot(bool)
    def on_running(self, running: bool) -> None:
        if not running:
            QCoreApplication.exit(0)

    @Slot(object)
    def on_failed(self, error: object) -> None:
        self._failures.append(str(error))
        if not self._window.controller.reply_running:
            QCoreApplication.exit(1)

    @Slot(object)
    def on_stats(self, stats: GenerationStats) -> None:
        self._stats.append(stats)


def _verify_saved(db_path: Path, conversation_id: int, stats: GenerationStats) -> dict[str, Any]:
    with ChatStore(db_path) as store:  # a fresh connection: proves it reached the disk
        messages = store.messages(conversation_id)
    if len(messages) != 2 or messages[0].role != Role.USER:
        return {"ok": False, "reason": f"expected 2 saved messages, found {len(messages)}"}
    reply = messages[1]
    if reply.status != MessageStatus.COMPLETE or not reply.content.strip():
        return {"ok": False, "reason": f"reply saved as {reply.status.value!r} and empty"}
    return {
        "ok": True,
        "tokens": stats.generated_tokens,
        "tokens_per_s": round(stats.tokens_per_s, 2),
        "ttft_s": round(stats.ttft_s, 3),
    }
