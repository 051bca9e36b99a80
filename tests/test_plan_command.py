"""``autoglm-desktop plan``: the plan as text or JSON, described machines, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoglm_desktop.cli import main

JSON_KEYS = {
    "n_threads", "n_threads_batch", "n_gpu_layers", "n_ctx", "n_batch", "n_ubatch", "type_k",
    "type_v", "flash_attn", "use_mmap", "ram_bytes", "vram_bytes", "fits", "explanation",
}  # fmt: skip


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["plan", *args, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one object on one line
    data: dict[str, object] = json.loads(out)
    return data


def test_json_has_the_documented_keys(
    starter_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = run_json(capsys, str(starter_model), "--gpu", "none")
    assert data.keys() >= JSON_KEYS
    assert data["fits"] is True
    assert data["n_ctx"] == 8192  # SmolLM2's trained context fits easily
    assert data["vram_bytes"] == [] and data["n_gpu_layers"] == 0
    assert isinstance(data["ram_bytes"], int) and data["ram_bytes"] > 100 * 2**20
    assert data["flash_attn"] is True and data["use_mmap"] is True


def test_described_gpu_takes_all_layers(
    starter_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = run_json(capsys, str(starter_model), "--vram-gb", "8", "--gpu", "cuda", "--cores", "1")
    assert data["n_gpu_layers"] == 31  # 30 layers plus the output layer
    assert isinstance(data["vram_bytes"], list) and len(data["vram_bytes"]) == 1
    assert data["n_threads"] == 1
    assert "All 30 layers on the GPU" in str(data["explanation"])


def test_context_override_and_small_ram(
    starter_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = run_json(capsys, str(starter_model), "--ctx", "3000", "--ram-gb", "4", "--gpu", "none")
    assert data["n_ctx"] == 3000 and data["fits"] is True
    too_small = run_json(capsys, str(starter_model), "--ram-gb", "0.5", "--gpu", "none")
    assert too_small["fits"] is False
    assert str(too_small["explanation"]).startswith("Does not fit")


def test_text_output(starter_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(starter_model), "--gpu", "none"]) == 0
    out = capsys.readouterr().out
    assert "Fits:         yes" in out and "Context:      8,192 tokens" in out


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"GGUF\x03\x00\x00\x00"])
def test_unreadable_file_exits_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    assert main(["plan", str(bad)]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "error" in captured.err


def test_missing_file_and_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(tmp_path / "missing.gguf")]) != 0
    assert "not found" in capsys.readouterr().err
    assert main(["plan", str(tmp_path / "x.gguf"), "--ram-gb", "-1"]) != 0
    assert "--ram-gb" in capsys.readouterr().err
