"""The Models window's pages against a real local hub server, offscreen.

The window is pointed at the server through the endpoint setting, as a user would point it at
a mirror; downloads are real transfers into the isolated app home, and the other apps' model
stores are folders built in a temporary directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hub_server import Fault, HubFile, HubRepo, HubServer
from huggingface_hub import HfApi, constants
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.hub.catalog import load_catalog
from autoglm_desktop.core.hub.client import HubClient
from autoglm_desktop.core.hub.downloads import DownloadState, RetryPolicy, part_path
from autoglm_desktop.core.hub.remote_gguf import header_cache_dir
from autoglm_desktop.core.hub.settings import (
    EndpointChoice,
    HubSettings,
    load_access_token,
    load_hub_settings,
    save_hub_settings,
)
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.library import ModelSource, OtherAppFolders
from autoglm_desktop.core.planning import recommend
from autoglm_desktop.core.planning.fit import FitVerdict
from autoglm_desktop.core.planning.speed_forecast import SpeedCoefficients
from autoglm_desktop.core.planning.speed_profile import (
    MachineSpeed,
    machine_key,
    save_machine_speed,
)
from autoglm_desktop.qt.main_window import MainWindow
from autoglm_desktop.qt.models.discover_page import DiscoverPage
from autoglm_desktop.qt.models.downloads_page import DownloadRow
from autoglm_desktop.qt.models.library_page import LibraryPage
from autoglm_desktop.qt.models.widgets import fit_details
from autoglm_desktop.qt.models.window import ModelsWindow

REPO = "acme/Tiny-GGUF"
GATED = "gate/Locked-GGUF"
CARD = "---\nlicense: mit\ntags: [gguf]\n---\n# Tiny model\n\nA model card with **bold** words.\n"
# Quick retries, and timeouts no test run reaches: a slow machine never makes a read time out,
# and a held connection ends only when a pause or a quit cuts it off.
FAST = RetryPolicy(stall_timeout_s=600, connect_timeout_s=60, first_wait_s=0.01, max_wait_s=0.05)
WAIT_MS = 20_000
LOAD_TIMEOUT_MS = 60_000


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated(isolated_hub_state: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On top of the hub state kept as found: the HF cache and other apps' stores in tmp_path."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    other = OtherAppFolders(
        lm_studio=(tmp_path / "lmstudio",),
        ollama=(tmp_path / "ollama",),
        gpt4all=(tmp_path / "gpt4all",),
    )
    monkeypatch.setattr(OtherAppFolders, "defaults", classmethod(lambda cls: other))


@pytest.fixture
def hub(model_file: Path) -> Iterator[HubServer]:
    data = model_file.read_bytes()
    with HubServer(page_size=3) as server:
        server.add_repo(
            HubRepo(
                REPO,
                [
                    HubFile("README.md", data=CARD.encode()),
                    HubFile("Tiny-Q8_0.gguf", source=model_file),
                    HubFile("Tiny-Q4_K_M.gguf", data=data[: len(data) // 2]),
                    HubFile("Q2_K/Tiny-Q2_K-00001-of-00003.gguf", data=data[:300]),
                    HubFile("Q2_K/Tiny-Q2_K-00002-of-00003.gguf", data=data[300:600]),
                    HubFile("Q2_K/Tiny-Q2_K-00003-of-00003.gguf", data=data[600:900]),
                    HubFile("Tiny-F16-00001-of-00002.gguf", data=data[:100]),  # part 2 missing
                    HubFile("mmproj-Tiny-F16.gguf", data=data[:200]),
                ],
                downloads=500,
                likes=3,
                license="mit",
            )
        )
        for i, downloads in enumerate([900, 100, 300, 50]):
            server.add_repo(
                HubRepo(
                    f"team{i}/Tiny-{i}-GGUF",
                    [HubFile(f"tiny-{i}-q4_k_m.gguf", data=data[:500])],
                    downloads=downloads,
                )
            )
        server.add_repo(
            HubRepo(GATED, [HubFile("Locked-Q8_0.gguf", data=data + b"\0")], gated="manual")
        )
        yield server


@pytest.fixture
def hub_endpoint(hub: HubServer) -> HubServer:
    save_hub_settings(HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=hub.url))
    return hub


@pytest.fixture
def window(qtbot: QtBot, hub_endpoint: HubServer) -> Iterator[ModelsWindow]:
    win = ModelsWindow(download_policy=FAST)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown()


# --------------------------------------------------------------------------- helpers


def search(qtbot: QtBot, page: DiscoverPage, text: str, *, expect: str) -> None:
    """Type like a user and wait until ``expect`` is among the results."""
    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, text)
    qtbot.waitUntil(lambda: expect in result_names(page), timeout=WAIT_MS)


def result_names(page: DiscoverPage) -> list[str]:
    tree = page.results
    return [
        tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
        for i in range(tree.topLevelItemCount())
    ]


def open_repo(qtbot: QtBot, page: DiscoverPage, repo_id: str, query: str = "tiny") -> None:
    search(qtbot, page, query, expect=repo_id)
    tree = page.results
    item = next(
        tree.topLevelItem(i)
        for i in range(tree.topLevelItemCount())
        if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == repo_id
    )
    tree.setCurrentItem(item)
    qtbot.waitUntil(
        lambda: page.detail.loaded is not None and page.detail.loaded.detail.repo_id == repo_id,
        timeout=WAIT_MS,
    )


def only_row(window: ModelsWindow) -> DownloadRow:
    rows = list(window.downloads.rows.values())
    assert len(rows) == 1
    return rows[0]


def wait_state(qtbot: QtBot, row: DownloadRow, state: DownloadState) -> None:
    qtbot.waitUntil(lambda: row.status.state is state, timeout=WAIT_MS)


def shown(button: QPushButton) -> bool:
    return not button.isHidden()


def downloaded_path(app_home: Path, name: str = "Tiny-Q8_0.gguf") -> Path:
    return app_home / "data" / "models" / "acme" / "Tiny-GGUF" / name


class DialogAnswerer:
    """Answers the next modal message box with the button labelled ``answer``, keeping its text."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.text: str | None = None
        QTimer.singleShot(0, self._try)

    def _try(self) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, self._try)
            return
        self.text = box.text()
        button = next(b for b in box.buttons() if b.text() == self.answer)
        button.click()


