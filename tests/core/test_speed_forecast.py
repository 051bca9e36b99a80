"""The speed forecast: workloads from GGUF headers, the cost model's fit, the kept profile."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fake_hardware import snapshot

from autoglm_desktop.cli import main
from autoglm_desktop.core.engine.llama_timing import (
    SETTLING_GAPS,
    LlamaTiming,
    SpeedMeasurementError,
    TimingJob,
    iter_timings,
    settled_gaps,
)
from autoglm_desktop.core.machine.hardware import read_hardware
from autoglm_desktop.core.models.gguf_info import read_gguf_info
from autoglm_desktop.core.models.synthetic_gguf import SyntheticModel, write_synthetic_gguf
from autoglm_desktop.core.planning import speed_measurement
from autoglm_desktop.core.planning.speed_forecast import (
    MEASURED_TYPES,
    GpuSpeed,
    SpeedCoefficients,
    Workload,
    as_on_gpu,
    attended_cells,
    coefficients_at,
    decode_terms,
    forecast_speed,
    measured_type,
    prompt_terms,
    repeating_layers_on_gpu,
    resident_share,
    width_factor,
    workload_of,
)
from autoglm_desktop.core.planning.speed_measurement import (
    ALL_LAYERS,
    CACHE_MODEL,
    OUTPUT_MODEL,
    WIDE_PROMPT_WIDTH,
    cached_factor,
    calibration_models,
    fit_coefficients,
    fit_gpu,
    output_factor,
    with_type_width_factors,
    with_width_factors,
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
        prompt_per_row={kind: (1 + i / 5) * 1e-9 for i, kind in enumerate(MEASURED_TYPES)},
        decode_per_shared_kv_layer=1e-5,
        prompt_per_shared_kv_layer=5e-7,
        decode_output_factor=0.7,
        decode_per_row=2e-8,
    )
    samples = {}
    for name, (path, work) in _calibration_workloads(tmp_path).items():
        forecast = forecast_speed(workload=work, profile=[truth], threads=2)
        assert forecast is not None
        decode, prompt = 1 / forecast.decode_tokens_per_s, 1 / forecast.prompt_tokens_per_s
        samples[name] = (work, _timing(path, decode, prompt))
    base = [s for name, s in samples.items() if not name.startswith("width-")]
    fitted = fit_coefficients(threads=2, writing=base, reading=base, output_factor=0.7)
    for field in (
        "decode_fixed", "decode_per_layer", "decode_per_vocab", "decode_per_shared_kv_layer",
        "decode_per_row", "prompt_per_layer", "prompt_per_shared_kv_layer",
    ):  # fmt: skip
        assert math.isclose(getattr(fitted, field), getattr(truth, field), rel_tol=1e-3), field
    for kind in MEASURED_TYPES:
        assert math.isclose(fitted.decode_per_byte[kind], truth.decode_per_byte[kind], rel_tol=1e-3)
        assert math.isclose(
            fitted.prompt_per_weight[kind], truth.prompt_per_weight[kind], rel_tol=1e-3
        )
        assert math.isclose(fitted.prompt_per_row[kind], truth.prompt_per_row[kind], rel_tol=1e-3)


def test_the_output_matrixs_own_cost_per_byte_comes_back(tmp_path: Path) -> None:
    truth = SpeedCoefficients(
        threads=2, decode_fixed=4e-4, decode_per_layer=3e-5, decode_per_vocab=2e-9,
        decode_per_byte={"q6_k": 6e-11, "f16": 5e-11}, decode_output_factor=0.65,
    )  # fmt: skip
    model = replace(calibration_models()[OUTPUT_MODEL], n_embd=256, n_ff=512, n_head=2,
                    n_head_kv=2, vocab_size=32768)  # fmt: skip
    path = write_synthetic_gguf(tmp_path / "output.gguf", model)
    work = workload_of(read_gguf_info(path))
    assert work.output_bytes.keys() == {"q6_k"}
    forecast = forecast_speed(workload=work, profile=[truth], threads=2)
    assert forecast is not None
    timing = _timing(path, 1 / forecast.decode_tokens_per_s, 1 / forecast.prompt_tokens_per_s)
    unknown = replace(truth, decode_output_factor=1.0)
    assert output_factor(unknown, [(work, timing)]) == pytest.approx(0.65, rel=1e-6)
    slower = forecast_speed(workload=work, profile=[unknown], threads=2)
    assert slower is not None and slower.decode_tokens_per_s < forecast.decode_tokens_per_s


def test_width_factor_is_linear_in_log_width_and_flat_beyond() -> None:
    factors = {512: 2.0, 2048: 1.0}
    assert width_factor(factors, 1024) == pytest.approx(1.5)
    assert width_factor(factors, 256) == 2.0 and width_factor(factors, 8192) == 1.0
    assert width_factor({}, 1024) == 1.0 and width_factor(factors, 0) == 1.0


def test_width_factors_come_back_from_the_width_models_timings(tmp_path: Path) -> None:
    truth = SpeedCoefficients(
        threads=2,
        decode_fixed=4e-4,
        decode_per_layer=3e-5,
        decode_per_vocab=2e-9,
        decode_per_byte={"q4_k": 6e-11, "f16": 5e-11},
        prompt_fixed=1e-5,
        prompt_per_layer=2e-6,
        prompt_per_weight={"q4_k": 1.5e-11, "f16": 1e-11},
        decode_width_factors={512: 1.8, 1024: 1.3, 2048: 1.0, 4096: 0.7},
        prompt_width_factors={1024: 1.0, WIDE_PROMPT_WIDTH: 0.8},
    )
    widths = []
    for name, model in calibration_models().items():
        # The Q4_K type and narrow models are 1024 and 512 wide.
        if not name.startswith("width-") and name not in ("type-q4_k", "narrow-q4_k"):
            continue
        path = write_synthetic_gguf(tmp_path / f"{name}.gguf", replace(model, n_layer=2))
        work = workload_of(read_gguf_info(path))
        forecast = forecast_speed(workload=work, profile=[truth], threads=2)
        assert forecast is not None
        timing = _timing(path, 1 / forecast.decode_tokens_per_s, 1 / forecast.prompt_tokens_per_s)
        widths.append((work, timing))
    unknown = replace(truth, decode_width_factors={}, prompt_width_factors={})
    # A prompt factor comes from the 3072-wide model, written tokens' from the others.
    writing = [(w, t) for w, t in widths if w.width != WIDE_PROMPT_WIDTH]
    reading = [(w, t) for w, t in widths if w.width == WIDE_PROMPT_WIDTH]
    found = with_width_factors(unknown, decode=writing, prompt=reading)
    assert found.decode_width_factors == pytest.approx(truth.decode_width_factors, rel=1e-6)
    assert found.prompt_width_factors == pytest.approx(truth.prompt_width_factors, rel=1e-6)
    wider = forecast_speed(workload=replace(work, width=4096), profile=[found], threads=2)
    narrower = forecast_speed(workload=replace(work, width=512), profile=[found], threads=2)
    assert wider is not None and narrower is not None
    assert wider.prompt_tokens_per_s > narrower.prompt_tokens_per_s


def test_each_types_wide_prompt_factor_comes_back_from_its_stream_model(tmp_path: Path) -> None:
    truth = SpeedCoefficients(
        threads=2, decode_fixed=4e-4, decode_per_layer=3e-5, decode_per_vocab=2e-9,
        decode_per_byte={"q4_k": 6e-11, "q5_k": 7e-11, "f16": 5e-11},
        prompt_fixed=1e-5, prompt_per_layer=2e-6,
        prompt_per_weight={"q4_k": 3e-12, "q5_k": 2e-12, "f16": 1e-11},
        prompt_per_row={"q4_k": 3e-9, "q5_k": 1.6e-9},
        prompt_type_width_factors={"q4_k": {1024: 1.0, 2048: 1.1}, "q5_k": {1024: 1.0, 2048: 0.8}},
    )  # fmt: skip
    streams = []
    for kind in ("q4_k", "q5_k"):
        model = replace(calibration_models()[f"stream-{kind}"], n_layer=2)
        path = write_synthetic_gguf(tmp_path / f"{kind}.gguf", model)
        work = workload_of(read_gguf_info(path))
        forecast = forecast_speed(workload=work, profile=[truth], threads=2)
        assert forecast is not None and work.width == 2048
        timing = _timing(path, 1 / forecast.decode_tokens_per_s, 1 / forecast.prompt_tokens_per_s)
        streams.append((work, timing))
    unknown = replace(truth, prompt_type_width_factors={})
    found = with_type_width_factors(unknown, prompt=streams)
    assert found.prompt_type_width_factors.keys() == {"q4_k", "q5_k"}
    for kind, factors in truth.prompt_type_width_factors.items():
        assert found.prompt_type_width_factors[kind] == pytest.approx(factors, rel=1e-6)
    # Between 1024 and 2048 the factor is interpolated in log2 width; at 1024 and below, 1.
    work = streams[1][0]
    speeds = [
        forecast_speed(workload=replace(work, width=width), profile=[found], threads=2)
        for width in (1024, 1448, 2048)
    ]
    unfactored = forecast_speed(workload=work, profile=[unknown], threads=2)
    assert all(speeds) and unfactored is not None
    prompt = [1 / f.prompt_tokens_per_s for f in speeds if f is not None]
    assert prompt[0] == pytest.approx(1 / unfactored.prompt_tokens_per_s)
    assert prompt[0] > prompt[1] > prompt[2]


def test_the_cache_serves_a_small_models_reads_and_none_of_a_big_ones() -> None:
    mib = 1 << 20
    assert resident_share(8 * mib, 32 * mib) == 1.0  # a quarter of the cache or less: all
    assert resident_share(16 * mib, 32 * mib) == pytest.approx(0.5)
    assert resident_share(32 * mib, 32 * mib) == 0.0  # as big as the cache: none
    assert resident_share(98_000_000, 32 * mib) == 0.0
    assert resident_share(8 * mib, 0) == 0.0  # cache unknown


def test_a_model_the_cache_holds_is_written_faster_and_a_big_one_is_not(tmp_path: Path) -> None:
    costs = SpeedCoefficients(
        threads=2, decode_fixed=1e-4, decode_per_layer=2e-5, decode_per_vocab=1e-9,
        decode_per_byte={"q4_k": 1e-10}, prompt_per_weight={"q4_k": 1e-11},
    )  # fmt: skip
    cached = replace(costs, cache_bytes=300 << 20, decode_cached_factor=0.4)
    speeds = {}
    for name, layers in (("small", 2), ("big", 40)):
        model = SyntheticModel(n_layer=layers, weight_type="q4_k", n_embd=1024, n_head=8,
                               n_head_kv=8, n_ff=2816)  # fmt: skip
        work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / f"{name}.gguf", model)))
        plain, fast = (
            forecast_speed(workload=work, profile=[c], threads=2) for c in (costs, cached)
        )
        assert plain is not None and fast is not None
        assert fast.prompt_tokens_per_s == pytest.approx(plain.prompt_tokens_per_s, rel=0.01)
        speeds[name] = fast.decode_tokens_per_s / plain.decode_tokens_per_s
    assert speeds["small"] > 1.5  # 14 MB of weights: all read from the cache
    assert speeds["big"] == pytest.approx(1.0)  # 290 MB: as big as the cache


def test_grouped_query_heads_read_the_kv_cache_again_at_the_caches_cost(tmp_path: Path) -> None:
    costs = SpeedCoefficients(
        threads=2, decode_fixed=1e-4, decode_per_layer=2e-5, decode_per_vocab=1e-9,
        decode_per_byte={"q8_0": 1e-10, "f16": 1e-10}, prompt_per_weight={"q8_0": 1e-11},
        cache_bytes=32 << 20, decode_cached_factor=0.3,
    )  # fmt: skip
    unknown_cache = replace(costs, cache_bytes=0, decode_cached_factor=1.0)
    gained = {}
    for kv_heads in (16, 4):  # a KV head per query head, and four query heads to one
        model = SyntheticModel(n_layer=24, n_embd=1024, n_head=16, n_head_kv=kv_heads,
                               head_dim=64, n_ff=2816)  # fmt: skip
        path = write_synthetic_gguf(tmp_path / f"kv{kv_heads}.gguf", model)
        work = workload_of(read_gguf_info(path))  # 380 MB: none of the weights stay cached
        seconds = []
        for profile in (unknown_cache, costs):
            forecast = forecast_speed(
                workload=work, profile=[profile], threads=2, prompt_tokens=900
            )
            assert forecast is not None
            seconds.append(1 / forecast.decode_tokens_per_s)
        gained[kv_heads] = seconds[0] - seconds[1]
        assert work.kv_bytes_per_token(900) == 24 * kv_heads * 128 * 2 * 1024
    assert gained[16] == pytest.approx(0.0, abs=1e-12)
    # Three of each four heads' K and V (12 × 128 16-bit values a layer over 1024 cells) are
    # read again from the caches, at 0.3 of memory's cost.
    assert gained[4] == pytest.approx(24 * 12 * 128 * 2 * 1024 * 1e-10 * 0.7, rel=1e-6)


def test_a_cached_bytes_cost_comes_back_and_the_fit_takes_it_into_account(tmp_path: Path) -> None:
    workloads = _calibration_workloads(tmp_path, cache_bytes=16 << 20)
    truth = SpeedCoefficients(
        threads=2, decode_fixed=4e-4, decode_per_layer=3e-5, decode_per_vocab=2e-9,
        decode_per_byte={kind: (1 + i / 10) * 5e-11 for i, kind in enumerate(MEASURED_TYPES)},
        prompt_per_weight={kind: 1e-11 for kind in MEASURED_TYPES},
        decode_per_row=2e-8, cache_bytes=16 << 20, decode_cached_factor=0.45,
    )  # fmt: skip
    samples = {}
    for name, (path, work) in workloads.items():
        forecast = forecast_speed(workload=work, profile=[truth], threads=2)
        assert forecast is not None
        samples[name] = (work, _timing(path, 1 / forecast.decode_tokens_per_s, 1e-3))
    cache_work = samples[CACHE_MODEL][0]
    assert resident_share(cache_work.read_bytes(256), truth.cache_bytes) == 1.0
    assert any(0 < resident_share(w.read_bytes(256), truth.cache_bytes) < 1 for w, _ in
               samples.values())  # fmt: skip
    unknown = replace(truth, decode_cached_factor=1.0)
    assert cached_factor(unknown, [samples[CACHE_MODEL]]) == pytest.approx(0.45, rel=1e-6)
    base = [s for name, s in samples.items() if not name.startswith(("width-", "cache-"))]
    fitted = fit_coefficients(
        threads=2, writing=base, reading=base, cache_bytes=truth.cache_bytes, cached_factor=0.45
    )
    for kind in MEASURED_TYPES:
        assert fitted.decode_per_byte[kind] == pytest.approx(truth.decode_per_byte[kind], rel=1e-3)
    assert fitted.decode_per_row == pytest.approx(truth.decode_per_row, rel=1e-3)


def test_the_cache_model_is_a_fifth_of_the_cache() -> None:
    for cache in (10 << 20, 32 << 20, 300 << 20):
        model = calibration_models(cache_bytes=cache)[CACHE_MODEL]
        size = model.layer_bytes()[0] * model.n_layer
        assert cache / 10 < size <= cache / 5
    assert CACHE_MODEL not in calibration_models(cache_bytes=8 << 20)  # not one layer
    assert CACHE_MODEL not in calibration_models()


def _calibration_workloads(
    tmp_path: Path, *, cache_bytes: int | None = None
) -> dict[str, tuple[Path, Workload]]:
    found = {}
    for name, model in calibration_models(cache_bytes=cache_bytes).items():
        # Small stand-ins of the same kinds (the fit only needs the workloads), with as many
        # layers as the real ones; the narrow ones narrower than the type models.
        shared = model.head_count_kv(0) < model.n_head
        width = 512 if model.n_embd > 512 else 256
        small = replace(model, n_layer=min(model.n_layer, 3), n_embd=width, n_ff=2 * width,
                        n_head=4, n_head_kv=1 if shared else 4,
                        vocab_size=min(model.vocab_size, 4096))  # fmt: skip
        path = write_synthetic_gguf(tmp_path / f"{name}.gguf", small)
        work = workload_of(read_gguf_info(path))
        scale = model.n_layer // small.n_layer
        found[name] = (
            path,
            replace(
                work,
                n_layer=model.n_layer,
                n_vocab=model.vocab_size,
                layer_ops=work.layer_ops * scale,
                shared_kv_layers=work.shared_kv_layers * scale,
            ),
        )
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
        ),
        upload_per_byte=4e-11,
        offload_per_layer=3e-4,
    )  # fmt: skip
    samples = []
    for path, work in _calibration_workloads(tmp_path).values():
        for layers in (ALL_LAYERS, work.n_layer // 2):
            forecast = forecast_speed(
                workload=work, profile=[cpu], threads=2, gpu=truth, gpu_layers=layers
            )
            assert forecast is not None
            decode, prompt = 1 / forecast.decode_tokens_per_s, 1 / forecast.prompt_tokens_per_s
            samples.append((work, _timing(path, decode, prompt, gpu_layers=layers)))
    fitted = fit_gpu(
        name="Test GPU",
        cpu=cpu,
        full=[s for s in samples if s[1].job.n_gpu_layers >= ALL_LAYERS],
        split=[s for s in samples if s[1].job.n_gpu_layers < ALL_LAYERS],
    )
    assert math.isclose(fitted.upload_per_byte, truth.upload_per_byte, rel_tol=1e-3)
    assert math.isclose(fitted.offload_per_layer, truth.offload_per_layer, rel_tol=1e-3)
    for field in (
        "decode_fixed", "decode_per_layer", "decode_per_vocab", "prompt_per_layer",
        "decode_per_shared_kv_layer", "prompt_per_shared_kv_layer",
    ):  # fmt: skip
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


def test_a_gpu_counts_a_written_tokens_layers_one_each_but_a_prompts_by_operations() -> None:
    # CUDA graphs replay a written token's kernels, not a prompt batch's nor an MoE's.
    gemma_like = Workload(
        n_layer=18, n_vocab=1000, bytes_per_token={}, weights_per_token={}, output_weights={},
        shared_kv_layers=18, layer_ops=18 * 31,
    )  # fmt: skip
    assert gemma_like.layer_units > 18
    writing = as_on_gpu(gemma_like, writing=True)
    assert (writing.layer_units, writing.shared_kv_layers) == (18, 0)
    reading = as_on_gpu(gemma_like, writing=False)
    assert (reading.layer_units, reading.shared_kv_layers) == (gemma_like.layer_units, 0)
    experts = replace(gemma_like, routes_experts=True)
    assert as_on_gpu(experts, writing=True).layer_units == gemma_like.layer_units


def test_fit_never_gives_a_negative_cost(tmp_path: Path) -> None:
    model = SyntheticModel(n_layer=1, **SMALL)  # type: ignore[arg-type]
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))
    # Bigger models that are *faster*: no non-negative costs explain that exactly.
    samples = [
        (
            replace(work, n_layer=layers, layer_ops=work.layer_ops * layers),
            _timing(tmp_path / "m.gguf", 1e-3 / layers, 1e-4 / layers),
        )
        for layers in (1, 2, 4, 8)
    ]
    fitted = fit_coefficients(threads=2, writing=samples, reading=samples)
    values = [fitted.decode_fixed, fitted.decode_per_layer, fitted.decode_per_vocab]
    values += [*fitted.decode_per_byte.values(), *fitted.prompt_per_weight.values()]
    values += fitted.prompt_per_row.values()
    assert all(value >= 0 for value in values)


def test_a_cost_no_calibration_model_exercises_is_zero(tmp_path: Path) -> None:
    model = SyntheticModel(n_layer=2, **SMALL)  # type: ignore[arg-type]  # no shared KV heads
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))
    samples = [
        (replace(work, n_vocab=vocab), _timing(tmp_path / "m.gguf", 1e-3 + vocab * 1e-9, 1e-4))
        for vocab in (512, 4096, 32768)
    ]
    fitted = fit_coefficients(threads=2, writing=samples, reading=samples)
    assert fitted.decode_per_shared_kv_layer == 0.0
    assert fitted.decode_per_byte["q4_k"] == 0.0
    assert math.isclose(fitted.decode_per_vocab * 32768, 32768e-9, rel_tol=0.05)


def test_attention_multiplies_each_query_head_with_the_kv_cache_in_blocks_of_cells(
    tmp_path: Path,
) -> None:
    # Grouped-query attention: 8 query heads of 32 on 2 KV heads.
    model = SyntheticModel(n_layer=3, n_embd=256, n_head=8, n_head_kv=2, n_ff=512)
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))
    # Every query head multiplies K and V of its KV head: 8 × (32 + 32) per layer, not 2 × 64.
    assert (work.query_width, work.query_kv_width, work.shared_kv_layers) == (
        3 * 256,
        3 * 8 * 64,
        3,
    )
    assert [attended_cells(n) for n in (1, 256, 257, 1000)] == [256, 256, 512, 1024]
    # Writing after a 256-token prompt: K and V of the 2 KV heads over 512 cells come from
    # memory once, as 16-bit floats; the 6 other query heads read them again from the caches.
    assert work.kv_bytes_per_token(256) == 3 * 2 * 64 * 2 * 512
    assert work.kv_reread_bytes(256) == 3 * 6 * 64 * 2 * 512
    # Reading it: each query against the 256 cells of the batch, for QK and for V.
    assert work.attention_weights(256) == 2 * 3 * 256 * 256
    f16 = 4 + MEASURED_TYPES.index("f16")
    terms = decode_terms(work, context_tokens=256)
    assert terms[f16] == 3 * 8 * 64 * 2 * 512  # a cache of unknown speed: as from memory
    cached = decode_terms(work, context_tokens=256, memory=0.5, cached=0.25)[f16]
    assert cached == work.kv_bytes_per_token(256) * 0.5 + work.kv_reread_bytes(256) * 0.25
    assert terms[:4] == [1.0, 3.0, 3.0, float(model.vocab_size)]
    assert prompt_terms(work, prompt_tokens=256)[3 + MEASURED_TYPES.index("f16")] == (
        work.attention_weights(256)
    )


def test_a_gemma_layer_counts_its_extra_norms(tmp_path: Path) -> None:
    llama = SyntheticModel(n_layer=4, **SMALL)  # type: ignore[arg-type]
    gemma = replace(llama, arch="gemma3", sliding_window=512, swa_pattern=6)
    units = [
        workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / f"{m.arch}.gguf", m)))
        for m in (llama, gemma)
    ]
    assert units[0].layer_units == 4.0  # a Llama layer is the unit
    # Four more norms of two operations each: (22 + 8) / 22 Llama layers apiece.
    assert units[1].layer_units == pytest.approx(4 * 30 / 22)


def test_mixed_weight_types_are_counted_apart(tmp_path: Path) -> None:
    model = SyntheticModel(
        n_layer=2, n_embd=256, n_head=4, n_head_kv=4, n_ff=512, weight_type="q4_k",
        tensor_types=(("token_embd", "q8_0"), ("ffn_down", "q6_k")),
    )  # fmt: skip
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))
    assert work.output_weights == {"q8_0": 256 * model.vocab_size}
    assert work.weights_per_token == {"q4_k": 2 * (4 * 256 * 256 + 2 * 256 * 512),
                                      "q6_k": 2 * 512 * 256}  # fmt: skip
    # A row per output: four 256-row attention matrices and the 512-row gate and up; the
    # down matrix's 256 rows are 512 long.
    assert work.rows_per_token == {"q4_k": 2 * (4 * 256 + 2 * 512), "q6_k": 2 * 256}


def test_a_prompts_cost_per_row_makes_narrow_rows_cost_more_per_weight(tmp_path: Path) -> None:
    costs = SpeedCoefficients(
        threads=2, decode_fixed=1e-3, decode_per_layer=0, decode_per_vocab=0,
        prompt_per_weight={"q5_k": 2e-12, "q8_0": 7e-12},
        prompt_per_row={"q5_k": 1.6e-9, "q8_0": 0.9e-9},
    )  # fmt: skip
    per_weight = {}
    for kind in ("q5_k", "q8_0"):
        for width in (512, 1024, 2048):
            model = SyntheticModel(n_layer=2, n_embd=width, n_head=4, n_head_kv=4,
                                   n_ff=width * 2, weight_type=kind)  # fmt: skip
            path = write_synthetic_gguf(tmp_path / f"{kind}-{width}.gguf", model)
            work = replace(workload_of(read_gguf_info(path)), output_bytes={}, n_vocab=0)
            forecast = forecast_speed(workload=work, profile=[costs], threads=2)
            assert forecast is not None
            weights = work.weights_per_token[kind] + work.attention_weights(256)
            per_weight[kind, width] = 1 / forecast.prompt_tokens_per_s / weights
    # A weight costs a + c / row length: the cheaper the weights, the more the rows show.
    for kind in ("q5_k", "q8_0"):
        assert per_weight[kind, 512] > per_weight[kind, 1024] > per_weight[kind, 2048]
    slope = {k: per_weight[k, 512] / per_weight[k, 2048] for k in ("q5_k", "q8_0")}
    assert slope["q5_k"] > slope["q8_0"] > 1


def test_any_offload_puts_the_output_layer_on_the_gpu_first(tmp_path: Path) -> None:
    model = SyntheticModel(n_layer=4, **SMALL)  # type: ignore[arg-type]
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))
    assert [repeating_layers_on_gpu(work, n) for n in (0, 1, 2, 5, 999)] == [0, 0, 1, 4, 4]
    cpu = SpeedCoefficients(
        threads=1, decode_fixed=1e-3, decode_per_layer=0, decode_per_vocab=1e-8,
        decode_per_byte=dict.fromkeys(MEASURED_TYPES, 1e-9),
    )  # fmt: skip
    gpu = GpuSpeed(name="GPU", coefficients=replace(cpu, decode_per_vocab=0), upload_per_byte=0)
    speeds = [
        forecast_speed(workload=work, profile=[cpu], threads=1, gpu=gpu, gpu_layers=n)
        for n in (0, 1)
    ]
    # One "layer": no repeating layer moves, but the output layer's costs become the GPU's.
    assert speeds[0] is not None and speeds[1] is not None
    assert speeds[1].decode_tokens_per_s > speeds[0].decode_tokens_per_s


def _amdahl_costs(threads: int) -> SpeedCoefficients:
    """Costs with a part no thread speeds up and a part the threads share: a + b / threads."""

    def cost(serial: float, parallel: float) -> float:
        return serial + parallel / threads

    return SpeedCoefficients(
        threads=threads,
        decode_fixed=cost(1e-4, 2e-4),
        decode_per_layer=cost(3e-5, -1e-5),  # barriers: more threads, more waiting
        decode_per_vocab=cost(1e-9, 4e-9),
        decode_per_byte={"q4_k": cost(2e-11, 1.6e-10), "f16": cost(1e-11, 2e-10)},
        prompt_fixed=cost(0.0, 1e-5),
        prompt_per_layer=cost(1e-6, 4e-5),
        prompt_per_weight={"q4_k": cost(0.0, 4e-11)},
        decode_per_shared_kv_layer=cost(1e-6, 1e-6),
        prompt_per_shared_kv_layer=cost(0.0, 2e-6),
    )


def test_thread_counts_between_measured_ones_follow_amdahls_law() -> None:
    two, sixteen = _amdahl_costs(2), _amdahl_costs(16)
    assert coefficients_at([sixteen, two], 1) is two  # below the fewest: the fewest
    assert coefficients_at([sixteen, two], 32) is sixteen  # above the most: the most
    assert coefficients_at([sixteen, two], 16) is sixteen
    between = coefficients_at([two, sixteen], 8)
    expected = _amdahl_costs(8)
    assert between.threads == 8
    for name in ("decode_fixed", "decode_per_layer", "decode_per_vocab", "prompt_fixed",
                 "prompt_per_layer", "decode_per_shared_kv_layer",
                 "prompt_per_shared_kv_layer"):  # fmt: skip
        assert math.isclose(getattr(between, name), getattr(expected, name), rel_tol=1e-9)
    for name in ("decode_per_byte", "prompt_per_weight"):
        got, want = getattr(between, name), getattr(expected, name)
        assert got.keys() == want.keys()
        assert all(math.isclose(got[k], want[k], rel_tol=1e-9) for k in want)


def test_a_count_between_measured_ones_is_forecast_as_fast_as_its_costs_say(
    tmp_path: Path,
) -> None:
    """Work that divides among threads: 8 threads are 4x as fast as 2, not 2.3x slower."""
    model = SyntheticModel(n_layer=4, weight_type="q4_k", **SMALL)  # type: ignore[arg-type]
    work = workload_of(read_gguf_info(write_synthetic_gguf(tmp_path / "m.gguf", model)))

    def parallel(threads: int) -> SpeedCoefficients:
        return SpeedCoefficients(
            threads=threads, decode_fixed=0.0, decode_per_layer=0.0, decode_per_vocab=0.0,
            decode_per_byte=dict.fromkeys(MEASURED_TYPES, 2e-10 / threads),
            prompt_per_weight=dict.fromkeys(MEASURED_TYPES, 4e-11 / threads),
        )  # fmt: skip

    profile = [parallel(1), parallel(2), parallel(16)]
    at = {n: forecast_speed(workload=work, profile=profile, threads=n) for n in (2, 8)}
    assert at[2] is not None and at[8] is not None
    assert math.isclose(at[8].decode_tokens_per_s / at[2].decode_tokens_per_s, 4.0, rel_tol=1e-6)
    assert math.isclose(at[8].prompt_tokens_per_s / at[2].prompt_tokens_per_s, 4.0, rel_tol=1e-6)


def test_profile_is_kept_for_this_machine_only(app_home: Path) -> None:
    hardware = read_hardware(include_gpus=False)
    coefficients = SpeedCoefficients(
        threads=1, decode_fixed=0.01, decode_per_layer=0, decode_per_vocab=0,
        decode_per_byte={"q8_0": 1e-10}, prompt_per_weight={"q8_0": 1e-11},
        prompt_per_row={"q8_0": 1e-9}, prompt_type_width_factors={"q8_0": {1024: 1.0, 2048: 0.9}},
        decode_width_factors={512: 1.7, 2048: 1.0}, prompt_width_factors={1024: 1.0, 3072: 0.8},
    )  # fmt: skip
    assert load_machine_speed(hardware=hardware) is None
    save_machine_speed(
        MachineSpeed(machine=machine_key(hardware), measured_at=1.0, coefficients=(coefficients,))
    )
    kept = load_machine_speed(hardware=hardware)
    assert kept is not None and kept.coefficients == (coefficients,)
    save_machine_speed(MachineSpeed(machine="another PC", measured_at=1.0, coefficients=()))
    assert load_machine_speed(hardware=hardware) is None


def test_settling_gaps_and_an_extra_stopping_call_are_left_out() -> None:
    gaps = [0.09, 0.05, 0.03, 0.02, 0.01, 0.01, 0.012, 0.0001]  # 8 tokens, then an extra call
    assert settled_gaps(gaps, decode_tokens=8) == [0.02, 0.01, 0.01, 0.012]  # 3 of 7 go
    assert settled_gaps(gaps[:-1], decode_tokens=8) == [0.02, 0.01, 0.01, 0.012]
    assert settled_gaps([0.05, 0.02, 0.0001], decode_tokens=3) == [0.02]  # at most half go


@pytest.mark.slow
def test_real_llama_cpp_is_timed_in_a_child(starter_model: Path, tmp_path: Path) -> None:
    not_a_model = tmp_path / "text.gguf"
    not_a_model.write_text("hello")
    jobs = [
        TimingJob(model_path=starter_model, threads=1, prompt_tokens=32, decode_tokens=12),
        TimingJob(model_path=not_a_model, threads=1),
    ]
    timings = iter_timings(jobs=jobs)
    timing = next(timings)
    assert timing.decoded == 11 - SETTLING_GAPS  # 12 tokens, 11 gaps, the settling ones left out
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


def _planned_jobs(
    monkeypatch: pytest.MonkeyPatch, *, cores: int, gpu: bool, threads: list[int] | None = None
) -> list[TimingJob]:
    """The jobs a measurement would time (small stand-ins for the models; nothing is run)."""
    small = SyntheticModel(n_layer=2, n_embd=64, n_head=2, n_head_kv=2, n_ff=128)
    models = {name: small for name in speed_measurement.calibration_models()}
    gpu_models = {name: small for name in speed_measurement.gpu_calibration_models()}
    monkeypatch.setattr(speed_measurement, "calibration_models", lambda **_: dict(models))
    monkeypatch.setattr(speed_measurement, "gpu_calibration_models", lambda: gpu_models)
    seen: list[TimingJob] = []

    class Enough(Exception):
        pass

    def record(*, jobs: list[TimingJob]) -> Iterator[LlamaTiming]:
        seen.extend(jobs)
        raise Enough
        yield  # a generator, as the real one

    monkeypatch.setattr(speed_measurement, "iter_timings", record)
    hardware = snapshot(ram_gib=16, vram_gib=(24,) if gpu else (), cores=cores)
    with pytest.raises(Enough):
        list(speed_measurement.iter_measure_speed(hardware=hardware, threads=threads))
    return seen


def test_the_gpus_turns_are_spread_over_the_measurement(
    app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _planned_jobs(monkeypatch, cores=8, gpu=True)
    runs = [(gpu, list(group)) for gpu, group in itertools.groupby(seen, key=lambda j: j.gpu)]
    gpu_runs = [jobs for gpu, jobs in runs if gpu]
    assert len(gpu_runs) == speed_measurement.WIDTH_TURNS  # one turn at a time ...
    assert not runs[0][0]  # ... each after a share of the CPU's jobs
    split = {j.model_path.stem for j in gpu_runs[0] if j.n_gpu_layers < ALL_LAYERS}
    assert split == set(speed_measurement.OFFLOAD_MODELS)
    assert all(jobs == gpu_runs[0] for jobs in gpu_runs)


def test_the_wide_models_prompts_are_timed_above_two_threads_only(
    app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wide = f"width-{WIDE_PROMPT_WIDTH}"
    written: list[str] = []

    def write(path: Path, model: SyntheticModel) -> Path:
        written.append(path.stem)
        return write_synthetic_gguf(path, model)

    monkeypatch.setattr(speed_measurement, "write_synthetic_gguf", write)
    few = _planned_jobs(monkeypatch, cores=2, gpu=False, threads=[1, 2])
    assert few and not [j for j in few if j.model_path.stem == wide]
    assert wide not in written  # nor its 520 MB written
    many = _planned_jobs(monkeypatch, cores=8, gpu=False, threads=[1, 2, 8])
    timed = [j for j in many if j.model_path.stem == wide]
    assert [j.threads for j in timed] == [8] * speed_measurement.WIDTH_TURNS
    assert all(j.prompt_tokens == 256 and j.decode_tokens < 16 for j in timed)  # its prompts
