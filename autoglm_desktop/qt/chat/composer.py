"""The composer: a rounded box holding the message field, the Think switch and the send button.

The message field grows with its text up to a few lines; the round send button turns into a
stop button while a reply is written (its text stays "Send" / "Stop" for screen readers and
keyboard users; only the icon shows).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from autoglm_desktop.qt.chat.prompt_edit import PromptEdit
from autoglm_desktop.qt.chat.think_switch import ThinkSwitch
from autoglm_desktop.qt.common.colors import blend, is_dark
from autoglm_desktop.qt.common.icons import icon, palette_icon

MAX_LINES = 8  # the field grows up to this many lines, then scrolls
SEND_BUTTON_SIZE = 34


class Composer(QFrame):
    """The message box with its buttons; ``send_button`` sends or stops (see set_running)."""

    def __init__(
        self, prompt: PromptEdit, think_switch: ThinkSwitch, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.prompt = prompt
        self.think_switch = think_switch
        self._running = False
        prompt.setFrameShape(QFrame.Shape.NoFrame)
        prompt.setMaximumHeight(16_777_215)
        prompt.setObjectName("composerEdit")
        prompt.installEventFilter(self)
        self.send_button = QToolButton()
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.send_button.setFixedSize(SEND_BUTTON_SIZE, SEND_BUTTON_SIZE)
        self.send_button.setIconSize(QSize(18, 18))
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.regenerate_button = QToolButton()
        self.regenerate_button.setObjectName("regenerateButton")
        self.regenerate_button.setText(self.tr("Regenerate"))
        self.regenerate_button.setToolTip(self.tr("Write the last reply again"))
        self.regenerate_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.regenerate_button.setAutoRaise(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(think_switch)
        row.addWidget(self.regenerate_button)
        row.addStretch(1)
        row.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 10, 10)
        layout.setSpacing(4)
        layout.addWidget(prompt)
        layout.addLayout(row)
        prompt.document().contentsChanged.connect(self._fit_height)
        self._apply_style()
        self.set_running(False)
        self._fit_height()

    def set_running(self, running: bool) -> None:
        """Show the stop button while a reply is written, else the send button."""
        self._running = running
        self.send_button.setText(self.tr("Stop") if running else self.tr("Send"))
        self.send_button.setToolTip(
            self.tr("Stop the reply (Esc)") if running else self.tr("Send (Enter)")
        )
        self.send_button.setProperty("running", running)
        self._apply_style()
        self.regenerate_button.setEnabled(not running)

    def _fit_height(self) -> None:
        """As tall as the text, from one line up to MAX_LINES."""
        metrics = self.prompt.fontMetrics()
        lines = int(self.prompt.document().documentLayout().documentSize().height())
        shown = max(1, min(MAX_LINES, lines))
        margins = self.prompt.contentsMargins()
        frame = 2 * self.prompt.document().documentMargin() + margins.top() + margins.bottom()
        self.prompt.setFixedHeight(round(shown * metrics.lineSpacing() + frame + 6))
        self.prompt.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if lines > MAX_LINES
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.prompt and event.type() in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
            self.setProperty("focused", event.type() == QEvent.Type.FocusIn)
            self._apply_style()
        elif watched is self.prompt and event.type() == QEvent.Type.Resize:
            self._fit_height()  # wrapped lines change with the width
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # The style sheet itself changes the palette: only a new scheme restyles.
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._apply_style()

    def _apply_style(self) -> None:
        palette = QApplication.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        dark = is_dark(palette)
        border = highlight.name() if self.property("focused") else blend(base, text, 0.22)
        button = text if self._running else highlight
        button_icon = base if self._running else palette.color(QPalette.ColorRole.HighlightedText)
        self.setStyleSheet(
            f"#composer {{ background: {base.name()}; border: 1px solid {border};"
            " border-radius: 18px; }"
            "#composerEdit { background: transparent; border: none; }"
            f"#sendButton {{ background: {button.name()}; border: none;"
            f" border-radius: {SEND_BUTTON_SIZE // 2}px; }}"
            f"#sendButton:hover {{ background: {button.lighter(115 if dark else 90).name()}; }}"
            "#regenerateButton { border: none; padding: 2px 6px; }"
        )
        self.send_button.setIcon(icon("stop" if self._running else "send", button_icon))
        self.regenerate_button.setIcon(palette_icon("regenerate", palette))
