"""Model picker: local models, remote servers' models, Load/Unload, the loading progress bar.

Local items hold their path (as text) in the user role; remote items hold a
:class:`~autoglm_desktop.core.remote.servers.RemoteTarget` in ``REMOTE_ROLE`` and nothing in
the user role, so :meth:`ModelBar.selected_path` is None for them. A remote model needs no
loading: picking it is using it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from autoglm_desktop.core.models.library import LocalModel
from autoglm_desktop.core.remote.servers import RemoteServer, RemoteTarget
from autoglm_desktop.qt.common.plain_text import plain_tooltip
from autoglm_desktop.qt.common.speed_text import speed_text

PROGRESS_STEPS = 1000
REMOTE_ROLE = Qt.ItemDataRole.UserRole + 1


def format_size(size_bytes: int) -> str:
    if size_bytes >= 1 << 30:
        return f"{size_bytes / (1 << 30):.1f} GB"
    return f"{size_bytes / (1 << 20):.0f} MB"


class ModelBar(QWidget):
    loadRequested = Signal(object)  # Path
    unloadRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(28)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setToolTip(self.tr("Models found on this computer, and remote servers' models"))
        self.action_button = QPushButton(self.tr("Load"))
        self.action_button.clicked.connect(self._on_action)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setMaximumWidth(180)
        self.progress.setFormat(self.tr("Loading… %p%"))
        self.progress.hide()
        self.state_label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(self.tr("Model:")))
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.state_label)
        self._loaded_path: Path | None = None
        self._loading = False
        self._models: list[LocalModel] = []
        self._speeds: dict[Path, float] = {}  # forecast tokens/s on this PC, where measured
        self._remote: list[RemoteTarget] = []
        # A remote model selected only because it came first (no local model listed yet) is
        # not kept when local models arrive; one the user or the window picked is.
        self._auto_remote = False
        self.combo.currentIndexChanged.connect(self._on_index_changed)

    def set_models(self, models: list[LocalModel], *, current: Path | None = None) -> None:
        """List ``models`` (then the remote ones) and select ``current``.

        A remote model that was selected stays selected while it is listed.
        """
        self._models = list(models)
        self._refill(current=current)

    @property
    def local_models(self) -> list[LocalModel]:
        return list(self._models)

    def set_speeds(self, speeds: dict[Path, float]) -> None:
        """Show each local model's forecast writing speed beside its size."""
        self._speeds = dict(speeds)
        self._refill(current=self.selected_path())

    def set_remote_servers(self, servers: list[RemoteServer]) -> None:
        """List the models each server listed at its last Test connection."""
        self._remote = [RemoteTarget(server=s, model=m) for s in servers for m in s.models]
        self._refill(current=self.selected_path())

    def _refill(self, *, current: Path | None) -> None:
        remote = None if self._auto_remote else self.selected_remote()
        self.combo.blockSignals(True)
        self.combo.clear()
        for model in self._models:
            # Item data is the path as text: QComboBox.findData cannot match Path objects.
            label = f"{model.name}  ({format_size(model.size_bytes)})"
            if model.path in self._speeds:
                label += " · " + speed_text(self._speeds[model.path])
            self.combo.addItem(label, str(model.path))
            self.combo.setItemData(self.combo.count() - 1, str(model.path), 3)  # tooltip role
        if self._models and self._remote:
            self.combo.insertSeparator(self.combo.count())
        for target in self._remote:
            label = (
                self.tr("%1 — %2 (remote)")
                .replace("%1", target.model)
                .replace("%2", target.server.name)
            )
            self.combo.addItem(label, None)
            index = self.combo.count() - 1
            self.combo.setItemData(index, target, REMOTE_ROLE)
            self.combo.setItemData(index, plain_tooltip(target.server.base_url), 3)
        if not self._models and not self._remote:
            self.combo.addItem(self.tr("No models found"), None)
        kept_remote = remote is not None and self.select_remote(remote)
        if not kept_remote and current is not None:
            self.select_path(current)
        self._auto_remote = self.selected_remote() is not None and not kept_remote
        self.combo.blockSignals(False)
        self._update_button()

    def _on_index_changed(self, _index: int) -> None:
        self._auto_remote = False
        self._update_button()

    def select_remote(self, target: RemoteTarget) -> bool:
        """Select ``target``'s model (same server and model); False when it is not listed."""
        for index in range(self.combo.count()):
            item = self.combo.itemData(index, REMOTE_ROLE)
            if (
                isinstance(item, RemoteTarget)
                and item.server.id == target.server.id
                and item.model == target.model
            ):
                self.combo.setCurrentIndex(index)
                self._auto_remote = False  # picked, even if it was selected already
                return True
        return False

    @property
    def remote_is_automatic(self) -> bool:
        """The remote model selected was not picked: it came first, no local model is listed."""
        return self._auto_remote

    def selected_remote(self) -> RemoteTarget | None:
        data = self.combo.currentData(REMOTE_ROLE)
        return data if isinstance(data, RemoteTarget) else None

    def select_path(self, path: Path) -> bool:
        """Select ``path`` in the picker; False when it is not listed."""
        index = self.combo.findData(str(path))
        if index >= 0:
            self.combo.setCurrentIndex(index)
        return index >= 0

    def selected_path(self) -> Path | None:
        data = self.combo.currentData()
        return Path(data) if data else None

    def set_loading(self, loading: bool) -> None:
        self._loading = loading
        self.progress.setVisible(loading)
        if loading:
            self.progress.setValue(0)
        self._update_button()

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * PROGRESS_STEPS))

    def set_loaded(self, path: Path | None) -> None:
        self._loaded_path = path
        self.set_loading(False)

    def _update_button(self) -> None:
        remote = self.selected_remote() is not None
        self.action_button.setVisible(not remote or self._loading)
        if remote and not self._loading:
            self.state_label.setText(self.tr("remote: no loading needed"))
            return
        if self._loading:
            self.action_button.setText(self.tr("Cancel"))
        elif self._loaded_path is not None and self._loaded_path == self.selected_path():
            self.action_button.setText(self.tr("Unload"))
        else:
            self.action_button.setText(self.tr("Load"))
        self.action_button.setEnabled(self._loading or self.selected_path() is not None)
        self.state_label.setText(
            self.tr("loaded") if self._loaded_path is not None and not self._loading else ""
        )

    def _on_action(self) -> None:
        if self._loading:
            self.cancelRequested.emit()
        elif self._loaded_path is not None and self._loaded_path == self.selected_path():
            self.unloadRequested.emit()
        else:
            path = self.selected_path()
            if path is not None:
                self.loadRequested.emit(path)
