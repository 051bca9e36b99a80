"""What the transcript area shows while the open conversation has no message yet.

The loaded model's name, its context and its speed on this PC (the last reply's measured
tokens/s, else the speed forecast, else nothing), a few suggested prompts that fill the
composer, and a way to a better model: the starter model is there to try the app; with no
model, a button opens the Models window. While a model loads, it says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from autoglm_desktop.qt.common.colors import blend, is_dark
from autoglm_desktop.qt.common.icons import icon_size, palette_icon

CONTENT_WIDTH = 640  # the column the empty state is laid out in (logical pixels)
WORDS_PER_TOKEN = 0.75  # English prose, roughly


class ModelState(enum.Enum):
    STARTING = "starting"  # the library is being scanned: nothing to say yet
    NONE = "none"  # no model loaded
    LOADING = "loading"
    READY = "ready"  # loaded, or loads again with the next message


@dataclass(frozen=True)
class ShownModel:
    """What the empty state says about the model."""

    state: ModelState = ModelState.STARTING
    name: str = ""
    n_ctx: int = 0  # 0: not known yet
    starter: bool = False  # the tiny starter model
    tokens_per_s: float = 0.0  # 0: unknown
    measured: bool = False  # tokens_per_s was measured on a reply (else: forecast)
    has_models: bool = False  # any model on this PC
    remote: str = ""  # the remote model replies come from ("": the local one)


@dataclass(frozen=True)
class Suggestion:
    icon: str  # resources/icons/ui/ICON.svg
    title: str
    prompt: str


def suggestions() -> list[Suggestion]:
    """Prompts a small local model does well, in the UI's language."""
    return [
        Suggestion(
            "explain",
            QCoreApplication.translate("EmptyState", "Explain a concept"),
            QCoreApplication.translate(
                "EmptyState", "Explain in simple words how a rainbow forms."
            ),
        ),
        Suggestion(
            "email",
            QCoreApplication.translate("EmptyState", "Draft an email"),
            QCoreApplication.translate(
                "EmptyState",
                "Write a short, friendly email asking my team to move Friday's meeting to Monday.",
            ),
        ),
        Suggestion(
            "translate",
            QCoreApplication.translate("EmptyState", "Translate a sentence"),
            QCoreApplication.translate(
                "EmptyState",
                "Translate into Chinese: “The weather is lovely today, shall we go for a walk?”",
            ),
        ),
        Suggestion(
            "summarise",
            QCoreApplication.translate("EmptyState", "Summarise a text"),
            QCoreApplication.translate(
                "EmptyState", "Summarise the following text in three bullet points:\n\n"
            ),
        ),
    ]


