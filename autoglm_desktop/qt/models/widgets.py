"""Small pieces the model pages share: fit badges, notice strips, and number formatting."""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from autoglm_desktop.core.hub.downloads import format_bytes
from autoglm_desktop.core.hub.source import Source
from autoglm_desktop.core.planning.fit import FitEstimate, FitVerdict
from autoglm_desktop.qt.common.plain_text import plain_label, set_plain_text
from autoglm_desktop.qt.common.speed_text import speed_explanation, speed_text

# (background, text) of each verdict's badge; light pastels read well on light and dark themes.
_BADGE_COLOURS = {
    FitVerdict.GPU: ("#dcf2e3", "#17602f"),
    FitVerdict.PARTIAL: ("#dfecfa", "#1a4f8a"),
    FitVerdict.CPU: ("#fdf0d9", "#7a4b00"),
    FitVerdict.TOO_BIG: ("#fbe2e0", "#9b1c14"),
}
_NOTICE_COLOURS = {
    "info": ("#e8f1fb", "#b9d3f0", "#173e66"),
    "warning": ("#fff5e0", "#f0d49a", "#5c3b00"),
    "error": ("#fdecea", "#f5c2c0", "#611a15"),
}


def is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Window).lightness() < 128


def top_level_items(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    """The tree's rows, in order."""
    return [
        item
        for index in range(tree.topLevelItemCount())
        if (item := tree.topLevelItem(index)) is not None
    ]


def page_title(text: str) -> QLabel:
    """A page's heading: bold and a quarter larger than the body text."""
    title = plain_label(text)
    font = QFont(title.font())
    font.setPointSizeF(font.pointSizeF() * 1.25)
    font.setBold(True)
    title.setFont(font)
    return title


def muted_label(text: str = "") -> QLabel:
    """Secondary text (summaries, hints) in the palette's placeholder colour."""
    label = plain_label(text)  # summaries and origins name models and repositories
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def size_text(n_bytes: float) -> str:
    return format_bytes(n_bytes)


def count_text(n: int) -> str:
    """1234 → 1.2K, 3456789 → 3.5M."""
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if n >= limit:
            return f"{n / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return str(n)


def age_text(when: datetime | None, *, now: datetime | None = None) -> str:
    """How long ago, in words: "today", "3 days ago", "2 months ago"."""
    if when is None:
        return ""
    now = now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    days = max(0, (now - when).days)
    if days == 0:
        return QCoreApplication.translate("ModelWidgets", "today")
    if days == 1:
        return QCoreApplication.translate("ModelWidgets", "yesterday")
    if days < 31:
        return QCoreApplication.translate("ModelWidgets", "%1 days ago").replace("%1", str(days))
    if days < 60:
        return QCoreApplication.translate("ModelWidgets", "a month ago")
    if days < 365:
        return QCoreApplication.translate("ModelWidgets", "%1 months ago").replace(
            "%1", str(days // 30)
        )
    if days < 730:
        return QCoreApplication.translate("ModelWidgets", "a year ago")
    return QCoreApplication.translate("ModelWidgets", "%1 years ago").replace(
        "%1", str(days // 365)
    )


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return QCoreApplication.translate("ModelWidgets", "%1 s").replace(
            "%1", str(max(1, seconds))
        )
    if seconds < 3600:
        return QCoreApplication.translate("ModelWidgets", "%1 min").replace(
            "%1", str(round(seconds / 60))
        )
    hours, rest = divmod(seconds, 3600)
    return (
        QCoreApplication.translate("ModelWidgets", "%1 h %2 min")
        .replace("%1", str(hours))
        .replace("%2", str(rest // 60))
    )


def source_name(source: Source) -> str:
    """A model source's name as the window shows it (ModelScope is 魔搭 in Chinese)."""
    if source is Source.MODELSCOPE:
        return QCoreApplication.translate("ModelWidgets", "ModelScope")
    return source.label


def verdict_label(verdict: FitVerdict) -> str:
    """The badge's text: short, since it sits in a table column."""
    return {
        FitVerdict.GPU: QCoreApplication.translate("ModelWidgets", "Fits on GPU"),
        FitVerdict.PARTIAL: QCoreApplication.translate("ModelWidgets", "Partial offload"),
        FitVerdict.CPU: QCoreApplication.translate("ModelWidgets", "Fits in RAM"),
        FitVerdict.TOO_BIG: QCoreApplication.translate("ModelWidgets", "Too big"),
    }[verdict]


def verdict_explanation(verdict: FitVerdict) -> str:
    return {
        FitVerdict.GPU: QCoreApplication.translate(
            "ModelWidgets", "Fits on the GPU: the whole model runs there, fastest."
        ),
        FitVerdict.PARTIAL: QCoreApplication.translate(
            "ModelWidgets",
            "Fits with partial GPU offload: some layers on the GPU, the rest on CPU.",
        ),
        FitVerdict.CPU: QCoreApplication.translate(
            "ModelWidgets", "Fits in RAM: runs on the CPU only (no GPU room for it)."
        ),
        FitVerdict.TOO_BIG: QCoreApplication.translate(
            "ModelWidgets", "Too big for this PC: it would not fit in the memory free now."
        ),
    }[verdict]


def context_text(tokens: int) -> str:
    """8192 → "8K", 131072 → "128K"."""
    return f"{tokens // 1024}K" if tokens >= 1024 and tokens % 1024 == 0 else f"{tokens:,}"


def fit_details(fit: FitEstimate) -> str:
    """What the verdict is based on, short: "1.3 GB · 8K context" (memory and context)."""
    return (
        QCoreApplication.translate("ModelWidgets", "%1 · %2 context")
        .replace("%1", size_text(fit.total_bytes))
        .replace("%2", context_text(fit.context_tokens))
    )


class FitBadge(QLabel):
    """A coloured pill with the verdict; the estimate behind it in the tooltip."""

    def __init__(self, fit: FitEstimate | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict: FitVerdict | None = None
        self.show_fit(fit)

    def show_fit(self, fit: FitEstimate | None) -> None:
        if fit is None:
            self.verdict = None
            self.setText("")
            self.setStyleSheet("")
            self.setToolTip("")
            return
        self.verdict = fit.verdict
        background, colour = _BADGE_COLOURS[fit.verdict]
        label = verdict_label(fit.verdict)
        if fit.speed is not None and fit.verdict is not FitVerdict.TOO_BIG:
            label += " · " + speed_text(fit.speed.decode_tokens_per_s)
        self.setText(label)
        self.setStyleSheet(
            f"QLabel {{ background: {background}; color: {colour}; border-radius: 8px; "
            "padding: 1px 8px; font-weight: 600; }"
        )
        tip = (
            verdict_explanation(fit.verdict)
            + "\n"
            + (
                QCoreApplication.translate(
                    "ModelWidgets", "Needs about %1 of memory with a context of %2 tokens."
                )
                .replace("%1", size_text(fit.total_bytes))
                .replace("%2", f"{fit.context_tokens:,}")
            )
        )
        if fit.speed is not None and fit.verdict is not FitVerdict.TOO_BIG:
            tip += "\n" + speed_explanation(fit.speed)
        if fit.verdict is FitVerdict.PARTIAL:
            tip += "\n" + QCoreApplication.translate(
                "ModelWidgets", "About %1% of the model on the GPU."
            ).replace("%1", str(round(fit.gpu_fraction * 100)))
        self.setToolTip(
            tip
            + "\n"
            + QCoreApplication.translate("ModelWidgets", "Estimated from %1.").replace(
                "%1", fit.method
            )
        )


class NoticeBar(QFrame):
    """A coloured strip with a message and up to a few buttons (Retry, Hub settings…)."""

    actionTriggered = Signal(str)  # the action's key

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.label = plain_label()  # messages quote hub and file text: never HTML
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 6, 6)
        self._layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        self.hide()

    def show_message(
        self, text: str, *, kind: str = "error", actions: dict[str, str] | None = None
    ) -> None:
        """Show ``text``; ``actions`` maps a key to a button label."""
        background, border, colour = _NOTICE_COLOURS[kind]
        self.setStyleSheet(
            f"#noticeBar {{ background: {background}; border: 1px solid {border}; "
            f"border-radius: 4px; }} #noticeBar QLabel {{ color: {colour}; }}"
        )
        set_plain_text(self.label, text)
        for button in self.buttons.values():
            button.deleteLater()
        self.buttons = {}
        for key, label in (actions or {}).items():
            button = QPushButton(label)
            button.clicked.connect(lambda _checked=False, key=key: self.actionTriggered.emit(key))
            self._layout.addWidget(button)
            self.buttons[key] = button
        self.show()
