"""The Settings pane and the window's use of the tuner: real readings, real model, real reloads."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.common import paths
from autoglm_desktop.core.common.types import MessageStatus, SamplingSettings
from autoglm_desktop.core.machine.hardware import HardwareSnapshot, read_hardware
from autoglm_desktop.core.planning.overrides import load_overrides, overrides_path
from autoglm_desktop.qt.main_window import MainWindow
from autoglm_desktop.qt.settings.pane import SettingsPane

TIMEOUT_MS = 60_000


@pytest.fixture
def pane(qtbot: QtBot, installed_model: Path) -> Iterator[SettingsPane]:
    widget = SettingsPane()
    qtbot.addWidget(widget)
    widget.set_model(installed_model)
    widget.show_snapshot(read_hardware())
    yield widget
    widget.close_workers()


@pytest.fixture
def window(qtbot: QtBot, installed_model: Path) -> Iterator[MainWindow]:
    win = MainWindow()  # autoload: the starter model fits, so it loads on its own
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=TIMEOUT_MS)
    yield win
    win.close()


def test_auto_values_come_with_reasons(pane: SettingsPane) -> None:
    assert pane.auto_plan is not None and pane.auto_plan.fits
    for row in pane.rows.values():
        assert row.auto.isChecked() and not row.editor.isEnabled()
        assert row.reason.text()
    assert pane.context.value() == pane.auto_plan.plan.n_ctx
    assert "layers" in pane.explanation.text()


def test_fixing_the_context_changes_the_prediction(pane: SettingsPane) -> None:
    auto = pane.chosen_plan
    assert auto is not None
    pane.rows["n_ctx"].auto.setChecked(False)
    pane.context.setValue(2048)
    smaller = pane.chosen_plan
    assert smaller is not None and smaller.plan.n_ctx == 2048
    assert smaller.estimate.ram_bytes < auto.estimate.ram_bytes
    assert pane.predicted_ram.styleSheet() == ""


def test_a_plan_that_cannot_fit_turns_red_and_asks_first(
    pane: SettingsPane, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    pane.show_snapshot(small_machine())  # 4 GB of RAM, 1.5 GB of it free
    pane.rows["n_ctx"].auto.setChecked(False)
    pane.context.setValue(pane.context.maximum())
    tuned = pane.chosen_plan
    assert tuned is not None and not tuned.fits
    assert "d9534f" in pane.predicted_ram.styleSheet()
    assert pane.explanation.text().startswith("Will not fit")
    asked: list[str] = []

    def answer_no(*args: object, **kwargs: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "warning", answer_no)
    with qtbot.assertNotEmitted(pane.applyRequested):
        pane.apply_button.click()
    assert asked and "Load anyway?" in asked[0]


def test_overrides_are_stored_per_model_only_where_set(
    pane: SettingsPane, installed_model: Path
) -> None:
    pane.rows["n_ctx"].auto.setChecked(False)
    pane.context.setValue(3072)
    pane.apply_button.click()
    stored = json.loads(overrides_path().read_text(encoding="utf-8"))
    assert list(stored.values()) == [{"n_ctx": 3072}]
    assert load_overrides(installed_model).n_ctx == 3072
    pane.rows["n_ctx"].auto.setChecked(True)
    pane.apply_button.click()
    assert json.loads(overrides_path().read_text(encoding="utf-8")) == {}


def test_apply_reloads_the_model_with_the_new_plan(qtbot: QtBot, window: MainWindow) -> None:
    pane = window.settings_pane
    window.pane_button.click()
    assert window.settings_dock.isVisible()
    qtbot.waitUntil(lambda: "GB" in pane.meters.ram.format(), timeout=TIMEOUT_MS)
    old_pid = window.worker.engine_pid
    pane.rows["n_ctx"].auto.setChecked(False)
    pane.context.setValue(1024)
    pane.apply_button.click()
    qtbot.waitUntil(
        lambda: window.model_info is not None and window.model_info.n_ctx == 1024,
        timeout=TIMEOUT_MS,
    )
    assert window.worker.engine_pid != old_pid
    qtbot.waitUntil(lambda: "RAM" in pane.meters.model_memory.text(), timeout=TIMEOUT_MS)


def test_idle_release_frees_the_engine_and_reloads_on_next_message(
    qtbot: QtBot, window: MainWindow
) -> None:
    pid = window.worker.engine_pid
    assert pid is not None
    window.settings_pane.idle_release.setChecked(True)  # stored in the settings
    assert window.settings.release_when_idle_minutes == window.settings_pane.idle_minutes.value()
    window._idle_timer.start(10)  # instead of waiting minutes
    qtbot.waitUntil(lambda: window.model_info is None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not _alive(pid), timeout=TIMEOUT_MS)
    assert "unloaded while idle" in window.model_label.text()
    window.controller.new_conversation()
    window.store.update_conversation_settings(
        window.controller.conversation_id, sampling=SamplingSettings(temperature=0, max_tokens=20)
    )
    window.send_prompt("Say hi.")
    qtbot.waitUntil(lambda: not window.controller.reply_running, timeout=TIMEOUT_MS * 2)
    reply = window.controller.messages()[-1]
    assert reply.status == MessageStatus.COMPLETE and reply.content.strip()
    assert window.model_info is not None and window.worker.engine_pid != pid


def small_machine() -> HardwareSnapshot:
    now = read_hardware(include_gpus=False)
    memory = replace(
        now.memory, total_bytes=4 << 30, available_bytes=3 << 29, engine_rss_bytes=None, cgroup=None
    )
    return replace(now, memory=memory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): treat it as gone once it is no longer running.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def test_thread_measurement_runs_off_the_gui_thread_and_is_remembered(
    qtbot: QtBot, pane: SettingsPane
) -> None:
    pane.measure_button.click()
    assert pane.measure_button.text() == "Cancel measuring"
    qtbot.waitUntil(lambda: "Fastest" in pane.measure_status.text(), timeout=TIMEOUT_MS * 2)
    stored = json.loads((paths.cache_dir() / "thread_probe.json").read_text(encoding="utf-8"))
    (machine,) = stored.values()
    (per_load,) = machine.values()
    best = next(iter(per_load.values()))["threads"]
    assert pane.auto_plan is not None and pane.auto_plan.plan.n_threads == best
    assert "measured" in pane.rows["n_threads"].reason.text()


def test_thread_measurement_can_be_cancelled(qtbot: QtBot, pane: SettingsPane) -> None:
    pane.measure_button.click()
    pane.measure_button.click()  # cancel at once: stops after the run in progress
    qtbot.waitUntil(lambda: "cancelled" in pane.measure_status.text(), timeout=TIMEOUT_MS * 2)
    assert not (paths.cache_dir() / "thread_probe.json").exists()
