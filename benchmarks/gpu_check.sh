#!/usr/bin/env bash
# The one GPU run of issue 7, for a single H100 or H200 (about 5 minutes on an H200).
#
# bench_train on the GatorTron-345M and 3.9B shapes: the study-style baseline and the project's
# path side by side (hard, soft, soft-frozen at L=512; hard and soft-frozen on the synthetic
# corpora's length mix), the card's bf16 matmul rate, the largest 3.9B frozen batch within
# 78 GiB (an 80 GB card), and a torch.compile row last; then the issue's targets as pass/fail.
# The length mix is read from benchmarks/measured/padding.json (bench_padding, CPU), so the GPU
# machine needs no tokenizer package: only torch, transformers, pandas, pyarrow, safetensors
# and PyYAML, with this checkout's src/ on PYTHONPATH.
#
# Writes OUT_DIR/train-cuda.json (rewritten after every case, so a cut-off run keeps what it
# measured), OUT_DIR/bench_train.log, OUT_DIR/nvidia-smi.csv and OUT_DIR/benchmarks.md (the
# docs page rendered with these results). To publish: copy train-cuda.json into
# benchmarks/measured/ and run `python benchmarks/render_docs.py`.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]     (default: $OUT, else benchmarks/out/gpu)
#   PYTHON=/path/to/python BENCH_SECONDS=480 bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
out=${1:-${OUT:-benchmarks/out/gpu}}
python=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

"$python" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"' || exit 2
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv \
    >"$out/nvidia-smi.csv" 2>&1

# SIGINT at the deadline: the JSON already holds every finished case.
timeout --signal=INT "${BENCH_SECONDS:-480}" \
    "$python" benchmarks/bench_train.py --device cuda --compile --out "$out" 2>&1 \
    | tee "$out/bench_train.log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || echo "bench_train ended with status $status; rendering what it wrote"

if [ -f "$out/train-cuda.json" ]; then
    "$python" benchmarks/render_docs.py --results benchmarks/measured "$out/train-cuda.json" \
        --out "$out/benchmarks.md"
fi
exit "$status"
