"""User-visible strings go through Qt's translation system: a Chinese .qm changes the UI."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from autoglm_desktop.qt.app import install_translations
from autoglm_desktop.qt.main_window import MainWindow


def test_chinese_translation_applies_to_the_main_window(qtbot: QtBot, app_home: Path) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    translators = install_translations(app, QLocale("zh_CN"))
    try:
        assert translators, "resources/translations/autoglm-desktop_zh_CN.qm did not load"
        window = MainWindow(autoload=False)
        qtbot.addWidget(window)
        assert window.sidebar.new_button.text() == "新对话"
        assert window.send_button.text() == "发送"
        assert window.model_bar.action_button.text() in {"加载", "卸载"}
        window.close()
    finally:
        for translator in translators:
            app.removeTranslator(translator)
