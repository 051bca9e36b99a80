"""The auto-tuner: plans stay inside the budget, grow with memory, follow CPU load, and load."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fake_hardware import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparse_gguf import write_sparse_gguf
from synthetic_gguf import SyntheticModel

from autoglm_desktop.core.common.types import ChatTurn, Role, SamplingSettings
from autoglm_desktop.core.engine import EngineClient, GenerationFinished, ModelLoaded
from autoglm_desktop.core.models.gguf_info import GGUFInfo, read_gguf_info
from autoglm_desktop.core.planning.estimate import QUANTIZED_KV_TYPES
from autoglm_desktop.core.planning.tuner import (
    MIN_CONTEXT,
    PlanOverrides,
    choose_threads,
    fits_budget,
    memory_budget,
    plan_for,
)

MIB = 1 << 20
GIB = 1 << 30

SHAPES = {
    "tiny": SyntheticModel(n_layer=2, n_embd=64, n_head=4, n_head_kv=2, n_ff=128, vocab_size=512),
    "small-gqa": SyntheticModel(
        n_layer=12, n_embd=512, n_head=8, n_head_kv=2, n_ff=1536, vocab_size=4096,
        weight_type="q4_0", n_ctx_train=16384,
    ),
    "wide-mha": SyntheticModel(
        n_layer=6, n_embd=1024, n_head=16, n_head_kv=16, n_ff=2816, vocab_size=8192,
        weight_type="f16", tied_embeddings=False, n_ctx_train=8192,
    ),
    "gemma-swa": SyntheticModel(
        arch="gemma3", n_layer=12, n_embd=640, n_head=4, n_head_kv=1, head_dim=256, n_ff=2048,
        vocab_size=32000, sliding_window=512, swa_pattern=6, weight_type="q8_0",
        n_ctx_train=32768,
    ),
    "3b-shape": SyntheticModel(
        n_layer=28, n_embd=3072, n_head=24, n_head_kv=8, n_ff=8192, vocab_size=32000,
        weight_type="q4_0", n_ctx_train=131072,
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def infos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GGUFInfo]:
    folder = tmp_path_factory.mktemp("shapes")
    return {
        name: read_gguf_info(write_sparse_gguf(folder / f"{name}.gguf", model))
        for name, model in SHAPES.items()
    }


ram_sizes = st.floats(min_value=0.5, max_value=48.0)
vram_sizes = st.lists(st.floats(min_value=0.25, max_value=24.0), max_size=2).map(tuple)
shape_names = st.sampled_from(sorted(SHAPES))
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(name=shape_names, ram=ram_sizes, vram=vram_sizes, unified=st.booleans())
def test_a_plan_never_exceeds_the_budget(
    infos: dict[str, GGUFInfo], name: str, ram: float, vram: tuple[float, ...], unified: bool
) -> None:
    hardware = snapshot(ram_gib=ram, vram_gib=vram[:1] if unified else vram, unified=unified)
    tuned = plan_for(info=infos[name], hardware=hardware)
    budget = memory_budget(hardware)
    if tuned.fits:
        assert fits_budget(tuned.estimate, budget)
        assert tuned.estimate.ram_required_bytes <= budget.ram_bytes
        if tuned.plan.use_gpu:
            for used, room in zip(tuned.estimate.vram_bytes, budget.gpu_bytes, strict=True):
                assert used <= room
        else:  # the GPU was too full: a CPU-only plan that puts nothing on it
            assert tuned.estimate.vram_bytes == () and tuned.plan.n_gpu_layers == 0
        assert tuned.plan.n_ctx >= min(MIN_CONTEXT, infos[name].n_ctx_train or MIN_CONTEXT)
        assert tuned.plan.n_ctx <= (infos[name].n_ctx_train or 0)
    else:
        assert "Does not fit" in tuned.explanation
    if tuned.plan.type_v in QUANTIZED_KV_TYPES:
        assert tuned.plan.flash_attn


@PROPERTY_SETTINGS
@given(
    name=shape_names,
    ram=ram_sizes,
    more_ram=st.floats(min_value=0.0, max_value=16.0),
    vram=vram_sizes,
)
def test_more_ram_never_gives_less_offload_or_context(
    infos: dict[str, GGUFInfo], name: str, ram: float, more_ram: float, vram: tuple[float, ...]
) -> None:
    small = plan_for(info=infos[name], hardware=snapshot(ram_gib=ram, vram_gib=vram))
    large = plan_for(info=infos[name], hardware=snapshot(ram_gib=ram + more_ram, vram_gib=vram))
    assert large.fits >= small.fits
    if small.fits:
        assert large.plan.n_gpu_layers >= small.plan.n_gpu_layers
        if large.plan.n_gpu_layers == small.plan.n_gpu_layers:
            assert large.plan.n_ctx >= small.plan.n_ctx


@PROPERTY_SETTINGS
@given(
    name=shape_names,
    vram=st.floats(min_value=0.25, max_value=24.0),
    more_vram=st.floats(min_value=0.0, max_value=16.0),
)
def test_more_vram_never_gives_less_offload(
    infos: dict[str, GGUFInfo], name: str, vram: float, more_vram: float
) -> None:
    """Offload comes first, so at the same offload the context never shrinks either."""
    small = plan_for(info=infos[name], hardware=snapshot(ram_gib=32, vram_gib=(vram,)))
    large = plan_for(info=infos[name], hardware=snapshot(ram_gib=32, vram_gib=(vram + more_vram,)))
    assert large.plan.n_gpu_layers >= small.plan.n_gpu_layers
    if large.plan.n_gpu_layers == small.plan.n_gpu_layers and small.fits:
        assert large.plan.n_ctx >= small.plan.n_ctx


def test_big_gpu_takes_everything_at_full_context(infos: dict[str, GGUFInfo]) -> None:
    info = infos["small-gqa"]
    tuned = plan_for(info=info, hardware=snapshot(ram_gib=16, vram_gib=(24,)))
    assert tuned.fits and tuned.estimate.fully_offloaded
    assert tuned.plan.n_gpu_layers == (info.n_layer or 0) + 1
    assert tuned.plan.n_ctx == info.n_ctx_train
    assert tuned.plan.type_k == tuned.plan.type_v == "f16"
    assert tuned.explanation.startswith("All 12 layers on the GPU")


def test_short_memory_buys_context_with_a_q8_0_cache(infos: dict[str, GGUFInfo]) -> None:
    info = infos["3b-shape"]
    tuned = plan_for(info=info, hardware=snapshot(ram_gib=8))
    assert tuned.fits
    assert MIN_CONTEXT <= tuned.plan.n_ctx < (info.n_ctx_train or 0)
    assert tuned.plan.type_k == tuned.plan.type_v == "q8_0" and tuned.plan.flash_attn
    assert "does not fit" in tuned.reasons["n_ctx"]
    f16 = plan_for(info=info, hardware=snapshot(ram_gib=8), overrides=PlanOverrides(kv_type="f16"))
    assert f16.plan.n_ctx < tuned.plan.n_ctx


def test_too_little_memory_says_so(infos: dict[str, GGUFInfo]) -> None:
    tuned = plan_for(info=infos["3b-shape"], hardware=snapshot(ram_gib=1.5))
    assert not tuned.fits
    assert tuned.plan.n_ctx == MIN_CONTEXT
    assert tuned.explanation.startswith("Does not fit: even a 2,048-token context")
    assert "GB of RAM" in tuned.explanation


def test_quantized_v_cache_never_goes_without_flash_attention(infos: dict[str, GGUFInfo]) -> None:
    overrides = PlanOverrides(kv_type="q8_0", flash_attn=False)
    tuned = plan_for(info=infos["small-gqa"], hardware=snapshot(ram_gib=8), overrides=overrides)
    assert not tuned.plan.flash_attn and tuned.plan.type_v == "f16"


def test_overrides_are_kept(infos: dict[str, GGUFInfo]) -> None:
    overrides = PlanOverrides(n_ctx=3000, n_gpu_layers=4, n_threads=3, use_mmap=False)
    tuned = plan_for(
        info=infos["small-gqa"], hardware=snapshot(ram_gib=8, vram_gib=(8,)), overrides=overrides
    )
    plan = tuned.plan
    assert (plan.n_ctx, plan.n_gpu_layers, plan.n_threads, plan.use_mmap) == (3000, 4, 3, False)
    assert "set by you" in tuned.reasons["n_threads"]
    assert not plan.adaptive_threads  # the engine leaves threads the user set alone


def test_automatic_threads_are_adaptive_up_to_the_physical_cores(
    infos: dict[str, GGUFInfo],
) -> None:
    one_busy = snapshot(ram_gib=8, cores=2, busy=(0.98, 0.03))
    plan = plan_for(info=infos["tiny"], hardware=one_busy).plan
    assert plan.n_threads == 1 and plan.adaptive_threads and plan.max_threads == 2
    batch_only = PlanOverrides(n_threads_batch=2)
    fixed = plan_for(info=infos["tiny"], hardware=one_busy, overrides=batch_only).plan
    assert not fixed.adaptive_threads


def test_threads_follow_live_cpu_load() -> None:
    idle = snapshot(ram_gib=8, cores=2, busy=(0.02, 0.05))
    one_busy = snapshot(ram_gib=8, cores=2, busy=(0.98, 0.03))
    half_busy = snapshot(ram_gib=8, cores=8, busy=(1.0, 1.0, 1.0, 1.0, 0.0, 0.1, 0.0, 0.0))
    assert choose_threads(idle)[:2] == (2, 2)
    assert choose_threads(one_busy)[:2] == (1, 1)
    assert choose_threads(half_busy)[:2] == (4, 4)
    assert "busy" in choose_threads(one_busy)[2]
    unknown = replace(idle, cpu=replace(idle.cpu, per_core_load=None))
    assert choose_threads(unknown)[0] == 2


def test_a_measured_thread_count_wins_over_the_load_rule(infos: dict[str, GGUFInfo]) -> None:
    tuned = plan_for(info=infos["tiny"], hardware=snapshot(ram_gib=8), measured_threads=1)
    assert tuned.plan.n_threads == 1 and "measured" in tuned.reasons["n_threads"]


def test_engine_memory_counts_as_available(infos: dict[str, GGUFInfo]) -> None:
    hardware = snapshot(ram_gib=2)
    with_engine = replace(hardware, memory=replace(hardware.memory, engine_rss_bytes=2 * GIB))
    assert memory_budget(with_engine).ram_bytes == memory_budget(hardware).ram_bytes + 2 * GIB


# ------------------------------------------------------------------------ every plan loads


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "ram_gib"),
    [
        ("tiny", 1.08),
        ("small-gqa", 1.1),
        ("small-gqa", 1.25),
        ("gemma-swa", 1.2),
        ("wide-mha", 1.3),
    ],
)
def test_every_plan_loads_and_generates(
    infos: dict[str, GGUFInfo], tmp_path: Path, name: str, ram_gib: float
) -> None:
    """Tight budgets (just over the 1 GiB margin) force a trimmed context; llama.cpp loads it."""
    info = infos[name]
    tuned = plan_for(info=info, hardware=snapshot(ram_gib=ram_gib, cores=2))
    assert tuned.fits, tuned.explanation
    client = EngineClient(log_path=tmp_path / "engine.log")
    try:
        loaded = [e for e in client.load(tuned.plan) if isinstance(e, ModelLoaded)]
        assert loaded and loaded[0].info.n_ctx == tuned.plan.n_ctx
        turns = [ChatTurn(role=Role.USER, content="hello " * 20)]
        sampling = SamplingSettings(max_tokens=4, temperature=0.0, seed=1)
        events = list(client.generate(turns=turns, sampling=sampling))
        assert isinstance(events[-1], GenerationFinished)
        assert events[-1].stats.generated_tokens >= 1
    finally:
        client.shutdown()


# ------------------------------------------------------------------------ thread probe


def test_probe_picks_the_fastest_and_is_remembered_per_load(
    infos: dict[str, GGUFInfo], tmp_path: Path
) -> None:
    from autoglm_desktop.core.common.types import GenerationStats, LoadPlan
    from autoglm_desktop.core.engine import EngineEvent
    from autoglm_desktop.core.planning.thread_probe import (
        probe_threads,
        recall_threads,
        remember_threads,
    )

    speeds = {1: 70.0, 2: 24.0}  # the numbers: 2 cores, one busy

    def fake_generate(plan: LoadPlan, tokens: int) -> list[EngineEvent]:
        stats = GenerationStats(generated_tokens=tokens, tokens_per_s=speeds[plan.n_threads or 0])
        return [GenerationFinished(stats=stats)]

    info = infos["tiny"]
    plan = plan_for(info=info, hardware=snapshot(ram_gib=8)).plan
    result = probe_threads(plan=plan, candidates=[1, 2], generate=fake_generate)
    assert result.best_threads == 1
    busy = snapshot(ram_gib=8, cores=2, busy=(1.0, 0.0))
    store = tmp_path / "probe.json"
    assert recall_threads(info=info, hardware=busy, store=store) is None
    remember_threads(result, info=info, hardware=busy, store=store)
    assert recall_threads(info=info, hardware=busy, store=store) == 1
    idle = snapshot(ram_gib=8, cores=2, busy=(0.0, 0.0))
    assert recall_threads(info=info, hardware=idle, store=store) is None  # another load level
    store.write_text("not json")
    assert recall_threads(info=info, hardware=busy, store=store) is None


def test_a_full_gpu_falls_back_to_the_cpu_alone(infos: dict[str, GGUFInfo]) -> None:
    """Even 0 layers need a compute buffer on the GPU; with its memory full, hide the GPU."""
    hardware = snapshot(ram_gib=16, vram_gib=(8,))
    nearly_full = replace(hardware.gpus[0], free_bytes=200 << 20, used_bytes=int(7.8 * GIB))
    tuned = plan_for(info=infos["3b-shape"], hardware=replace(hardware, gpus=(nearly_full,)))
    assert tuned.fits
    assert not tuned.plan.use_gpu and tuned.plan.n_gpu_layers == 0
    assert tuned.estimate.vram_bytes == ()
    assert "CPU alone" in tuned.explanation
    with_room = plan_for(info=infos["3b-shape"], hardware=hardware)
    assert with_room.plan.use_gpu and with_room.plan.n_gpu_layers > 0
