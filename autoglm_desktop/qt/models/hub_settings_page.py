"""The Models window's Settings page: hub addresses, proxy, offline mode, tokens, library."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.errors import HubSettingsError
from autoglm_desktop.core.hub.settings import MODELSCOPE_ENDPOINT, EndpointChoice, HubSettings
from autoglm_desktop.core.models.library import (
    add_folder,
    load_library_config,
    remove_folder,
    save_library_config,
)
from autoglm_desktop.qt.common.plain_text import plain_label, set_plain_text
from autoglm_desktop.qt.workers.hub_session import HubSession

TOKENS_PAGE = "https://huggingface.co/settings/tokens"
MODELSCOPE_TOKENS_PAGE = "https://modelscope.cn/my/myaccesstoken"
_ERROR_STYLE = "color: #b3261e;"


class HubSettingsPage(QScrollArea):
    libraryChanged = Signal()  # the library's folders or sources changed: scan again

    def __init__(self, session: HubSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        content = QWidget()
        layout = QVBoxLayout(content)
        title = QLabel(self.tr("Settings"))
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        layout.addWidget(self._hub_box())
        layout.addWidget(self._token_box())
        layout.addWidget(self._library_box())
        layout.addStretch(1)
        self.setWidget(content)
        self.show_settings(session.settings)
        session.settingsChanged.connect(self.show_settings)
        session.tokenChanged.connect(self._show_token_state)

    # -- hub -----------------------------------------------------------------------------

    def _hub_box(self) -> QGroupBox:
        box = QGroupBox(self.tr("Hub"))
        self.official = QRadioButton(self.tr("Official: huggingface.co"))
        self.mirror = QRadioButton(
            self.tr(
                "Mirror: hf-mirror.com (where the official hub is blocked, e.g. mainland China)"
            )
        )
        self.custom = QRadioButton(self.tr("Custom address:"))
        self.endpoints = QButtonGroup(self)
        for button in (self.official, self.mirror, self.custom):
            self.endpoints.addButton(button)
        self.custom_edit = QLineEdit()
        self.custom_edit.setPlaceholderText("https://hub.example.com")
        self.custom.toggled.connect(self.custom_edit.setEnabled)
        custom_row = QHBoxLayout()
        custom_row.addWidget(self.custom)
        custom_row.addWidget(self.custom_edit, 1)
        self.proxy_edit = QLineEdit()
        self.proxy_edit.setPlaceholderText(
            self.tr("none: the system's proxy settings (e.g. http://127.0.0.1:7890)")
        )
        self.offline_check = QCheckBox(
            self.tr("Offline mode: make no network connection at all (no search, no downloads)")
        )
        self.apply_button = QPushButton(self.tr("Apply"))
        self.apply_button.clicked.connect(self.apply)
        self.hub_status = plain_label()  # may quote a server's error
        self.hub_status.setWordWrap(True)
        self.modelscope_edit = QLineEdit()
        self.modelscope_edit.setPlaceholderText(MODELSCOPE_ENDPOINT)
        self.modelscope_edit.setToolTip(
            self.tr("ModelScope's address; leave it empty for modelscope.cn")
        )
        form = QFormLayout()
        form.addRow(self.tr("ModelScope address:"), self.modelscope_edit)
        form.addRow(self.tr("Proxy:"), self.proxy_edit)
        apply_row = QHBoxLayout()
        apply_row.addWidget(self.hub_status, 1)
        apply_row.addWidget(self.apply_button)
        layout = QVBoxLayout(box)
        layout.addWidget(QLabel(self.tr("Where models are searched and downloaded from:")))
        layout.addWidget(self.official)
        layout.addWidget(self.mirror)
        layout.addLayout(custom_row)
        layout.addLayout(form)
        layout.addWidget(self.offline_check)
        layout.addLayout(apply_row)
        return box

    def show_settings(self, settings: HubSettings) -> None:
        button = {
            EndpointChoice.OFFICIAL: self.official,
            EndpointChoice.MIRROR: self.mirror,
            EndpointChoice.CUSTOM: self.custom,
        }[settings.endpoint_choice]
        button.setChecked(True)
        self.custom_edit.setText(settings.custom_endpoint)
        self.custom_edit.setEnabled(settings.endpoint_choice is EndpointChoice.CUSTOM)
        self.proxy_edit.setText(settings.proxy)
        self.modelscope_edit.setText(settings.modelscope_endpoint)
        self.offline_check.setChecked(settings.offline)
        self._show_token_state(self.session.has_token)
        self._show_modelscope_token_state()

    def edited_settings(self) -> HubSettings:
        if self.mirror.isChecked():
            choice = EndpointChoice.MIRROR
        elif self.custom.isChecked():
            choice = EndpointChoice.CUSTOM
        else:
            choice = EndpointChoice.OFFICIAL
        return HubSettings(
            endpoint_choice=choice,
            custom_endpoint=self.custom_edit.text().strip(),
            proxy=self.proxy_edit.text().strip(),
            offline=self.offline_check.isChecked(),
            source=self.session.settings.source,
            modelscope_endpoint=self.modelscope_edit.text().strip(),
        )

    def apply(self) -> None:
        try:
            self.session.apply_settings(self.edited_settings())
        except HubSettingsError as error:
            self.hub_status.setStyleSheet(_ERROR_STYLE)
            set_plain_text(self.hub_status, error)
            return
        self.hub_status.setStyleSheet("")
        settings = self.session.settings
        if settings.is_offline:
            text = self.tr("Saved. Offline mode is on: nothing will be fetched.")
        else:
            text = self.tr("Saved. Models come from %1.").replace("%1", settings.endpoint)
        self.hub_status.setText(text)

    # -- token ---------------------------------------------------------------------------

    def _token_box(self) -> QGroupBox:
        box = QGroupBox(self.tr("Access token"))
        explanation = QLabel(
            self.tr(
                "Gated and private models need a Hugging Face access token. Create one at "
                "<a href='%1'>huggingface.co → Settings → Access Tokens</a> (“read” access is "
                "enough), accept the model's terms on its page, and paste the token here. It is "
                "stored on this PC, readable by you only."
            ).replace("%1", TOKENS_PAGE)
        )
        explanation.setWordWrap(True)
        explanation.setOpenExternalLinks(True)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("hf_…")
        self.token_edit.returnPressed.connect(self.save_token)
        self.save_token_button = QPushButton(self.tr("Save token"))
        self.save_token_button.clicked.connect(self.save_token)
        self.clear_token_button = QPushButton(self.tr("Remove token"))
        self.clear_token_button.clicked.connect(self.session.clear_token)
        self.token_status = plain_label()  # may quote a server's error
        self.token_status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.token_edit, 1)
        row.addWidget(self.save_token_button)
        row.addWidget(self.clear_token_button)
        layout = QVBoxLayout(box)
        layout.addWidget(explanation)
        layout.addLayout(row)
        layout.addWidget(self.token_status)
        layout.addSpacing(8)
        layout.addLayout(self._modelscope_token_rows())
        return box

    def _modelscope_token_rows(self) -> QVBoxLayout:
        explanation = QLabel(
            self.tr(
                "Private ModelScope models need a ModelScope access token, from "
                "<a href='%1'>modelscope.cn → Account → Access Token</a>."
            ).replace("%1", MODELSCOPE_TOKENS_PAGE)
        )
        explanation.setWordWrap(True)
        explanation.setOpenExternalLinks(True)
        self.modelscope_token_edit = QLineEdit()
        self.modelscope_token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.modelscope_token_edit.setPlaceholderText(self.tr("ModelScope access token"))
        self.modelscope_token_edit.returnPressed.connect(self.save_modelscope_token)
        save = QPushButton(self.tr("Save token"))
        save.clicked.connect(self.save_modelscope_token)
        self.clear_modelscope_token_button = QPushButton(self.tr("Remove token"))
        self.clear_modelscope_token_button.clicked.connect(self._clear_modelscope_token)
        self.modelscope_token_status = QLabel()
        self.modelscope_token_status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.modelscope_token_edit, 1)
        row.addWidget(save)
        row.addWidget(self.clear_modelscope_token_button)
        rows = QVBoxLayout()
        rows.addWidget(explanation)
        rows.addLayout(row)
        rows.addWidget(self.modelscope_token_status)
        return rows

    def save_modelscope_token(self) -> None:
        try:
            self.session.save_modelscope_token(self.modelscope_token_edit.text())
        except HubSettingsError as error:
            self.modelscope_token_status.setStyleSheet(_ERROR_STYLE)
            self.modelscope_token_status.setText(str(error))
            return
        self.modelscope_token_edit.clear()
        self._show_modelscope_token_state()

    def _clear_modelscope_token(self) -> None:
        self.session.clear_modelscope_token()
        self._show_modelscope_token_state()

    def _show_modelscope_token_state(self) -> None:
        saved = self.session.has_modelscope_token
        self.modelscope_token_status.setStyleSheet("")
        self.modelscope_token_status.setText(
            self.tr("A ModelScope token is saved and sent to ModelScope with every request.")
            if saved
            else self.tr("No ModelScope token saved.")
        )
        self.clear_modelscope_token_button.setEnabled(saved)

    def save_token(self) -> None:
        try:
            self.session.save_token(self.token_edit.text())
        except HubSettingsError as error:
            self.token_status.setStyleSheet(_ERROR_STYLE)
            set_plain_text(self.token_status, error)
            return
        self.token_edit.clear()

    def _show_token_state(self, saved: bool) -> None:
        self.token_status.setStyleSheet("")
        self.token_status.setText(
            self.tr("A token is saved and sent to the hub with every request.")
            if saved
            else self.tr("No token saved.")
        )
        self.clear_token_button.setEnabled(saved)

    # -- library -------------------------------------------------------------------------

    def _library_box(self) -> QGroupBox:
        box = QGroupBox(self.tr("Library"))
        config = load_library_config()
        self.hf_cache_check = QCheckBox(self.tr("Offer models in the Hugging Face cache"))
        self.hf_cache_check.setChecked(config.include_hf_cache)
        self.other_apps_check = QCheckBox(
            self.tr("Offer models that LM Studio, Ollama and GPT4All downloaded (not copied)")
        )
        self.other_apps_check.setChecked(config.discover_other_apps)
        for check in (self.hf_cache_check, self.other_apps_check):
            check.toggled.connect(self._save_library)
        self.folders = QListWidget()
        self.folders.setMaximumHeight(110)
        add = QPushButton(self.tr("Add folder…"))
        add.clicked.connect(self._add_folder)
        self.remove_folder_button = QPushButton(self.tr("Remove folder"))
        self.remove_folder_button.setToolTip(self.tr("Its files stay where they are."))
        self.remove_folder_button.clicked.connect(self._remove_folder)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove_folder_button)
        buttons.addStretch(1)
        folders_row = QHBoxLayout()
        folders_row.addWidget(self.folders, 1)
        folders_row.addLayout(buttons)
        layout = QVBoxLayout(box)
        layout.addWidget(self.hf_cache_check)
        layout.addWidget(self.other_apps_check)
        layout.addWidget(QLabel(self.tr("Your model folders:")))
        layout.addLayout(folders_row)
        self.show_folders()
        return box

    def show_folders(self) -> None:
        self.folders.clear()
        for folder in load_library_config().folders:
            self.folders.addItem(str(folder))
        self.remove_folder_button.setEnabled(self.folders.count() > 0)

    def _save_library(self) -> None:
        config = replace(
            load_library_config(),
            include_hf_cache=self.hf_cache_check.isChecked(),
            discover_other_apps=self.other_apps_check.isChecked(),
        )
        save_library_config(config)
        self.libraryChanged.emit()

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Add a folder of models"), str(Path.home())
        )
        if not folder:
            return
        add_folder(Path(folder))
        self.show_folders()
        self.libraryChanged.emit()

    def _remove_folder(self) -> None:
        item = self.folders.currentItem() or self.folders.item(0)
        if item is None:
            return
        remove_folder(Path(item.text()))
        self.show_folders()
        self.libraryChanged.emit()
