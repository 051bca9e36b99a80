"""Model downloads that survive flaky connections and app restarts.

huggingface_hub downloads into a fresh temporary file per process, so an interrupted multi-GB
download starts again from zero, and it checks only the size. This manager does the transfer
itself on top of the model source's URL, metadata and header helpers
(:meth:`SourceClient.file_metadata`, :meth:`SourceClient.headers_for`) and its HTTP session,
for the Hugging Face hub and ModelScope alike (each download remembers its source):

* bytes go to ``<file>.part`` next to the final file, written as they arrive, so the part
  survives a crash or a restart; the next attempt asks for the rest with an HTTP ``Range``;
* a connection that stalls (no byte for ``stall_timeout_s``) or drops is retried, resuming from
  the part, until several attempts in a row bring no new byte;
* free disk space is checked before the first byte;
* the SHA-256 of every file is computed while it is written and compared with the hub's LFS
  hash; a mismatch deletes the part;
* only when every file of the model (every part of a split model) is verified are they moved
  into place, the first part last, each with an atomic rename. Until then the library sees only
  ``.part`` files, which it never offers.

The queue lives in ``data_dir()/downloads.json``: paused, failed and interrupted downloads are
listed again after a restart and resume from their parts. Downloads run one at a time, either
on the caller's thread (:meth:`DownloadManager.run`, for the command line) or on the manager's
worker thread (:meth:`DownloadManager.start`, for the app).
"""

from __future__ import annotations

import collections
import contextlib
import enum
import errno
import hashlib
import logging
import os
import queue
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx2
from filelock import FileLock, Timeout

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.errors import (
    AutoGLMError,
    DiskFullError,
    DownloadError,
    HashMismatchError,
    NetworkError,
)
from autoglm_desktop.core.common.settings_file import read_json_object, write_json_object
from autoglm_desktop.core.hub.client import RemoteModel, RepoDetail, is_sha256
from autoglm_desktop.core.hub.connect import connect
from autoglm_desktop.core.hub.queue_file import state_file_path
from autoglm_desktop.core.hub.source import Source
from autoglm_desktop.core.hub.source_client import SourceClient

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
STATE_VERSION = 1
_PROGRESS_INTERVAL_S = 0.2
_SPEED_WINDOW_S = 5.0
_HASH_READ_CHUNK = 8 << 20
_RETRYABLE_STATUS = frozenset({403, 408, 409, 429, 500, 502, 503, 504})  # 403: CDN link expired
_MIB = 1 << 20


class DownloadState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class DownloadFile:
    path: str  # inside the repository
    size: int
    sha256: str | None  # the hub's LFS hash; None: only the size can be checked


@dataclass(frozen=True)
class DownloadRequest:
    repo_id: str
    revision: str  # a commit, so that every attempt fetches the same bytes
    files: tuple[DownloadFile, ...]  # the parts of a split model in order; the first is opened
    name: str
    quant: str | None = None
    source: Source = Source.HUGGING_FACE

    @classmethod
    def for_model(cls, detail: RepoDetail, model: RemoteModel) -> DownloadRequest:
        return cls(
            repo_id=detail.repo_id,
            revision=detail.revision,
            files=tuple(DownloadFile(f.path, f.size, f.sha256) for f in model.files),
            name=model.name,
            quant=model.quant,
            source=detail.source,
        )

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class RetryPolicy:
    stall_timeout_s: float = 30.0  # no byte for this long: reconnect and resume
    connect_timeout_s: float = 20.0
    attempts_without_progress: int = 6  # give up after this many attempts in a row bring nothing
    first_wait_s: float = 1.0  # before the first retry; doubles up to max_wait_s
    max_wait_s: float = 30.0


@dataclass(frozen=True)
class DownloadStatus:
    id: str
    name: str
    repo_id: str
    quant: str | None
    state: DownloadState
    bytes_done: int
    bytes_total: int
    speed_bps: float  # over the last few seconds
    eta_s: float | None  # None: unknown (no speed yet)
    file_index: int  # the file being fetched, from 0
    file_count: int
    retries: int  # reconnections during this run
    message: str  # what is happening, in words ("Reconnecting in 2 s...")
    error: str | None  # why it failed, in words
    path: Path  # where the model (its first file) will be
    source: Source = Source.HUGGING_FACE

    @property
    def fraction(self) -> float:
        return self.bytes_done / self.bytes_total if self.bytes_total else 0.0