def sha256_of(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def copy_model(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


# --------------------------------------------------------------------------- Discover


def test_catalog_when_empty_then_debounced_search_results(
    qtbot: QtBot, window: ModelsWindow, hub: HubServer
) -> None:
    page = window.discover
    qtbot.waitUntil(
        lambda: page.catalog.topLevelItemCount() == len(load_catalog()), timeout=WAIT_MS
    )
    assert page.lists.currentWidget() is page.catalog
    assert "Recommended" in page.list_title.text()
    first = page.catalog.topLevelItem(0)
    assert page.catalog.itemWidget(first, 2) is not None  # its fit badge
    assert hub.total_connections == 0  # the catalog is ranked without the network

    qtbot.keyClicks(page.search_edit, "tiny")
    qtbot.waitUntil(lambda: len(result_names(page)) == 5, timeout=WAIT_MS)

    assert result_names(page) == [  # most downloaded first
        "team0/Tiny-0-GGUF",
        REPO,
        "team2/Tiny-2-GGUF",
        "team1/Tiny-1-GGUF",
        "team3/Tiny-3-GGUF",
    ]
    row = page.results.topLevelItem(1)
    assert row.text(1) == "500" and row.text(3)  # downloads, and how long ago it was updated
    searched = {
        parse_qs(urlsplit(path).query).get("search", [""])[0]
        for role, _method, path, _headers in hub.requests
        if role == "hub" and path.startswith("/api/models?")
    }
    assert searched == {"tiny"}  # typing "t", "ti", "tin" sent nothing: the search waited
    assert "5 models" in page.list_status.text()

    page.search_edit.clear()
    assert page.lists.currentWidget() is page.catalog


def test_a_hanging_search_never_blocks_the_window(
    qtbot: QtBot, window: ModelsWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """list_models has no timeout: a hung search is abandoned when the user searches again."""
    release = threading.Event()
    hung: list[threading.Thread] = []
    original = HfApi.list_models

    def list_models(self: HfApi, *args: object, search: str | None = None, **kwargs: object):
        if search == "hang":  # answers late, with a model that "tiny" does not find
            hung.append(threading.current_thread())
            release.wait(WAIT_MS / 1000)
            search = "locked"
        return original(self, *args, search=search, **kwargs)

    monkeypatch.setattr(HfApi, "list_models", list_models)
    page = window.discover
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    qtbot.keyClicks(page.search_edit, "hang")
    qtbot.waitUntil(lambda: bool(hung), timeout=WAIT_MS)
    # The search hangs until released: the event loop keeps running meanwhile.
    qtbot.waitUntil(lambda: len(ticks) >= 10, timeout=WAIT_MS)
    assert page.search_call.busy

    search(qtbot, page, "tiny", expect=REPO)  # the hung search does not hold this one up
    release.set()
    hung[0].join(WAIT_MS / 1000)
    assert not hung[0].is_alive()
    QApplication.processEvents()  # delivers the late answer to "hang", queued by its thread
    timer.stop()
    assert REPO in result_names(page) and GATED not in result_names(page)  # it was dropped


def test_repo_files_show_quant_labels_fit_badges_and_the_card(
    qtbot: QtBot, window: ModelsWindow
) -> None:
    page = window.discover
    open_repo(qtbot, page, REPO)
    detail = page.detail

    labels = [item.text(0).replace("★", "").strip() for item in detail.file_items()]
    assert labels == ["Q2_K", "Q4_K_M", "Q8_0"]  # smallest first; projector and broken set left out
    split = detail.file_items()[0]
    assert "(3 parts)" in split.text(1)
    for item in detail.file_items():
        badge = detail.fit_badge(item)
        assert badge.verdict in set(FitVerdict)
        assert badge.text()
        assert "K context" in item.text(3)  # memory needed at the expected context
    assert any("★" in item.text(0) for item in detail.file_items())  # one is recommended
    assert "mmproj-Tiny-F16.gguf" in detail.notes.text()
    assert "Tiny-F16" in detail.notes.text() and "parts missing" in detail.notes.text()
    assert "500 downloads" in detail.meta.text() and "mit" in detail.meta.text()
    assert detail.action_button("Q8_0").text() == "Download"
    qtbot.waitUntil(lambda: "A model card" in detail.card.toPlainText(), timeout=WAIT_MS)
    assert "license:" not in detail.card.toPlainText()  # the metadata header is not shown


def test_discover_shows_the_verdicts_of_the_core_use_case(
    qtbot: QtBot,
    window: ModelsWindow,
    hub: HubServer,
    model_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = model_file.read_bytes()
    repo = "acme/Whole-GGUF"
    files = [
        HubFile("Whole-Q4_K_M.gguf", data=data[: len(data) // 2]),  # truncated: judged by size
        HubFile("Whole-Q8_0.gguf", source=model_file),  # judged from its header
    ]
    hub.add_repo(HubRepo(repo, files))
    machine = read_hardware(include_gpus=False)  # one reading for both: free memory moves
    monkeypatch.setattr(recommend, "usable_hardware", lambda: machine)
    page = window.discover
    open_repo(qtbot, page, repo, query="whole")
    detail = page.detail
    by_size = detail.loaded
    qtbot.waitUntil(lambda: detail.loaded is not by_size, timeout=LOAD_TIMEOUT_MS)  # estimated
    items = detail.file_items()
    shown = {
        item.data(0, Qt.ItemDataRole.UserRole).primary_path: (
            detail.fit_badge(item).verdict,
            item.text(3),
        )
        for item in items
    }
    starred = [item.data(0, Qt.ItemDataRole.UserRole) for item in items if "★" in item.text(0)]

    shutil.rmtree(header_cache_dir())  # from the hub again, as on the page's first opening
    client = HubClient()
    quick = recommend.rate_repo_by_size(client=client, repo_id=repo)
    rating = recommend.rate_repo_by_headers(client=client, rating=quick)
    assert shown == {
        r.model.primary_path: (r.fit.verdict, fit_details(r.fit)) for r in rating.rated
    }
    assert rating.recommended is not None and starred == [rating.recommended.model]
    assert [r.model.quant for r in rating.rated if r.fit.from_estimator] == ["Q8_0"]


def test_missing_repo_shows_the_error_and_retry_works(
    qtbot: QtBot, window: ModelsWindow, hub: HubServer
) -> None:
    page = window.discover
    search(qtbot, page, "tiny", expect="team1/Tiny-1-GGUF")
    gone = hub.repos.pop("team1/Tiny-1-GGUF")
    tree = page.results
    item = next(
        tree.topLevelItem(i)
        for i in range(tree.topLevelItemCount())
        if "team1" in tree.topLevelItem(i).text(0)
    )
    tree.setCurrentItem(item)
    qtbot.waitUntil(page.detail.notice.isVisible, timeout=WAIT_MS)
    assert "There is no model “team1/Tiny-1-GGUF”" in page.detail.notice.label.text()

    hub.add_repo(gone)
    page.detail.notice.buttons["retry"].click()
    qtbot.waitUntil(lambda: page.detail.loaded is not None, timeout=WAIT_MS)
    assert not page.detail.notice.isVisible()


# --------------------------------------------------------------------------- downloads


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen cannot raise windows
def test_download_shows_up_in_my_models_and_the_chat_picker_and_loads(
    qtbot: QtBot, hub_endpoint: HubServer, app_home: Path, model_file: Path
) -> None:
    main = MainWindow(autoload=False)
    qtbot.addWidget(main)
    main.show()
    main.models_button.click()
    models = main.models_window
    assert models.isVisible() and models.current_page() == "discover"

    open_repo(qtbot, models.discover, REPO)
    models.discover.detail.action_button("Q8_0").click()
    row = only_row(models)
    wait_state(qtbot, row, DownloadState.COMPLETED)

    path = downloaded_path(app_home)
    assert (
        hashlib.sha256(path.read_bytes()).digest()
        == hashlib.sha256(model_file.read_bytes()).digest()
    )
    assert "Done" in row.detail.text()
    qtbot.waitUntil(lambda: models.library.item_for(path) is not None, timeout=WAIT_MS)
    assert models.library.item_for(path).text(4) == "AutoGLM"
    combo = main.model_bar.combo
    qtbot.waitUntil(
        lambda: str(path) in [combo.itemData(i) for i in range(combo.count())], timeout=WAIT_MS
    )
    assert models.discover.detail.action_button("Q8_0").text() == "Use"

    models.show_page("downloads")
    assert shown(row.buttons["use"])
    row.buttons["use"].click()
    qtbot.waitUntil(lambda: main.model_info is not None, timeout=LOAD_TIMEOUT_MS)
    assert main.model_info.path == path
    assert main.model_bar.selected_path() == path
    main.close()


def test_pause_and_resume_fetch_nothing_twice(
    qtbot: QtBot, window: ModelsWindow, hub: HubServer, model_file: Path, app_home: Path
) -> None:
    size = model_file.stat().st_size
    hold = hub.add_fault(Fault("hold", at_byte=size // 2, path="Tiny-Q8_0.gguf"))
    open_repo(qtbot, window.discover, REPO)
    window.discover.detail.action_button("Q8_0").click()
    window.show_page("downloads")
    row = only_row(window)
    qtbot.waitUntil(hold.reached.is_set, timeout=WAIT_MS)
    part = part_path(downloaded_path(app_home))
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > 0, timeout=WAIT_MS)
    button = window.discover.detail.action_button("Q8_0")
    qtbot.waitUntil(lambda: button.text().startswith("Downloading"), timeout=WAIT_MS)
    assert "(1)" in window.nav.item(1).text()

    row.buttons["pause"].click()
    wait_state(qtbot, row, DownloadState.PAUSED)
    assert not hold.release.is_set()  # the pause cut the held connection off
    kept = row.status.bytes_done  # pause acts at once: what had arrived is kept on disk
    assert 0 < kept <= size // 2 and kept == part.stat().st_size
    assert "Paused" in row.detail.text()
    assert shown(row.buttons["resume"]) and not shown(row.buttons["pause"])
    assert not downloaded_path(app_home).exists()  # only the .part: nothing the library offers
    hold.release.set()
    served_before_resume = hub.bytes_served["Tiny-Q8_0.gguf"]

    row.buttons["resume"].click()
    wait_state(qtbot, row, DownloadState.COMPLETED)
    # The resume asked only for what the .part lacked: the kept bytes were not fetched again.
    assert hub.bytes_served["Tiny-Q8_0.gguf"] - served_before_resume == size - kept
    assert downloaded_path(app_home).stat().st_size == size


def test_damaged_transfer_is_reported_and_retried(
    qtbot: QtBot, window: ModelsWindow, hub: HubServer, app_home: Path
) -> None:
    hub.add_fault(Fault("corrupt", at_byte=1000, path="Tiny-Q8_0.gguf"))
    open_repo(qtbot, window.discover, REPO)
    window.discover.detail.action_button("Q8_0").click()
    row = only_row(window)
    wait_state(qtbot, row, DownloadState.FAILED)
    assert "damaged" in row.detail.text() and "checksum" in row.detail.text()
    assert not downloaded_path(app_home).exists()
    window.show_page("downloads")
    assert shown(row.buttons["retry"])

    row.buttons["retry"].click()
    wait_state(qtbot, row, DownloadState.COMPLETED)
    assert downloaded_path(app_home).exists()


def test_download_continues_after_the_app_restarts(
    qtbot: QtBot, hub_endpoint: HubServer, model_file: Path, app_home: Path
) -> None:
    hub = hub_endpoint
    size = model_file.stat().st_size
    hold = hub.add_fault(Fault("hold", at_byte=size // 3, path="Tiny-Q8_0.gguf"))
    part = part_path(downloaded_path(app_home))
    first = ModelsWindow(download_policy=FAST)
    qtbot.addWidget(first)
    first.show()
    open_repo(qtbot, first.discover, REPO)
    first.discover.detail.action_button("Q8_0").click()
    qtbot.waitUntil(hold.reached.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > 0, timeout=WAIT_MS)
    first.shutdown()  # the app quits while the server holds the connection
    # The quit cut the held connection off (the stall timeout is far away): the download
    # thread is gone, what it received is in the .part and the download is queued again.
    assert not hold.release.is_set() and not first.session.downloads.worker_alive
    (job,) = first.session.downloads.statuses()
    kept = part.stat().st_size
    assert job.state is DownloadState.QUEUED and job.bytes_done == kept > 0
    hold.release.set()
    served_before_restart = hub.bytes_served["Tiny-Q8_0.gguf"]

    second = ModelsWindow(download_policy=FAST)  # the next start
    qtbot.addWidget(second)
    try:
        row = only_row(second)
        wait_state(qtbot, row, DownloadState.COMPLETED)
    finally:
        second.shutdown()
    # Resumed at the end of the .part, and nothing received before the quit came twice.
    assert [start for name, start in hub.range_starts if name == "Tiny-Q8_0.gguf"] == [0, kept]
    assert hub.bytes_served["Tiny-Q8_0.gguf"] - served_before_restart == size - kept
    path = downloaded_path(app_home)
    assert hashlib.sha256(path.read_bytes()).digest() == sha256_of(model_file)


def test_gated_repo_asks_for_a_token_where_it_is_needed(
    qtbot: QtBot, window: ModelsWindow, hub: HubServer, app_home: Path
) -> None:
    page = window.discover
    open_repo(qtbot, page, GATED, query="locked")
    prompt = page.detail.token_prompt
    assert prompt.isVisible() and "gated" in prompt.message.text()

    page.detail.action_button("Q8_0").click()
    row = only_row(window)
    wait_state(qtbot, row, DownloadState.FAILED)
    assert "gated by its authors" in row.detail.text()
    assert "paste it in Settings → Hub" in row.detail.text()
    window.show_page("downloads")
    assert shown(row.buttons["settings"]) and shown(row.buttons["retry"])
    row.buttons["settings"].click()
    assert window.current_page() == "settings"

    prompt.token_edit.setText("not a token")
    prompt.save_button.click()
    assert "does not look like an access token" in prompt.status.text()
    hub.grant("hf_granted", GATED)
    prompt.token_edit.setText("hf_granted")
    prompt.save_button.click()
    assert load_access_token() == "hf_granted"
    assert "saved" in window.settings_page.token_status.text()

    row.buttons["retry"].click()
    wait_state(qtbot, row, DownloadState.COMPLETED)
    assert (app_home / "data" / "models" / "gate" / "Locked-GGUF" / "Locked-Q8_0.gguf").exists()


def test_offline_mode_says_so_and_makes_no_connection(
    qtbot: QtBot, window: ModelsWindow, hub: HubServer, no_sockets: list[object]
) -> None:
    settings = window.settings_page
    window.show_page("settings")
    settings.offline_check.setChecked(True)
    settings.apply_button.click()
    assert load_hub_settings().offline
    assert "Offline mode is on" in settings.hub_status.text()

    page = window.discover
    window.show_page("discover")
    assert page.offline_bar.isVisible() and "Offline mode is on" in page.offline_bar.label.text()
    qtbot.keyClicks(page.search_edit, "tiny")
    qtbot.waitUntil(lambda: "offline mode is on" in page.list_status.text(), timeout=WAIT_MS)
    assert page.results.topLevelItemCount() == 0

    page.search_edit.clear()
    qtbot.waitUntil(lambda: page.catalog.topLevelItemCount() > 0, timeout=WAIT_MS)
    page.catalog.setCurrentItem(page.catalog.topLevelItem(0))
    qtbot.waitUntil(page.detail.notice.isVisible, timeout=WAIT_MS)
    assert "Offline mode is on" in page.detail.notice.label.text()
    assert no_sockets == [] and hub.total_connections == 0

    page.offline_bar.buttons["online"].click()  # back online from the banner
    assert not load_hub_settings().offline and not page.offline_bar.isVisible()


def test_bad_hub_address_is_refused_in_plain_words(qtbot: QtBot, window: ModelsWindow) -> None:
    settings = window.settings_page
    settings.custom.setChecked(True)
    settings.custom_edit.setText("hub.example.com")
    settings.apply_button.click()
    assert "is not a web address" in settings.hub_status.text()
    settings.mirror.setChecked(True)
    settings.proxy_edit.setText("socks5://127.0.0.1:1080")
    settings.apply_button.click()
    saved = load_hub_settings()
    assert (
        saved.endpoint_choice is EndpointChoice.MIRROR and saved.proxy == "socks5://127.0.0.1:1080"
    )
    assert "hf-mirror.com" in window.statusBar().currentMessage()


# --------------------------------------------------------------------------- My models


def library_ready(qtbot: QtBot, library: LibraryPage, path: Path) -> None:
    library.refresh()
    qtbot.waitUntil(lambda: library.item_for(path) is not None, timeout=WAIT_MS)


def test_delete_asks_first(qtbot: QtBot, window: ModelsWindow, model_file: Path) -> None:
    target = copy_model(model_file, paths.models_dir() / "acme" / "Tiny-GGUF" / "Tiny-Q8_0.gguf")
    library = window.library
    window.show_page("library")
    library_ready(qtbot, library, target)
    library.select(target)
    requested: list[object] = []
    library.requestDelete.connect(requested.append)  # the request to the library thread

    refusal = DialogAnswerer("Cancel")
    library.delete_button.click()
    assert refusal.text is not None and "Tiny-Q8_0" in refusal.text and str(target) in refusal.text
    assert requested == []  # nothing was asked of the library thread
    assert target.exists() and library.item_for(target) is not None

    consent = DialogAnswerer("Delete")
    library.delete_button.click()
    assert consent.text is not None and len(requested) == 1
    qtbot.waitUntil(lambda: library.item_for(target) is None, timeout=WAIT_MS)
    assert not target.exists()
    assert "Deleted" in library.notice.label.text()


def test_my_models_lists_other_apps_and_imports_by_dialog_and_drop(
    qtbot: QtBot,
    window: ModelsWindow,
    model_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lm_studio = copy_model(
        model_file, tmp_path / "lmstudio" / "bartowski" / "Tiny-GGUF" / "Tiny-Q4_0.gguf"
    )
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    blob = copy_model(model_file, tmp_path / "ollama" / "blobs" / f"sha256-{digest}")
    manifest = (
        tmp_path / "ollama" / "manifests" / "registry.ollama.ai" / "library" / "tiny" / "latest"
    )
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        json.dumps(
            {
                "layers": [
                    {
                        "mediaType": "application/vnd.ollama.image.model",
                        "digest": f"sha256:{digest}",
                    }
                ]
            }
        )
    )
    library = window.library
    window.show_page("library")
    library_ready(qtbot, library, blob)
    assert library.item_for(lm_studio).text(4) == "LM Studio"
    assert library.item_for(blob).text(4) == "Ollama"
    assert library.item_for(blob).text(0) == "tiny:latest"
    assert "2 models" in library.summary.text()

    picked = copy_model(model_file, tmp_path / "elsewhere" / "Picked-Q8_0.gguf")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([str(picked)], ""))
    )
    library.import_button.click()
    qtbot.waitUntil(lambda: library.item_for(picked) is not None, timeout=WAIT_MS)
    assert library.item_for(picked).text(4) == "Imported file"
    assert library.selected_model() is not None and library.selected_model().path == picked

    dropped = copy_model(model_file, tmp_path / "desktop" / "Dropped-Q8_0.gguf")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    library.dropEvent(drop)
    qtbot.waitUntil(lambda: library.item_for(dropped) is not None, timeout=WAIT_MS)
    assert drop.isAccepted()

    not_a_model = tmp_path / "desktop" / "notes-Q4_0.gguf"
    not_a_model.write_text("hello")
    library.import_files([not_a_model])
    qtbot.waitUntil(library.notice.isVisible, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "not a GGUF model file" in library.notice.label.text(), timeout=WAIT_MS)
    assert library.item_for(not_a_model) is None
    assert {m.source for m in library.models} == {
        ModelSource.LM_STUDIO,
        ModelSource.OLLAMA,
        ModelSource.IMPORTED,
    }


def test_speed_forecast_shows_on_badges_and_a_slow_download_asks_first(
    qtbot: QtBot, window: ModelsWindow, hub: HubServer, model_file: Path
) -> None:
    hardware = read_hardware(include_gpus=False)
    one_token_a_second = SpeedCoefficients(
        threads=1, decode_fixed=1.0, decode_per_layer=0, decode_per_vocab=0, prompt_fixed=0.01
    )
    save_machine_speed(
        MachineSpeed(
            machine=machine_key(hardware), measured_at=1.0, coefficients=(one_token_a_second,)
        )
    )
    hub.add_repo(HubRepo("acme/Slow-GGUF", [HubFile("Slow-Q8_0.gguf", source=model_file)]))
    page = window.discover
    open_repo(qtbot, page, "acme/Slow-GGUF", query="slow")
    detail = page.detail
    item = detail.file_items()[0]
    qtbot.waitUntil(lambda: "tok/s" in detail.fit_badge(item).text(), timeout=LOAD_TIMEOUT_MS)
    assert "~1.0 tok/s" in detail.fit_badge(item).text()
    assert "about 1.0 tokens per second" in detail.fit_badge(item).toolTip()

    detail.action_button("Q8_0").click()
    assert detail.notice.isVisible() and "about 7 min" in detail.notice.label.text()
    assert window.downloads.rows == {}  # nothing starts before the answer
    detail.notice.buttons["keep-looking"].click()
    assert not detail.notice.isVisible() and window.downloads.rows == {}

    detail.action_button("Q8_0").click()
    detail.notice.buttons["download-anyway"].click()
    wait_state(qtbot, only_row(window), DownloadState.COMPLETED)
