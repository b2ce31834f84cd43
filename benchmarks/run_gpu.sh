#!/usr/bin/env bash
# The prepared GPU check, one command on a GPU machine (under 10 minutes on an H100 or H200): the
# GPU tests (tests/test_gpu.py), then the notebook series at the full recipe on a Kaggle-layout
# zip of the 160 px copy of the dataset, as a student runs it on Colab
# (benchmarks/bench_gpu_series.py: per notebook its wall time, the GPU's peak memory and busy
# share, and the bytes it wrote to a simulated Drive), time-boxed so that what finished is kept.
#
# The GPU machine gets a copy of the repository but not the data (outside it), and may have torch
# but not papermill, ipykernel or the notebooks' other packages, and no network. So first, on a
# machine with the data and the network, once (both folders are git-ignored; about 36 MB together):
#
#   bash benchmarks/run_gpu.sh --prepare [DATA]   # DATA: ../shared/data/real_and_fake_face_160
#
# which copies the data to data/real160/ (by hand: mkdir -p data/real160 && cp -r
# ../shared/data/real_and_fake_face_160/training_* data/real160/) and downloads the wheels to
# .whl/ (for the Python 3.12 there; the wheels install there into a temporary folder); then copy
# the repository with data/real160/ and .whl/ to the GPU machine and run there, within 600 s:
#
#   bash benchmarks/run_gpu.sh data/real160 OUT_DIR
#
# It writes to OUT_DIR: gpu_series.json (bench_gpu_series.py's JSON, with the GPU tests' exit
# code), gpu_tests.log, run_gpu.log (everything printed) and executed_notebooks.zip. Without CUDA
# the series runs in smoke mode, to show that the whole command works:
#
#   PYTHON=.venv/bin/python bash benchmarks/run_gpu.sh ../shared/data/real_and_fake_face_160 gpu-out
#
# Paths are relative to the repository root, where the command runs.
# Settings (environment): PYTHON (python3), CALL_LIMIT_SECONDS (590: the series gets what is left
# of it, 480 s at most), GPU_TESTS_TIMEOUT (150 s), SMOKE=1 (smoke mode on a GPU too), NOTEBOOKS
# (name prefixes, e.g. "01 02": only those; default every notebook), AMP (auto: the notebooks that
# declare AMP get None, mixed precision on CUDA, the library's default; off: False; as-is: their
# own value).
#
# On CUDA the notebooks' loaders make their batches on the GPU (make_loaders' default,
# DeviceBatches) and fit() trains in mixed precision by default; the GPU tests check both
# against the CPU (tests/test_gpu.py). A dry run on a CPU, a few minutes (GPU tests skipped):
#
#   PYTHON=.venv/bin/python NOTEBOOKS="01 02" bash benchmarks/run_gpu.sh \
#       ../shared/data/real_and_fake_face_160 "$(mktemp -d)"
set -uo pipefail

if [[ ${1:-} == --prepare ]]; then
    set -e
    src=${2:-../shared/data/real_and_fake_face_160}
    py=${PYTHON:-.venv/bin/python}
    pyver=${GPU_PYTHON_VERSION:-3.12}
    rm -rf data/real160 .whl
    mkdir -p data/real160 .whl
    cp -r "$src/training_real" "$src/training_fake" data/real160/
    # What the runner and the notebooks import that the GPU image lacks, with every dependency
    # it lacks too (at the versions of this checkout's .venv, so the same ones the tests ran).
    names="asttokens beautifulsoup4 comm debugpy entrypoints executing fastjsonschema gdown imagehash
           ipykernel ipython ipython-pygments-lexers ipywidgets jedi jsonschema jsonschema-specifications
           jupyter-client jupyter-core jupyterlab-widgets kagglehub kagglesdk matplotlib-inline nbclient nbformat
           nest-asyncio2 papermill parso pexpect platformdirs prompt-toolkit ptyprocess pure-eval
           pywavelets pyzmq referencing rpds-py soupsieve stack-data tenacity torchsummary tornado
           traitlets ttach wcwidth widgetsnbextension"
    pins=$("$py" - $names <<'EOF'
import importlib.metadata as md, sys
for name in sys.argv[1:]:
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(name)
EOF
)
    plat=""
    for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 manylinux_2_17_x86_64 \
             manylinux2014_x86_64 manylinux1_x86_64; do plat="$plat --platform $p"; done
    # shellcheck disable=SC2086
    "$py" -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" \
        --implementation cp $plat -d .whl $pins
    gradcam=$("$py" -c "import importlib.metadata as m; print('grad-cam==' + m.version('grad-cam'))" \
              2>/dev/null || echo grad-cam)
    "$py" -m pip wheel -q --no-deps -w .whl "$gradcam"  # published as a source archive only
    du -sh data/real160 .whl
    echo "ready: copy the repository with data/real160/ and .whl/, then run bash benchmarks/run_gpu.sh data/real160 OUT_DIR"
    exit 0
