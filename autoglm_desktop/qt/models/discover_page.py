"""The Discover page: search the hub for GGUF models, see which file fits this PC, download it.

A selector beside the search box chooses the model source, the Hugging Face hub or ModelScope;
search, repository pages, fit verdicts and downloads work the same on both. With an empty
search box it lists the curated catalog, ranked for this PC (its repositories are opened on the
chosen source, where the big publishers keep the same names). Typing searches the
hub after a short pause; every request runs on a background thread (see
:class:`~autoglm_desktop.qt.workers.background.CallRunner`), so a slow or blocked network
never freezes the window, and a newer search simply replaces a pending one. A
repository's files first show fit badges from their sizes; the memory estimator's verdicts,
from the files' GGUF headers read over the network, replace them when they arrive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.errors import AutoGLMError, HubSettingsError
from autoglm_desktop.core.common.untrusted_text import plain_message
from autoglm_desktop.core.hub.catalog import load_catalog
from autoglm_desktop.core.hub.client import HubModel, RemoteModel, RepoDetail, SearchSort
from autoglm_desktop.core.hub.downloads import DownloadState, DownloadStatus
from autoglm_desktop.core.hub.source import Source, format_ref
from autoglm_desktop.core.hub.source_client import ModelPager, SourceClient
from autoglm_desktop.core.planning.fit import current_budget
from autoglm_desktop.core.planning.recommend import (
    CatalogChoice,
    RatedModel,
    RepoRating,
    rank_catalog,
    rate_repo_by_headers,
    rate_repo_by_size,
)
from autoglm_desktop.qt.common.markdown_render import COPY_CODE_SCHEME, render_markdown
from autoglm_desktop.qt.common.plain_text import (
    escaped,
    plain_label,
    plain_tooltip,
    set_plain_text,
)
from autoglm_desktop.qt.common.speed_text import slow_model_warning
from autoglm_desktop.qt.models.widgets import (
    FitBadge,
    NoticeBar,
    age_text,
    count_text,
    fit_details,
    is_dark,
    size_text,
    source_name,
    top_level_items,
)
from autoglm_desktop.qt.workers.background import CallRunner
from autoglm_desktop.qt.workers.hub_session import HubSession

SEARCH_DELAY_MS = 400  # typing pauses this long before a search starts
SLOW_ANSWER_MS = 15_000  # then say the hub is slow to answer
MAX_FILE_ROWS = 10  # more files scroll
# Below this forecast writing speed a download asks first (a 300-word answer: over 2 minutes).
SLOW_TOKENS_PER_S = 3.0
_ROLE = Qt.ItemDataRole.UserRole

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedCard:
    repo_id: str
    html: str
    code_blocks: tuple[str, ...]


def load_card(client: SourceClient, repo_id: str, revision: str, *, dark: bool) -> LoadedCard:
    text, _licence = client.model_card(repo_id, revision=revision)
    rendered = render_markdown(text, dark=dark) if text else None
    return LoadedCard(
        repo_id, rendered.html if rendered else "", rendered.code_blocks if rendered else ()
    )


def rank_curated() -> list[CatalogChoice]:
    return rank_catalog(entries=load_catalog(), budget=current_budget())


# --------------------------------------------------------------------------- detail view


class TokenPrompt(QFrame):
    """The gated-model notice, with a field to paste an access token right there."""

    def __init__(self, session: HubSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("tokenPrompt")
        self.setStyleSheet(
            "#tokenPrompt { background: #fff5e0; border: 1px solid #f0d49a; border-radius: 4px; }"
            "#tokenPrompt QLabel { color: #5c3b00; }"
        )
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setOpenExternalLinks(True)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText(self.tr("Paste an access token (hf_…)"))
        self.save_button = QPushButton(self.tr("Save token"))
        self.save_button.clicked.connect(self._save)
        self.token_edit.returnPressed.connect(self._save)
        self.status = plain_label()  # may quote a server's error
        self.status.setWordWrap(True)
        self.status.hide()
        row = QHBoxLayout()
        row.addWidget(self.token_edit, 1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.message)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.hide()

    def show_for(self, repo_id: str, hub_url: str) -> None:
        page = f"{hub_url}/{repo_id}"
        self.message.setText(
            self.tr(
                "<b>This model is gated.</b> Its authors ask you to accept their terms before "
                "downloading: open <a href='%1'>its page on the hub</a>, accept them, then create "
                "an access token (hub → Settings → Access Tokens, “read” is enough) and paste it "
                "here."
            ).replace("%1", escaped(page))
        )
        self._say(
            self.tr("A token is saved and will be sent with the download.")
            if self.session.has_token
            else ""
        )
        self.show()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _save(self) -> None:
        try:
            self.session.save_token(self.token_edit.text())
        except HubSettingsError as error:
            self._say(plain_message(error))
            return
        self.token_edit.clear()
        self._say(self.tr("Token saved. Downloads of this model can start now."))


class RepoDetailView(QWidget):
    """One repository: its numbers, every GGUF file with its fit, and the model card."""

    downloadRequested = Signal(object, object)  # RepoDetail, RemoteModel
    useRequested = Signal(object)  # Path
    showDownloadsRequested = Signal()
    retryRequested = Signal()
    settingsRequested = Signal()

    COLUMNS = ("quant", "size", "fit", "needs", "action")

    def __init__(self, session: HubSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.loaded: RepoRating | None = None
        self._downloads: dict[Path, DownloadStatus] = {}
        self._on_disk: set[Path] = set()
        self._code_blocks: tuple[str, ...] = ()
        self._slow_model: RemoteModel | None = None  # waiting for "Download anyway"
        self._slow_confirmed: set[RemoteModel] = set()

        self.placeholder = plain_label(  # shows repository names too: never HTML
            self.tr("Pick a model on the left to see its files and how well each fits this PC.")
        )
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(placeholder-text);")
        self.title = plain_label()
        title_font = QFont(self.title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.35)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = QLabel()
        self.meta.setOpenExternalLinks(True)
        self.meta.setWordWrap(True)
        self.notice = NoticeBar()
        self.notice.actionTriggered.connect(self._on_notice_action)
        self.token_prompt = TokenPrompt(session)

        self.files = QTreeWidget()
        self.files.setRootIsDecorated(False)
        self.files.setUniformRowHeights(True)
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.files.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.files.setHeaderLabels(
            [self.tr("Quantization"), self.tr("Size"), self.tr("On this PC"), self.tr("Needs"), ""]
        )
        header = self.files.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.notes = plain_label()  # names the repository's files
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: palette(placeholder-text);")

        self.card = QTextBrowser()
        self.card.setOpenLinks(False)
        self.card.anchorClicked.connect(self._on_card_link)
        self.card.setPlaceholderText(self.tr("Loading the model card…"))

        # The file list takes the height of its rows (up to MAX_FILE_ROWS); the card the rest.
        self.body = QWidget()
        body_layout = QVBoxLayout(self.body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addWidget(self.title)
        body_layout.addWidget(self.meta)
        body_layout.addWidget(self.token_prompt)
        body_layout.addWidget(self.files)
        body_layout.addWidget(self.notes)
        body_layout.addWidget(self.card, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.notice)
        layout.addWidget(self.body, 1)
        self.body.hide()

    # -- states --------------------------------------------------------------------------

    def show_placeholder(self) -> None:
        self.loaded = None
        self.notice.hide()
        self.placeholder.setText(
            self.tr("Pick a model on the left to see its files and how well each fits this PC.")
        )
        self.placeholder.show()
        self.body.hide()

    def show_loading(self, repo_id: str) -> None:
        self.loaded = None
        self.notice.hide()
        self.placeholder.setText(self.tr("Loading %1…").replace("%1", repo_id))
        self.placeholder.show()
        self.body.hide()

    def show_error(self, repo_id: str, message: str, *, offline: bool = False) -> None:
        self.loaded = None
        self.body.hide()
        self.placeholder.setText(repo_id)
        self.placeholder.show()
        actions = {"retry": self.tr("Try again")}
        if offline:
            actions = {"settings": self.tr("Hub settings…")}
        self.notice.show_message(message, kind="warning" if offline else "error", actions=actions)

    def show_repo(self, loaded: RepoRating) -> None:
        self.loaded = loaded
        detail = loaded.detail
        self.notice.hide()
        self.placeholder.hide()
        self.body.show()
        self.title.setText(detail.repo_id)
        self.title.setToolTip(format_ref(detail.source, detail.repo_id))
        # The source's name links to the repository's page there (one word: never broken).
        page_url = escaped(self.session.clients[detail.source].page_url(detail.repo_id))
        name = escaped(source_name(detail.source)).replace(" ", "&nbsp;")
        parts = [
            self.tr("%1 downloads").replace("%1", count_text(detail.downloads)),
            self.tr("%1 likes").replace("%1", count_text(detail.likes)),
        ]
        if detail.last_modified is not None:
            parts.append(self.tr("updated %1").replace("%1", age_text(detail.last_modified)))
        if detail.license:
            parts.append(self.tr("licence: %1").replace("%1", detail.license))
        parts = [escaped(part) for part in parts]  # the meta line is HTML, for its link
        parts.insert(0, f"<a href='{page_url}'>{name}</a>")
        self.meta.setText(" · ".join(parts))
        if detail.gated:
            self.token_prompt.show_for(detail.repo_id, self.session.clients[detail.source].endpoint)
        else:
            self.token_prompt.hide()
        self._fill_files()
        self._show_notes(detail)
        self.card.clear()
        self._code_blocks = ()
        self.card.setPlaceholderText(self.tr("Loading the model card…"))

    def show_fits(self, loaded: RepoRating) -> None:
        """The estimator's verdicts for the repository shown (rows stay; badges change)."""
        shown = self.loaded.detail if self.loaded is not None else None
        if shown is None or (shown.repo_id, shown.revision) != (
            loaded.detail.repo_id,
            loaded.detail.revision,
        ):
            return
        self.loaded = loaded
        by_model = {rated.model: rated for rated in loaded.rated}
        for item in self.file_items():
            rated = by_model.get(item.data(0, _ROLE))
            if rated is not None:
                self._show_fit(item, rated)
        self._show_notes(loaded.detail)

    def show_card(self, card: LoadedCard) -> None:
        if self.loaded is None or card.repo_id != self.loaded.detail.repo_id:
            return
        self._code_blocks = card.code_blocks
        if card.html:
            self.card.setHtml(card.html)
        else:
            self.card.clear()
            self.card.setPlaceholderText(self.tr("This model has no description."))

    def _show_notes(self, detail: RepoDetail) -> None:
        notes = []
        if self.loaded is not None and self.loaded.recommended is not None:
            notes.append(self.tr("★ the best choice for this PC"))
        if not detail.models:
            notes.append(self.tr("This repository has no GGUF chat model files."))
        if detail.projectors:
            names = ", ".join(p.primary_path for p in detail.projectors)
            notes.append(
                self.tr(
                    "Vision projector files are not chat models and are not offered here: %1"
                ).replace("%1", names)
            )
        if detail.incomplete:
            notes.append(
                self.tr("Split models with parts missing on the hub (not offered): %1").replace(
                    "%1", ", ".join(detail.incomplete)
                )
            )
        self.notes.setText("\n".join(notes))
        self.notes.setVisible(bool(notes))

    # -- the files -----------------------------------------------------------------------

    def _fill_files(self) -> None:
        self.files.clear()
        if self.loaded is None:
            return
        for rated in self.loaded.rated:
            model = rated.model
            item = QTreeWidgetItem(self.files)
            bold = QFont(item.font(0))
            bold.setBold(True)
            item.setFont(0, bold)
            size = size_text(model.size)
            if model.is_split:
                size += " " + self.tr("(%1 parts)").replace("%1", str(len(model.files)))
            item.setText(1, size)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip(3, plain_tooltip(model.primary_path))
            item.setData(0, _ROLE, model)
            badge_box = QWidget()
            badge_layout = QHBoxLayout(badge_box)
            badge_layout.setContentsMargins(4, 2, 4, 2)
            badge_layout.addWidget(FitBadge())
            self.files.setItemWidget(item, 2, badge_box)
            self._show_fit(item, rated)
            button = QPushButton()
            button.clicked.connect(lambda _checked=False, m=model: self._on_file_action(m))
            self.files.setItemWidget(item, 4, button)
            self._update_action(item)
        self._fit_files_height()

    def _show_fit(self, item: QTreeWidgetItem, rated: RatedModel) -> None:
        assert self.loaded is not None
        model, recommended = rated.model, self.loaded.recommended
        quant = model.quant or self.tr("unknown")
        if recommended is not None and recommended.model == model:
            quant += "  ★"
            item.setToolTip(0, self.tr("Recommended for this PC"))
        else:
            item.setToolTip(0, plain_tooltip(model.primary_path))
        item.setText(0, quant)
        item.setText(3, fit_details(rated.fit))
        self.fit_badge(item).show_fit(rated.fit)

    def _fit_files_height(self) -> None:
        items = self.file_items()
        rows = min(max(1, len(items)), MAX_FILE_ROWS)
        button = self.files.itemWidget(items[0], 4) if items else None
        button_height = button.sizeHint().height() if button is not None else 0
        row_height = max(button_height, self.fontMetrics().height() + 8)
        frame = 2 * self.files.frameWidth()
        self.files.setFixedHeight(
            self.files.header().sizeHint().height() + rows * row_height + frame
        )

    def file_items(self) -> list[QTreeWidgetItem]:
        return top_level_items(self.files)

    def action_button(self, quant: str) -> QPushButton:
        """The button of the file with this quantization label (for tests and shortcuts)."""
        for item in self.file_items():
            model: RemoteModel = item.data(0, _ROLE)
            if (model.quant or "") == quant:
                widget = self.files.itemWidget(item, 4)
                assert isinstance(widget, QPushButton)
                return widget
        raise KeyError(quant)

    def fit_badge(self, item: QTreeWidgetItem) -> FitBadge:
        box = self.files.itemWidget(item, 2)
        badge = box.findChild(FitBadge) if box is not None else None
        assert isinstance(badge, FitBadge)
        return badge

    def local_path(self, model: RemoteModel) -> Path:
        """Where the download manager puts this model (its first file)."""
        assert self.loaded is not None
        repo_dir = self.session.downloads.models_dir.joinpath(
            *self.loaded.detail.repo_id.split("/")
        )
        return repo_dir.joinpath(*model.primary_path.split("/"))

    def _update_action(self, item: QTreeWidgetItem) -> None:
        model: RemoteModel = item.data(0, _ROLE)
        button = self.files.itemWidget(item, 4)
        if not isinstance(button, QPushButton):
            return
        path = self.local_path(model)
        status = self._downloads.get(path)
        state = status.state if status else None
        button.setEnabled(True)
        if path in self._on_disk or state is DownloadState.COMPLETED:
            button.setText(self.tr("Use"))
        elif state is DownloadState.RUNNING and status is not None:
            button.setText(
                self.tr("Downloading %1%").replace("%1", str(int(status.fraction * 100)))
            )
        elif state is DownloadState.QUEUED:
            button.setText(self.tr("Queued"))
        elif state in (DownloadState.PAUSED, DownloadState.FAILED):
            button.setText(self.tr("Resume"))
        else:
            button.setText(self.tr("Download"))

    def _on_file_action(self, model: RemoteModel) -> None:
        if self.loaded is None:
            return
        path = self.local_path(model)
        status = self._downloads.get(path)
        if path in self._on_disk or (status and status.state is DownloadState.COMPLETED):
            self.useRequested.emit(path)
        elif status is not None and status.state in (DownloadState.RUNNING, DownloadState.QUEUED):
            self.showDownloadsRequested.emit()
        elif self._too_slow_to_download(model):
            self._slow_model = model
            speed = self.loaded.rating_of(model).fit.speed
            assert speed is not None
            self.notice.show_message(
                slow_model_warning(speed),
                kind="warning",
                actions={
                    "download-anyway": self.tr("Download anyway"),
                    "keep-looking": self.tr("Cancel"),
                },
            )
        else:
            self.downloadRequested.emit(self.loaded.detail, model)

    def _too_slow_to_download(self, model: RemoteModel) -> bool:
        """Slower than people bear to wait for, and not confirmed yet (warn once per file)."""
        assert self.loaded is not None
        speed = self.loaded.rating_of(model).fit.speed
        return (
            speed is not None
            and speed.decode_tokens_per_s < SLOW_TOKENS_PER_S
            and model not in self._slow_confirmed
        )

    def update_download(self, status: DownloadStatus) -> None:
        self._downloads[status.path] = status
        if self.loaded is None:
            return
        for item in self.file_items():
            if self.local_path(item.data(0, _ROLE)) == status.path:
                self._update_action(item)

    def set_on_disk(self, paths: set[Path]) -> None:
        self._on_disk = paths
        for item in self.file_items():
            self._update_action(item)

    # -- links ---------------------------------------------------------------------------

    def _on_card_link(self, url: QUrl) -> None:
        if url.scheme() == COPY_CODE_SCHEME and url.path().isdigit():
            index = int(url.path())
            if index < len(self._code_blocks):
                QGuiApplication.clipboard().setText(self._code_blocks[index])
        elif url.scheme() in ("http", "https"):
            QDesktopServices.openUrl(url)

    def _on_notice_action(self, key: str) -> None:
        if key in ("download-anyway", "keep-looking"):
            self.notice.hide()
            model, self._slow_model = self._slow_model, None
            if key == "download-anyway" and model is not None:
                self._slow_confirmed.add(model)
                self._on_file_action(model)
        elif key == "retry":
            self.retryRequested.emit()
        elif key == "settings":
            self.settingsRequested.emit()


