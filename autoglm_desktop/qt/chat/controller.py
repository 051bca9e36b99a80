"""Conversation logic of the main window: history store ⇄ engine worker ⇄ chat view.

Runs on the GUI thread. It never waits for the engine: requests go out through queued
signals, and replies come back as signals from the worker thread. The open conversation's
messages are read once, when it opens, and kept here; every later change is written to the
store and made to that list and to the view alike (a send appends, a finished reply replaces
only itself), so no event costs in proportion to the conversation's length.

The store is opened with a short busy timeout (:data:`GUI_BUSY_TIMEOUT_S`): when another program
holds the history, a call fails at once with a message to try again, rather than freezing the
window. A finished reply that could not be saved so (history locked, disk full) is kept and saved
again every second until it is. Deleting the conversation of a reply still streaming stops the
reply and drops it quietly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from autoglm_desktop.core.chat.store import (
    DEFAULT_TITLE,
    ChatStore,
    Message,
    read_messages,
    title_from_text,
)
from autoglm_desktop.core.common.errors import (
    AutoGLMError,
    HistoryDiskFullError,
    HistoryLockedError,
    MessageNotFoundError,
    StoreError,
)
from autoglm_desktop.core.common.types import (
    ChatTurn,
    GenerationStats,
    MessageStatus,
    Role,
    StopReason,
)
from autoglm_desktop.core.remote.servers import RemoteTarget
from autoglm_desktop.qt.chat.view import ChatView, ViewMessage
from autoglm_desktop.qt.workers.background import CallRunner
from autoglm_desktop.qt.workers.engine_worker import ChatRequest, EngineWorker

PARTIAL_SAVE_INTERVAL_MS = 1000  # a streaming reply is saved at least this often
READ_AT_ONCE_MESSAGES = 200  # longer conversations are read off the GUI thread
# The longest a store call on the GUI thread waits for a lock held by another program.
GUI_BUSY_TIMEOUT_S = 0.2
SAVE_RETRY_INTERVAL_MS = 1000  # a reply end that could not be saved is tried again this often
# Failures that pass: a reply end that met one is kept and saved again later.
_PASSING_FAILURES = (HistoryLockedError, HistoryDiskFullError)

P = ParamSpec("P")
R = TypeVar("R")


def reports_store_errors(
    method: Callable[Concatenate[ChatController, P], R],
) -> Callable[Concatenate[ChatController, P], R | None]:
    """Show history errors (disk full, file damaged...) as a message, never as a crash.

    The decorated method then returns None.
    """

    @functools.wraps(method)
    def guarded(self: ChatController, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return method(self, *args, **kwargs)
        except StoreError as exc:
            self.errorOccurred.emit(str(exc))
            return None

    return guarded


@dataclass
class StreamingReply:
    message_id: int
    conversation_id: int
    model_name: str = ""
    parts: list[str] = field(default_factory=list)
    unsaved: bool = False
    reasoning_parts: list[str] = field(default_factory=list)
    reasoning_began: float | None = None  # time.monotonic() of its first reasoning
    reasoning_s: float | None = None  # set when the answer starts (or the reply ends)
    deleted: bool = False  # its conversation was deleted: nothing more is saved or shown

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    def end_reasoning(self) -> float | None:
        """How long the model thought, fixed when its reasoning ends (None: it did not)."""
        if self.reasoning_began is not None and self.reasoning_s is None:
            self.reasoning_s = time.monotonic() - self.reasoning_began
        return self.reasoning_s


class ChatController(QObject):
    requestGenerate = Signal(object)  # ChatRequest, queued to the worker thread
    replyRunningChanged = Signal(bool)
    statsUpdated = Signal(object)  # GenerationStats
    statusMessage = Signal(str)
    errorOccurred = Signal(str)
    conversationsChanged = Signal(int)  # id of the conversation to keep selected
    conversationOpened = Signal(int)

    def __init__(
        self, *, store: ChatStore, worker: EngineWorker, view: ChatView, model_name: str = ""
    ) -> None:
        super().__init__()
        self._store = store
        self._worker = worker
        self._view = view
        self.model_name = model_name  # the local engine's model
        self.remote: RemoteTarget | None = None  # replies come from this remote model instead
        self.conversation_id: int | None = None
        self._messages: list[Message] = []  # the open conversation's, as stored
        self._reading: int | None = None  # a long conversation being read in the background
        self._read_call = CallRunner(self, name="conversation read")
        self._reply: StreamingReply | None = None
        self._save_timer = QTimer(self, interval=PARTIAL_SAVE_INTERVAL_MS)
        self._save_timer.timeout.connect(self._save_partial)
        # Reply ends not saved yet (history locked, disk full): message id -> the update.
        self._unsaved_ends: dict[int, _ReplyEnd] = {}
        self._retry_timer = QTimer(self, interval=SAVE_RETRY_INTERVAL_MS)
        self._retry_timer.timeout.connect(self._save_reply_ends)
        self.requestGenerate.connect(worker.generate)
        worker.tokens.connect(self._on_tokens)
        worker.reasoning.connect(self._on_reasoning)
        worker.generationFinished.connect(self._on_finished)
        worker.replyFailed.connect(self._on_reply_failed)
        worker.contextTrimmed.connect(self._on_context_trimmed)
        view.editRequested.connect(self._on_edit_requested)
        view.regenerateRequested.connect(self.regenerate)

    # -- state ---------------------------------------------------------------------------

    @property
    def reply_running(self) -> bool:
        return self._reply is not None

    @property
    def reply_model_name(self) -> str:
        """The name the next reply is stored and shown under."""
        return self.remote.label if self.remote is not None else self.model_name

    def messages(self) -> list[Message]:
        """The open conversation's messages, as stored (a copy of the list kept in memory)."""
        self._finish_reading()
        return list(self._messages)

    def set_store(self, store: ChatStore) -> None:
        """Use another history (the window replaced one it could not open); nothing is open."""
        self._leave_streaming_view()
        if self._reply is not None:
            self._reply.deleted = True  # it belonged to the history being left
        self._read_call.cancel()
        self._reading = None
        self._unsaved_ends.clear()
        self._retry_timer.stop()
        self._store = store
        self.conversation_id = None
        self._messages = []
        self._view.set_messages([])

    # -- conversations -------------------------------------------------------------------

    @reports_store_errors
    def open_conversation(self, conversation_id: int) -> None:
        self._open_conversation(conversation_id)

    @reports_store_errors
    def new_conversation(self) -> int:
        """Start an empty conversation and open it. Returns its id."""
        return self._new_conversation()

    @reports_store_errors
    def delete_conversation(self, conversation_id: int) -> None:
        self._store.delete_conversation(conversation_id)
        reply = self._reply
        if reply is not None and reply.conversation_id == conversation_id:
            # Its message went with the conversation: stop it, and save or report nothing.
            self._leave_streaming_view()
            reply.deleted = True
        if conversation_id == self.conversation_id:
            self._read_call.cancel()
            self._reading = None
            self.conversation_id = None
            self._messages = []
            self._view.set_messages([])
        self.conversationsChanged.emit(self.conversation_id or -1)

    @reports_store_errors
    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self._store.rename_conversation(conversation_id, title=title)
        self.conversationsChanged.emit(conversation_id)

    # -- chatting ------------------------------------------------------------------------

    @reports_store_errors
    def send(self, text: str) -> bool:
        """Add a user message and ask for a reply. Returns True when it was sent."""
        text = text.strip()
        if not text or self.reply_running:
            return False
        self._finish_reading()
        conversation_id = self.conversation_id
        if conversation_id is None:
            conversation_id = self._new_conversation()
        conversation = self._store.get_conversation(conversation_id)
        if conversation.message_count == 0 and conversation.title == DEFAULT_TITLE:
            self._store.rename_conversation(conversation.id, title=title_from_text(text))
        self._add_user_message(text)
        self._start_reply()
        return True

    @reports_store_errors
    def regenerate(self) -> None:
        """Replace the last reply with a new one."""
        messages = self.messages()
        if self.reply_running or not messages or messages[-1].role != Role.ASSISTANT:
            return
        self._delete_messages_from(messages[-1])
        self._start_reply()

    @reports_store_errors
    def edit_and_resend(self, message_id: int, new_text: str) -> None:
        """Replace a user message (and everything after it) and ask again."""
        new_text = new_text.strip()
        target = next((m for m in self.messages() if m.id == message_id), None)
        if self.reply_running or target is None or target.role != Role.USER or not new_text:
            return
        self._delete_messages_from(target)
        self._add_user_message(new_text)
        self._start_reply()

    def stop(self) -> None:
        if self.reply_running:
            self._worker.stop()

    def shutdown(self) -> None:
        """The window is closing: keep whatever the reply has so far, marked interrupted."""
        if self.reply_running:
            self._worker.stop()
            self._finish_reply(status=MessageStatus.INTERRUPTED, stats=None)
        self._retry_timer.stop()
        self._save_reply_ends()  # a last try; what is still locked stays "interrupted" on disk

    # -- internals -----------------------------------------------------------------------

    def _open_conversation(self, conversation_id: int) -> None:
        if conversation_id == self.conversation_id:
            return
        count = self._store.get_conversation(conversation_id).message_count
        self._leave_streaming_view()
        self._read_call.cancel()
        self._reading = None
        self.conversation_id = conversation_id
        if count <= READ_AT_ONCE_MESSAGES or self._store.in_memory:
            self._show_messages(self._store.messages(conversation_id))
        else:  # long: read off the GUI thread, so the window never waits for the disk
            self._messages = []
            self._view.set_messages([])
            self._reading = conversation_id
            path, headers = self._store.path, self._headers()

            def read() -> tuple[list[Message], list[ViewMessage]]:
                messages = read_messages(path, conversation_id)
                return messages, [_view_message(m, headers) for m in messages]

            self._read_call.run(read, on_success=self._on_read, on_failure=self._on_read_failed)
        self.conversationOpened.emit(conversation_id)

    def _show_messages(
        self, messages: list[Message], shown: list[ViewMessage] | None = None
    ) -> None:
        self._messages = messages
        headers = self._headers()
        self._view.set_messages(shown or [_view_message(m, headers) for m in messages])

    def _on_read(self, read: tuple[list[Message], list[ViewMessage]]) -> None:
        if self._reading == self.conversation_id:
            self._reading = None
            self._show_messages(*read)

    def _on_read_failed(self, error: AutoGLMError) -> None:
        self._reading = None
        self.errorOccurred.emit(str(error))

    def _finish_reading(self) -> None:
        """Before the messages are used: a background read still running is done now."""
        if self._reading is not None and self._reading == self.conversation_id:
            self._read_call.cancel()
            self._reading = None
            self._show_messages(self._store.messages(self.conversation_id))

    def _new_conversation(self) -> int:
        conversation = self._store.create_conversation()
        self._open_conversation(conversation.id)
        self.conversationsChanged.emit(conversation.id)
        return conversation.id

    def _leave_streaming_view(self) -> None:
        """The view is about to show something else: stop the reply, close its view part."""
        reply = self._reply
        if reply is None:
            return
        self._worker.stop()
        if self._view.is_streaming and reply.conversation_id == self.conversation_id:
            self._view.end_assistant_message(
                final=ViewMessage(
                    message_id=reply.message_id,
                    role=Role.ASSISTANT,
                    text=reply.text,
                    status=MessageStatus.INTERRUPTED,
                    header=reply.model_name,
                    reasoning=reply.reasoning,
                    reasoning_s=reply.end_reasoning(),
                )
            )

    def _add_user_message(self, text: str) -> None:
        assert self.conversation_id is not None
        message = self._store.add_message(self.conversation_id, role=Role.USER, content=text)
        self._messages.append(message)
        self._view.append_message(self._view_message(message))
        self._view.scroll_to_bottom()

    def _delete_messages_from(self, message: Message) -> None:
        assert self.conversation_id is not None
        self._store.delete_messages_from(self.conversation_id, position=message.position)
        self._messages = [m for m in self._messages if m.position < message.position]
        self._view.remove_messages_from(message.id)
        self._view.scroll_to_bottom()

    def _start_reply(self) -> None:
        assert self.conversation_id is not None
        conversation = self._store.get_conversation(self.conversation_id)
        history = [m for m in self._messages if m.content.strip() or m.role == Role.USER]
        turns = tuple(
            ChatTurn(role=m.role, content=m.content, reasoning=m.reasoning) for m in history
        )
        model_name = self.reply_model_name
        placeholder = self._store.add_message(
            conversation.id,
            role=Role.ASSISTANT,
            content="",
            status=MessageStatus.STREAMING,
            model_name=model_name,
        )
        self._messages.append(placeholder)
        self._reply = StreamingReply(
            message_id=placeholder.id, conversation_id=conversation.id, model_name=model_name
        )
        self._view.begin_assistant_message(header=model_name or self.tr("Assistant"))
        self._save_timer.start()
        self.replyRunningChanged.emit(True)
        self.conversationsChanged.emit(conversation.id)
        self.requestGenerate.emit(
            ChatRequest(
                turns=turns,
                system_prompt=conversation.system_prompt,
                sampling=conversation.sampling,
                thinking=conversation.thinking,
                remote=self.remote,
            )
        )

    def _on_tokens(self, text: str) -> None:
        reply = self._reply
        if reply is None or reply.deleted:
            return
        shown = reply.conversation_id == self.conversation_id
        if reply.reasoning_began is not None and reply.reasoning_s is None:
            seconds = reply.end_reasoning()
            if shown:
                self._view.fold_stream_reasoning(seconds=seconds)
        reply.parts.append(text)
        reply.unsaved = True
        if shown:
            self._view.append_stream_text(text)

    def _on_reasoning(self, text: str) -> None:
        reply = self._reply
        if reply is None or reply.deleted:
            return
        if reply.reasoning_began is None:
            reply.reasoning_began = time.monotonic()
        reply.reasoning_parts.append(text)
        reply.unsaved = True
        if reply.conversation_id == self.conversation_id:
            self._view.append_stream_reasoning(text)

    def _save_partial(self) -> None:
        reply = self._reply
        if reply is None or not reply.unsaved or reply.deleted:
            return
        try:
            self._store.update_message(
                reply.message_id, content=reply.text, reasoning=reply.reasoning, durable=False
            )
            reply.unsaved = False
        except _PASSING_FAILURES:
            pass  # still unsaved: the next tick, or the reply's end, saves it
        except StoreError as exc:
            self.errorOccurred.emit(str(exc))

    def _on_finished(self, stats: GenerationStats) -> None:
        stopped = stats.stop_reason == StopReason.STOPPED.value
        status = MessageStatus.INTERRUPTED if stopped else MessageStatus.COMPLETE
        self._finish_reply(status=status, stats=stats)
        self.statsUpdated.emit(stats)

    def _on_reply_failed(self, error: AutoGLMError) -> None:
        """Keep what the reply has so far (marked interrupted) and report the error."""
        reply = self._reply
        if reply is None:
            return  # already ended by shutdown(): the window is closing
        status = MessageStatus.INTERRUPTED if reply.text else MessageStatus.ERROR
        self._finish_reply(status=status, stats=None)
        if not reply.deleted:
            self.errorOccurred.emit(str(error))

    def _finish_reply(self, *, status: MessageStatus, stats: GenerationStats | None) -> None:
        reply = self._reply
        if reply is None:
            return
        self._save_timer.stop()
        self._reply = None
        if reply.deleted:
            self.replyRunningChanged.emit(False)
            return
        final = self._save_finished_reply(reply, status=status, stats=stats)
        if final is not None and self._view.is_streaming:
            self._view.end_assistant_message(final=self._view_message(final))
        self.replyRunningChanged.emit(False)
        self.conversationsChanged.emit(reply.conversation_id)

    def _on_context_trimmed(self, dropped: int) -> None:
        text = self.tr(
            "%n earlier message(s) did not fit in the model's context and were left out of "
            "this reply (they are still saved here).",
            "",
            dropped,
        )
        self._view.add_notice(text)
        self.statusMessage.emit(text)

    def _on_edit_requested(self, message_id: int) -> None:
        self.editRequested.emit(message_id)

    editRequested = Signal(int)  # the window asks the user for the new text

    def _save_finished_reply(
        self, reply: StreamingReply, *, status: MessageStatus, stats: GenerationStats | None
    ) -> Message | None:
        """Store the reply's end; returns its message when it belongs to the open conversation."""
        saved = self._store_reply_end(
            reply.message_id,
            _ReplyEnd(
                content=reply.text,
                status=status,
                stats=stats,
                reasoning=reply.reasoning,
                reasoning_s=reply.end_reasoning(),
            ),
        )
        index = next(
            (
                i
                for i in range(len(self._messages) - 1, -1, -1)
                if self._messages[i].id == reply.message_id
            ),
            None,
        )
        if reply.conversation_id != self.conversation_id or index is None:
            return None
        if saved:
            with contextlib.suppress(StoreError):  # else: reported next time
                self._messages[index] = self._store.get_message(reply.message_id)
                return self._messages[index]
        # Not saved (yet): show what the user saw, not the stored message, which is behind.
        self._messages[index] = dataclasses.replace(
            self._messages[index],
            content=reply.text,
            status=status,
            stats=stats,
            reasoning=reply.reasoning,
            reasoning_s=reply.reasoning_s,
        )
        return self._messages[index]

    def _store_reply_end(self, message_id: int, end: _ReplyEnd) -> bool:
        """Save a reply's end; one not saved for a passing reason is kept for a retry."""
        try:
            self._write_reply_end(message_id, end)
        except _PASSING_FAILURES as exc:
            self._unsaved_ends[message_id] = end
            self._retry_timer.start()
            self.errorOccurred.emit(
                self.tr("The reply is not saved yet; it will be saved as soon as possible.")
                + " "
                + str(exc)
            )
            return False
        except StoreError as exc:
            self.errorOccurred.emit(str(exc))
            return False
        return True

    def _write_reply_end(self, message_id: int, end: _ReplyEnd) -> None:
        self._store.update_message(
            message_id,
            content=end.content,
            status=end.status,
            stats=end.stats,
            reasoning=end.reasoning,
            reasoning_s=end.reasoning_s,
        )

    def _save_reply_ends(self) -> None:
        """Save again the reply ends that could not be saved; stop once all are."""
        for message_id, end in list(self._unsaved_ends.items()):
            try:
                self._write_reply_end(message_id, end)
            except MessageNotFoundError:
                pass  # deleted meanwhile: nothing left to save
            except StoreError:
                return  # still locked (or full): the next tick tries again
            del self._unsaved_ends[message_id]
            self.statusMessage.emit(self.tr("The reply is saved."))
        self._retry_timer.stop()

    def _headers(self) -> tuple[str, str]:
        """The names above user and assistant messages (translated once, not per message)."""
        return self.tr("You"), self.model_name or self.tr("Assistant")

    def _view_message(self, message: Message) -> ViewMessage:
        return _view_message(message, self._headers())


@dataclass(frozen=True)
class _ReplyEnd:
    """What a finished reply's message becomes."""

    content: str
    status: MessageStatus
    stats: GenerationStats | None
    reasoning: str
    reasoning_s: float | None


def _view_message(message: Message, headers: tuple[str, str]) -> ViewMessage:
    """How the transcript shows ``message``; ``headers``: the user's and the assistant's name."""
    you, assistant = headers
    header = you if message.role == Role.USER else message.model_name or assistant
    return ViewMessage(
        message_id=message.id,
        role=message.role,
        text=message.content,
        status=message.status,
        header=header,
        reasoning=message.reasoning,
        reasoning_s=message.reasoning_s,
    )
