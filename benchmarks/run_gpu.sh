#!/usr/bin/env bash
# The prepared GPU check, for a session lent a GPU machine (one call, about 9 minutes on an H100):
# epoch times per model, then the series on real photographs (3 seeds, AMP bf16, time-boxed so
# that what finished is kept). Usage, from the repository root on the GPU machine:
#   bash benchmarks/run_gpu.sh PATH/TO/real_and_fake_face_160 OUT_DIR
set -euo pipefail
data=${1:?give the folder holding training_real/ and training_fake/}
out=${2:-benchmarks/results}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
python3 benchmarks/bench_throughput.py --amp --no-progress --out "$out/throughput_cuda.json"
python3 benchmarks/bench_real_series.py --data "$data" --amp --channels-last --num-workers 8 \
    --budget-seconds 420 --out "$out/real_series_gpu.json"
