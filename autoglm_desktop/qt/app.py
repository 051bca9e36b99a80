"""QApplication set-up: style, palette, translations, and the offscreen fallback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import (
    QLibraryInfo,
    QLocale,
    QMessageLogContext,
    QtMsgType,
    QTranslator,
    qInstallMessageHandler,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from autoglm_desktop import APP_ID, APP_NAME, __version__
from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.qt.main_window import MainWindow

# Qt messages that say nothing useful to a user (the offscreen platform cannot resize windows).
HARMLESS_QT_MESSAGES = ("This plugin does not support propagateSizeHints",)


def _qt_message_handler(mode: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    if mode in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg) or message.startswith(
        HARMLESS_QT_MESSAGES
    ):
        return
    sys.stderr.write(f"Qt: {message}\n")


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_application(argv: list[str] | None = None) -> QApplication:
    """The app's QApplication (created once). Without a display it runs offscreen."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    if not has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    qInstallMessageHandler(_qt_message_handler)
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    # Fusion draws the same everywhere and follows the system's light/dark colour scheme.
    app.setStyle("Fusion")
    icon = paths.resources_dir() / "icons" / "autoglm-desktop.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    language = os.environ.get("AUTOGLM_LANGUAGE")  # e.g. zh_CN; default: the system's
    install_translations(app, QLocale(language) if language else QLocale.system())
    return app


def install_translations(app: QApplication, locale: QLocale) -> list[QTranslator]:
    """Load Qt's own and the app's translations for ``locale``, when present."""
    installed = []
    qt_translator = QTranslator(app)
    if qt_translator.load(
        locale, "qtbase", "_", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    ):
        app.installTranslator(qt_translator)
        installed.append(qt_translator)
    app_translator = QTranslator(app)
    if app_translator.load(locale, APP_ID, "_", str(paths.resources_dir() / "translations")):
        app.installTranslator(app_translator)
        installed.append(app_translator)
    return installed


def run_gui(argv: list[str] | None = None, *, model: Path | None = None) -> int:
    """Open the main window; on ``model`` when given (a file opened with the app)."""
    app = create_application(argv)
    try:
        window = MainWindow(autoload=model is None)
    except AutoGLMError as error:  # the window copes with every known fault; this is the last line
        sys.stderr.write(f"{APP_ID}: error: {error}\n")
        QMessageBox.critical(None, APP_NAME, str(error))
        return 2
    window.show()
    if model is not None:
        window.load_model(model.resolve())
    return app.exec()