Listener = Callable[[DownloadStatus], None]


class _Paused(Exception):
    pass


class _Cancelled(Exception):
    pass


class _Stopped(Exception):
    """The manager is stopping (the app quits): the download stays queued."""


class _Retry(Exception):
    """An attempt failed in a way worth retrying (the message says how)."""


@dataclass
class _Job:
    id: str
    request: DownloadRequest
    dest_dir: Path
    state: DownloadState
    created_at: float
    verified: set[str] = field(default_factory=set)  # files whose part passed the hash check
    error: str | None = None
    # Runtime only.
    exception: AutoGLMError | None = None
    bytes_done: int = 0
    file_index: int = 0
    retries: int = 0
    message: str = ""
    speed: _SpeedMeter = field(default_factory=lambda: _SpeedMeter())
    pause_requested: threading.Event = field(default_factory=threading.Event)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    interrupted: threading.Event = field(default_factory=threading.Event)  # any of the three
    transfer: httpx2.Response | None = None  # the response being read; guarded by the lock
    last_notified: float = 0.0

    def reset_requests(self) -> None:
        for event in (
            self.pause_requested,
            self.cancel_requested,
            self.stop_requested,
            self.interrupted,
        ):
            event.clear()

    def dest(self, file: DownloadFile) -> Path:
        return self.dest_dir.joinpath(*file.path.split("/"))

    @property
    def primary_path(self) -> Path:
        return self.dest(self.request.files[0])


