"""The Settings pane's speed test: a real measurement (on fewer models), cancelling, forecasts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel
from autoglm_desktop.core.planning import speed_measurement, speed_profile
from autoglm_desktop.core.planning.speed_forecast import SpeedCoefficients
from autoglm_desktop.qt.main_window import MainWindow
from autoglm_desktop.qt.settings.pane import SettingsPane

MEASURE_TIMEOUT_MS = 240_000


@pytest.fixture
def few_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two small calibration models instead of fifteen: the same path, in seconds."""
    small = {"n_embd": 256, "n_head": 4, "n_head_kv": 4, "n_ff": 512, "weight_type": "q8_0"}
    models = {
        "tiny": SyntheticModel(n_layer=1, **small),  # type: ignore[arg-type]
        "deep": SyntheticModel(n_layer=8, **small),  # type: ignore[arg-type]
    }
    monkeypatch.setattr(speed_measurement, "calibration_models", lambda **_: models)
    monkeypatch.setattr(speed_measurement, "thread_counts_to_measure", lambda _hardware: [1])


def test_measuring_keeps_the_profile_and_the_pane_shows_a_forecast(
    qtbot: QtBot, app_home: Path, few_models: None, starter_model: Path
) -> None:
    pane = SettingsPane()
    qtbot.addWidget(pane)
    pane.show_snapshot(read_hardware(include_gpus=False))
    pane.set_model(starter_model)
    box = pane.speed_test
    assert "Not measured yet" in box.status.text()
    assert pane.speed_forecast.isHidden()

    with qtbot.waitSignal(box.measured, timeout=MEASURE_TIMEOUT_MS):
        box.button.click()
    assert box.button.text() == "Measure again" and "Measured on" in box.status.text()
    assert speed_profile.load_machine_speed(hardware=read_hardware(include_gpus=False))
    kept = json.loads((app_home / "cache" / speed_measurement.CALIBRATION_FILE).read_text())
    assert {t["model"] for t in kept["timings"]} == {"tiny", "deep"}
    assert set(kept["shapes"]) == {"tiny", "deep"}  # each model's shape, for a refit
    assert all(len(t["turns"]) == 3 for t in kept["timings"])  # small models: in turns
    assert "tokens per second" in pane.speed_forecast.text()
    assert not pane.speed_forecast.isHidden()
    pane.close_workers()


def test_cancelling_changes_nothing(qtbot: QtBot, app_home: Path, few_models: None) -> None:
    pane = SettingsPane()
    qtbot.addWidget(pane)
    box = pane.speed_test
    with qtbot.waitSignal(box.stopped, timeout=MEASURE_TIMEOUT_MS):
        box.button.click()
        box.button.click()  # Cancel, before the worker's first check
    assert "cancelled" in box.status.text()
    assert box.button.text() == "Measure speed"
    assert speed_profile.load_machine_speed(hardware=read_hardware(include_gpus=False)) is None
    assert not any((app_home / "cache").glob("speed-*"))  # scratch models removed
    pane.close_workers()


def test_the_picker_shows_each_models_forecast_once_measured(
    qtbot: QtBot, installed_model: Path
) -> None:
    hardware = read_hardware(include_gpus=False)
    speed_profile.save_machine_speed(
        speed_profile.MachineSpeed(
            machine=speed_profile.machine_key(hardware),
            measured_at=1.0,
            coefficients=(
                SpeedCoefficients(
                    threads=1, decode_fixed=0.04, decode_per_layer=0, decode_per_vocab=0
                ),
            ),
        )
    )
    window = MainWindow(autoload=False)
    qtbot.addWidget(window)
    window.show()  # the library is scanned after the first paint
    combo = window.model_bar.combo
    qtbot.waitUntil(lambda: "~25 tok/s" in combo.itemText(0), timeout=60_000)
    assert combo.itemData(0) == str(installed_model)
    window.close()
