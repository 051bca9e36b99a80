"""The download manager against a real local hub server with injected faults."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hub_server import Fault, HubFile, HubRepo, HubServer, write_gguf

from autoglm_desktop.core.common.errors import DiskFullError, GatedModelError, HashMismatchError
from autoglm_desktop.core.hub import downloads
from autoglm_desktop.core.hub.client import HubClient, RepoDetail, fetch_repo_detail
from autoglm_desktop.core.hub.downloads import (
    DownloadManager,
    DownloadRequest,
    DownloadState,
    DownloadStatus,
    RetryPolicy,
    check_disk_space,
    part_path,
)
from autoglm_desktop.core.hub.settings import EndpointChoice, HubSettings
from autoglm_desktop.core.models.library import find_local_models

REPO = "acme/Tiny-GGUF"
# Quick retries, and timeouts no test run reaches: a slow machine never makes a read time out,
# and a held connection ends only when a pause, cancel or stop cuts it off.
FAST = RetryPolicy(stall_timeout_s=600, connect_timeout_s=60, first_wait_s=0.01, max_wait_s=0.05)
# For the stall test only: a server that stops sending is noticed soon.
QUICK_STALL = RetryPolicy(stall_timeout_s=1, first_wait_s=0.01, max_wait_s=0.05)
# Longer than anything takes on the busiest machine; reached only when something hangs.
HUNG_S = 120


pytestmark = pytest.mark.usefixtures("isolated_hub_state")


@pytest.fixture
def hub(model_file: Path) -> Iterator[HubServer]:
    data = model_file.read_bytes()
    third = len(data) // 3
    with HubServer() as server:
        server.add_repo(
            HubRepo(
                REPO,
                [
                    HubFile("Tiny-Q8_0.gguf", source=model_file),
                    HubFile("Tiny-Q8_0-split-00001-of-00003.gguf", data=data[:third]),
                    HubFile("Tiny-Q8_0-split-00002-of-00003.gguf", data=data[third : 2 * third]),
                    HubFile("Tiny-Q8_0-split-00003-of-00003.gguf", data=data[2 * third :]),
                ],
            )
        )
        server.add_repo(
            HubRepo("gate/Locked-GGUF", [HubFile("L-Q8_0.gguf", source=model_file)], gated="auto")
        )
        yield server


@pytest.fixture
def client(hub: HubServer) -> HubClient:
    settings = HubSettings(endpoint_choice=EndpointChoice.CUSTOM, custom_endpoint=hub.url)
    return HubClient(settings=settings, token=False)


@pytest.fixture
def detail(client: HubClient) -> RepoDetail:
    return fetch_repo_detail(client, REPO, with_card=False)


def single(detail: RepoDetail) -> DownloadRequest:
    model = next(m for m in detail.models if not m.is_split)
    return DownloadRequest.for_model(detail, model)


def split(detail: RepoDetail) -> DownloadRequest:
    model = next(m for m in detail.models if m.is_split)
    return DownloadRequest.for_model(detail, model)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_until(condition: Callable[[], bool], *, what: str) -> None:
    """Wait until ``condition()`` holds, checking it often; fail only if it never does."""
    checked = threading.Event()
    for _ in range(HUNG_S * 100):
        if condition():
            return
        checked.wait(0.01)
    raise AssertionError(f"never happened: {what}")


def part_size(path: Path) -> int:
    try:
        return part_path(path).stat().st_size
    except FileNotFoundError:
        return 0


def download_starts(hub: HubServer, file: str) -> list[int]:
    """Where each download request for ``file`` asked the server to start."""
    return [start for name, start in hub.range_starts if name == file]


def test_download_is_verified_and_moved_into_place(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path, app_home: Path
) -> None:
    seen: list[DownloadStatus] = []
    manager = DownloadManager(client=client, policy=FAST, listener=seen.append)

    status = manager.run(manager.add(single(detail)).id)

    assert status.state is DownloadState.COMPLETED
    assert status.path == app_home / "data" / "models" / "acme" / "Tiny-GGUF" / "Tiny-Q8_0.gguf"
    assert sha256(status.path) == sha256(model_file)
    assert not part_path(status.path).exists()
    assert hub.bytes_served["Tiny-Q8_0.gguf"] == model_file.stat().st_size
    assert [s.state for s in seen][-1] is DownloadState.COMPLETED
    assert {s.state for s in seen} >= {DownloadState.QUEUED, DownloadState.RUNNING}
    assert seen[-1].bytes_done == seen[-1].bytes_total == model_file.stat().st_size
    assert [m.path for m in find_local_models(folders=[manager.models_dir])] == [status.path]
    saved = json.loads((app_home / "data" / "downloads.json").read_text())
    assert [job["state"] for job in saved["jobs"]] == ["completed"]
    # The same model again is already there: nothing is fetched.
    again = manager.add(single(detail))
    assert again.state is DownloadState.COMPLETED and again.id == status.id


def test_stalled_transfer_is_retried_and_resumed(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path
) -> None:
    size = model_file.stat().st_size
    # The server stops sending at a third of the file, and does not go on until the test ends.
    stall = hub.add_fault(Fault("hold", at_byte=size // 3, path="Tiny-Q8_0.gguf"))
    seen: list[DownloadStatus] = []
    manager = DownloadManager(client=client, policy=QUICK_STALL, listener=seen.append)

    try:
        status = manager.run(manager.add(single(detail)).id)
    finally:
        stall.release.set()

    assert status.state is DownloadState.COMPLETED and status.retries >= 1
    assert sha256(status.path) == sha256(model_file)
    # Each retry asked for the bytes after those in the .part: resumed where it stalled, and
    # nothing received was asked for again. (A busy machine may add a stall of its own.)
    on_disk_at_retries = [s.bytes_done for s in seen if s.message.startswith("Connection problem")]
    assert len(on_disk_at_retries) == status.retries
    assert download_starts(hub, "Tiny-Q8_0.gguf") == [0, *on_disk_at_retries]


def test_dropped_connection_is_resumed(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path
) -> None:
    size = model_file.stat().st_size
    hub.add_fault(Fault("drop", at_byte=size // 2, path="Tiny-Q8_0.gguf", times=2))
    manager = DownloadManager(client=client, policy=FAST)

    status = manager.run(manager.add(single(detail)).id)

    assert status.state is DownloadState.COMPLETED and status.retries == 2
    assert [start for name, start in hub.range_starts if name == "Tiny-Q8_0.gguf"] == [
        0,
        size // 2,
        size // 2,
    ]
    assert hub.bytes_served["Tiny-Q8_0.gguf"] == size
    assert sha256(status.path) == sha256(model_file)


def test_corrupted_transfer_is_caught_by_the_hash_check(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path
) -> None:
    hub.add_fault(Fault("corrupt", at_byte=12345, path="Tiny-Q8_0.gguf"))
    manager = DownloadManager(client=client, policy=FAST)
    job = manager.add(single(detail))

    with pytest.raises(HashMismatchError, match="checksum does not match the hub's"):
        manager.run(job.id)

    status = manager.status(job.id)
    assert status.state is DownloadState.FAILED and "damaged" in (status.error or "")
    assert not status.path.exists() and not part_path(status.path).exists()
    assert find_local_models(folders=[manager.models_dir]) == []
    # Retrying fetches a good copy (the fault hit once).
    assert manager.run(manager.add(single(detail)).id).state is DownloadState.COMPLETED
    assert sha256(status.path) == sha256(model_file)


def test_split_model_is_one_download_offered_only_when_complete(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path
) -> None:
    request = split(detail)
    third = model_file.stat().st_size // 3
    # The last part keeps failing: the first parts are fetched and verified, but not offered.
    hub.add_fault(Fault("drop", at_byte=10, path="Tiny-Q8_0-split-00003-of-00003.gguf", times=100))
    policy = dataclasses.replace(FAST, attempts_without_progress=2)
    manager = DownloadManager(client=client, policy=policy)
    job = manager.add(request)
    assert job.file_count == 3 and job.bytes_total == model_file.stat().st_size

    with pytest.raises(Exception, match="kept failing"):
        manager.run(job.id)
    assert manager.status(job.id).bytes_done == 2 * third + 10
    assert find_local_models(folders=[manager.models_dir]) == []

    hub.faults.clear()
    status = manager.run(job.id)
    assert status.state is DownloadState.COMPLETED
    models = find_local_models(folders=[manager.models_dir])
    assert len(models) == 1 and models[0].path == status.path and len(models[0].parts) == 3
    joined = b"".join(p.read_bytes() for p in models[0].parts)
    assert joined == model_file.read_bytes()
    served = sum(hub.bytes_served[f.path] for f in request.files)
    assert served == model_file.stat().st_size  # the failed attempt's 10 bytes were kept


def test_pause_resume_and_cancel_from_another_thread(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path
) -> None:
    size = model_file.stat().st_size
    hold = hub.add_fault(Fault("hold", at_byte=size // 2, path="Tiny-Q8_0.gguf"))
    manager = DownloadManager(client=client, policy=FAST)  # requests cut the read off
    manager.start()
    try:
        job = manager.add(single(detail))
        assert hold.reached.wait(HUNG_S)
        wait_until(lambda: part_size(job.path) > 0, what="the first bytes reached the .part")
        manager.pause(job.id)
        paused = manager.wait(job.id, timeout=HUNG_S)
        assert paused.state is DownloadState.PAUSED
        assert not hold.release.is_set()  # the pause cut the held connection off
        # Pause acts at once: what the client had read is kept, bytes still in flight are not.
        assert 0 < paused.bytes_done <= size // 2
        assert paused.bytes_done == part_path(paused.path).stat().st_size
        hold.release.set()
        served_before_resume = hub.bytes_served["Tiny-Q8_0.gguf"]

        manager.resume(job.id)
        done = manager.wait(job.id, timeout=HUNG_S)
        assert done.state is DownloadState.COMPLETED
        served_after = hub.bytes_served["Tiny-Q8_0.gguf"] - served_before_resume
        assert served_after == size - paused.bytes_done  # resumed from the .part, not from zero

        other = hub.add_fault(
            Fault("hold", at_byte=1000, path="Tiny-Q8_0-split-00001-of-00003.gguf")
        )
        job2 = manager.add(split(detail))
        assert other.reached.wait(HUNG_S)
        manager.cancel(job2.id)
        cancelled = manager.wait(job2.id, timeout=HUNG_S)
        other.release.set()
        assert cancelled.state is DownloadState.CANCELLED
        assert not part_path(cancelled.path).exists()
        assert [m.path for m in find_local_models(folders=[manager.models_dir])] == [done.path]
    finally:
        manager.stop()


def test_stop_cuts_off_a_held_transfer_and_keeps_every_byte_received(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path
) -> None:
    size = model_file.stat().st_size
    hold = hub.add_fault(Fault("hold", at_byte=size // 2, path="Tiny-Q8_0.gguf"))
    manager = DownloadManager(client=client, policy=FAST)
    job = manager.add(single(detail))
    manager.start()
    assert hold.reached.wait(HUNG_S)
    wait_until(lambda: part_size(job.path) > 0, what="the first bytes reached the .part")

    manager.stop(timeout=HUNG_S)  # the app quits while the server holds the connection

    # stop() returned with the server still holding: only cutting the read off ends it, as the
    # stall timeout is far away. The worker is gone and every byte it read is in the .part.
    assert not hold.release.is_set()
    assert not manager.worker_alive
    stopped = manager.status(job.id)
    assert stopped.state is DownloadState.QUEUED and stopped.message == ""
    kept = part_size(job.path)
    assert 0 < kept <= size // 2 and stopped.bytes_done == kept
    hold.release.set()

    restarted = DownloadManager(client=client, policy=FAST)
    assert restarted.status(job.id).state is DownloadState.QUEUED
    served_before_restart = hub.bytes_served["Tiny-Q8_0.gguf"]
    restarted.start()
    try:
        done = restarted.wait(job.id, timeout=HUNG_S)
    finally:
        restarted.stop(timeout=HUNG_S)
    assert done.state is DownloadState.COMPLETED
    assert download_starts(hub, "Tiny-Q8_0.gguf") == [0, kept]  # resumed at the .part's end
    # Nothing received was fetched twice.
    assert hub.bytes_served["Tiny-Q8_0.gguf"] - served_before_restart == size - kept
    assert sha256(done.path) == sha256(model_file)


def test_queue_survives_quitting_and_restarting_the_app(
    client: HubClient, detail: RepoDetail, hub: HubServer, model_file: Path
) -> None:
    size = model_file.stat().st_size
    hold = hub.add_fault(Fault("hold", at_byte=size // 4, path="Tiny-Q8_0.gguf"))
    first = DownloadManager(client=client, policy=FAST)
    paused = first.add(split(detail))
    first.pause(paused.id)
    first.start()
    running = first.add(single(detail))
    assert hold.reached.wait(HUNG_S)
    first.stop(timeout=HUNG_S)  # the app quits in the middle of the download
    hold.release.set()
    assert not first.worker_alive
    assert first.status(running.id).state is DownloadState.QUEUED

    restarted = DownloadManager(client=client, policy=FAST)

    states = {s.id: s.state for s in restarted.statuses()}
    assert states == {running.id: DownloadState.QUEUED, paused.id: DownloadState.PAUSED}
    kept = restarted.status(running.id).bytes_done  # what reached the .part before quitting
    assert kept == part_size(running.path) <= size // 4
    served_before_restart = hub.bytes_served["Tiny-Q8_0.gguf"]
    restarted.start()
    try:
        assert restarted.wait(running.id, timeout=HUNG_S).state is DownloadState.COMPLETED
        assert restarted.status(paused.id).state is DownloadState.PAUSED  # the user paused it
        # Resumed from the .part: only the missing bytes were asked for.
        assert download_starts(hub, "Tiny-Q8_0.gguf") == [0, kept]
        assert hub.bytes_served["Tiny-Q8_0.gguf"] - served_before_restart == size - kept
    finally:
        restarted.stop(timeout=HUNG_S)


def test_gated_model_download_fails_with_a_clear_message(client: HubClient) -> None:
    detail = fetch_repo_detail(client, "gate/Locked-GGUF", with_card=False)
    manager = DownloadManager(client=client, policy=FAST)
    job = manager.add(DownloadRequest.for_model(detail, detail.models[0]))

    with pytest.raises(GatedModelError, match="gated by its authors"):
        manager.run(job.id)
    assert manager.status(job.id).state is DownloadState.FAILED


# --------------------------------------------------------------------------- disk space


def test_preflight_space_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def usage(free: int) -> object:
        return lambda _path: shutil._ntuple_diskusage(total=10**12, used=0, free=free)  # type: ignore[attr-defined]

    monkeypatch.setattr(downloads.shutil, "disk_usage", usage(10 * 2**30))
    check_disk_space(tmp_path / "not" / "yet", needed_bytes=5 * 2**30)

    monkeypatch.setattr(downloads.shutil, "disk_usage", usage(5 * 2**30))
    with pytest.raises(DiskFullError, match=r"needs 5\.4 GB but only 5\.4 GB is free"):
        check_disk_space(tmp_path, needed_bytes=5 * 2**30)  # no room for the margin


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 20 MiB tmpfs, mounted for the test (needs root)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not permitted'})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_is_detected_before_the_first_byte(
    client: HubClient, hub: HubServer, small_disk: Path, starter_model: Path
) -> None:
    hub.add_repo(HubRepo("big/Big-GGUF", [HubFile("Big-Q4_1.gguf", source=starter_model)]))
    detail = fetch_repo_detail(client, "big/Big-GGUF", with_card=False)
    manager = DownloadManager(client=client, models_dir=small_disk, policy=FAST)
    job = manager.add(DownloadRequest.for_model(detail, detail.models[0]))

    with pytest.raises(DiskFullError, match="Not enough free disk space") as error:
        manager.run(job.id)

    assert "Free up" in str(error.value)
    assert hub.bytes_served["Big-Q4_1.gguf"] == 0
    assert not any(small_disk.rglob("*.part"))


def test_disk_filling_up_during_the_download(
    client: HubClient, hub: HubServer, small_disk: Path, tmp_path: Path
) -> None:
    model = write_gguf(
        tmp_path / "mid.gguf",
        n_layer=2,
        n_embd=512,
        n_head=8,
        n_head_kv=8,
        n_ff=1024,
        weight_type="f16",
    )
    assert 8 << 20 < model.stat().st_size < 19 << 20  # fits the empty disk, not beside a filler
    hub.add_repo(HubRepo("mid/Mid-GGUF", [HubFile("Mid-F16.gguf", source=model)]))
    detail = fetch_repo_detail(client, "mid/Mid-GGUF", with_card=False)
    filler = small_disk / "filler.bin"
    filled: list[bool] = []

    def fill_disk(status: DownloadStatus) -> None:
        """Another program fills the disk once the download has started."""
        if status.state is DownloadState.RUNNING and not filled:
            filled.append(True)
            filler.write_bytes(bytes((20 << 20) - model.stat().st_size + (4 << 20)))

    manager = DownloadManager(client=client, models_dir=small_disk, policy=FAST, listener=fill_disk)
    job = manager.add(DownloadRequest.for_model(detail, detail.models[0]))

    with pytest.raises(DiskFullError, match=r"The disk filled up while downloading Mid-F16\.gguf"):
        manager.run(job.id)

    status = manager.status(job.id)
    assert status.state is DownloadState.FAILED and not status.path.exists()
    assert find_local_models(folders=[small_disk]) == []  # the part is kept, never offered
    filler.unlink()
    assert manager.run(job.id).state is DownloadState.COMPLETED
    assert sha256(status.path) == sha256(model)


def test_unique_ids_and_state_file_entries(client: HubClient, detail: RepoDetail) -> None:
    manager = DownloadManager(client=client)
    ids = {manager.add(single(detail)).id, manager.add(split(detail)).id}
    assert len(ids) == 2 and all(len(i) == 12 and uuid.UUID(int=int(i, 16)) for i in ids)
    manager.cancel(next(iter(ids)))
    manager.remove(next(iter(ids)))
    assert len(DownloadManager(client=client).statuses()) == 1