class _SpeedMeter:
    """Bytes per second over a sliding window."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, n_bytes: int, now: float) -> None:
        self._samples.append((now, n_bytes))
        while self._samples and now - self._samples[0][0] > _SPEED_WINDOW_S:
            self._samples.popleft()

    def reset(self) -> None:
        self._samples.clear()

    def speed(self, now: float) -> float:
        if len(self._samples) < 2:
            return 0.0
        elapsed = max(now - self._samples[0][0], 1e-3)
        return sum(n for _, n in list(self._samples)[1:]) / elapsed


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + PART_SUFFIX)


class DownloadManager:
    """The download queue. Thread-safe; ``listener`` is called from the downloading thread.

    ``client`` serves the downloads of its source; those of another source get a client made
    with the same hub settings (:meth:`client_for`), or the one set with :meth:`set_client`.
    """

    def __init__(
        self,
        *,
        client: SourceClient,
        models_dir: Path | None = None,
        state_path: Path | None = None,
        policy: RetryPolicy | None = None,
        listener: Listener | None = None,
        resume_interrupted: bool = True,
    ) -> None:
        self.client = client
        self._clients: dict[Source, SourceClient] = {}
        self.models_dir = models_dir or paths.models_dir()
        self.policy = policy or RetryPolicy()
        self.listener = listener
        self._store = _JobStore(state_path or state_file_path())
        self._lock = threading.RLock()
        self._wakeup = threading.Condition(self._lock)
        self._jobs: dict[str, _Job] = {}
        self._worker: threading.Thread | None = None
        self._stopping = False
        for job in self._store.load():
            if job.state is DownloadState.RUNNING:  # the app stopped in the middle
                job.state = DownloadState.QUEUED if resume_interrupted else DownloadState.PAUSED
            job.bytes_done = _bytes_on_disk(job)
            self._jobs[job.id] = job

    def client_for(self, source: Source) -> SourceClient:
        """The client downloads from ``source`` use."""
        with self._lock:
            if self.client.source is source:
                return self.client
            client = self._clients.get(source)
            if client is None:
                client = self._clients[source] = connect(source, settings=self.client.settings)
            return client

    def set_client(self, client: SourceClient) -> None:
        """Use ``client`` for its source from the next request on (new settings or token)."""
        with self._lock:
            if client.source is self.client.source:
                self.client = client
            else:
                self._clients[client.source] = client

    # ------------------------------------------------------------------ queue

    def add(self, request: DownloadRequest, *, dest_dir: Path | None = None) -> DownloadStatus:
        """Queue a download; the same model again gives the existing entry (and its parts)."""
        dest_dir = dest_dir or self.models_dir.joinpath(*request.repo_id.split("/"))
        with self._lock:
            job = self._find(request, dest_dir)
            if job is None:
                job = _Job(
                    id=uuid.uuid4().hex[:12],
                    request=request,
                    dest_dir=dest_dir,
                    state=DownloadState.QUEUED,
                    created_at=time.time(),
                )
                self._jobs[job.id] = job
            elif job.request.revision != request.revision:
                self._adopt_revision(job, request)
            if _all_in_place(job):
                job.state = DownloadState.COMPLETED
            elif job.state in (DownloadState.CANCELLED, DownloadState.FAILED):
                job.state = DownloadState.QUEUED
                job.error = None
            job.bytes_done = _bytes_on_disk(job)
            self._store.save(job)
            self._wakeup.notify_all()
        self._notify(job)
        return self._status(job)

    def _find(self, request: DownloadRequest, dest_dir: Path) -> _Job | None:
        wanted = tuple(f.path for f in request.files)
        for job in self._jobs.values():
            same_files = tuple(f.path for f in job.request.files) == wanted
            same_repo = (job.request.source, job.request.repo_id) == (
                request.source,
                request.repo_id,
            )
            if same_repo and same_files and job.dest_dir == dest_dir:
                return job
        return None

    def _adopt_revision(self, job: _Job, request: DownloadRequest) -> None:
        """A newer commit of the same files: keep the parts whose content did not change."""
        old = {f.path: f.sha256 for f in job.request.files}
        for file in request.files:
            if old.get(file.path) != file.sha256 or file.sha256 is None:
                part_path(job.dest(file)).unlink(missing_ok=True)
                job.verified.discard(file.path)
        job.request = request

    def statuses(self) -> list[DownloadStatus]:
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.created_at)
            return [self._status(j) for j in jobs]

    def status(self, job_id: str) -> DownloadStatus:
        with self._lock:
            return self._status(self._job(job_id))

    def _job(self, job_id: str) -> _Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise DownloadError("That download is no longer in the list.") from None

    # ------------------------------------------------------------------ control

    def pause(self, job_id: str) -> None:
        """Stop a download, keeping what was fetched; :meth:`resume` continues from there."""
        with self._lock:
            job = self._job(job_id)
            if job.state is DownloadState.RUNNING:
                self._interrupt(job, job.pause_requested)
                return
            if job.state is DownloadState.QUEUED:
                self._set_state(job, DownloadState.PAUSED)
        self._notify(job)

    def resume(self, job_id: str) -> None:
        """Queue a paused or failed download again (it continues from its parts)."""
        with self._lock:
            job = self._job(job_id)
            if job.state in (DownloadState.PAUSED, DownloadState.FAILED, DownloadState.CANCELLED):
                job.error = None
                self._set_state(job, DownloadState.QUEUED)
                self._wakeup.notify_all()
        self._notify(job)

    def cancel(self, job_id: str) -> None:
        """Stop a download and delete what was fetched."""
        with self._lock:
            job = self._job(job_id)
            if job.state is DownloadState.RUNNING:
                self._interrupt(job, job.cancel_requested)
                return
            if job.state is not DownloadState.COMPLETED:
                _delete_parts(job)
                self._set_state(job, DownloadState.CANCELLED)
        self._notify(job)

    def remove(self, job_id: str) -> None:
        """Drop a finished, failed or cancelled download from the list (its parts too)."""
        with self._lock:
            job = self._job(job_id)
            if job.state in (DownloadState.RUNNING, DownloadState.QUEUED):
                raise DownloadError("Pause or cancel the download before removing it.")
            if job.state is not DownloadState.COMPLETED:
                _delete_parts(job)
            del self._jobs[job_id]
            self._store.remove(job_id)

    # ------------------------------------------------------------------ running

    def run(self, job_id: str) -> DownloadStatus:
        """Download now, on this thread, and return the final status.

        A pause or cancel from another thread ends the call with that state. Ctrl+C pauses
        (the parts are kept) and is re-raised.

        Raises:
            AutoGLMError: the download failed (the job is kept as failed, with its message).
        """
        with self._lock:
            job = self._job(job_id)
            if job.state is DownloadState.COMPLETED and _all_in_place(job):
                return self._status(job)
            if job.state is DownloadState.RUNNING:
                raise DownloadError(f"{job.request.name} is already downloading.")
            job.reset_requests()
            job.retries = 0
            job.exception = job.error = None
            job.message = "Starting…"
            self._set_state(job, DownloadState.RUNNING)
        self._notify(job)
        self._run_job(job)
        if job.exception is not None:
            raise job.exception
        return self.status(job_id)

    def _run_job(self, job: _Job) -> None:
        final = DownloadState.COMPLETED
        try:
            self._execute(job)
        except KeyboardInterrupt:
            self._finish(job, DownloadState.PAUSED, "Paused")
            raise
        except _Paused:
            final = DownloadState.PAUSED
        except _Stopped:
            final = DownloadState.QUEUED  # the next start continues it
        except _Cancelled:
            _delete_parts(job)
            final = DownloadState.CANCELLED
        except AutoGLMError as error:
            job.exception = error
            job.error = str(error)
            final = DownloadState.FAILED
        except Exception as error:  # a bug or an unexpected OS error: report it, keep the app up
            log.exception("Download %s failed", job.id)
            job.exception = DownloadError(f"The download failed unexpectedly ({error}).")
            job.error = str(job.exception)
            final = DownloadState.FAILED
        messages = {DownloadState.COMPLETED: "Done", DownloadState.QUEUED: ""}
        self._finish(job, final, messages.get(final, final.value.title()))

    def _finish(self, job: _Job, state: DownloadState, message: str) -> None:
        with self._lock:
            job.message = job.error or "" if state is DownloadState.FAILED else message
            job.speed.reset()
            self._set_state(job, state)
            job.bytes_done = _bytes_on_disk(job)
        self._notify(job, force=True)

    def start(self) -> None:
        """Run queued downloads one after another on a background thread."""
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return
            self._stopping = False
            self._worker = threading.Thread(target=self._work, name="downloads", daemon=True)
            self._worker.start()

    @property
    def worker_alive(self) -> bool:
        """Whether the worker thread of :meth:`start` is still running."""
        with self._lock:
            return self._worker is not None and self._worker.is_alive()

    def stop(self, *, timeout: float | None = 10.0) -> None:
        """End the worker thread (when the app quits), interrupting the running download.

        A transfer waiting for bytes is cut off at once (see :meth:`_interrupt`); every byte
        received is in its ``.part`` when this returns, and the download is queued again, so
        the next :meth:`start` (the next time the app runs) continues it.

        Args:
            timeout: how long to wait for a worker busy where it cannot be interrupted (a
                connection being opened, the hub's metadata request, the final hash check).
        """
        with self._lock:
            self._stopping = True
            for job in self._jobs.values():
                if job.state is DownloadState.RUNNING:
                    self._interrupt(job, job.stop_requested)
            self._wakeup.notify_all()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
            if worker.is_alive():
                log.warning("The download thread did not stop within %s s", timeout)

    def _interrupt(self, job: _Job, request: threading.Event) -> None:
        """Ask the running ``job`` to pause, cancel or stop, even while it waits for bytes.

        The request is set and the connection cut under the lock, under which :meth:`_stream`
        registers its response before it checks the requests: no request is ever missed.
        """
        with self._lock:
            request.set()
            job.interrupted.set()
            if job.transfer is not None:
                _cut_off(job.transfer)

    def wait(self, job_id: str, *, timeout: float | None = None) -> DownloadStatus:
        """Block until a download is no longer queued or running (for tests and scripts)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._job(job_id).state in (DownloadState.QUEUED, DownloadState.RUNNING):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._wakeup.wait(remaining)
            return self._status(self._job(job_id))

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._next_queued()
                while job is None and not self._stopping:
                    self._wakeup.wait()
                    job = self._next_queued()
                if self._stopping:
                    return
                assert job is not None
                job.reset_requests()
                job.retries = 0
                job.exception = job.error = None
                self._set_state(job, DownloadState.RUNNING)
            self._notify(job)
            self._run_job(job)

    def _next_queued(self) -> _Job | None:
        queued = [j for j in self._jobs.values() if j.state is DownloadState.QUEUED]
        return min(queued, key=lambda j: j.created_at) if queued else None

    # ------------------------------------------------------------------ the transfer

    def _execute(self, job: _Job) -> None:
        self.client_for(job.request.source).ensure_online()
        job.dest_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(part_path(job.primary_path)) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise DownloadError(
                f"{job.request.name} is being downloaded by another AutoGLM window."
            ) from None
        try:
            check_disk_space(job.dest_dir, needed_bytes=_bytes_missing(job))
            for index, file in enumerate(job.request.files):
                job.file_index = index
                if file.path in job.verified and _part_complete(job, file):
                    continue
                self._fetch_file(job, file)
                with self._lock:
                    job.verified.add(file.path)
                    self._store.save(job)
            _move_into_place(job)
        finally:
            lock.release()
            with contextlib.suppress(OSError):
                Path(lock.lock_file).unlink()

    def _fetch_file(self, job: _Job, file: DownloadFile) -> None:
        dest = job.dest(file)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with _PartFile.open(part_path(dest), size=file.size, control=self._control(job)) as part:
            expected = file.sha256.lower() if file.sha256 else None
            failures = 0
            wait = self.policy.first_wait_s
            while part.have < file.size:
                before = part.have
                try:
                    expected = self._attempt(job, file, part, expected)
                except (_Retry, NetworkError, httpx2.TransportError) as error:
                    failures = 0 if part.have > before else failures + 1
                    if failures >= self.policy.attempts_without_progress:
                        raise NetworkError(_gave_up_message(job, error)) from None
                    job.retries += 1
                    if part.have > before:
                        wait = self.policy.first_wait_s
                    self._say(job, f"Connection problem ({_short(error)}); retrying in {wait:g} s…")
                    self._sleep(job, wait)
                    wait = min(self.policy.max_wait_s, wait * 2)
            self._verify(job, file, part, expected)

    def _attempt(
        self, job: _Job, file: DownloadFile, part: _PartFile, expected: str | None
    ) -> str | None:
        """One request for the rest of the file; returns the hash to check against."""
        request = job.request
        client = self.client_for(request.source)
        metadata = client.file_metadata(request.repo_id, file.path, revision=request.revision)
        if expected is None and is_sha256(metadata.etag):
            expected = (metadata.etag or "").lower()
        if metadata.size is not None and metadata.size != file.size:
            raise DownloadError(
                f"{file.path} changed on the hub while it was downloading; start the download "
                "again from the model's page."
            )
        self._say(job, "Downloading…")
        self._stream(job, client, metadata.location, part)
        return expected

    def _stream(self, job: _Job, client: SourceClient, url: str, part: _PartFile) -> None:
        headers = client.headers_for(url)
        headers["Accept-Encoding"] = "identity"
        if part.have:
            headers["Range"] = f"bytes={part.have}-"
        policy = self.policy
        timeout = httpx2.Timeout(
            connect=policy.connect_timeout_s,
            read=policy.stall_timeout_s,
            write=policy.stall_timeout_s,
            pool=policy.connect_timeout_s,
        )
        session = client.http()
        check_controls = self._control(job)
        with session.stream(
            "GET", url, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            with self._lock:
                job.transfer = response  # from now on a request cuts the connection off
            try:
                check_controls()  # a request that came while connecting
                self._check_response(job, client, response, part)
                for chunk in response.iter_bytes():
                    part.write(chunk)  # every byte received reaches the part
                    self._progress(job, len(chunk))
                    check_controls()  # requests act while bytes flow, not only on a stall
            except Exception:
                check_controls()  # a read cut off by a request ends as that request says
                raise
            finally:
                with self._lock:
                    job.transfer = None

    def _check_response(
        self, job: _Job, client: SourceClient, response: httpx2.Response, part: _PartFile
    ) -> None:
        status = response.status_code
        if status == 416:  # nothing left to send, or a part longer than the file
            part.restart()
            raise _Retry("the server refused the resume position")
        if status in _RETRYABLE_STATUS:
            raise _Retry(f"the server answered {status}")
        if status not in (200, 206):
            response.read()  # the error body, for the error's message
            with client.errors(repo_id=job.request.repo_id):
                client.raise_for_status(response)
            raise _Retry(f"unexpected answer {status}")
        if status == 200 and part.have:
            part.restart()  # the server ignored the Range header and sends the whole file
        elif status == 206:
            start = _content_range_start(response.headers.get("Content-Range"))
            if start != part.have:
                part.restart()
                raise _Retry("the server sent the wrong part of the file")

    def _verify(self, job: _Job, file: DownloadFile, part: _PartFile, expected: str | None) -> None:
        if expected is None:
            log.info("%s has no published hash; checked its size only", file.path)
            return
        self._say(job, "Checking…")
        actual = part.hexdigest()
        if actual != expected:
            part.discard()
            raise HashMismatchError(
                f"The downloaded file {file.path.rsplit('/', 1)[-1]} is damaged: its SHA-256 "
                "checksum does not match the hub's, so it was deleted. This comes from a faulty "
                "connection, proxy or mirror; download it again."
            )

    # ------------------------------------------------------------------ progress and control

    def _control(self, job: _Job) -> Callable[[], None]:
        def check() -> None:
            if job.cancel_requested.is_set():
                raise _Cancelled
            if job.pause_requested.is_set():  # a pause before the quit stays a pause
                raise _Paused
            if job.stop_requested.is_set():
                raise _Stopped

        return check

    def _progress(self, job: _Job, n_bytes: int) -> None:
        now = time.monotonic()
        with self._lock:
            job.bytes_done += n_bytes
            job.speed.add(n_bytes, now)
        if now - job.last_notified >= _PROGRESS_INTERVAL_S:
            self._notify(job)

    def _say(self, job: _Job, message: str) -> None:
        with self._lock:
            job.message = message
            job.bytes_done = _bytes_on_disk(job)
        self._notify(job, force=True)

    def _sleep(self, job: _Job, seconds: float) -> None:
        """Wait before a retry; a pause, cancel or stop ends the wait at once."""
        job.interrupted.wait(seconds)
        self._control(job)()

    def _set_state(self, job: _Job, state: DownloadState) -> None:
        job.state = state
        self._store.save(job)
        self._wakeup.notify_all()

    def _notify(self, job: _Job, *, force: bool = False) -> None:
        if self.listener is None:
            return
        now = time.monotonic()
        if not force and now - job.last_notified < _PROGRESS_INTERVAL_S:
            return
        job.last_notified = now
        with self._lock:
            status = self._status(job)
        try:
            self.listener(status)
        except Exception:  # a listener's bug must not break the download
            log.exception("Download listener failed")

    def _status(self, job: _Job) -> DownloadStatus:
        total = job.request.size
        speed = job.speed.speed(time.monotonic()) if job.state is DownloadState.RUNNING else 0.0
        remaining = max(0, total - job.bytes_done)
        return DownloadStatus(
            id=job.id,
            name=job.request.name,
            repo_id=job.request.repo_id,
            quant=job.request.quant,
            state=job.state,
            bytes_done=min(job.bytes_done, total),
            bytes_total=total,
            speed_bps=speed,
            eta_s=remaining / speed if speed > 0 else None,
            file_index=job.file_index,
            file_count=len(job.request.files),
            retries=job.retries,
            message=job.message,
            error=job.error,
            path=job.primary_path,
            source=job.request.source,
        )


def _cut_off(response: httpx2.Response) -> None:
    """Make a read blocked on ``response`` return at once, from another thread.

    The response's ``network_stream`` extension gives its socket; shutting the socket down
    wakes the reading thread with an end of stream, which the transfer reports as an error.
    The plain socket's ``shutdown`` is used: ``SSLSocket.shutdown`` would also drop the TLS
    object under the reading thread. HTTP/2 connections carry other requests too, so they are
    left alone (the stall timeout ends such a read).
    """
    if response.http_version == "HTTP/2":
        return
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


# --------------------------------------------------------------------------- the part file


class _PartFile:
    """A ``.part`` file being appended to, with the running SHA-256 of its content."""

    def __init__(self, path: Path, file: BinaryIO, size: int, control: Callable[[], None]) -> None:
        self.path = path
        self._file = file
        self.size = size
        self.have = 0
        self._hash = _BackgroundHash()
        self._control = control

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, *, size: int, control: Callable[[], None]) -> Iterator[_PartFile]:
        # Unbuffered: every chunk reaches the OS when it arrives, so the part on disk always
        # holds exactly the bytes received, even if the process is killed.
        try:
            file = open(path, "r+b" if path.exists() else "w+b", buffering=0)  # noqa: SIM115
        except OSError as error:
            raise _disk_error(error, path) from None
        part = cls(path, file, size, control)
        try:
            part._load_existing()
            yield part
        finally:
            part._hash.close()
            file.close()

    def _load_existing(self) -> None:
        """Hash the bytes a previous run left (a resumed download checks them too)."""
        length = os.fstat(self._file.fileno()).st_size
        if length > self.size:
            self.restart()
            return
        self._file.seek(0)
        while self.have < length:
            self._control()
            chunk = self._file.read(min(_HASH_READ_CHUNK, length - self.have))
            if not chunk:
                break
            self._hash.update(chunk)
            self.have += len(chunk)
        self._file.seek(self.have)
        self._file.truncate()

    def write(self, chunk: bytes) -> None:
        room = self.size - self.have
        if len(chunk) > room:  # a server sending more than the file holds: keep what fits
            chunk = chunk[:room]
        pending = memoryview(chunk)
        try:
            while pending:  # an unbuffered write may take only part of the chunk
                pending = pending[self._file.write(pending) :]
        except OSError as error:
            raise _disk_error(error, self.path) from None
        self._hash.update(chunk)
        self.have += len(chunk)

    def restart(self) -> None:
        self._file.seek(0)
        self._file.truncate()
        self._hash.close()
        self._hash = _BackgroundHash()
        self.have = 0

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def discard(self) -> None:
        self.restart()
        self.path.unlink(missing_ok=True)


class _BackgroundHash:
    """SHA-256 computed on a helper thread, so that hashing overlaps with receiving.

    hashlib releases the GIL while it hashes, so on a second core the check costs no
    download time. Chunks are handed over in batches of a few MB to keep queueing cheap.
    """

    _BATCH_BYTES = 4 << 20

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._batches: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=8)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._batches.get()) is not None:
            for chunk in batch:
                self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        if self._pending_bytes >= self._BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._batches.put(self._pending)
            self._pending, self._pending_bytes = [], 0

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._flush()
            self._batches.put(None)
            self._thread.join()


