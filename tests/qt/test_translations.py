"""User-visible strings go through Qt's translation system: a Chinese .qm changes the UI."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

import autoglm_desktop.qt
from autoglm_desktop.qt.app import install_translations
from autoglm_desktop.qt.main_window import MainWindow

QT_SOURCES = Path(autoglm_desktop.qt.__file__).parent
TRANSLATIONS = QT_SOURCES.parents[1] / "resources" / "translations"
UPDATE_HINT = "update it as README.md → Development → Translations says"
# lupdate does not see tr() inside an f-string; move the call out of it, then drop the entry.
NOT_EXTRACTED: set[str] = set()
PLACEHOLDER = re.compile(r"%(?:\d|n)")


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
        window.controller.new_conversation()  # stored with the core's English default title
        titles = window.sidebar.model
        qtbot.waitUntil(lambda: titles.rowCount() == 1)
        assert titles.index(0, 0).data() == "新对话"
        window.close()
    finally:
        for translator in translators:
            app.removeTranslator(translator)


def _messages(ts_file: Path) -> list[tuple[str, ET.Element]]:
    root = ET.parse(ts_file).getroot()
    return [
        (context.findtext("name", ""), message)
        for context in root.iter("context")
        for message in context.iter("message")
    ]


def _translations(message: ET.Element) -> list[str]:
    translation = message.find("translation")
    assert translation is not None
    forms = translation.findall("numerusform")
    return [form.text or "" for form in forms] if forms else [translation.text or ""]


def _tr_sources() -> set[str]:
    """The literal texts the Qt code passes to tr() and QCoreApplication.translate()."""
    sources = set()
    for module in QT_SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            index = {"tr": 0, "translate": 1}.get(node.func.attr)
            if index is None or len(node.args) <= index:
                continue
            text = node.args[index]
            if isinstance(text, ast.Constant) and isinstance(text.value, str):
                sources.add(text.value)
    return sources


def test_every_ts_file_is_fully_translated() -> None:
    ts_files = sorted(TRANSLATIONS.glob("*.ts"))
    assert ts_files
    for ts_file in ts_files:
        unfinished = [
            f"{context}: {message.findtext('source')!r}"
            for context, message in _messages(ts_file)
            if message.find("translation").get("type") in {"unfinished", "vanished", "obsolete"}
        ]
        assert not unfinished, f"{ts_file.name} has untranslated or stale messages; " + (
            UPDATE_HINT + ":\n" + "\n".join(unfinished)
        )


def test_every_string_in_the_code_is_in_the_ts_files() -> None:
    for ts_file in sorted(TRANSLATIONS.glob("*.ts")):
        known = {message.findtext("source") for _, message in _messages(ts_file)}
        missing = _tr_sources() - known - NOT_EXTRACTED
        assert not missing, f"{ts_file.name} lacks new strings; {UPDATE_HINT}: {sorted(missing)}"


def test_translations_keep_the_placeholders() -> None:
    for ts_file in sorted(TRANSLATIONS.glob("*.ts")):
        for context, message in _messages(ts_file):
            source = message.findtext("source", "")
            for text in _translations(message):
                assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (
                    f"{ts_file.name}, {context}: {source!r} → {text!r}"
                )
