# Sourced by bench/gpu_validation.sh and bench/*_gpu.sh on the lent GPU machine: install the
# CUDA build of llama-cpp-python from the carried .gpuwork (gpu_validation.sh says how it gets
# there), then point this shell's Python at it. Needs $OUT.

# build_llama_cuda SECONDS: install the wheel (or build it) within SECONDS. On failure the
# build's log goes to $OUT/device-build.txt.gz and the calling script exits with its status.
build_llama_cuda() {
    BUDGET=$1 bash .gpuwork/device-build.sh build > /tmp/device-build.txt 2>&1
    local rc=$?
    tail -n 4 /tmp/device-build.txt
    if [ $rc != 0 ]; then
        echo "device-build.sh failed (rc $rc)"
        gzip -c /tmp/device-build.txt > "$OUT/device-build.txt.gz"
        exit $rc
    fi
}

# use_llama_cuda: Python finds the installed build; libllama is loaded before numpy or torch,
# or the first model load crashes (see the recipe's README).
use_llama_cuda() {
    export PYTHONPATH=/tmp/site:$PWD LD_PRELOAD=/tmp/site/llama_cpp/lib/libllama.so
    export PYTHONUNBUFFERED=1
}