# --------------------------------------------------------------------------- the page


class DiscoverPage(QWidget):
    downloadRequested = Signal(object, object)  # RepoDetail, RemoteModel
    useRequested = Signal(object)  # Path
    showDownloadsRequested = Signal()
    settingsRequested = Signal()

    def __init__(self, session: HubSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        # One runner per kind of request: a newer request of a kind replaces a pending one.
        self.catalog_call = CallRunner(self, name="catalog")
        self.search_call = CallRunner(self, name="search")
        self.repo_call = CallRunner(self, name="repo")
        self.card_call = CallRunner(self, name="card")
        self.fits_call = CallRunner(self, name="fits")
        self._search: ModelPager | None = None
        self._repo_id: str | None = None
        self._catalog_loaded = False

        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(
            self.tr("Search GGUF models on the hub, e.g. “qwen 1.5b” or “glm”")
        )
        self.search_edit.setClearButtonEnabled(True)
        self.source_combo = QComboBox()
        self.source_combo.setToolTip(self.tr("Where models are searched and downloaded from"))
        for source in Source:
            self.source_combo.addItem(source_name(source), source.value)
        self.source_combo.setCurrentIndex(self.source_combo.findData(session.source.value))
        self.source_combo.currentIndexChanged.connect(self._on_source_chosen)
        self.sort_combo = QComboBox()
        for label, sort in (
            (self.tr("Most downloaded"), SearchSort.DOWNLOADS),
            (self.tr("Most liked"), SearchSort.LIKES),
            (self.tr("Recently updated"), SearchSort.RECENT),
            (self.tr("Trending"), SearchSort.TRENDING),
        ):
            self.sort_combo.addItem(label, sort)
        self._debounce = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.start_search)
        self._slow = QTimer(self, singleShot=True, interval=SLOW_ANSWER_MS)
        self._slow.timeout.connect(self._on_slow_answer)
        self.search_edit.textChanged.connect(self._on_text_changed)
        self.search_edit.returnPressed.connect(self.start_search)
        self.sort_combo.currentIndexChanged.connect(lambda _i: self.start_search())

        self.offline_bar = NoticeBar()
        self.offline_bar.actionTriggered.connect(self._on_offline_action)

        self.list_title = plain_label()
        self.list_title.setStyleSheet("font-weight: 600;")
        self.catalog = self._tree(
            [self.tr("Recommended model"), self.tr("Size"), self.tr("On this PC")]
        )
        self.catalog.setUniformRowHeights(False)  # two lines: name, then quant and licence
        self.results = self._tree(
            [self.tr("Model"), self.tr("Downloads"), self.tr("Likes"), self.tr("Updated")]
        )
        self.results.setUniformRowHeights(False)  # two lines: name, then author
        self.results.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.lists = QStackedWidget()
        self.lists.addWidget(self.catalog)
        self.lists.addWidget(self.results)
        self.list_status = plain_label()  # may quote a server's error
        self.list_status.setWordWrap(True)
        self.list_status.setStyleSheet("color: palette(placeholder-text);")
        self.list_notice = NoticeBar()
        self.list_notice.actionTriggered.connect(self._on_list_notice_action)
        for tree in (self.catalog, self.results):
            tree.currentItemChanged.connect(self._on_item_chosen)

        self.detail = RepoDetailView(session)
        self.detail.downloadRequested.connect(self.downloadRequested)
        self.detail.useRequested.connect(self.useRequested)
        self.detail.showDownloadsRequested.connect(self.showDownloadsRequested)
        self.detail.retryRequested.connect(self._retry_repo)
        self.detail.settingsRequested.connect(self.settingsRequested)

        search_row = QHBoxLayout()
        search_row.addWidget(self.source_combo)
        search_row.addWidget(self.search_edit, 1)
        search_row.addWidget(self.sort_combo)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list_title)
        left_layout.addWidget(self.lists, 1)
        left_layout.addWidget(self.list_notice)
        left_layout.addWidget(self.list_status)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([460, 600])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(search_row)
        layout.addWidget(self.offline_bar)
        layout.addWidget(self.splitter, 1)

        session.settingsChanged.connect(self._on_settings_changed)
        session.sourceChanged.connect(self._on_source_changed)
        self._show_offline_state()
        self._show_catalog()

    def _tree(self, labels: list[str]) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.setAlternatingRowColors(True)
        tree.setHeaderLabels(labels)
        header = tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        return tree

    # -- catalog -------------------------------------------------------------------------

    def _show_catalog(self) -> None:
        self.search_call.cancel()
        self._slow.stop()
        self._search = None
        self.lists.setCurrentWidget(self.catalog)
        self.list_title.setText(self.tr("Recommended for this PC"))
        self.list_notice.hide()
        if not self._catalog_loaded:
            self.list_status.setText(self.tr("Checking which models fit this PC…"))
            self._rank_catalog()
        else:
            self.list_status.setText(
                self.tr("Type to search every GGUF model on %1.").replace(
                    "%1", self.session.client.host
                )
            )

    def _rank_catalog(self) -> None:
        # Waits until the page is first shown: the window is created hidden at start.
        if self.isVisible() and not self._catalog_loaded and not self.catalog_call.busy:
            self.catalog_call.run(
                rank_curated, on_success=self._fill_catalog, on_failure=self._on_catalog_failed
            )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._rank_catalog()

    def _fill_catalog(self, choices: list[CatalogChoice]) -> None:
        self._catalog_loaded = True
        self.catalog.clear()
        for choice in choices:
            entry = choice.entry
            item = QTreeWidgetItem(self.catalog)
            item.setText(0, f"{entry.name}\n{choice.quant} · {entry.license}")
            item.setToolTip(
                0,
                plain_tooltip(
                    f"{entry.description}\n{entry.repo_id} · "
                    + self.tr("licence: %1").replace("%1", entry.license)
                ),
            )
            item.setText(1, size_text(entry.estimated_size(choice.quant)))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setData(0, _ROLE, entry.repo_id)
            badge_box = QWidget()
            box_layout = QHBoxLayout(badge_box)
            box_layout.setContentsMargins(4, 2, 4, 2)
            box_layout.addWidget(FitBadge(choice.fit))
            self.catalog.setItemWidget(item, 2, badge_box)
        if self.lists.currentWidget() is self.catalog:
            self._show_catalog()

    def _on_catalog_failed(self, error: AutoGLMError) -> None:
        set_plain_text(self.list_status, error)

    # -- search --------------------------------------------------------------------------

    def _on_text_changed(self, text: str) -> None:
        if not text.strip():
            self._debounce.stop()
            self._show_catalog()
        else:
            self._debounce.start()

    def start_search(self) -> None:
        """Search now for the text in the box (the catalog when it is empty)."""
        self._debounce.stop()
        query = self.search_edit.text().strip()
        if not query:
            self._show_catalog()
            return
        sort = SearchSort(self.sort_combo.currentData())  # Qt hands back the plain str
        self._search = self.session.client.search(query, sort=sort)
        self.results.clear()
        self.lists.setCurrentWidget(self.results)
        self.list_title.setText(
            self.tr("Models matching “%1” on %2")
            .replace("%1", query)
            .replace("%2", source_name(self.session.source))
        )
        self._request_page(self.tr("Searching %1…").replace("%1", self.session.client.host))

    def _request_page(self, status: str) -> None:
        search = self._search
        if search is None:
            return
        self.list_notice.hide()
        self.list_status.setText(status)
        self.search_call.run(
            search.next_page, on_success=self._fill_results, on_failure=self._on_search_failed
        )
        self._slow.start()

    def _on_scrolled(self, value: int) -> None:
        bar = self.results.verticalScrollBar()
        if value < bar.maximum() - 4 or self._search is None or self._search.exhausted:
            return
        if not self.search_call.busy:
            self._request_page(self.tr("Loading more…"))

    def _fill_results(self, page: list[HubModel]) -> None:
        self._slow.stop()
        for model in page:
            item = QTreeWidgetItem(self.results)
            author, _, name = model.repo_id.rpartition("/")
            gated = " · " + self.tr("gated") if model.gated else ""
            item.setText(0, f"{name}\n{author}{gated}")
            tip = format_ref(model.source, model.repo_id)
            if model.gated:
                tip += "\n" + self.tr("Gated: needs an access token to download.")
            if model.architecture:
                tip += "\n" + model.architecture
            item.setToolTip(0, plain_tooltip(tip))
            item.setText(1, count_text(model.downloads))
            item.setText(2, count_text(model.likes))
            item.setText(3, age_text(model.last_modified))
            for column in (1, 2):
                item.setTextAlignment(
                    column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
            item.setData(0, _ROLE, model.repo_id)
        count = self.results.topLevelItemCount()
        assert self._search is not None
        if count == 0:
            self.list_status.setText(
                self.tr("No GGUF models match “%1”. Try fewer or other words.").replace(
                    "%1", self._search.query
                )
            )
        elif self._search.exhausted:
            text = self.tr("1 model on %2") if count == 1 else self.tr("%1 models on %2")
            self.list_status.setText(
                text.replace("%1", str(count)).replace("%2", self.session.client.host)
            )
        else:
            self.list_status.setText(
                self.tr("%1 models so far; scroll for more").replace("%1", str(count))
            )
            QTimer.singleShot(0, self._fill_view)

    def _fill_view(self) -> None:
        """Fetch the next page while the list does not fill its view (no scroll bar yet)."""
        bar = self.results.verticalScrollBar()
        if bar.maximum() == 0:
            self._on_scrolled(0)

    def _on_slow_answer(self) -> None:
        if not self.search_call.busy:
            return
        if self.session.source is Source.MODELSCOPE:
            text = self.tr(
                "%1 is slow to answer. Still waiting… If it stays like this, check the "
                "connection or search Hugging Face instead."
            )
        else:
            text = self.tr(
                "%1 is slow to answer. Still waiting… If it stays like this, check the "
                "connection or choose the hf-mirror.com endpoint in Hub settings."
            )
        self.list_status.setText(text.replace("%1", self.session.client.host))

    def _on_search_failed(self, error: AutoGLMError) -> None:
        self._slow.stop()
        if self.session.offline:  # the banner above says why and offers to go online
            self.list_status.setText(self.tr("Nothing was searched: offline mode is on."))
            return
        self.list_status.setText("")
        self.list_notice.show_message(
            str(error),
            actions={"retry": self.tr("Try again"), "settings": self.tr("Hub settings…")},
        )

    # -- repository ----------------------------------------------------------------------

    def _on_item_chosen(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        if item is not None:
            self.open_repo(item.data(0, _ROLE))

    def open_repo(self, repo_id: str) -> None:
        self._repo_id = repo_id
        self.detail.show_loading(repo_id)
        client = self.session.client
        self.card_call.cancel()
        self.fits_call.cancel()
        self.repo_call.run(
            lambda: rate_repo_by_size(client=client, repo_id=repo_id),
            on_success=self._on_repo_loaded,
            on_failure=self._on_repo_failed,
        )

    def _retry_repo(self) -> None:
        if self._repo_id is not None:
            self.open_repo(self._repo_id)

    def _on_repo_loaded(self, loaded: RepoRating) -> None:
        self.detail.show_repo(loaded)
        client, detail, dark = self.session.client, loaded.detail, is_dark(self)
        self.card_call.run(
            lambda: load_card(client, detail.repo_id, detail.revision, dark=dark),
            on_success=self.detail.show_card,
            on_failure=self._on_card_failed,
        )
        self.fits_call.run(
            lambda: rate_repo_by_headers(client=client, rating=loaded),
            on_success=self.detail.show_fits,
            on_failure=self._on_fits_failed,
        )

    def _on_repo_failed(self, error: AutoGLMError) -> None:
        self.detail.show_error(self._repo_id or "", str(error), offline=self.session.offline)

    def _on_card_failed(self, error: AutoGLMError) -> None:
        self.detail.card.setPlaceholderText(plain_message(error))

    def _on_fits_failed(self, error: AutoGLMError) -> None:
        log.debug("No estimator verdicts; the files keep their size-based ratings: %s", error)

    def _on_list_notice_action(self, key: str) -> None:
        if key == "settings":
            self.settingsRequested.emit()
        elif key == "retry" and self._search is not None:
            if self.results.topLevelItemCount():
                self._request_page(self.tr("Loading more…"))
            else:
                self.start_search()

    # -- source --------------------------------------------------------------------------

    def _on_source_chosen(self, _index: int) -> None:
        source = Source(self.source_combo.currentData())
        try:
            self.session.set_source(source)
        except AutoGLMError as error:  # not saved; it still applies until the app quits
            self.list_status.setText(str(error))

    def _on_source_changed(self, source: Source) -> None:
        """Show the chosen source's answers: search again, forget the repository shown."""
        index = self.source_combo.findData(source.value)
        if index != self.source_combo.currentIndex():
            self.source_combo.setCurrentIndex(index)
        self.repo_call.cancel()
        self.card_call.cancel()
        self.fits_call.cancel()
        self._repo_id = None
        self.detail.show_placeholder()
        if self.search_edit.text().strip():
            self.start_search()
        else:
            self._show_catalog()

    # -- offline -------------------------------------------------------------------------

    def _on_settings_changed(self, _settings: object) -> None:
        self._show_offline_state()
        if self.session.offline:
            return  # keep what is shown; the banner says that nothing new can be fetched
        if self.search_edit.text().strip():
            self.start_search()
        if self._repo_id is not None and self.detail.loaded is None:
            self.open_repo(self._repo_id)

    def _show_offline_state(self) -> None:
        if self.session.offline:
            self.offline_bar.show_message(
                self.tr(
                    "Offline mode is on: the app makes no network connection, so searching and "
                    "downloading are off. Models already on this PC work as usual."
                ),
                kind="warning",
                actions={"online": self.tr("Go online")},
            )
        else:
            self.offline_bar.hide()

    def _on_offline_action(self, key: str) -> None:
        if key == "online":
            try:
                self.session.apply_settings(self.session.settings.updated(offline=False))
            except AutoGLMError as error:
                set_plain_text(self.offline_bar.label, error)

    # -- from the window -----------------------------------------------------------------

    def update_download(self, status: DownloadStatus) -> None:
        self.detail.update_download(status)

    def set_on_disk(self, paths: set[Path]) -> None:
        self.detail.set_on_disk(paths)

    def shutdown(self) -> None:
        """Abandon the requests in flight (never waits for them) and start no more."""
        for runner in (
            self.catalog_call,
            self.search_call,
            self.repo_call,
            self.card_call,
            self.fits_call,
        ):
            runner.close()
