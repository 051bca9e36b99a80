"""The My models page: every model on this PC, wherever it came from; use, reveal, delete, import.

Scanning (folders, the Hugging Face cache, LM Studio, Ollama, GPT4All), importing and deleting
run on the library worker's thread; the page shows what it reports.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QPoint, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.core.common.errors import AutoGLMError
from autoglm_desktop.core.models.library import LocalModel, ModelSource, reveal_in_file_manager
from autoglm_desktop.core.models.quant import is_gguf_name
from autoglm_desktop.core.planning.fit import FitEstimate
from autoglm_desktop.qt.common.plain_text import plain_message_box, plain_tooltip
from autoglm_desktop.qt.models.widgets import (
    FitBadge,
    NoticeBar,
    muted_label,
    page_title,
    size_text,
    top_level_items,
)
from autoglm_desktop.qt.workers.library_worker import LibraryWorker

_ROLE = Qt.ItemDataRole.UserRole
_NAME, _QUANT, _SIZE, _FIT, _SOURCE, _LOCATION = range(6)


def source_label(source: ModelSource) -> str:
    return {
        ModelSource.APP: QCoreApplication.translate("LibraryPage", "AutoGLM"),
        ModelSource.IMPORTED: QCoreApplication.translate("LibraryPage", "Imported file"),
        ModelSource.FOLDER: QCoreApplication.translate("LibraryPage", "Your folder"),
        ModelSource.HF_CACHE: QCoreApplication.translate("LibraryPage", "Hugging Face cache"),
        ModelSource.LM_STUDIO: QCoreApplication.translate("LibraryPage", "LM Studio"),
        ModelSource.GPT4ALL: QCoreApplication.translate("LibraryPage", "GPT4All"),
        ModelSource.OLLAMA: QCoreApplication.translate("LibraryPage", "Ollama"),
    }[source]


class _SizeItem(QTreeWidgetItem):
    """Sorts the size column by bytes, not by its text."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else _NAME
        if column == _SIZE:
            mine: LocalModel = self.data(_NAME, _ROLE)
            theirs: LocalModel = other.data(_NAME, _ROLE)
            return mine.size_bytes < theirs.size_bytes
        return self.text(column).lower() < other.text(column).lower()