def _disk_error(error: OSError, path: Path) -> AutoGLMError:
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        free = _free_bytes(path.parent)
        return DiskFullError(
            f"The disk filled up while downloading {path.name.removesuffix(PART_SUFFIX)} "
            f"({format_bytes(free)} free in {path.parent}). Free up space and resume: the part "
            "already downloaded is kept."
        )
    return DownloadError(f"Cannot write {path}: {error.strerror or error}.")


# --------------------------------------------------------------------------- disk and files


def check_disk_space(folder: Path, *, needed_bytes: int) -> None:
    """Raise :class:`DiskFullError` unless ``folder`` has room for ``needed_bytes`` and a margin.

    The margin (5% of the download, between 1 MiB and 100 MiB) keeps the disk from filling to
    the last byte.
    """
    if needed_bytes <= 0:
        return
    margin = max(_MIB, min(100 * _MIB, needed_bytes // 20))
    free = _free_bytes(folder)
    if free < needed_bytes + margin:
        short = needed_bytes + margin - free
        raise DiskFullError(
            f"Not enough free disk space in {folder}: the download needs "
            f"{format_bytes(needed_bytes)} but only {format_bytes(free)} is free. Free up "
            f"{format_bytes(short)} or choose another models folder."
        )


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def _bytes_on_disk(job: _Job) -> int:
    total = 0
    for file in job.request.files:
        dest = job.dest(file)
        if dest.is_file() and job.state is DownloadState.COMPLETED:
            total += file.size
            continue
        with contextlib.suppress(OSError):
            total += min(file.size, part_path(dest).stat().st_size)
    return total


def _bytes_missing(job: _Job) -> int:
    return max(0, job.request.size - _bytes_on_disk(job))


def _part_complete(job: _Job, file: DownloadFile) -> bool:
    try:
        return part_path(job.dest(file)).stat().st_size == file.size
    except OSError:
        return False


def _all_in_place(job: _Job) -> bool:
    for file in job.request.files:
        try:
            if job.dest(file).stat().st_size != file.size:
                return False
        except OSError:
            return False
    return True


def _move_into_place(job: _Job) -> None:
    """Rename every verified part to its final name, the first part (the one opened) last."""
    for file in reversed(job.request.files):
        dest = job.dest(file)
        try:
            os.replace(part_path(dest), dest)
        except OSError as error:
            raise DownloadError(f"Cannot move {dest.name} into place: {error}") from None


def _delete_parts(job: _Job) -> None:
    for file in job.request.files:
        part_path(job.dest(file)).unlink(missing_ok=True)
    job.verified.clear()
    job.bytes_done = 0


def _content_range_start(header: str | None) -> int | None:
    # "bytes 100-199/1000"
    if not header or not header.startswith("bytes "):
        return None
    first = header[6:].split("-", 1)[0]
    return int(first) if first.isdigit() else None


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 80 else text[:77] + "…"


def _gave_up_message(job: _Job, error: BaseException) -> str:
    return (
        f"The download of {job.request.name} kept failing ({_short(error)}). Check the "
        "connection and resume it later; what was downloaded is kept."
    )


# --------------------------------------------------------------------------- persistence


class _JobStore:
    """``downloads.json``: the queue, shared safely with other processes of the app."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock")

    def load(self) -> list[_Job]:
        with self._lock:
            return [job for raw in self._read() if (job := _job_from_json(raw)) is not None]

    def save(self, job: _Job) -> None:
        with self._lock:
            jobs = [raw for raw in self._read() if raw.get("id") != job.id]
            jobs.append(_job_to_json(job))
            self._write(jobs)

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._write([raw for raw in self._read() if raw.get("id") != job_id])

    def _read(self) -> list[dict[str, Any]]:
        jobs = read_json_object(self.path).get("jobs")
        return [j for j in jobs if isinstance(j, dict)] if isinstance(jobs, list) else []

    def _write(self, jobs: list[dict[str, Any]]) -> None:
        jobs.sort(key=lambda raw: raw.get("created_at", 0))
        write_json_object(self.path, {"version": STATE_VERSION, "jobs": jobs}, indent=1)


def _job_to_json(job: _Job) -> dict[str, Any]:
    request = job.request
    return {
        "id": job.id,
        "repo_id": request.repo_id,
        "revision": request.revision,
        "name": request.name,
        "quant": request.quant,
        "source": request.source.value,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in request.files],
        "dest_dir": str(job.dest_dir),
        "state": job.state.value,
        "error": job.error,
        "verified": sorted(job.verified),
        "created_at": job.created_at,
    }


def _job_from_json(raw: dict[str, Any]) -> _Job | None:
    try:
        files = tuple(
            DownloadFile(str(f["path"]), int(f["size"]), f.get("sha256") or None)
            for f in raw["files"]
        )
        request = DownloadRequest(
            repo_id=str(raw["repo_id"]),
            revision=str(raw["revision"]),
            files=files,
            name=str(raw["name"]),
            quant=raw.get("quant"),
            source=Source(raw.get("source") or Source.HUGGING_FACE.value),
        )
        job = _Job(
            id=str(raw["id"]),
            request=request,
            dest_dir=Path(raw["dest_dir"]),
            state=DownloadState(raw["state"]),
            created_at=float(raw.get("created_at", 0.0)),
            verified=set(raw.get("verified", [])),
            error=raw.get("error"),
        )
    except (KeyError, TypeError, ValueError) as error:
        log.warning("Skipping a damaged download entry: %s", error)
        return None
    if not files:
        return None
    job.message = job.error or ""
    return job
