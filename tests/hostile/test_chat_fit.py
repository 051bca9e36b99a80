"""``chat`` plans like the window: a model too big for this PC is refused, ``--force`` loads it.

The command runs in-process on the real starter model; the machine it plans for is a synthetic
one with almost no free memory (the engine process it starts, with ``--force``, is real).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from core.fake_hardware import snapshot

from autoglm_desktop import cli
from autoglm_desktop.core.engine.build import CPU_ONLY
from autoglm_desktop.core.planning import machine_plan
from autoglm_desktop.core.planning.machine_plan import tuned_plan

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def tiny_machine(monkeypatch: pytest.MonkeyPatch, app_home: Path) -> None:
    """The planner sees a PC with 50 MB of RAM free (the starter model needs about 200)."""
    monkeypatch.setattr(machine_plan, "read_hardware", lambda: snapshot(ram_gib=0.05))


def test_a_model_too_big_is_refused_in_one_line(
    starter_model: Path, tiny_machine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["chat", "--model", str(starter_model), "hi"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"autoglm-desktop chat: error: {starter_model.name} was not loaded, it is too big for "
        "this PC. Does not fit"
    )
    assert lines[0].endswith("Use --force to load it anyway.")


def test_force_loads_it_anyway(
    starter_model: Path, tiny_machine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["chat", "--model", str(starter_model), "--force", "--max-tokens", "4", "Say hi."]
    status = cli.main([*args, "--temperature", "0", "--seed", "1"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.out.strip()


def test_the_window_and_chat_share_the_plan(starter_model: Path, app_home: Path) -> None:
    """One function plans for both; its verdict on the tiny machine is the refusal's."""
    from autoglm_desktop.qt import main_window

    assert main_window.tuned_plan is tuned_plan
    small = tuned_plan(starter_model, hardware=snapshot(ram_gib=0.05), build=CPU_ONLY, n_ctx=4096)
    assert not small.fits and small.plan.n_ctx == 4096
    roomy = tuned_plan(starter_model, hardware=snapshot(ram_gib=8), build=CPU_ONLY, n_ctx=4096)
    assert roomy.fits
