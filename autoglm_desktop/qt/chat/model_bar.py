"""Model picker: local models, Load/Unload, and the loading progress bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from autoglm_desktop.core.models.library import LocalModel

PROGRESS_STEPS = 1000


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
        self.combo.setToolTip(self.tr("Models found on this computer"))
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
        self.combo.currentIndexChanged.connect(lambda _i: self._update_button())

    def set_models(self, models: list[LocalModel], *, current: Path | None = None) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for model in models:
            # Item data is the path as text: QComboBox.findData cannot match Path objects.
            self.combo.addItem(f"{model.name}  ({format_size(model.size_bytes)})", str(model.path))
            self.combo.setItemData(self.combo.count() - 1, str(model.path), 3)  # tooltip role
        if not models:
            self.combo.addItem(self.tr("No models found"), None)
        if current is not None:
            self.select_path(current)
        self.combo.blockSignals(False)
        self._update_button()

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
