#!/usr/bin/env bash
# The whole GPU validation (bench/gpu_validation.py) in one command on an NVIDIA machine with
# CUDA's compiler, PyTorch and no network (the lent H100/H200).
#
# Here, first: bash /work/shared/gpu/build-llama-cuda.sh fills the git-ignored .gpuwork/ (the
# llama-cpp-python 0.3.36 sdist and wheels); add platformdirs, which the GPU image lacks:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 -d .gpuwork/whl platformdirs==4.14.5
# There, with .gpuwork carried along, from the checkout root:
#
#   bash bench/gpu_validation.sh [gpu_validation.py options, e.g. --parts dry plans squeeze]
#
# The first run builds the CUDA wheel (about 3.5 minutes) and returns it in 15 MiB parts: keep
# them in .gpuwork/dist/ and later runs install it in seconds. Tables go to $OUT.
set -uo pipefail
T0=$(date +%s)
OUT=${OUT:-/tmp/gpu-validation}
BUDGET=${BUDGET:-570}  # seconds for the whole command (the machine cuts each one at 600)
mkdir -p "$OUT"

source bench/gpu_device.sh
build_llama_cuda "$BUDGET"
use_llama_cuda
export AUTOGLM_BENCH_DIR=/tmp/autoglm-bench
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader
left=$((BUDGET - ($(date +%s) - T0)))
python3 bench/gpu_validation.py --out "$OUT" --deadline "$left" "$@"
rc=$?
gzip -c /tmp/device-build.txt > "$OUT/device-build.txt.gz"
echo "gpu_validation.py rc=$rc after $(($(date +%s) - T0)) s"
exit $rc
