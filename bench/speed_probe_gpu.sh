#!/usr/bin/env bash
# bench/speed_probe.py on the lent GPU machine: raw timings on 2 cores (taskset), all cores and
# the GPU, for studying the speed forecast. Same preparation as bench/speed_forecast_gpu.sh.
set -uo pipefail
T0=$(date +%s)
OUT=${OUT:-/tmp/speed-probe}
mkdir -p "$OUT"
LOG=$OUT/probe.log
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site0 .gpuwork/whl/*.whl
(PYTHONPATH=/tmp/site0:$PWD python3 bench/speed_probe.py write /tmp/pm > /tmp/write.log 2>&1
 echo "written at $(( $(date +%s) - T0 )) s" >> /tmp/write.log) &
WRITER=$!
source bench/gpu_device.sh
build_llama_cuda "${BUILD_BUDGET:-400}"
wait $WRITER
cat /tmp/write.log >> "$LOG"
cp /tmp/pm/models.json "$OUT/"
{ lscpu; grep . /sys/devices/system/cpu/cpu0/cache/index*/size; free -g; nvidia-smi; } > "$OUT/machine.txt" 2>&1
use_llama_cuda
DL=$(( T0 + ${DEADLINE:-575} ))
J=$OUT/probe.jsonl
P="python3 bench/speed_probe.py time /tmp/pm $J --deadline $DL"
TYPES="q4_0 q4_1 q5_0 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_xs f16 bf16"
CAL=$(for t in $TYPES; do printf 'type-%s,' "$t"; done)tiny,deep,deep-shared-kv,wide-vocabulary
SMALLBIG=$(for t in q4_0 q4_1 q5_0 q8_0 q4_k q5_k q6_k f16; do printf 'one-%s,big-%s,' "$t" "$t"; done)
SMALLBIG=$SMALLBIG$(for t in $TYPES; do printf 'stream-%s,' "$t"; done)
SMALLBIG=${SMALLBIG%,}
BENCH=bench-smollm2-shape,bench-gemma-shape,bench-0.5b,held-gemma-mix,bench-1b,held-tinyllama-q4_0,held-qwen1.5b-mix,bench-3b
C2="taskset -c 0,1"
run() { echo "== $* at $(( $(date +%s) - T0 )) s" >> "$LOG"; "$@" >> "$LOG" 2>&1; }
# 2 cores
run $C2 $P --section c2 --threads 2 --models "$CAL"
run $C2 $P --section c2 --threads 2 --models "$SMALLBIG" --prompt 16 --decode 16
run $C2 $P --section c2 --threads 2 --models "$BENCH" --runs 1
# all cores
run $P --section c16 --threads 16 --models "$CAL"
run $P --section c16 --threads 16 --models "$SMALLBIG" --prompt 16 --decode 16
run $P --section c16 --threads 16 --models "$BENCH"
run $P --section ctx --threads 16 --models bench-smollm2-shape,bench-0.5b --prompt 1024
# GPU
run $P --section gpu --threads 16 --models tiny,deep,deep-shared-kv,wide-vocabulary,type-q4_k,gpu-memory --gpu-layers 999
run $P --section gpu --threads 16 --models gpu-memory,bench-smollm2-shape,bench-1b --gpu-layers 0
run $P --section gpu --threads 16 --models "$BENCH" --gpu-layers 999
run $P --section gpu --threads 16 --models "$BENCH" --gpu-layers half
# more thread counts
run $P --section c8 --threads 8 --models "$CAL"
run $P --section c8 --threads 8 --models "$SMALLBIG" --prompt 16 --decode 16
run $P --section c8 --threads 8 --models "$BENCH" --runs 1
run $C2 $P --section c1 --threads 1 --models "$CAL"
run $C2 $P --section c1 --threads 1 --models "$SMALLBIG" --prompt 16 --decode 16
run $C2 $P --section ctx --threads 2 --models bench-smollm2-shape --prompt 1024 --runs 1
echo "done at $(( $(date +%s) - T0 )) s" >> "$LOG"
grep -c . "$J"
