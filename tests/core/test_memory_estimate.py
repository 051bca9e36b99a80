"""The memory estimator: exact KV sizes, llama.cpp's layer placement, and its own buffer reports."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from sparse_gguf import write_sparse_gguf
from synthetic_gguf import SyntheticModel

from autoglm_desktop.core.common.errors import ModelFileError
from autoglm_desktop.core.common.types import LoadPlan
from autoglm_desktop.core.machine.hardware import GpuReading
from autoglm_desktop.core.models.gguf_info import GGUFInfo, read_gguf_info
from autoglm_desktop.core.planning.estimate import (
    estimate_memory,
    max_gpu_layers,
    reserved_buffers,
)

MIB = 1 << 20
GIB = 1 << 30
AVX2 = frozenset({"avx", "avx2", "fma"})
NO_REPACK = frozenset({"sse3"})


def gpu(free_gib: float, *, index: int = 0) -> GpuReading:
    size = int(free_gib * GIB)
    return GpuReading(
        index=index,
        name=f"GPU {index}",
        vendor="nvidia",
        backend="cuda",
        total_bytes=size,
        free_bytes=size,
        used_bytes=0,
        used_by_us_bytes=None,
    )


@pytest.fixture(scope="module")
def gemma_info(tmp_path_factory: pytest.TempPathFactory) -> GGUFInfo:
    """A Gemma-3-shaped model: 6 layers, every third global, a 128-token window."""
    path = tmp_path_factory.mktemp("gemma") / "gemma.gguf"
    model = SyntheticModel(
        arch="gemma3",
        n_layer=6,
        n_embd=128,
        n_head=4,
        n_head_kv=1,
        head_dim=32,
        n_ff=256,
        sliding_window=128,
        swa_pattern=3,
        vocab_size=1000,
        weight_type="q4_0",
    )
    return read_gguf_info(write_sparse_gguf(path, model))


@pytest.fixture(scope="module")
def llama_info(tmp_path_factory: pytest.TempPathFactory) -> GGUFInfo:
    path = tmp_path_factory.mktemp("llama") / "llama.gguf"
    model = SyntheticModel(
        n_layer=8, n_embd=256, n_head=8, n_head_kv=2, n_ff=512, vocab_size=2000,
        weight_type="q4_0", tied_embeddings=False,
    )  # fmt: skip
    return read_gguf_info(write_sparse_gguf(path, model))


def test_starter_model_kv_cache_is_exact(starter_model: Path) -> None:
    info = read_gguf_info(starter_model)
    plan = LoadPlan(model_path=starter_model, n_ctx=4096)
    estimate = estimate_memory(info=info, plan=plan)
    # llama.cpp: "KV buffer size = 90.00 MiB" (30 layers, 3 KV heads of 64, f16).
    assert estimate.kv_cache_bytes == 90 * MIB
    assert estimate.kv_cells == 4096 and estimate.swa_kv_cells is None


def test_kv_cache_is_padded_to_256_cells_and_quantized_types_are_smaller(
    starter_model: Path,
) -> None:
    info = read_gguf_info(starter_model)
    odd = estimate_memory(info=info, plan=LoadPlan(model_path=starter_model, n_ctx=1000))
    assert odd.kv_cells == 1024
    f16 = estimate_memory(info=info, plan=LoadPlan(model_path=starter_model, n_ctx=1024))
    q8 = estimate_memory(
        info=info,
        plan=LoadPlan(model_path=starter_model, n_ctx=1024, type_k="q8_0", type_v="q8_0"),
    )
    assert odd.kv_cache_bytes == f16.kv_cache_bytes
    assert q8.kv_cache_bytes == f16.kv_cache_bytes * 34 // 64


def test_sliding_window_layers_hold_window_plus_micro_batch(gemma_info: GGUFInfo) -> None:
    plan = LoadPlan(model_path=gemma_info.path, n_ctx=8192, n_ubatch=512)
    estimate = estimate_memory(info=gemma_info, plan=plan)
    assert estimate.swa_kv_cells == 768  # 128 + 512, padded to 256
    per_cell = 1 * 32 * 2 * 2  # one KV head of 32, K and V, f16
    global_layers, swa_layers = 2, 4  # layers 2 and 5 are global
    expected = (global_layers * 8192 + swa_layers * 768) * per_cell
    assert estimate.kv_cache_bytes == expected


def test_n_gpu_layers_offloads_the_output_layer_first(llama_info: GGUFInfo) -> None:
    n_layer = llama_info.n_layer or 0
    assert max_gpu_layers(llama_info) == n_layer + 1

    def placed(layers: int) -> tuple[int, bool]:
        plan = LoadPlan(model_path=llama_info.path, n_gpu_layers=layers)
        estimate = estimate_memory(info=llama_info, plan=plan, gpus=[gpu(8)])
        return estimate.gpu_layers, estimate.output_on_gpu

    assert placed(0) == (0, False)
    assert placed(1) == (0, True)
    assert placed(n_layer) == (n_layer - 1, True)
    assert placed(n_layer + 1) == (n_layer, True)
    assert placed(999) == (n_layer, True)


def test_offloading_moves_weights_and_kv_from_ram_to_vram(llama_info: GGUFInfo) -> None:
    n_layer = llama_info.n_layer or 0
    ram, vram = [], []
    for layers in range(n_layer + 2):
        plan = LoadPlan(model_path=llama_info.path, n_ctx=4096, n_gpu_layers=layers)
        estimate = estimate_memory(info=llama_info, plan=plan, gpus=[gpu(8)], cpu_features=AVX2)
        ram.append(estimate.ram.weights + estimate.ram.kv_cache)
        vram.append(estimate.gpus[0].weights + estimate.gpus[0].kv_cache)
    assert ram == sorted(ram, reverse=True) and vram == sorted(vram)
    full = estimate_memory(
        info=llama_info,
        plan=LoadPlan(model_path=llama_info.path, n_gpu_layers=n_layer + 1),
        gpus=[gpu(8)],
    )
    weights_on_gpu = sum(llama_info.layer_bytes) + llama_info.output_bytes
    assert full.gpus[0].weights == weights_on_gpu
    assert full.ram.kv_cache == 0


def test_two_gpus_share_layers_by_free_memory(llama_info: GGUFInfo) -> None:
    plan = LoadPlan(model_path=llama_info.path, n_gpu_layers=99)
    estimate = estimate_memory(info=llama_info, plan=plan, gpus=[gpu(6), gpu(2, index=1)])
    first, second = estimate.gpus
    assert first.weights > 2 * second.weights > 0
    assert first.kv_cache > second.kv_cache > 0


def test_repacked_weights_count_twice_in_rss_but_once_as_required(llama_info: GGUFInfo) -> None:
    plan = LoadPlan(model_path=llama_info.path)
    repacking = estimate_memory(info=llama_info, plan=plan, cpu_features=AVX2)
    plain = estimate_memory(info=llama_info, plan=plan, cpu_features=NO_REPACK)
    assert plain.repacked_bytes == 0 and plain.ram_bytes == plain.ram_required_bytes
    assert repacking.repacked_bytes > 0.9 * sum(llama_info.layer_bytes)
    # The file pages stay mapped too (all but a repacked tensor at the very end of the file).
    extra = repacking.ram_bytes - plain.ram_bytes
    assert extra == pytest.approx(repacking.repacked_bytes, rel=0.15)
    assert abs(repacking.ram_required_bytes - plain.ram_required_bytes) < plain.ram_bytes * 0.05


def test_without_mmap_weights_are_copied_not_mapped(llama_info: GGUFInfo) -> None:
    plan = LoadPlan(model_path=llama_info.path, use_mmap=False)
    estimate = estimate_memory(info=llama_info, plan=plan, cpu_features=NO_REPACK)
    assert estimate.mapped_bytes == 0
    assert estimate.ram.weights == llama_info.total_weight_bytes


def test_flash_attention_shrinks_the_compute_buffer_at_long_context(llama_info: GGUFInfo) -> None:
    base = LoadPlan(model_path=llama_info.path, n_ctx=32768, n_ubatch=2048, n_batch=2048)
    without = reserved_buffers(info=llama_info, plan=replace(base, flash_attn=False))
    with_fa = reserved_buffers(info=llama_info, plan=replace(base, flash_attn=True))
    assert without.compute > 5 * with_fa.compute


def test_a_full_context_needs_more_than_a_short_conversation(starter_model: Path) -> None:
    info = read_gguf_info(starter_model)
    plan = LoadPlan(model_path=starter_model, n_ctx=8192, flash_attn=False)
    full = estimate_memory(info=info, plan=plan)
    early = estimate_memory(info=info, plan=plan, tokens_in_context=300, largest_batch=300)
    assert full.ram_bytes > early.ram_bytes
    assert full.kv_cache_bytes == early.kv_cache_bytes  # allocated (and cleared) up front


def test_projector_files_are_refused(gemma_info: GGUFInfo) -> None:
    projector = replace(gemma_info, is_projector=True)
    with pytest.raises(ModelFileError, match="projector"):
        estimate_memory(info=projector, plan=LoadPlan(model_path=gemma_info.path))


# -------------------------------------------------------------- against llama.cpp's own numbers

_PROBE = textwrap.dedent(
    """
    import sys
    import llama_cpp.llama_cpp as L
    types = {"f16": 1, "q8_0": 8}
    path, n_ctx, flash, kv, ubatch = sys.argv[1:6]
    model_params = L.llama_model_default_params()
    model_params.no_alloc = True  # a dry run: sizes only
    model_params.load_mode = 0
    model = L.llama_model_load_from_file(path.encode(), model_params)
    params = L.llama_context_default_params()
    params.n_ctx = int(n_ctx)
    params.n_batch = params.n_ubatch = int(ubatch)
    params.flash_attn_type = int(flash)
    params.type_k = params.type_v = types[kv]
    params.swa_full = False
    context = L.llama_init_from_model(model, params)
    L.llama_free(context)
    L.llama_model_free(model)
    """
)
_KV = re.compile(r"llama_kv_cache: size =\s+([\d.]+) MiB")
_COMPUTE = re.compile(r"CPU compute buffer size =\s+([\d.]+) MiB")


def llama_cpp_reports(
    path: Path, *, n_ctx: int, flash: bool, kv: str, ubatch: int
) -> tuple[float, float]:
    """KV and compute buffer sizes (MiB) that llama.cpp prints in a dry-run load."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), str(n_ctx), str(int(flash)), kv, str(ubatch)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    kv_mib = sum(float(m) for m in _KV.findall(done.stderr))
    compute = _COMPUTE.findall(done.stderr)
    assert compute, done.stderr[-2000:]
    return kv_mib, float(compute[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n_ctx", "flash", "kv", "ubatch"),
    [(4096, True, "f16", 512), (16384, False, "f16", 512), (8192, True, "q8_0", 256)],
)
def test_buffers_match_llama_cpp_dry_run(
    starter_model: Path, gemma_info: GGUFInfo, n_ctx: int, flash: bool, kv: str, ubatch: int
) -> None:
    pytest.importorskip("llama_cpp")
    for info in (read_gguf_info(starter_model), gemma_info):
        plan = LoadPlan(
            model_path=info.path, n_ctx=n_ctx, flash_attn=flash, type_k=kv, type_v=kv,
            n_batch=ubatch, n_ubatch=ubatch,
        )  # fmt: skip
        kv_mib, compute_mib = llama_cpp_reports(
            info.path, n_ctx=n_ctx, flash=flash, kv=kv, ubatch=ubatch
        )
        predicted = reserved_buffers(info=info, plan=plan)
        assert predicted.kv_cache / MIB == pytest.approx(kv_mib, abs=0.01)
        assert predicted.compute / MIB == pytest.approx(compute_mib, rel=0.10)