fi

data=${1:?give the folder holding training_real/ and training_fake/ (or a zip), then OUT_DIR}
out=${2:-gpu-out}  # as given (relative to the repository root): the records keep it so
mkdir -p "$out"
# The series gets --data as given (its record keeps the path as typed); the tests get it absolute.
data_abs=$(cd "$(dirname "$data")" && pwd)/$(basename "$data")
exec > >(tee -a "$out/run_gpu.log") 2>&1
py=${PYTHON:-python3}
call_limit=${CALL_LIMIT_SECONDS:-590}
SECONDS=0

# The carried wheels, only where the runner's packages are missing (the GPU machine's python3).
if ! "$py" -c "import papermill, ipykernel, imagehash" 2> /dev/null && compgen -G ".whl/*.whl" > /dev/null; then
    site=$(mktemp -d "${TMPDIR:-/tmp}/fakeface-site-XXXXXX")
    echo "== installing $(ls .whl/*.whl | wc -l) carried wheels into $site"
    if "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$site" .whl/*.whl; then
        export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
    else
        echo "!! the carried wheels did not install: the series cannot run without papermill"
    fi
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
[[ -d $data_abs/training_real ]] && export FAKEFACE_REAL_DATA=$data_abs  # tests/conftest.py's real_root

echo "== machine"
"$py" -c "import sys, torch; c = torch.cuda.is_available(); print(sys.version.split()[0], 'torch', \
torch.__version__, torch.cuda.get_device_name(0) if c else 'no CUDA')"
cuda=$("$py" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

echo "== GPU tests"
if [[ -f tests/test_gpu.py ]]; then
    timeout "${GPU_TESTS_TIMEOUT:-150}" "$py" -m pytest tests/test_gpu.py -q -rs 2>&1 | tee "$out/gpu_tests.log"
    tests_rc=${PIPESTATUS[0]}
else
    echo "tests/test_gpu.py is not there" | tee "$out/gpu_tests.log"
    tests_rc=-1
fi
echo "GPU tests exit code: $tests_rc (124: stopped at GPU_TESTS_TIMEOUT) after ${SECONDS} s"

budget=$(( call_limit - SECONDS - 30 ))
(( budget > 480 )) && budget=480
smoke=()
if [[ $cuda != 1 || ${SMOKE:-0} == 1 ]]; then
    smoke=(--smoke)
    echo "== the series in smoke mode (no CUDA, or SMOKE=1)"
    (( budget < 1800 )) && [[ $cuda != 1 ]] && budget=1800  # a CPU machine has no device-call limit
else
    echo "== the series at the full recipe, ${budget} s budget"
fi
"$py" benchmarks/bench_gpu_series.py --data "$data" "${smoke[@]}" --budget-seconds "$budget" \
    --out "$out/gpu_series.json" --executed-zip "$out/executed_notebooks.zip" \
    --gpu-tests-exit-code "$tests_rc" --amp "${AMP:-auto}" ${NOTEBOOKS:+--notebooks $NOTEBOOKS}
series_rc=$?
echo "== done in ${SECONDS} s: GPU tests exit code $tests_rc, series exit code $series_rc; files in $out"
exit 0
