"""Opening a model file with the app: ``autoglm-desktop MODEL.gguf`` (file managers, the OS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoglm_desktop.cli.window_command import model_to_open


@pytest.mark.parametrize(
    "argv",
    [
        ["/home/me/models/Qwen3-4B-Q4_K_M.gguf"],
        ["C:\\Users\\me\\Downloads\\model.GGUF"],
        ["relative name.gguf"],
    ],
)
def test_a_lone_gguf_path_opens_the_window_on_it(argv: list[str]):
    assert model_to_open(argv) == Path(argv[0])


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["self-test"],
        ["chat", "--model", "m.gguf", "hi"],
        ["self-test", "--model", "m.gguf"],
        ["--version"],
        ["notes.txt"],
    ],
)
def test_commands_are_left_to_the_parser(argv: list[str]):
    assert model_to_open(argv) is None