class SuggestionCard(QFrame):
    """A clickable card: an icon, a title and the prompt it puts in the composer."""

    clicked = Signal(str)  # the prompt

    def __init__(self, suggestion: Suggestion, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.suggestion = suggestion
        self.setObjectName("suggestionCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover)
        self.setToolTip(suggestion.prompt.strip())
        self.icon = QLabel()
        self.title = QLabel(suggestion.title)
        self.title.setObjectName("cardTitle")
        self.prompt = QLabel(suggestion.prompt.strip())
        self.prompt.setObjectName("cardPrompt")
        self.prompt.setWordWrap(True)
        self.prompt.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        heading = QHBoxLayout()
        heading.setSpacing(8)
        heading.addWidget(self.icon)
        heading.addWidget(self.title, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(4)
        layout.addLayout(heading)
        layout.addWidget(self.prompt, 1)
        self._update_icon()

    def _update_icon(self) -> None:
        drawn = palette_icon(self.suggestion.icon, QApplication.palette())
        self.icon.setPixmap(drawn.pixmap(18, 18))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._update_icon()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.clicked.emit(self.suggestion.prompt)
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self.suggestion.prompt)
            return
        super().keyPressEvent(event)


class EmptyState(QScrollArea):
    """The first screen of a conversation with no message.

    Signals:
        promptChosen(str): a suggestion was clicked; its prompt goes into the composer.
        modelsRequested(str): open the Models window on this page ("discover", "library").
        speedTestRequested(): the user wants to measure this PC's speed (no speed is known).
    """

    promptChosen = Signal(str)
    modelsRequested = Signal(str)
    speedTestRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._shown = ShownModel()
        page = QWidget()
        page.setObjectName("emptyPage")
        self.setWidget(page)
        self.title = QLabel()
        self.title.setObjectName("emptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # model names are outside text
        self.facts = QLabel()
        self.facts.setObjectName("emptyFacts")
        self.facts.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.PlainText)
        self.speed_button = QPushButton(self.tr("How fast is it? Measure this PC…"))
        self.speed_button.setObjectName("emptySpeedButton")
        self.speed_button.setFlat(True)
        self.speed_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.speed_button.clicked.connect(self.speedTestRequested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        self.progress.setMaximumWidth(280)
        self.cards = [SuggestionCard(s) for s in suggestions()]
        self.suggestion_grid = QWidget()
        grid = QGridLayout(self.suggestion_grid)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(12)
        for index, card in enumerate(self.cards):
            card.clicked.connect(self.promptChosen)
            grid.addWidget(card, index // 2, index % 2)
        self.note = QFrame()
        self.note.setObjectName("emptyNote")
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.models_button = QPushButton()
        self.models_button.setObjectName("emptyModelsButton")
        self.models_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.models_button.clicked.connect(self._on_models_clicked)
        note_layout = QVBoxLayout(self.note)
        note_layout.setContentsMargins(16, 12, 16, 12)
        note_layout.addWidget(self.note_label)
        note_layout.addWidget(self.models_button, 0, Qt.AlignmentFlag.AlignLeft)
        column = QVBoxLayout()
        column.setSpacing(10)
        column.addStretch(3)
        column.addWidget(self.title)
        column.addWidget(self.facts)
        column.addWidget(self.speed_button, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addSpacing(18)
        column.addWidget(self.suggestion_grid)
        column.addSpacing(8)
        column.addWidget(self.note)
        column.addStretch(4)
        holder = QWidget()
        holder.setMaximumWidth(CONTENT_WIDTH)
        holder.setLayout(column)
        outer = QHBoxLayout(page)
        outer.setContentsMargins(24, 16, 24, 16)
        outer.addStretch(1)
        outer.addWidget(holder, 100)
        outer.addStretch(1)
        self._apply_style()
        self.show_model(self._shown)

    # -- public --------------------------------------------------------------------------

    @property
    def shown(self) -> ShownModel:
        return self._shown

    def show_model(self, shown: ShownModel) -> None:
        """Say what ``shown`` tells about the model (and offer what fits the case)."""
        self._shown = shown
        self.title.setText(self._title_text(shown))
        facts = self._facts_text(shown)
        self.facts.setText(facts)
        self.facts.setVisible(bool(facts))
        local = not shown.remote
        unknown_speed = shown.state is ModelState.READY and shown.tokens_per_s <= 0
        self.speed_button.setVisible(local and unknown_speed)
        # Without a model, a suggestion could not be answered.
        self.suggestion_grid.setVisible(shown.state is not ModelState.NONE or not local)
        loading = local and shown.state is ModelState.LOADING
        self.progress.setVisible(loading)
        if not loading:
            self.progress.setValue(0)
        note = self._note_text(shown)
        self.note_label.setText(note)
        self.note.setVisible(bool(note))
        self.models_button.setText(self._button_text(shown))

    def set_load_progress(self, fraction: float) -> None:
        self.progress.setValue(round(max(0.0, min(1.0, fraction)) * 1000))

    # -- texts ---------------------------------------------------------------------------

    def _title_text(self, shown: ShownModel) -> str:
        if shown.remote:
            return shown.remote
        if shown.state is ModelState.NONE:
            if shown.has_models:
                return self.tr("No model loaded")
            return self.tr("No model on this PC yet")
        if shown.state is ModelState.STARTING or not shown.name:
            return self.tr("What can I help with?")
        return shown.name

    def _facts_text(self, shown: ShownModel) -> str:
        if shown.remote:
            return self.tr("A model on a remote server: your messages go to that server.")
        if shown.state is ModelState.LOADING:
            return self.tr("Loading the model… you can type your first message meanwhile.")
        if shown.state is not ModelState.READY:
            return ""
        parts = []
        if shown.n_ctx > 0:
            words = round(shown.n_ctx * WORDS_PER_TOKEN, -2)
            parts.append(
                self.tr("%1-token context (about %2 words)")
                .replace("%1", f"{shown.n_ctx:,}")
                .replace("%2", f"{int(words):,}")
            )
        if shown.tokens_per_s > 0:
            figure = _speed_figure(shown.tokens_per_s)
            if shown.measured:
                parts.append(self.tr("%1 tokens/s on this PC (measured)").replace("%1", figure))
            else:
                parts.append(
                    self.tr("about %1 tokens/s on this PC (forecast)").replace("%1", figure)
                )
        return "  ·  ".join(parts)

    def _note_text(self, shown: ShownModel) -> str:
        if shown.remote:
            return ""
        if shown.state is ModelState.NONE:
            if shown.has_models:
                return self.tr(
                    "Pick a model at the top and press Load, or find another one that fits this PC."
                )
            return self.tr(
                "Download a model to start chatting: the Models window suggests models that "
                "fit this PC and says how fast each will be. Or drop a .gguf file you already "
                "have on this window."
            )
        if shown.starter and shown.state in (ModelState.LOADING, ModelState.READY):
            return self.tr(
                "The starter model is small and fast, for trying the app. For better answers, "
                "get a bigger model that fits this PC."
            )
        return ""

    def _button_text(self, shown: ShownModel) -> str:
        if shown.state is ModelState.NONE and shown.has_models:
            return self.tr("Open Models…")
        if shown.state is ModelState.NONE:
            return self.tr("Find a model…")
        return self.tr("Find a better model →")

    def _on_models_clicked(self) -> None:
        none_with_models = self._shown.state is ModelState.NONE and self._shown.has_models
        self.modelsRequested.emit("library" if none_with_models else "discover")

    # -- look ----------------------------------------------------------------------------

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
        card_border = blend(base, text, 0.16 if dark else 0.12)
        card_hover = blend(base, highlight, 0.10)
        muted = blend(text, base, 0.40)
        note_background = blend(base, highlight, 0.16 if dark else 0.08)
        note_border = blend(base, highlight, 0.35)
        self.setStyleSheet(
            f"#emptyState, #emptyPage {{ background: {base.name()}; }}"
            "#emptyTitle { font-size: 20pt; font-weight: 600; }"
            f"#emptyFacts {{ color: {muted}; }}"
            f"#suggestionCard {{ background: {base.name()}; border: 1px solid {card_border};"
            " border-radius: 12px; }"
            f"#suggestionCard:hover, #suggestionCard:focus {{ background: {card_hover};"
            f" border-color: {highlight.name()}; }}"
            "#cardTitle { font-weight: 600; }"
            f"#cardPrompt {{ color: {muted}; }}"
            f"#emptyNote {{ background: {note_background}; border: 1px solid {note_border};"
            " border-radius: 12px; }"
            f"#emptyModelsButton {{ background: {highlight.name()}; color: "
            f"{palette.color(QPalette.ColorRole.HighlightedText).name()}; border: none;"
            " border-radius: 8px; padding: 6px 14px; font-weight: 600; }"
            f"#emptyModelsButton:hover {{ background: {highlight.lighter(112).name()}; }}"
            f"#emptySpeedButton {{ color: {palette.color(QPalette.ColorRole.Link).name()};"
            " border: none; padding: 2px 6px; }"
            "#emptySpeedButton:hover { text-decoration: underline; }"
        )
        for card in self.cards:
            card.icon.setFixedSize(icon_size(18))


def _speed_figure(tokens_per_s: float) -> str:
    return f"{tokens_per_s:.1f}" if tokens_per_s < 10 else f"{tokens_per_s:.0f}"
