"""The speed forecast: workloads from GGUF headers, the cost model's fit, the kept profile."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from autoglm_desktop.cli import main
from autoglm_desktop.core.engine.llama_timing import (
    LlamaTiming,
    SpeedMeasurementError,
    TimingJob,
    iter_timings,
)
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from autoglm_desktop.core.planning.speed_forecast import (
    MEASURED_TYPES,
    GpuSpeed,
    SpeedCoefficients,
    Workload,
    coefficients_at,
    forecast_speed,
    measured_type,
    workload_of,
)
from autoglm_desktop.core.planning.speed_measurement import (
    ALL_LAYERS,
    calibration_models,
    fit_coefficients,
    fit_gpu,
)
from autoglm_desktop.core.planning.speed_profile import (
    MachineSpeed,
    load_machine_speed,
    machine_key,
    save_machine_speed,
)

SMALL = {"n_embd": 256, "n_head": 4, "n_head_kv": 4, "n_ff": 512}


def test_every_gguf_weight_type_has_a_measured_stand_in() -> None:
    import gguf

    for quant in gguf.GGMLQuantizationType:
        if quant.name in ("I8", "I16", "I32", "I64", "F64", "Q8_K"):
            continue  # never the weights of a matrix llama.cpp multiplies
        assert measured_type(quant.name) in MEASURED_TYPES, quant.name


def test_workload_counts_the_output_matrix_once_tied_or_not(tmp_path: Path) -> None:
    tied = SyntheticModel(n_layer=3, weight_type="q8_0", tied_embeddings=True, **SMALL)  # type: ignore[arg-type]
    untied = replace(tied, tied_embeddings=False)
    for model in (tied, untied):
        info = read_gguf_info(
            write_synthetic_gguf(tmp_path / f"{model.tied_embeddings}.gguf", model)
        )
        work = workload_of(info)
        output = 256 * model.vocab_size
        layer_weights = 3 * (4 * 256 * 256 + 3 * 256 * 512)
        assert work.output_weights == {"q8_0": output}
        assert work.weights_per_token == {"q8_0": layer_weights}
        # q8_0: 34 bytes per 32 weights; the token embedding's lookup reads one row only.
        assert work.bytes_per_token == {"q8_0": (output + layer_weights) * 34 // 32}
        assert (work.n_layer, work.n_vocab) == (3, model.vocab_size)


def _timing(
    path: Path, seconds_per_token: float, prompt_per_token: float, *, gpu_layers: int | None = None
) -> LlamaTiming:
    job = TimingJob(
        model_path=path,
        threads=2,
        prompt_tokens=256,
        decode_tokens=32,
        n_gpu_layers=gpu_layers or 0,
        gpu=gpu_layers is not None,
    )
    return LlamaTiming(
        job=job,
        prompt_seconds=prompt_per_token * 256,
        decode_seconds=seconds_per_token * 31,
        decoded=31,
    )


def test_fit_recovers_the_costs_that_made_the_timings(tmp_path: Path) -> None:
    truth = SpeedCoefficients(
        threads=2,
        decode_fixed=4e-4,
        decode_per_layer=3e-5,
        decode_per_vocab=2e-9,
        decode_per_byte={kind: (1 + i / 10) * 5e-11 for i, kind in enumerate(MEASURED_TYPES)},
        prompt_fixed=1e-5,
        prompt_per_layer=2e-6,
        prompt_per_weight={kind: (2 - i / 20) * 1e-11 for i, kind in enumerate(MEASURED_TYPES)},
    )
    samples = []
    for path, work in _calibration_workloads(tmp_path):
        forecast = forecast_speed(workload=work, profile=[truth], threads=2)
        assert forecast is not None
        decode, prompt = 1 / forecast.decode_tokens_per_s, 1 / forecast.prompt_tokens_per_s
        samples.append((work, _timing(path, decode, prompt)))
    fitted = fit_coefficients(threads=2, samples=samples)
    for field in ("decode_fixed", "decode_per_layer", "decode_per_vocab", "prompt_per_layer"):
        assert math.isclose(getattr(fitted, field), getattr(truth, field), rel_tol=1e-3), field
    for kind in MEASURED_TYPES:
        assert math.isclose(fitted.decode_per_byte[kind], truth.decode_per_byte[kind], rel_tol=1e-3)
        assert math.isclose(
            fitted.prompt_per_weight[kind], truth.prompt_per_weight[kind], rel_tol=1e-3
        )


def _calibration_workloads(tmp_path: Path) -> list[tuple[Path, Workload]]:
    found = []
    for name, model in calibration_models().items():
        # Small stand-ins of the same kinds: the fit only needs the workloads.
        small = replace(model, n_layer=min(model.n_layer, 3), n_embd=256, n_ff=512, n_head=4,
                        n_head_kv=4, vocab_size=min(model.vocab_size, 4096))  # fmt: skip
        path = write_synthetic_gguf(tmp_path / f"{name}.gguf", small)
        work = workload_of(read_gguf_info(path))
        found.append((path, replace(work, n_layer=model.n_layer, n_vocab=model.vocab_size)))
    return found


def test_gpu_fit_recovers_the_gpu_costs_and_the_cost_of_sending_weights(tmp_path: Path) -> None:
    cpu = SpeedCoefficients(
        threads=2, decode_fixed=4e-4, decode_per_layer=3e-5, decode_per_vocab=2e-9,
        decode_per_byte=dict.fromkeys(MEASURED_TYPES, 5e-11), prompt_fixed=1e-5,
        prompt_per_layer=2e-6, prompt_per_weight=dict.fromkeys(MEASURED_TYPES, 1e-11),
    )  # fmt: skip
    truth = GpuSpeed(
        name="Test GPU",
        coefficients=SpeedCoefficients(
            threads=2, decode_fixed=2e-4, decode_per_layer=1e-5, decode_per_vocab=1e-9,
            decode_per_byte=dict.fromkeys(MEASURED_TYPES, 3e-13), prompt_fixed=2e-6,
            prompt_per_layer=1e-7, prompt_per_weight=dict.fromkeys(MEASURED_TYPES, 2e-15),
            decode_memory_per_byte=3e-13,
        ),
        upload_per_byte=4e-11,
    )  # fmt: skip
    samples = []
    for path, work in _calibration_workloads(tmp_path):
        for layers in (ALL_LAYERS, 0):
            forecast = forecast_speed(
                workload=work, profile=[cpu], threads=2, gpu=truth, gpu_layers=layers
            )
            assert forecast is not None
            decode, prompt = 1 / forecast.decode_tokens_per_s, 1 / forecast.prompt_tokens_per_s
            samples.append((work, _timing(path, decode, prompt, gpu_layers=layers)))
    fitted = fit_gpu(
        name="Test GPU",
        cpu=cpu,
        full=[s for s in samples if s[1].job.n_gpu_layers],
        without_layers=samples[-1],
    )
    assert math.isclose(fitted.upload_per_byte, truth.upload_per_byte, rel_tol=1e-3)
    for field in ("decode_fixed", "decode_per_layer", "decode_per_vocab", "prompt_per_layer"):
        assert math.isclose(
            getattr(fitted.coefficients, field), getattr(truth.coefficients, field), rel_tol=1e-3
        ), field
    assert fitted.coefficients.decode_per_byte == pytest.approx(truth.coefficients.decode_per_byte)
    # Half the layers on the GPU is between all and none, for writing and for reading.
    work = samples[0][0]
    speeds = [
        forecast_speed(workload=work, profile=[cpu], threads=2, gpu=truth, gpu_layers=layers)
        for layers in (0, work.n_layer // 2, ALL_LAYERS)
    ]
    decode = [s.decode_tokens_per_s for s in speeds if s is not None]
    prompt = [s.prompt_tokens_per_s for s in speeds if s is not None]
    assert decode == sorted(decode) and prompt == sorted(prompt)


def test_fit_never_gives_a_negative_cost(tmp_path: Path) -> None:
    model = SyntheticModel(n_layer=1, **SMALL)  # type: ignore[arg-type]
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))
    # Bigger models that are *faster*: no non-negative costs explain that exactly.
    samples = [
        (replace(work, n_layer=layers), _timing(tmp_path / "m.gguf", 1e-3 / layers, 1e-4 / layers))
        for layers in (1, 2, 4, 8)
    ]
    fitted = fit_coefficients(threads=2, samples=samples)
    values = [fitted.decode_fixed, fitted.decode_per_layer, fitted.decode_per_vocab]
    values += [*fitted.decode_per_byte.values(), *fitted.prompt_per_weight.values()]
    assert all(value >= 0 for value in values)


def test_no_weight_type_is_read_faster_than_the_memory_streams(tmp_path: Path) -> None:
    in_cache = SpeedCoefficients(
        threads=1, decode_fixed=0.0, decode_per_layer=0.0, decode_per_vocab=0.0,
        decode_per_byte={"q4_0": 1e-11, "q8_0": 5e-10},
    )  # fmt: skip
    from_memory = replace(in_cache, decode_memory_per_byte=1e-10)
    model = SyntheticModel(n_layer=2, weight_type="q4_0", **SMALL)  # type: ignore[arg-type]
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))
    fast = forecast_speed(workload=work, profile=[in_cache], threads=1)
    bound = forecast_speed(workload=work, profile=[from_memory], threads=1)
    assert fast is not None and bound is not None
    total = sum(work.bytes_per_token.values())
    assert bound.decode_tokens_per_s == pytest.approx(1 / (total * 1e-10))
    assert fast.decode_tokens_per_s == pytest.approx(1 / (total * 1e-11))
    assert from_memory.decode_byte_costs()["q8_0"] == 5e-10  # a slow kernel stays slow


def test_thread_counts_between_measured_ones_are_interpolated() -> None:
    one = SpeedCoefficients(threads=1, decode_fixed=1.0, decode_per_layer=0, decode_per_vocab=0)
    four = SpeedCoefficients(threads=4, decode_fixed=0.4, decode_per_layer=0, decode_per_vocab=0)
    assert coefficients_at([four, one], 1) is one
    assert coefficients_at([four, one], 8) is four
    assert math.isclose(coefficients_at([one, four], 2).decode_fixed, 0.8)


def test_profile_is_kept_for_this_machine_only(app_home: Path) -> None:
    hardware = read_hardware(include_gpus=False)
    coefficients = SpeedCoefficients(
        threads=1, decode_fixed=0.01, decode_per_layer=0, decode_per_vocab=0,
        decode_per_byte={"q8_0": 1e-10}, prompt_per_weight={"q8_0": 1e-11},
    )  # fmt: skip
    assert load_machine_speed(hardware=hardware) is None
    save_machine_speed(
        MachineSpeed(machine=machine_key(hardware), measured_at=1.0, coefficients=(coefficients,))
    )
    kept = load_machine_speed(hardware=hardware)
    assert kept is not None and kept.coefficients == (coefficients,)
    save_machine_speed(MachineSpeed(machine="another PC", measured_at=1.0, coefficients=()))
    assert load_machine_speed(hardware=hardware) is None


@pytest.mark.slow
def test_real_llama_cpp_is_timed_in_a_child(starter_model: Path, tmp_path: Path) -> None:
    not_a_model = tmp_path / "text.gguf"
    not_a_model.write_text("hello")
    jobs = [
        TimingJob(model_path=starter_model, threads=1, prompt_tokens=32, decode_tokens=6),
        TimingJob(model_path=not_a_model, threads=1),
    ]
    timings = iter_timings(jobs=jobs)
    timing = next(timings)
    assert timing.decoded >= 5  # llama-cpp-python may ask once more after the last token
    assert timing.prompt_tokens_per_s > 0 and timing.decode_tokens_per_s > 0
    with pytest.raises(SpeedMeasurementError, match=r"text\.gguf"):
        next(timings)


def test_plan_json_gives_the_forecast_once_measured(
    starter_model: Path, app_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(starter_model), "--gpu", "none", "--cores", "2", "--json"]) == 0
    unmeasured = json.loads(capsys.readouterr().out)
    assert unmeasured["decode_tokens_per_s"] is None
    assert unmeasured["prompt_tokens_per_s"] is None
    hardware = read_hardware(include_gpus=False)
    coefficients = SpeedCoefficients(
        threads=2, decode_fixed=0.02, decode_per_layer=0, decode_per_vocab=0,
        prompt_fixed=0.005,
    )  # fmt: skip
    save_machine_speed(
        MachineSpeed(machine=machine_key(hardware), measured_at=1.0, coefficients=(coefficients,))
    )
    assert main(["plan", str(starter_model), "--gpu", "none", "--cores", "2", "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)
    # No cost per byte measured: the fixed costs alone, 1 / 0.02 s and 1 / 0.005 s.
    assert measured["decode_tokens_per_s"] == 50.0
    assert measured["prompt_tokens_per_s"] == 200.0
