#!/usr/bin/env bash
# bench/speed_forecast.py on the lent GPU machine (CUDA build of llama.cpp, no network): all
# cores with the GPU (every layer there, and half of them), then two cores alone (taskset);
# three interleaved rounds each (--rounds), as many as the deadlines allow.
#
# Here, first: bash /work/shared/gpu/build-llama-cuda.sh, plus platformdirs into .gpuwork/whl
# (see bench/gpu_validation.sh). There, with .gpuwork carried, from the checkout root:
#
#   bash bench/speed_forecast_gpu.sh [speed_forecast.py options]
#
# The real SmolLM2 and Gemma files cannot travel (64 MiB): synthetic models of their shapes
# stand in for them (--models smollm2-shape,gemma-shape,0.5b,1b,3b). The tables go to
# $OUT/speed_forecast_gpu.txt and $OUT/speed_forecast_2cores.txt, each profile and the timings
# it was fitted on beside them (speed_profile_*.json, speed_calibration_*.json).
set -uo pipefail
OUT=${OUT:-/tmp/speed-forecast}
mkdir -p "$OUT"
source bench/gpu_device.sh
build_llama_cuda "${BUDGET:-300}"
use_llama_cuda
export AUTOGLM_HOME=/tmp/autoglm-home
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)|L3" || true
# No round starts after its deadline (seconds from here), so both tables come back in time.
T0=$(date +%s)
keep_profile() {  # the profile and the timings it was fitted on, beside the table
    for file in speed_profile speed_calibration; do
        cp "$AUTOGLM_HOME/cache/$file.json" "$OUT/${file}_$1.json" 2>/dev/null || true
    done
}
if [ "${GPU_TABLE:-1}" != 0 ]; then  # GPU_TABLE=0: the 2-core table only
    python3 bench/speed_forecast.py --gpu --remeasure --threads "$(nproc)" \
        --deadline $(( T0 + ${GPU_DEADLINE:-150} )) "$@" 2>&1 | tee "$OUT/speed_forecast_gpu.txt"
    keep_profile gpu
fi
[ "${CORES2:-1}" = 0 ] && exit 0  # CORES2=0: the GPU's table only
# PROFILE_2CORES=path: the two cores' profile an earlier call measured and brought back
# (speed_profile_2cores.json), so that this call's time goes to rounds of the table.
REMEASURE=--remeasure
if [ -n "${PROFILE_2CORES:-}" ]; then
    mkdir -p "$AUTOGLM_HOME/cache"
    cp "$PROFILE_2CORES" "$AUTOGLM_HOME/cache/speed_profile.json"
    REMEASURE=
fi
taskset -c 0,1 python3 bench/speed_forecast.py $REMEASURE --threads 2 \
    --deadline $(( T0 + ${CORES2_DEADLINE:-330} )) "$@" 2>&1 | tee "$OUT/speed_forecast_2cores.txt"
keep_profile 2cores
