"""The Discover page with ModelScope as the source, against the local stand-in server, offscreen."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelscope_server import HubFile, ModelScopeRepo, ModelScopeServer
from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.hub.catalog import load_catalog
from autoglm_desktop.core.hub.downloads import DownloadState, RetryPolicy
from autoglm_desktop.core.hub.settings import (
    HubSettings,
    hub_settings_path,
    load_access_token,
    load_hub_settings,
    save_hub_settings,
)
from autoglm_desktop.core.hub.source import Source
from autoglm_desktop.qt.app import install_translations
from autoglm_desktop.qt.models.discover_page import DiscoverPage
from autoglm_desktop.qt.models.window import ModelsWindow

REPO = "Qwen/Tiny-GGUF"
FAST = RetryPolicy(stall_timeout_s=600, connect_timeout_s=60, first_wait_s=0.01, max_wait_s=0.05)
WAIT_MS = 20_000

pytestmark = pytest.mark.usefixtures("isolated_hub_state")


@pytest.fixture
def ms(
    model_file: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModelScopeServer]:
    data = model_file.read_bytes()
    with ModelScopeServer(redirect_files=True) as server:
        server.add_repo(
            ModelScopeRepo(
                REPO,
                [
                    HubFile("README.md", data=b"---\nlicense: apache-2.0\n---\n# Tiny\n\nHello.\n"),
                    HubFile("Tiny-Q8_0.gguf", source=model_file),
                    HubFile("Tiny-Q4_K_M.gguf", data=data[: len(data) // 2]),
                ],
                downloads=900,
                stars=12,
            )
        )
        server.add_repo(
            ModelScopeRepo("acme/Tiny-2-GGUF", [HubFile("t-Q4_K_M.gguf", data=data[:500])])
        )
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", server.url)
        yield server


def open_window(qtbot: QtBot) -> ModelsWindow:
    window = ModelsWindow(download_policy=FAST)
    qtbot.addWidget(window)
    window.show()
    return window


def results(page: DiscoverPage) -> list[str]:
    tree = page.results
    return [
        tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
        for i in range(tree.topLevelItemCount())
    ]


def test_search_open_and_download_from_modelscope(
    qtbot: QtBot, ms: ModelScopeServer, app_home: Path, model_file: Path
) -> None:
    save_hub_settings(HubSettings())  # an existing installation: it starts on Hugging Face
    window = open_window(qtbot)
    try:
        page = window.discover
        assert page.source_combo.currentText() == "Hugging Face"
        assert [page.source_combo.itemText(i) for i in range(2)] == ["Hugging Face", "ModelScope"]

        page.source_combo.setCurrentIndex(page.source_combo.findData(Source.MODELSCOPE.value))
        assert json.loads(hub_settings_path().read_text())["source"] == "modelscope"
        qtbot.keyClicks(page.search_edit, "tiny")
        qtbot.waitUntil(lambda: len(results(page)) == 2, timeout=WAIT_MS)

        assert results(page) == [REPO, "acme/Tiny-2-GGUF"]  # most downloaded first
        assert "modelscope:Qwen/Tiny-GGUF" in page.results.topLevelItem(0).toolTip(0)
        assert "on ModelScope" in page.list_title.text()
        assert ms.bodies[-1]["Name"] == "tiny"

        page.results.setCurrentItem(page.results.topLevelItem(0))
        qtbot.waitUntil(lambda: page.detail.loaded is not None, timeout=WAIT_MS)
        detail = page.detail
        assert detail.title.text() == REPO and "ModelScope" in detail.meta.text()
        assert f"{ms.url}/models/{REPO}" in detail.meta.text()
        assert [item.text(0).split()[0] for item in detail.file_items()] == ["Q4_K_M", "Q8_0"]
        qtbot.waitUntil(lambda: "Hello." in detail.card.toPlainText(), timeout=WAIT_MS)

        detail.action_button("Q8_0").click()
        (row,) = window.downloads.rows.values()
        assert row.origin.text() == "modelscope:Qwen/Tiny-GGUF"  # the queue names the source
        qtbot.waitUntil(lambda: row.status.state is DownloadState.COMPLETED, timeout=WAIT_MS)
        path = app_home / "data" / "models" / "Qwen" / "Tiny-GGUF" / "Tiny-Q8_0.gguf"
        assert hashlib.sha256(path.read_bytes()).digest() == (
            hashlib.sha256(model_file.read_bytes()).digest()
        )
        qtbot.waitUntil(lambda: detail.action_button("Q8_0").text() == "Use", timeout=WAIT_MS)
    finally:
        window.shutdown()


def test_a_new_simplified_chinese_user_starts_on_modelscope(
    qtbot: QtBot, ms: ModelScopeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOGLM_LANGUAGE", "zh_CN")
    assert not hub_settings_path().exists()
    window = open_window(qtbot)
    try:
        page = window.discover
        assert page.source_combo.currentText() == "ModelScope"
        assert window.session.source is Source.MODELSCOPE
        assert json.loads(hub_settings_path().read_text())["source"] == "modelscope"  # kept
        qtbot.keyClicks(page.search_edit, "tiny")
        qtbot.waitUntil(lambda: REPO in results(page), timeout=WAIT_MS)
    finally:
        window.shutdown()


def test_offline_mode_blocks_modelscope_too(
    qtbot: QtBot, ms: ModelScopeServer, no_sockets: list[object]
) -> None:
    save_hub_settings(HubSettings(source=Source.MODELSCOPE, offline=True))
    window = open_window(qtbot)
    try:
        page = window.discover
        assert page.source_combo.currentText() == "ModelScope"
        assert page.offline_bar.isVisible()
        qtbot.keyClicks(page.search_edit, "tiny")
        qtbot.waitUntil(lambda: "offline mode is on" in page.list_status.text(), timeout=WAIT_MS)
        assert page.results.topLevelItemCount() == 0
        assert no_sockets == [] and sum(ms.connections.values()) == 0
    finally:
        window.shutdown()


def test_errors_of_modelscope_show_in_the_page(qtbot: QtBot, ms: ModelScopeServer) -> None:
    save_hub_settings(HubSettings(source=Source.MODELSCOPE))
    window = open_window(qtbot)
    try:
        page = window.discover
        ms.fail_next(503, times=1)
        qtbot.keyClicks(page.search_edit, "tiny")
        qtbot.waitUntil(page.list_notice.isVisible, timeout=WAIT_MS)
        assert "is having trouble (error 503); try again later" in page.list_notice.label.text()
        page.list_notice.buttons["retry"].click()
        qtbot.waitUntil(lambda: REPO in results(page), timeout=WAIT_MS)
    finally:
        window.shutdown()


def test_the_catalog_opens_on_the_chosen_source(
    qtbot: QtBot, ms: ModelScopeServer, model_file: Path
) -> None:
    entry = load_catalog()[0]
    ms.add_repo(ModelScopeRepo(entry.repo_id, [HubFile("m-Q4_K_M.gguf", source=model_file)]))
    save_hub_settings(HubSettings(source=Source.MODELSCOPE))
    window = open_window(qtbot)
    try:
        page = window.discover
        qtbot.waitUntil(lambda: page.catalog.topLevelItemCount() > 0, timeout=WAIT_MS)
        item = next(
            page.catalog.topLevelItem(i)
            for i in range(page.catalog.topLevelItemCount())
            if page.catalog.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == entry.repo_id
        )
        page.catalog.setCurrentItem(item)
        qtbot.waitUntil(lambda: page.detail.loaded is not None, timeout=WAIT_MS)
        assert page.detail.loaded is not None
        assert page.detail.loaded.detail.source is Source.MODELSCOPE
        assert any(entry.repo_id in path for _m, path, _h in ms.requests_to("hub"))
    finally:
        window.shutdown()


def test_settings_keep_the_modelscope_address_and_token(qtbot: QtBot, ms: ModelScopeServer) -> None:
    save_hub_settings(HubSettings(source=Source.MODELSCOPE))
    window = open_window(qtbot)
    try:
        settings = window.settings_page
        settings.modelscope_edit.setText("not an address")
        settings.apply_button.click()
        assert "is not a web address" in settings.hub_status.text()
        settings.modelscope_edit.setText(ms.url + "/")
        settings.apply_button.click()
        saved = load_hub_settings()
        assert saved.modelscope_endpoint == ms.url + "/" and saved.source is Source.MODELSCOPE
        assert window.session.client.endpoint == ms.url

        settings.modelscope_token_edit.setText("ms-secret")
        settings.save_modelscope_token()
        assert load_access_token(source=Source.MODELSCOPE) == "ms-secret"
        assert load_access_token() is None  # the Hugging Face token is another
        assert window.session.client.token == "ms-secret"
        assert "ModelScope token is saved" in settings.modelscope_token_status.text()
        settings.clear_modelscope_token_button.click()
        assert load_access_token(source=Source.MODELSCOPE) is None
    finally:
        window.shutdown()


def test_the_source_selector_speaks_chinese(qtbot: QtBot, ms: ModelScopeServer) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    translators = install_translations(app, QLocale("zh_CN"))
    save_hub_settings(HubSettings(source=Source.MODELSCOPE))
    window = open_window(qtbot)
    try:
        page = window.discover
        assert page.source_combo.currentText() == "魔搭 ModelScope"
        qtbot.keyClicks(page.search_edit, "tiny")
        qtbot.waitUntil(lambda: REPO in results(page), timeout=WAIT_MS)
        assert page.list_title.text() == "魔搭 ModelScope 上与“tiny”匹配的模型"
    finally:
        window.shutdown()
        for translator in translators:
            app.removeTranslator(translator)
