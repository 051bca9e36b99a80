#!/usr/bin/env bash
# bench/speed_drift.py on the lent GPU machine (about 5 minutes): is the 16-thread forecast's
# miss there the time in the session, the folder the models sit in, or the cost model? Same
# preparation as bench/speed_forecast_gpu.sh (.gpuwork carried); from the checkout root:
#
#   bash bench/speed_drift_gpu.sh [--threads 16]
#
# The summary and $OUT/drift.jsonl (every profile and timing) come back.
set -uo pipefail
OUT=${OUT:-/tmp/speed-drift}
mkdir -p "$OUT"
source bench/gpu_device.sh
build_llama_cuda "${BUDGET:-300}"
use_llama_cuda
export AUTOGLM_HOME=/tmp/autoglm-home
{ df -hT / /tmp "$HOME" "$AUTOGLM_HOME" 2>/dev/null; mount | grep -E ' on (/|/tmp|/root) '
  cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/shmem_enabled
  sysctl vm.dirty_background_ratio vm.dirty_ratio vm.dirty_expire_centisecs vm.dirty_background_bytes
  uptime; } > "$OUT/machine.txt" 2>&1
python3 bench/speed_drift.py --out "$OUT" "$@" 2>&1 | tee "$OUT/speed_drift.txt"
grep -E 'Dirty|Writeback|FilePmdMapped|ShmemPmdMapped' /proc/meminfo >> "$OUT/machine.txt"