class LibraryPage(QWidget):
    useRequested = Signal(object)  # Path
    discoverRequested = Signal()
    libraryScanned = Signal(object)  # list[LocalModel]
    requestScan = Signal()
    requestImport = Signal(object)  # list[Path]
    requestDelete = Signal(object)  # LocalModel
    requestForget = Signal(object)  # LocalModel
    requestAddFolder = Signal(object)  # Path

    def __init__(self, worker: LibraryWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models: list[LocalModel] = []
        self.fits: dict[Path, FitEstimate] = {}
        self.scanning = False
        self._pending_selection: Path | None = None
        self.setAcceptDrops(True)

        title = page_title(self.tr("My models"))
        self.summary = muted_label()
        self.import_button = QPushButton(self.tr("Import .gguf file…"))
        self.import_button.clicked.connect(self.choose_files)
        self.folder_button = QPushButton(self.tr("Add folder…"))
        self.folder_button.clicked.connect(self.choose_folder)
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        self.notice = NoticeBar()

        self.tree = QTreeWidget()
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSortingEnabled(True)
        self.tree.setHeaderLabels(
            [
                self.tr("Model"),
                self.tr("Quant"),
                self.tr("Size"),
                self.tr("On this PC"),
                self.tr("Source"),
                self.tr("Location"),
            ]
        )
        self.tree.sortByColumn(_NAME, Qt.SortOrder.AscendingOrder)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.itemDoubleClicked.connect(lambda _item, _column: self.use_selected())
        self.tree.currentItemChanged.connect(lambda _item, _previous: self._update_buttons())
        self.tree.setAcceptDrops(False)  # the page takes drops, over the list too
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.empty = muted_label(
            self.tr(
                "No models on this PC yet. Download one in Discover, or drop a .gguf file here."
            )
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.discover_button = QPushButton(self.tr("Discover models"))
        self.discover_button.clicked.connect(self.discoverRequested)

        self.use_button = QPushButton(self.tr("Use in chat"))
        self.use_button.clicked.connect(self.use_selected)
        self.reveal_button = QPushButton(self.tr("Show in folder"))
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.delete_button = QPushButton(self.tr("Delete…"))
        self.delete_button.clicked.connect(self.delete_selected)
        self.drop_hint = muted_label(self.tr("Tip: drop .gguf files here to add them."))

        header_row = QHBoxLayout()
        header_row.addWidget(title)
        header_row.addWidget(self.summary, 1)
        header_row.addWidget(self.import_button)
        header_row.addWidget(self.folder_button)
        header_row.addWidget(self.refresh_button)
        actions = QHBoxLayout()
        actions.addWidget(self.drop_hint, 1)
        actions.addWidget(self.use_button)
        actions.addWidget(self.reveal_button)
        actions.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header_row)
        layout.addWidget(self.notice)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.discover_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(actions)
        self.empty.hide()
        self.discover_button.hide()

        self.requestScan.connect(worker.scan)
        self.requestImport.connect(worker.import_files)
        self.requestDelete.connect(worker.delete)
        self.requestForget.connect(worker.forget)
        self.requestAddFolder.connect(worker.add_folder)
        worker.scanned.connect(self._on_scanned)
        worker.fitted.connect(self._on_fitted)
        worker.imported.connect(self._on_imported)
        worker.deleted.connect(self._on_deleted)
        worker.failed.connect(self._on_failed)
        self._update_buttons()

    # -- scanning ------------------------------------------------------------------------

    def refresh(self) -> None:
        self.scanning = True
        self.summary.setText(self.tr("Looking for models…"))
        self.requestScan.emit()

    def _on_scanned(self, models: list[LocalModel]) -> None:
        self.scanning = False
        self.models = models
        selected = self.selected_model()
        wanted = self._pending_selection or (selected.path if selected else None)
        self._pending_selection = None
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        for model in models:
            item = self._item(model)
            if model.path == wanted:
                self.tree.setCurrentItem(item)
        self.tree.setSortingEnabled(True)
        for column in (_NAME, _QUANT, _SIZE, _FIT, _SOURCE):
            self.tree.resizeColumnToContents(column)
        self.tree.setColumnWidth(_NAME, min(self.tree.columnWidth(_NAME), 340))
        self.tree.setColumnWidth(_FIT, max(self.tree.columnWidth(_FIT), 190))
        self.tree.setVisible(bool(models))
        self.empty.setVisible(not models)
        self.discover_button.setVisible(not models)
        total = sum(m.size_bytes for m in models)
        sources = sorted({source_label(m.source) for m in models})
        self.summary.setText(
            self.tr("%1 models · %2 · from %3")
            .replace("%1", str(len(models)))
            .replace("%2", size_text(total))
            .replace("%3", ", ".join(sources))
            if models
            else ""
        )
        self._update_buttons()
        self.libraryScanned.emit(models)

    def _item(self, model: LocalModel) -> QTreeWidgetItem:
        item = _SizeItem(self.tree)
        item.setText(_NAME, model.name)
        item.setToolTip(_NAME, plain_tooltip(model.repo_id or model.name))
        item.setText(_QUANT, model.quant or "")
        size = size_text(model.size_bytes)
        if model.parts:
            size += " " + self.tr("(%1 parts)").replace("%1", str(len(model.parts)))
        item.setText(_SIZE, size)
        item.setTextAlignment(_SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setText(_SOURCE, source_label(model.source))
        item.setText(_LOCATION, _short_path(model.path))
        item.setToolTip(_LOCATION, plain_tooltip("\n".join(str(p) for p in model.files)))
        item.setData(_NAME, _ROLE, model)
        self._show_fit(item, self.fits.get(model.path))
        return item

    def _show_fit(self, item: QTreeWidgetItem, fit: FitEstimate | None) -> None:
        if fit is None:
            return
        box = QWidget()
        box_layout = QHBoxLayout(box)
        box_layout.setContentsMargins(4, 1, 4, 1)
        box_layout.addWidget(FitBadge(fit))
        box_layout.addStretch(1)
        self.tree.setItemWidget(item, _FIT, box)

    def _on_fitted(self, fits: dict[Path, FitEstimate]) -> None:
        self.fits = fits
        for item in self.items():
            model: LocalModel = item.data(_NAME, _ROLE)
            self._show_fit(item, fits.get(model.path))

    def items(self) -> list[QTreeWidgetItem]:
        return top_level_items(self.tree)

    def item_for(self, path: Path) -> QTreeWidgetItem | None:
        return next((i for i in self.items() if i.data(_NAME, _ROLE).path == path), None)

    # -- selection and actions -----------------------------------------------------------

    def selected_model(self) -> LocalModel | None:
        item = self.tree.currentItem()
        return item.data(_NAME, _ROLE) if item is not None else None

    def select(self, path: Path) -> None:
        item = self.item_for(path)
        if item is not None:
            self.tree.setCurrentItem(item)

    def _update_buttons(self) -> None:
        model = self.selected_model()
        for button in (self.use_button, self.reveal_button, self.delete_button):
            button.setEnabled(model is not None)
        if model is not None and model.source is ModelSource.OLLAMA:
            self.delete_button.setToolTip(
                self.tr("Ollama shares its files between models; remove it with Ollama.")
            )
        else:
            self.delete_button.setToolTip("")

    def use_selected(self) -> None:
        model = self.selected_model()
        if model is not None:
            self.useRequested.emit(model.path)

    def reveal_selected(self) -> None:
        model = self.selected_model()
        if model is None:
            return
        try:
            reveal_in_file_manager(model.path)
        except AutoGLMError as error:
            self.notice.show_message(str(error))

    def delete_selected(self) -> None:
        model = self.selected_model()
        if model is None or not self.confirm_delete(model):
            return
        self.notice.hide()
        self.summary.setText(self.tr("Deleting %1…").replace("%1", model.name))
        self.requestDelete.emit(model)

    def confirm_delete(self, model: LocalModel) -> bool:
        """Ask first, saying exactly what goes."""
        where = {
            ModelSource.HF_CACHE: self.tr("It is removed from the Hugging Face cache."),
            ModelSource.LM_STUDIO: self.tr("LM Studio will no longer have it either."),
            ModelSource.GPT4ALL: self.tr("GPT4All will no longer have it either."),
        }.get(model.source, "")
        files = "\n".join(str(p) for p in model.files)
        text = (
            self.tr("Delete “%1” (%2) from this PC?\n\n%3\n\n%4This cannot be undone.")
            .replace("%1", model.name)
            .replace("%2", size_text(model.size_bytes))
            .replace("%3", files)
            .replace("%4", f"{where}\n\n" if where else "")
        )
        box = plain_message_box(  # the model's name and files: never HTML
            self,
            QMessageBox.Icon.Warning,
            self.tr("Delete model"),
            text,
            QMessageBox.StandardButton.Cancel,
        )
        delete = box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is delete

    def _context_menu(self, position: QPoint) -> None:
        item = self.tree.itemAt(position)
        if item is None:
            return
        self.tree.setCurrentItem(item)
        model: LocalModel = item.data(_NAME, _ROLE)
        menu = QMenu(self)
        menu.addAction(self.tr("Use in chat"), self.use_selected)
        menu.addAction(self.tr("Show in folder"), self.reveal_selected)
        if model.source is ModelSource.IMPORTED:
            menu.addAction(
                self.tr("Remove from list (keep the file)"),
                lambda: self.requestForget.emit(model),
            )
        menu.addSeparator()
        menu.addAction(self.tr("Delete…"), self.delete_selected)
        menu.exec(self.tree.viewport().mapToGlobal(position))

    def _on_deleted(self, model: LocalModel) -> None:
        self.notice.show_message(
            self.tr("Deleted %1 (%2 freed).")
            .replace("%1", model.name)
            .replace("%2", size_text(model.size_bytes)),
            kind="info",
        )

    def _on_failed(self, message: str) -> None:
        self.scanning = False
        self.notice.show_message(message)

    # -- importing -----------------------------------------------------------------------

    def choose_files(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(
            self,
            self.tr("Import GGUF models"),
            str(Path.home()),
            self.tr("GGUF models (*.gguf);;All files (*)"),
        )
        if names:
            self.import_files([Path(n) for n in names])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, self.tr("Add a folder of models"), str(Path.home())
        )
        if folder:
            self.summary.setText(self.tr("Looking for models…"))
            self.requestAddFolder.emit(Path(folder))

    def import_files(self, files: list[Path]) -> None:
        """Offer these files where they are, without copying them."""
        self.notice.hide()
        self.summary.setText(self.tr("Adding %1…").replace("%1", ", ".join(f.name for f in files)))
        self.requestImport.emit(files)

    def _on_imported(self, models: list[LocalModel]) -> None:
        names = ", ".join(m.name for m in models)
        self.notice.show_message(self.tr("Added %1.").replace("%1", names), kind="info")
        if models:
            self._pending_selection = models[-1].path

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_gguf(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragEnterEvent) -> None:  # type: ignore[override]
        if _dropped_gguf(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = _dropped_gguf(event)
        if files:
            event.acceptProposedAction()
            self.import_files(files)


def _dropped_gguf(event: QDropEvent | QDragEnterEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [
        Path(url.toLocalFile())
        for url in mime.urls()
        if url.isLocalFile() and is_gguf_name(url.toLocalFile())
    ]


def _short_path(path: Path) -> str:
    """The path with the home folder as “~”."""
    home = Path.home()
    try:
        return str(Path("~") / path.relative_to(home))
    except ValueError:
        return str(path)
